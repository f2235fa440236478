"""kill -9 (issue 11): of a job process in the middle of a quantization, and of the worker while a
batch sweep runs. Each job ends in a state with a reason or is resumed; no model folder without a
row and no job process is left behind."""

from __future__ import annotations

import os
import signal
import time

import pytest

from core import lab
from core.jobs import runner as jobs
from core.measure.options import BatchSweepOptions
from core.optimize.recipes import QuantizeOptions
from core.options import JobKind, JobStatus, MeasureOptions
from db import repository as repo
from tests.faults.helpers import run_to_the_end
from tests.test_jobs import start_worker, wait_for


@pytest.fixture
def worker(lab_env, monkeypatch):
    monkeypatch.setenv("OPTLAB_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("OPTLAB_STALE_SECONDS", "3")
    process = start_worker()
    yield process
    process.kill()
    process.wait()


def folders_without_rows(data_dir) -> list[str]:
    stored = {m.path.split("/")[1] for m in repo.list_models()}
    return [p.name for p in (data_dir / "models").iterdir() if p.is_dir() and p.name not in stored]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


@pytest.mark.timeout(180)
def test_kill_9_of_a_job_process_mid_quantization_fails_it_with_a_reason_and_leaves_no_folder(worker, lab_env):
    model, calibration, _ = lab.ensure_demo()
    job = lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                  options=QuantizeOptions(subset_size=300), measure=MeasureOptions(seconds=0.2))
    running = wait_for(job.id, lambda j: j.status == JobStatus.RUNNING and "quantizing" in j.stage, timeout=90)
    assert folders_without_rows(lab_env), "the child's folder exists while NNCF runs"
    os.kill(running.pid, signal.SIGKILL)
    ended = wait_for(job.id, lambda j: JobStatus(j.status).finished, timeout=60)
    assert ended.status == JobStatus.FAILED and "exited with code -9" in ended.message, ended
    deadline = time.monotonic() + 30  # the worker's recovery round (every ~3 s here) removes the folder
    while folders_without_rows(lab_env) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert folders_without_rows(lab_env) == []
    assert [m.id for m in repo.list_models()] == [model.id], "no half-made child row"


@pytest.mark.timeout(180)
def test_kill_9_of_the_worker_mid_batch_sweep_resumes_the_sweep_once(worker, lab_env):
    model, _, _ = lab.ensure_demo()
    job = lab.submit_batch_sweep(model_id=model.id, options=BatchSweepOptions(batches=[1, 2, 4, 8], seconds=1.0))
    running = wait_for(job.id, lambda j: j.status == JobStatus.RUNNING and j.progress > 0.3, timeout=90)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while alive(running.pid) and time.monotonic() < deadline:  # the job process notices its supervisor died
        time.sleep(0.2)
    assert not alive(running.pid), "the job process outlived its worker"
    done = run_to_the_end(job.id)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2, done
    points = sorted(b.sweep_point for b in repo.list_benchmarks(model.id) if b.job_id == job.id)
    assert len(points) == len(set(points)) == 4, points  # every batch once: resumed, not repeated
    assert jobs.recover_stale() == []


def test_a_rerun_after_an_interruption_keeps_one_set_of_parent_measurements(lab_env, classifier_ir):
    from core.jobs.handlers.optimize import parent_precisions, run_optimize
    from core.optimize.recipes import Fp16Options

    parent = lab.add_model_from_path(classifier_ir)
    job = lab.submit_optimization(kind=JobKind.FP16, model_id=parent.id, dataset_id=None, options=Fp16Options(),
                                  measure=MeasureOptions(seconds=0.1))
    assert repo.claim_job(job.id, os.getpid())

    def parent_rows() -> int:
        return sum(1 for b in repo.list_benchmarks(parent.id) if b.job_id == job.id)

    run_optimize(repo.get_job(job.id), jobs.Reporter(job.id))  # attempt 1, then killed before it ended
    first = parent_rows()
    run_optimize(repo.get_job(job.id), jobs.Reporter(job.id))  # what the re-run attempt does
    # f32 (and the device default where it is bf16), latency and throughput hint: once
    assert parent_rows() == first == 2 * len(parent_precisions("CPU"))
    assert len([m for m in repo.list_models() if m.parent_id == parent.id]) == 1


CHAOS_SEED = int(os.environ.get("OPTLAB_CHAOS_SEED", time.time_ns() % 1_000_000))


def submit(kind: str, model, calibration):
    from core.optimize.recipes import SweepOptions

    measure = MeasureOptions(seconds=0.3, measure_parent=False)
    if kind == "quantize":
        return lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                       options=QuantizeOptions(subset_size=64), measure=measure)
    if kind == "sweep":
        return lab.submit_sweep(sweep=SweepOptions(algorithm=JobKind.QUANTIZE, base={"subset_size": 32},
                                                   grid={"preset": ["performance", "mixed"]}),
                                model_id=model.id, dataset_id=calibration.id, measure=measure)
    return lab.submit_batch_sweep(model_id=model.id, options=BatchSweepOptions(batches=[1, 2, 4], seconds=0.5))


def job_processes(data_dir) -> list[int]:
    """Live processes running a job of this data dir (the standby of a live worker aside)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            environ = open(f"/proc/{entry}/environ", "rb").read().split(b"\0")
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        if f"OPTLAB_DATA_DIR={data_dir}".encode() in environ and b"core.jobs" in cmdline and alive(int(entry)):
            found.append(int(entry))
    return found


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["quantize", "sweep", "batch_sweep"])
def test_kill_9_at_a_random_point_ends_the_job_with_a_reason_and_changes_nothing_stored(kind, lab_env, monkeypatch):
    # The point (a delay into the run) and the victim (worker or job process) are drawn from
    # OPTLAB_CHAOS_SEED (printed on failure; set it to replay a run).
    import random

    from tests.faults.helpers import tree_digest

    rng = random.Random(f"{CHAOS_SEED}-{kind}")
    delay, victim = rng.uniform(0.0, 4.0), rng.choice(["worker", "job process"])
    replay = f"OPTLAB_CHAOS_SEED={CHAOS_SEED}: kill -9 of the {victim} {delay:.2f} s into a {kind} job"
    monkeypatch.setenv("OPTLAB_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("OPTLAB_STALE_SECONDS", "3")
    model, calibration, _ = lab.ensure_demo()
    stored = tree_digest(lab_env / "models")
    worker = start_worker()
    try:
        job = submit(kind, model, calibration)
        running = wait_for(job.id, lambda j: j.status != JobStatus.PENDING, timeout=90)
        time.sleep(delay)
        running = repo.get_job(job.id)
        if victim == "worker":
            worker.kill()
        elif running.pid and running.status == JobStatus.RUNNING:
            try:
                os.kill(running.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it had just finished
    finally:
        worker.kill()
        worker.wait()
    done = run_to_the_end(job.id, timeout=180)
    assert JobStatus(done.status).finished, replay
    assert done.status == JobStatus.SUCCEEDED or done.message, f"{replay}: ended {done.status} with no reason"
    if done.status == JobStatus.FAILED:
        assert "exited with code -9" in done.message, f"{replay}: {done.message}"
    deadline = time.monotonic() + 10
    while job_processes(lab_env) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job_processes(lab_env) == [], f"{replay}: a job process outlived its worker"
    assert {k: v for k, v in tree_digest(lab_env / "models").items() if k in stored} == stored, replay
    jobs.recover_stale()  # the recovery round a worker runs: removes folders of jobs killed before their row
    assert folders_without_rows(lab_env) == [], replay
    rows = [(b.model_id, b.sweep_point, b.hint, b.batch, b.precision) for b in repo.list_benchmarks()
            if b.job_id == job.id]
    assert len(rows) == len(set(rows)), f"{replay}: measured twice: {rows}"
    assert kind != "sweep" or not rows, f"{replay}: measure_parent=False, yet the sweep measured its parent: {rows}"
    children = [j for j in repo.list_jobs(100) if j.options.get("sweep_job_id") == job.id]
    assert all(JobStatus(c.status).finished for c in children), f"{replay}: {[(c.id, c.status) for c in children]}"
