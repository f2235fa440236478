"""Soak under chaos (issue 11): N mixed jobs through one real worker while a chaos loop kill -9s job
processes and the worker at random intervals; then counts what became of every job.

    .venv/bin/python benchmarks/soak.py --jobs 200 [--seed 0] [--chaos-every 4]

Prints jobs submitted, succeeded first time, recovered (succeeded after an interruption), failed
with a reason, interrupted for good (attempts exhausted), lost (still pending / running: must be 0),
duplicated (more than one child model or more benchmark rows than one attempt stores: must be 0),
orphans (job processes left, model folders without a row: must be 0) and the wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _processes_of(data_dir: Path) -> list[int]:
    """Pids of lab processes (worker, job processes) whose environment points at data_dir."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"OPTLAB_DATA_DIR={data_dir}".encode() in environ.split(b"\0") and b"core.jobs" in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _start_worker(data_dir: Path) -> subprocess.Popen:
    log = (data_dir / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "core.jobs.worker"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _submit_all(count: int, rng: random.Random) -> dict[int, str]:
    from core import lab
    from core.jobs import runner as jobs
    from core.measure.options import BatchSweepOptions
    from core.optimize.recipes import Fp16Options, QuantizeOptions, SweepOptions
    from core.options import BenchmarkOptions, JobKind, MeasureOptions

    model, calibration, _ = lab.ensure_demo()
    measure = MeasureOptions(seconds=0.2, measure_parent=False)
    kinds = ["benchmark"] * 40 + ["fp16"] * 20 + ["quantize"] * 15 + ["batch_sweep"] * 15 + ["sweep"] * 10
    submitted = {}
    for _ in range(count):
        kind = rng.choice(kinds)
        if kind == "benchmark":
            job = jobs.submit(JobKind.BENCHMARK, BenchmarkOptions(seconds=0.3).to_dict(), model_id=model.id)
        elif kind == "fp16":
            job = lab.submit_optimization(kind=JobKind.FP16, model_id=model.id, dataset_id=None, options=Fp16Options(),
                                          measure=measure)
        elif kind == "quantize":
            job = lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                          options=QuantizeOptions(subset_size=32), measure=measure)
        elif kind == "batch_sweep":
            job = lab.submit_batch_sweep(model_id=model.id, options=BatchSweepOptions(batches=[1, 2], seconds=0.2))
        else:
            job = lab.submit_sweep(sweep=SweepOptions(algorithm=JobKind.QUANTIZE, base={"subset_size": 16},
                                                      grid={"preset": ["performance", "mixed"]}),
                                   model_id=model.id, dataset_id=calibration.id, measure=measure)
        submitted[job.id] = kind
    return submitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chaos-every", type=float, default=4.0, help="mean seconds between kills")
    parser.add_argument("--deadline-minutes", type=float, default=60.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    data_dir = Path(tempfile.mkdtemp(prefix="optlab-soak-"))
    os.environ.update(OPTLAB_DATA_DIR=str(data_dir), OPTLAB_HEARTBEAT_SECONDS="1", OPTLAB_STALE_SECONDS="6",
                      OPTLAB_QUEUE="soak", OPTLAB_MAX_ATTEMPTS="3")
    for name in ("OPTLAB_DATABASE_URL", "OPTLAB_QUEUE_PATH"):
        os.environ.pop(name, None)
    from core.options import JobStatus
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    started = time.monotonic()
    submitted = _submit_all(args.jobs, rng)
    worker = _start_worker(data_dir)
    kills = Counter()
    deadline = started + args.deadline_minutes * 60
    while time.monotonic() < deadline:
        time.sleep(rng.expovariate(1 / args.chaos_every))
        live = [j for j in repo.list_jobs(100_000) if j.status in (JobStatus.PENDING, JobStatus.RUNNING)]
        if not live:
            break
        running = [j for j in live if j.status == JobStatus.RUNNING and j.pid]
        if running and rng.random() < 0.75:
            victim = rng.choice(running)
            try:
                os.kill(victim.pid, signal.SIGKILL)
                kills["job process"] += 1
            except ProcessLookupError:
                pass
        else:
            worker.kill()
            worker.wait()
            kills["worker"] += 1
            worker = _start_worker(data_dir)
    worker.terminate()
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        worker.kill()
    time.sleep(2)
    wall = time.monotonic() - started

    jobs = {j.id: j for j in repo.list_jobs(100_000)}
    outcome = Counter()
    for job_id in submitted:
        job = jobs[job_id]
        if job.status == JobStatus.SUCCEEDED:
            outcome["succeeded first time" if job.attempts == 1 else "recovered"] += 1
        elif job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            outcome["failed with a reason" if job.message else "failed without a reason"] += 1
        elif job.status == JobStatus.INTERRUPTED:
            outcome["interrupted for good (attempts exhausted)"] += 1
        else:
            outcome["lost"] += 1
    children = Counter(m.recipe.get("job_id") for m in repo.list_models() if m.parent_id)
    rows = Counter(b.job_id for b in repo.list_benchmarks())
    duplicated = sum(1 for job_id, kind in submitted.items()
                     if children[job_id] > 1 or (kind == "benchmark" and rows[job_id] > 1))
    referenced = {Path(m.path).parts[1] for m in repo.list_models()}
    orphan_folders = [p.name for p in (data_dir / "models").iterdir() if p.is_dir() and p.name not in referenced]
    orphan_processes = _processes_of(data_dir)
    print(f"jobs submitted: {len(submitted)} ({dict(Counter(submitted.values()))})")
    for name in ("succeeded first time", "recovered", "failed with a reason", "failed without a reason",
                 "interrupted for good (attempts exhausted)", "lost"):
        print(f"{name}: {outcome[name]}")
    print(f"duplicated: {duplicated}")
    print(f"orphans: {len(orphan_processes)} processes, {len(orphan_folders)} model folders {orphan_folders[:5]}")
    print(f"kills: {dict(kills)}; wall time {wall:.0f} s; load average {os.getloadavg()[0]:.1f}; data dir {data_dir}")


if __name__ == "__main__":
    main()
