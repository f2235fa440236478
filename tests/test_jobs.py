"""Jobs through a real worker process: progress, cancel, kill -9 -> INTERRUPTED -> re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from core import lab
from core.config import REPO_ROOT
from core.jobs import runner as jobs
from core.options import BenchmarkOptions, JobKind, JobStatus, MeasureOptions
from db import repository as repo
from tests.conftest import use_shared_backend


@pytest.fixture(params=["embedded", "postgres+redis"])
def lab_env(lab_env, request, monkeypatch):
    """Every job test runs on the embedded defaults (SQLite, a queue file) and on real Postgres + Redis."""
    if request.param == "postgres+redis":
        use_shared_backend(request, monkeypatch)
    return lab_env


@pytest.fixture
def fast_heartbeat(monkeypatch):
    monkeypatch.setenv("OPTLAB_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("OPTLAB_STALE_SECONDS", "3")


def start_worker() -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "core.jobs.worker"], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from core.jobs.worker import worker_running

    deadline = time.monotonic() + 20
    while not worker_running():
        assert time.monotonic() < deadline, "worker did not take its lock"
        time.sleep(0.1)
    return process


def wait_for(job_id: int, condition, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        job = repo.get_job(job_id)
        if condition(job):
            return job
        assert time.monotonic() < deadline, f"job stuck: {job}"
        time.sleep(0.2)


@pytest.fixture
def worker(lab_env, fast_heartbeat):
    process = start_worker()
    yield process
    process.kill()
    process.wait()


def submit_benchmark(model_id: int, seconds: float) -> int:
    options = BenchmarkOptions(seconds=seconds, hint="throughput").to_dict()
    return jobs.submit(JobKind.BENCHMARK, options, model_id=model_id).id


def test_job_runs_with_progress_and_stores_result(worker, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    job_id = submit_benchmark(model.id, 3.0)
    running = wait_for(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
    assert "benchmarking" in running.stage
    done = wait_for(job_id, lambda j: JobStatus(j.status).finished)
    assert done.status == JobStatus.SUCCEEDED, done.message
    assert done.progress == 1.0
    [result] = repo.list_benchmarks(model.id)
    assert result.hint == "throughput" and result.iterations > 0


def test_each_job_runs_in_its_own_process_and_logs_to_its_own_file(worker, classifier_ir):
    # Job processes are started ahead of their job (standby); each must still be its own process
    # with its own log, the page's "log" view of one job never showing another's.
    from core.jobs.queue import job_log_path

    model = lab.add_model_from_path(classifier_ir)
    first, second = submit_benchmark(model.id, 0.3), submit_benchmark(model.id, 0.3)
    done = [wait_for(job_id, lambda j: JobStatus(j.status).finished) for job_id in (first, second)]
    assert [job.status for job in done] == [JobStatus.SUCCEEDED] * 2, [job.message for job in done]
    assert done[0].pid != done[1].pid
    for job_id, other in ((first, second), (second, first)):
        log = job_log_path(job_id).read_text()
        assert f"job {job_id} (benchmark) attempt 1 started" in log and f"job {job_id} succeeded" in log
        assert f"job {other} " not in log


def test_cancel_stops_a_running_job_within_seconds(worker, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    job_id = submit_benchmark(model.id, 120.0)
    wait_for(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
    asked = time.monotonic()
    jobs.cancel(job_id)
    done = wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=15)
    assert done.status == JobStatus.CANCELLED
    assert time.monotonic() - asked < 10
    assert repo.list_benchmarks(model.id) == []


def test_cancel_during_quantization_leaves_no_half_written_model(worker, lab_env):
    from core.optimize.recipes import QuantizeOptions

    model, calibration, _ = lab.ensure_demo()
    before = sorted(p.name for p in (lab_env / "models").iterdir())
    job = lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                  options=QuantizeOptions(subset_size=300), measure=MeasureOptions())
    wait_for(job.id, lambda j: "quantizing" in j.stage, timeout=90)
    assert any(p.name not in before for p in (lab_env / "models").iterdir()), "the child's folder exists"
    jobs.cancel(job.id)
    done = wait_for(job.id, lambda j: JobStatus(j.status).finished, timeout=15)
    assert done.status == JobStatus.CANCELLED and done.result_model_id is None
    assert sorted(p.name for p in (lab_env / "models").iterdir()) == before
    assert [m.id for m in repo.list_models()] == [model.id]


def test_worker_killed_job_becomes_interrupted_and_reruns(lab_env, fast_heartbeat, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    first = start_worker()
    job_id = submit_benchmark(model.id, 2.0)
    job = wait_for(job_id, lambda j: j.status == JobStatus.RUNNING)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    # The orphaned job process notices its supervisor is gone and stops heartbeating.
    time.sleep(4.0)
    interrupted = {j.id: j for j in repo.interrupt_stale_jobs(__import__("datetime").timedelta(seconds=3))}
    assert interrupted[job_id].status == JobStatus.INTERRUPTED
    assert not _pid_alive(job.pid), "the job process outlived its killed worker"
    second = start_worker()
    try:
        jobs.rerun(job_id)
        done = wait_for(job_id, lambda j: JobStatus(j.status).finished)
        assert done.status == JobStatus.SUCCEEDED, done.message
        assert done.attempts == 2
    finally:
        second.kill()
        second.wait()


def test_second_worker_for_same_queue_exits(worker):
    second = subprocess.run([sys.executable, "-m", "core.jobs.worker"], cwd=REPO_ROOT, timeout=30,
                            capture_output=True, text=True)
    assert second.returncode == 0
    assert "already runs" in second.stderr


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_worker_exits_when_the_app_that_started_it_is_gone(lab_env):
    from core.jobs.worker import worker_running

    # A stand-in for the app server: starts the worker as the app does, then lingers.
    app = subprocess.Popen([sys.executable, "-c", "import time; from core.jobs.worker import "
                            "ensure_local_worker; ensure_local_worker(); time.sleep(600)"], cwd=REPO_ROOT)
    deadline = time.monotonic() + 30
    while not worker_running():
        assert time.monotonic() < deadline and app.poll() is None, "the app did not start a worker"
        time.sleep(0.2)
    app.kill()
    app.wait()
    deadline = time.monotonic() + 10
    while worker_running():
        assert time.monotonic() < deadline, "the orphaned worker kept running"
        time.sleep(0.2)


def test_a_job_process_that_dies_before_starting_the_job_fails_it_with_its_log(lab_env, classifier_ir,
                                                                                monkeypatch):
    from core.jobs import queue

    def dying_process(job_id: int) -> subprocess.Popen:
        with open(queue.job_log_path(job_id), "ab") as log:
            return subprocess.Popen([sys.executable, "-c", "import sys; print('ImportError: no openvino');"
                                     " sys.exit(3)"], stdout=log, stderr=subprocess.STDOUT)

    monkeypatch.setattr(queue, "_job_process", dying_process)
    monkeypatch.setattr(queue, "prepare_standby", lambda: None)
    model = lab.add_model_from_path(classifier_ir)
    job_id = submit_benchmark(model.id, 1.0)
    queue.supervise_job(job_id)  # what the worker runs for the queued id
    job = repo.get_job(job_id)
    assert job.status == JobStatus.FAILED and job.exit_code == 3
    assert "exited with code 3 before starting the job" in job.message and "ImportError: no openvino" in job.message


def standby_children(worker_pid: int, running_pid: int) -> list[int]:
    """Pids of the worker's job processes waiting for their job (all but the running job's)."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == worker_pid and b"standby" in argv and int(entry) != running_pid:
            pids.append(int(entry))
    return pids


def test_next_standby_starts_during_an_optimization_but_not_during_a_measurement(worker, lab_env):
    # The next job starts at once (its process is ready) unless a standby's imports would run
    # beside a timing: during a benchmark job no second process starts.
    from core.optimize.recipes import Fp16Options
    from core.options import MeasureOptions

    model, calibration, _ = lab.ensure_demo()
    bench = submit_benchmark(model.id, 6.0)
    running = wait_for(bench, lambda j: j.status == JobStatus.RUNNING and j.progress > 0.2)
    assert standby_children(worker.pid, running.pid) == []
    wait_for(bench, lambda j: JobStatus(j.status).finished)
    job = lab.submit_optimization(kind=JobKind.FP16, model_id=model.id, dataset_id=calibration.id,
                                  options=Fp16Options(), measure=MeasureOptions(seconds=2.0))
    running = wait_for(job.id, lambda j: j.status == JobStatus.RUNNING and "benchmarking" in j.stage, timeout=60)
    assert len(standby_children(worker.pid, running.pid)) == 1
    assert wait_for(job.id, lambda j: JobStatus(j.status).finished).status == JobStatus.SUCCEEDED


def test_wait_ends_on_an_interrupted_job_that_is_not_retried(lab_env, classifier_ir, monkeypatch):
    # A job out of attempts stays INTERRUPTED: `python -m core wait` says so and how to rerun it
    # instead of polling forever.
    from datetime import timedelta

    monkeypatch.setenv("OPTLAB_MAX_ATTEMPTS", "1")
    model = lab.add_model_from_path(classifier_ir)
    job_id = submit_benchmark(model.id, 1.0)
    assert repo.claim_job(job_id, pid=999_999)
    [interrupted] = repo.interrupt_stale_jobs(timedelta(seconds=-60))
    assert interrupted.id == job_id and not jobs.retried_after_interruption(interrupted)
    out = subprocess.run([sys.executable, "-m", "core", "wait", str(job_id)], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "OPTLAB_LOCAL_WORKER": "0"})
    assert out.returncode == 1
    assert f"python -m core rerun {job_id}" in out.stderr and "Traceback" not in out.stderr


def test_the_parent_s_quiet_measurements_are_reused_unless_asked_to_measure_it_again(lab_env, classifier_ir):
    # Issue 12: every job re-benchmarked the parent (about 50 of 63 s of a weight-compression job).
    from core.jobs.handlers.optimize import run_optimize
    from core.measure.machine import device_default_precision
    from core.optimize.recipes import Fp16Options

    parent = lab.add_model_from_path(classifier_ir)

    def run(**measure) -> int:
        job = lab.submit_optimization(kind=JobKind.FP16, model_id=parent.id, dataset_id=None, options=Fp16Options(),
                                      measure=MeasureOptions(**{"seconds": 0.2, **measure}))
        assert repo.claim_job(job.id, os.getpid())
        run_optimize(repo.get_job(job.id), jobs.Reporter(job.id))
        return sum(1 for b in repo.list_benchmarks(parent.id) if b.job_id == job.id)

    # f32 and, where this CPU defaults to bf16, the device default; latency and throughput hint each
    runs = 4 if device_default_precision("CPU") != "f32" else 2
    assert run() == runs
    quiet = [b.environment.get("other_cpu") for b in repo.list_benchmarks(parent.id)]
    # Runs measured beside other tenants' work are noisy and never reused: then the parent is measured again.
    noisy = any(b.noisy for b in repo.list_benchmarks(parent.id))
    assert run() == (runs if noisy else 0), f"reused unless noisy (other processes' CPU during the first runs: {quiet})"
    assert run(remeasure_parent=True) == runs
    assert run(seconds=1.0) == runs, "longer runs asked: the stored 0.2 s ones do not compare"
