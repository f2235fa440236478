"""The demo's table of every algorithm: accuracy, size and latency, latency measured interleaved.

Runs the real lab path (demo registration, one job per algorithm through a real worker: INT8
post-training quantization, accuracy-controlled INT8, INT8 weight compression, FP16) in a temporary
data dir, then re-measures the latency of every model interleaved (FP32 @ f32, FP32 @ default,
each child @ default, then again ...) so that the machine's noise hits all of them alike, and
prints one row per model: top-1 on the validation split, size, median latency with its spread, and
the speed-up vs the FP32 model forced to f32.

    .venv/bin/python benchmarks/demo_numbers.py [--rounds 3] [--seconds 4]
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
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    os.environ["OPTLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="optlab-demo-")

    from core import lab, storage
    from core.cli.common import wait_for as _wait
    from core.measure.benchmark import run_benchmark
    from core.optimize.recipes import AccuracyControlOptions, CompressWeightsOptions, Fp16Options, QuantizeOptions
    from core.options import BenchmarkOptions, JobKind, MeasureOptions, Precision
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, calibration, validation = lab.ensure_demo()
    recipes = {JobKind.QUANTIZE: QuantizeOptions(),
               JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: AccuracyControlOptions(
                   validation_dataset_id=validation.id, max_drop=0.005),
               JobKind.COMPRESS_WEIGHTS: CompressWeightsOptions(),
               JobKind.FP16: Fp16Options()}
    children = {}
    for index, (kind, options) in enumerate(recipes.items()):
        job = lab.submit_optimization(kind=kind, model_id=model.id, dataset_id=calibration.id, options=options,
                                      measure=MeasureOptions(dataset_id=validation.id, seconds=1.0,
                                                             measure_parent=index == 0))
        assert _wait(job.id) == 0, repo.get_job(job.id).message
        job = repo.get_job(job.id)
        children[str(kind)] = (repo.get_model(job.result_model_id), job)

    configs = {"FP32 @ f32": (model, Precision.F32), "FP32 @ default": (model, Precision.DEFAULT)}
    configs.update({kind: (child, Precision.DEFAULT) for kind, (child, _) in children.items()})
    medians: dict[str, list[float]] = {label: [] for label in configs}
    ran: dict[str, str] = {}
    for _ in range(args.rounds):
        for label, (record, precision) in configs.items():
            result = run_benchmark(storage.resolve(record.path), BenchmarkOptions(
                hint="latency", precision=precision, seconds=args.seconds))
            medians[label].append(result.latency_ms.median)
            ran[label] = result.precision

    top1 = {(acc.model_id, acc.precision): acc for acc in repo.list_accuracy() if acc.metric == "top1"}
    base = statistics.median(medians["FP32 @ f32"])
    print(f"| model | runs in | top-1 ({validation.name}) | size MB | median latency ms [min-max] | "
          f"vs FP32@f32 | job wall s |")
    print("|---|---|---|---|---|---|---|")
    for label, (record, precision) in configs.items():
        acc = top1.get((record.id, ran[label]))
        median = statistics.median(medians[label])
        job = children[label][1] if label in children else None
        wall = f"{(job.finished_at - job.started_at).total_seconds():.1f}" if job else "-"
        print(f"| {label} | {ran[label]} | {f'{acc.value:.2%} (n={acc.samples})' if acc else '-'} | "
              f"{record.size_bytes / 1e6:.3f} | {median:.4f} [{min(medians[label]):.4f}-"
              f"{max(medians[label]):.4f}] | {base / median:.2f}x | {wall} |")
    kept = children[str(JobKind.QUANTIZE_WITH_ACCURACY_CONTROL)][0].recipe.get("reverted_operations", [])
    print(f"\naccuracy control kept in higher precision: {kept}")
    print(f"{args.rounds} interleaved rounds of {args.seconds} s per point (latency hint, batch 1); "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
