"""Issue 12, finding 2, with real job processes: a model measured once beside busy processes is
flagged noisy; an interleaved A/B job on a quiet machine then gives its headline."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import pytest

from core import lab
from core.compare import table as compare
from core.jobs import runner as jobs
from core.jobs.queue import supervise_job
from core.options import BenchmarkOptions, JobKind, JobStatus
from db import repository as repo


def test_a_run_under_load_is_flagged_and_replaced_by_interleaved_evidence(lab_env, classifier_ir):
    a = lab.add_model_from_path(classifier_ir, name="a")
    b = lab.add_model_from_path(classifier_ir, name="b")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        time.sleep(0.5)
        loaded = jobs.submit(JobKind.BENCHMARK, BenchmarkOptions(seconds=1.0, threads=1).to_dict(), model_id=a.id)
        supervise_job(loaded.id)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert repo.get_job(loaded.id).status == JobStatus.SUCCEEDED
    [row] = [r for r in compare.results_rows() if r["model_id"] == a.id]
    assert row["noisy"] and row["latency_runs"] == 1, row
    [run] = repo.list_benchmarks(a.id)
    assert run.noisy and run.environment["other_cpu"] > (os.cpu_count() or 1) / 2

    key = row["key"]
    job = lab.submit_interleaved(key, f"{b.id}:{row['precision']}", benchmark=BenchmarkOptions(seconds=0.5),
                                 rounds=2, idempotency_key="quiet")
    supervise_job(job.id)
    assert repo.get_job(job.id).status == JobStatus.SUCCEEDED
    quiet = [r for r in repo.list_benchmarks(a.id) if r.job_id == job.id]
    assert len(quiet) == 2 and not any(r.noisy for r in quiet), [r.environment["other_cpu"] for r in quiet]
    [row] = [r for r in compare.results_rows() if r["key"] == key]
    assert not row["noisy"] and row["latency_runs"] == 2 and row["noisy_runs_left_out"] == 1
    assert row["latency_ms"] == pytest.approx(statistics.median(r.latency_median_ms for r in quiet))
