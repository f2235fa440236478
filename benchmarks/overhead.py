"""Overhead of a lab quantization job vs a bare `nncf.quantize` script, interleaved.

Both sides start a fresh Python process, read the same model and the same calibration images,
quantize with the same options and save the IR. The lab side is timed from submit until the
child model row exists (queue pick-up, job process start, data loading, NNCF, save, inspect,
DB writes); the later measurement stage is not part of it. Target ratio: <= 1.10.

The worker keeps one job process started ahead of its job (core.jobs.queue.prepare_standby), so a
job's imports (OpenVINO, NNCF, SQLAlchemy: ~2 s of CPU) are done before it is submitted, while the
bare script pays them on every run; round 1 may find the standby still importing.

    .venv/bin/python benchmarks/overhead.py [--rounds 3] [--subset 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = """
import sys, time, numpy as np, nncf, openvino as ov
from PIL import Image
from core.intake.datasets import load_index
imported = time.perf_counter()
model_path, dataset_dir, out, subset = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
index = load_index(__import__("pathlib").Path(dataset_dir))
rng = np.random.default_rng(0)
chosen = sorted(rng.choice(len(index.samples), min(subset, len(index.samples)), replace=False).tolist())
data = [np.asarray(Image.open(index.root / index.samples[i][0]).convert("L").resize((28, 28)),
                   dtype=np.float32)[None, None] for i in chosen]
model = ov.Core().read_model(model_path)
quantized = nncf.quantize(model, nncf.Dataset(data), subset_size=len(data))
ov.save_model(quantized, out, compress_to_fp16=False)
print(time.perf_counter() - imported)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subset", type=int, default=300)
    args = parser.parse_args()
    os.environ["OPTLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="optlab-overhead-")

    from core import lab, storage
    from core.jobs.worker import ensure_local_worker
    from core.optimize.recipes import QuantizeOptions
    from core.options import JobKind, JobStatus, MeasureOptions
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, calibration, _ = lab.ensure_demo()
    ensure_local_worker()
    lab_times, bare_times, lab_work, bare_work = [], [], [], []
    for round_ in range(args.rounds):
        started = time.perf_counter()
        job = lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                      options=QuantizeOptions(subset_size=args.subset),
                                      measure=MeasureOptions(seconds=0.2, measure_parent=False))
        while True:
            current = repo.get_job(job.id)
            if current.result_model_id or JobStatus(current.status).finished:
                break
            time.sleep(0.05)
        lab_times.append(time.perf_counter() - started)
        assert current.result_model_id, current.message
        lab_work.append((repo.get_model(current.result_model_id).created_at - current.started_at).total_seconds())
        while not JobStatus(repo.get_job(job.id).status).finished:  # let it finish before timing the other side
            time.sleep(0.2)

        started = time.perf_counter()
        out = Path(tempfile.mkdtemp()) / "model.xml"
        bare = subprocess.run([sys.executable, "-c", BARE, str(storage.resolve(model.path)),
                               str(storage.resolve(calibration.path)), str(out), str(args.subset)],
                              cwd=ROOT, check=True, capture_output=True, text=True)
        bare_times.append(time.perf_counter() - started)
        bare_work.append(float(bare.stdout.strip().splitlines()[-1]))
        print(f"round {round_ + 1}: submit to child row: lab job {lab_times[-1]:.2f} s, bare script "
              f"{bare_times[-1]:.2f} s; after imports: lab {lab_work[-1]:.2f} s, bare {bare_work[-1]:.2f} s")
    for label, lab_side, bare_side in (("submit to child row", lab_times, bare_times),
                                       ("work after imports (job claimed -> child row)", lab_work, bare_work)):
        ratios = [a / b for a, b in zip(lab_side, bare_side)]
        print(f"lab/bare ratio, {label}: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
              f"max {max(ratios):.3f}) over {args.rounds} interleaved rounds; target <= 1.10")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
