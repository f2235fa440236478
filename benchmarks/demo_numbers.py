"""The demo's headline numbers: accuracy FP32 vs INT8 and latency f32 / bf16 / INT8, interleaved.

Runs the real lab path (demo registration, an INT8 job through a real worker) in a temporary data
dir, then re-measures the three configurations interleaved (f32, bf16, int8, f32, ...) so that the
machine's noise hits all of them alike, and prints medians with their spread and the ratios.

    .venv/bin/python benchmarks/demo_numbers.py [--rounds 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.environ["OPTLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="optlab-demo-")

    from core import lab
    from core.__main__ import _wait
    from core.benchmark import run_benchmark
    from core.options import BenchmarkOptions, JobKind, MeasureOptions, Precision
    from core.recipes import QuantizeOptions
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, calibration, validation = lab.ensure_demo()
    job = lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                  options=QuantizeOptions(),
                              measure=MeasureOptions(dataset_id=validation.id, seconds=1.0))
    assert _wait(job.id) == 0, repo.get_job(job.id).message
    child = repo.get_model(repo.get_job(job.id).result_model_id)
    for acc in repo.list_accuracy():
        name = repo.get_model(acc.model_id).name
        print(f"top-1 {name:28s} @ {acc.precision:5s}: {acc.value:.2%} on {acc.samples} images")

    configs = {"FP32 @ f32": (model, Precision.F32), "FP32 @ default": (model, Precision.DEFAULT),
               "INT8 @ default": (child, Precision.DEFAULT)}
    medians: dict[str, list[float]] = {k: [] for k in configs}
    precisions = {}
    for _ in range(args.rounds):
        for label, (record, precision) in configs.items():
            result = run_benchmark(lab.resolve(record.path), BenchmarkOptions(
                hint="latency", precision=precision, seconds=args.seconds))
            medians[label].append(result.latency_ms.median)
            precisions[label] = result.precision
    base = statistics.median(medians["FP32 @ f32"])
    for label, values in medians.items():
        median = statistics.median(values)
        print(f"latency {label:15s} (ran {precisions[label]:4s}): median {median:.4f} ms "
              f"[{min(values):.4f}-{max(values):.4f}] over {args.rounds} rounds; "
              f"speed-up vs f32 {base / median:.2f}x")
    print(f"sizes: FP32 {model.size_bytes / 1e6:.3f} MB, INT8 {child.size_bytes / 1e6:.3f} MB; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
