"""Job time with the parent measured again vs its stored quiet runs reused, interleaved.

Weight compression (int8_asym) of the demo model, 3 s benchmark runs, validation data: each round
runs one job with remeasure_parent=True and one without (the parent then has quiet runs of the same
settings from the round before). Prints each job's time (database started_at -> finished_at), the
medians and reused / remeasured (the issue saw about 50 of 63 s spent on the parent).

    .venv/bin/python benchmarks/parent_reuse.py [--rounds 3] [--seconds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    os.environ.update(OPTLAB_DATA_DIR=tempfile.mkdtemp(prefix="optlab-reuse-"), OPTLAB_QUEUE="reuse")
    for name in ("OPTLAB_DATABASE_URL", "OPTLAB_QUEUE_PATH"):
        os.environ.pop(name, None)
    from core import lab
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import CompressWeightsOptions
    from core.options import JobKind, JobStatus, MeasureOptions
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, _, validation = lab.ensure_demo()
    times: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(args.rounds):
        for remeasure in (True, False):
            job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=model.id, dataset_id=None,
                                          options=CompressWeightsOptions(mode="int8_asym"),
                                          measure=MeasureOptions(dataset_id=validation.id, seconds=args.seconds,
                                                                 remeasure_parent=remeasure))
            supervise_job(job.id)  # a real job process, as the worker runs it
            done = repo.get_job(job.id)
            assert done.status == JobStatus.SUCCEEDED, done.message
            seconds = (done.finished_at - done.started_at).total_seconds()
            parent_runs = sum(1 for b in repo.list_benchmarks(model.id) if b.job_id == job.id)
            times[remeasure].append(seconds)
            print(f"round {round_ + 1}: {'remeasured' if remeasure else 'reused    '} {seconds:6.1f} s "
                  f"({parent_runs} parent runs)")
    again, reused = (statistics.median(times[flag]) for flag in (True, False))
    print(f"median: parent measured again {again:.1f} s, reused {reused:.1f} s -> reused / remeasured "
          f"{reused / again:.2f}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
