"""A database blip loses no work (issue 11, finding 4): a write lock longer than SQLite's busy
timeout, and a queue message lost with its supervisor, through a real worker and job process."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from core import lab
from core.jobs import runner as jobs
from core.options import BenchmarkOptions, JobKind, JobStatus
from db import repository as repo
from tests.faults.helpers import run_to_the_end
from tests.test_jobs import start_worker, wait_for

LOCK_SECONDS = 18.0  # longer than the 15 s busy_timeout every connection waits before 'database is locked'


@pytest.fixture
def worker(lab_env, monkeypatch):
    monkeypatch.setenv("OPTLAB_HEARTBEAT_SECONDS", "1")
    monkeypatch.setenv("OPTLAB_STALE_SECONDS", "40")  # a lock must not look like a dead job
    process = start_worker()
    yield process
    process.kill()
    process.wait()


def hold_write_lock(database, seconds: float, held: threading.Event) -> None:
    connection = sqlite3.connect(database, timeout=30)
    connection.execute("BEGIN EXCLUSIVE")
    held.set()
    time.sleep(seconds)
    connection.commit()
    connection.close()


@pytest.mark.timeout(180)
def test_a_job_rides_out_a_write_lock_longer_than_the_busy_timeout(worker, lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    job_id = jobs.submit(JobKind.BENCHMARK, BenchmarkOptions(seconds=LOCK_SECONDS + 8, hint="throughput").to_dict(),
                         model_id=model.id).id
    wait_for(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
    held = threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(lab_env / "lab.db", LOCK_SECONDS, held))
    locker.start()
    assert held.wait(10)
    locker.join()
    beat = repo.get_job(job_id).heartbeat_at
    done = wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=120)
    assert done.status == JobStatus.SUCCEEDED, done.message
    assert done.heartbeat_at > beat, "the heartbeat thread must survive the lock"
    assert len(repo.list_benchmarks(model.id)) == 1


@pytest.mark.timeout(120)
def test_a_pending_job_whose_message_was_lost_is_run(lab_env, classifier_ir, monkeypatch):
    monkeypatch.setenv("OPTLAB_STALE_SECONDS", "1")
    model = lab.add_model_from_path(classifier_ir)
    # A row without its queue message: what a supervisor that crashed on a database outage leaves.
    job, _ = repo.create_job(kind=JobKind.BENCHMARK, options=BenchmarkOptions(seconds=0.5).to_dict(),
                             queue="test", model_id=model.id)
    time.sleep(1.5)
    done = run_to_the_end(job.id)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 1, done
