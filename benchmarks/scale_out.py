"""40 benchmark jobs through 1 vs 2 workers on Redis + Postgres, and through the embedded defaults.

Each scenario is a fresh lab holding the demo model; the workers are started and announced first,
then all jobs are submitted at once. Printed per scenario: wall time (first submit -> last end),
queue latency (submit -> start, database timestamps) p50 / p99, and the 2-worker / 1-worker wall
ratio. The two workers run on this one machine as two hosts (OPTLAB_HOST), each with its own job
slot, so the ratio shows what the queue gives when machines are added, minus the contention of
sharing these cores. Needs Debian's postgresql and redis-server, and requirements-scale.txt.

    .venv/bin/python benchmarks/scale_out.py [--jobs 40] [--seconds 0.3]
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

from tests.servers import PostgresServer, RedisServer, start_target_worker  # noqa: E402  (after the path is set)


def start_workers(hosts: list[str]) -> list[subprocess.Popen]:
    """One `python -m core.worker` per host name, each returned once it has announced itself."""
    log = (Path(os.environ["OPTLAB_DATA_DIR"]) / "workers.log").open("ab")
    return [start_target_worker(os.environ["OPTLAB_QUEUE"], host, log=log) for host in hosts]


def run_scenario(name: str, hosts: list[str], jobs_count: int, seconds: float, settings: dict[str, str]) -> dict:
    """A fresh lab with settings (database / queue URLs), its workers, then jobs_count benchmarks at once."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"optlab-scale-{name}-"))
    os.environ.update(OPTLAB_DATA_DIR=str(data_dir), OPTLAB_QUEUE=f"scale-{name}", **settings)
    for variable in ("OPTLAB_DATABASE_URL", "OPTLAB_QUEUE_URL", "OPTLAB_QUEUE_PATH"):
        if variable not in settings:
            os.environ.pop(variable, None)
    from core import lab
    from core.jobs import runner as jobs
    from core.options import BenchmarkOptions, JobKind, JobStatus
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, _, _ = lab.ensure_demo()
    workers = start_workers(hosts)
    try:
        ids = [jobs.submit(JobKind.BENCHMARK, BenchmarkOptions(seconds=seconds, hint="latency").to_dict(),
                           model_id=model.id).id for _ in range(jobs_count)]
        while not all(JobStatus(repo.get_job(i).status).finished for i in ids):
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(30)
    done = [repo.get_job(i) for i in ids]
    failed = [j for j in done if j.status != JobStatus.SUCCEEDED]
    if failed:
        raise RuntimeError(f"{len(failed)} job(s) did not succeed: {failed[0].message}")
    waits = sorted((j.started_at - j.created_at).total_seconds() for j in done)
    hosts_used = {row.environment.get("host") for row in repo.list_benchmarks(model.id)}
    return {"scenario": name, "workers": len(hosts), "hosts": sorted(hosts_used),
            "wall_s": (max(j.finished_at for j in done) - min(j.created_at for j in done)).total_seconds(),
            "wait_p50_s": statistics.median(waits), "wait_p99_s": waits[min(len(waits) - 1, int(0.99 * len(waits)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=0.3, help="duration of each benchmark run")
    args = parser.parse_args()
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="optlab-scale-redis-")))
    postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="optlab-scale-postgres-")))
    redis.start()
    postgres.init()
    postgres.start()
    try:
        results = [run_scenario("embedded", ["bench-a"], args.jobs, args.seconds, {})]
        for name, hosts in (("shared-1", ["bench-a"]), ("shared-2", ["bench-a", "bench-b"])):
            shared = {"OPTLAB_DATABASE_URL": postgres.create_database(name.replace("-", "_")),
                      "OPTLAB_QUEUE_URL": redis.url}
            results.append(run_scenario(name, hosts, args.jobs, args.seconds, shared))
    finally:
        redis.stop()
        postgres.stop()
    print(f"{args.jobs} benchmark jobs of {args.seconds} s each, submitted at once")
    print(f"{'scenario':<10} {'workers':>7} {'wall s':>8} {'wait p50 s':>11} {'wait p99 s':>11}  hosts")
    for r in results:
        print(f"{r['scenario']:<10} {r['workers']:>7} {r['wall_s']:>8.1f} {r['wait_p50_s']:>11.2f} "
              f"{r['wait_p99_s']:>11.2f}  {', '.join(r['hosts'])}")
    one, two = results[1]["wall_s"], results[2]["wall_s"]
    print(f"wall time 2 workers / 1 worker (Redis + Postgres): {two / one:.2f}; "
          f"Redis + Postgres / embedded, 1 worker: {one / results[0]['wall_s']:.2f}")


if __name__ == "__main__":
    main()
