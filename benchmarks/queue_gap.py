"""Idle time between queued jobs: after an optimization vs after a measurement, in one run.

The worker hands each job to a process started ahead of it (standby, its imports done). The next
standby starts as soon as a job is handed over, except after kinds that begin by timing a model
(benchmark, batch sweep, profile, ...), where it waits for the job's end so that its ~2 s of imports
never run beside a measurement. This prints the gap from one job's end to the next one's start
(database timestamps), by the kind of the job before it. Expected: after fp16 well under 1 s,
after benchmark about one process start (the price of an undisturbed measurement).

    .venv/bin/python benchmarks/queue_gap.py [--jobs 8]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="jobs of each kind")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="optlab-gap-"))
    os.environ.update(OPTLAB_DATA_DIR=str(data_dir), OPTLAB_QUEUE="gap")
    for name in ("OPTLAB_DATABASE_URL", "OPTLAB_QUEUE_PATH"):
        os.environ.pop(name, None)
    from core import lab
    from core.jobs import runner as jobs
    from core.optimize.recipes import Fp16Options
    from core.options import BenchmarkOptions, JobKind, JobStatus, MeasureOptions
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, _, _ = lab.ensure_demo()
    for _ in range(args.jobs):  # alternating, so each kind follows the other as often as itself
        lab.submit_optimization(kind=JobKind.FP16, model_id=model.id, dataset_id=None, options=Fp16Options(),
                                measure=MeasureOptions(seconds=0.3, measure_parent=False))
        jobs.submit(JobKind.BENCHMARK, BenchmarkOptions(seconds=0.3).to_dict(), model_id=model.id)
    log = (data_dir / "worker.log").open("ab")
    worker = subprocess.Popen([sys.executable, "-m", "core.jobs.worker"], cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        while any(not JobStatus(j.status).finished for j in repo.list_jobs(1000)):
            time.sleep(0.5)
    finally:
        worker.kill()
        worker.wait()
    done = sorted(repo.list_jobs(1000), key=lambda j: j.started_at)
    assert all(j.status == JobStatus.SUCCEEDED for j in done), [j.message for j in done]
    gaps: dict[str, list[float]] = {}
    for before, after in zip(done, done[1:]):
        gaps.setdefault(before.kind, []).append((after.started_at - before.finished_at).total_seconds())
    print(f"load average at end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for kind, values in gaps.items():
        print(f"gap after {kind:<10} median {statistics.median(values):.2f} s  min {min(values):.2f}  "
              f"max {max(values):.2f}  (n={len(values)})")
    ratio = statistics.median(gaps["fp16"]) / statistics.median(gaps["benchmark"])
    print(f"gap after fp16 / gap after benchmark: {ratio:.2f}")


if __name__ == "__main__":
    main()
