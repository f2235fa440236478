"""Scale-out on real servers (issue 16): the queue on Redis, results in Postgres, and what happens
when either restarts under a running lab. The servers are the session's (tests/servers.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta

import pytest

from core import lab
from core.config import REPO_ROOT, get_settings
from core.errors import ConfigError
from core.jobs.runner import routed_to
from core.jobs.targets import live_workers, target_alive
from core.options import JobStatus
from db import repository as repo
from db.session import get_engine
from tests.servers import start_target_worker
from tests.test_jobs import start_worker, submit_benchmark, wait_for


@pytest.fixture
def quick_recovery(monkeypatch):
    """Heartbeats and the lost-message check in seconds, not the production half minute."""
    monkeypatch.setenv("OPTLAB_HEARTBEAT_SECONDS", "0.5")
    monkeypatch.setenv("OPTLAB_STALE_SECONDS", "3")


def stop(process) -> None:
    process.kill()
    process.wait()


def redis_messages(url: str, queue: str) -> int:
    """How many job messages wait in Redis for queue (read with the plain client, not through Huey)."""
    import redis

    client = redis.Redis.from_url(url)
    return sum(client.llen(key) for key in client.keys(f"*{queue}*") if client.type(key) == b"list")


def test_a_job_waits_on_redis_and_its_result_lands_in_postgres(shared_lab, classifier_ir, redis_server):
    assert get_engine().dialect.name == "postgresql"
    model = lab.add_model_from_path(classifier_ir)
    job_id = submit_benchmark(model.id, 0.5)
    assert redis_messages(redis_server.url, get_settings().queue_name) == 1, "the message is on Redis"
    worker = start_worker()
    try:
        done = wait_for(job_id, lambda j: JobStatus(j.status).finished)
    finally:
        stop(worker)
    assert done.status == JobStatus.SUCCEEDED, done.message
    assert redis_messages(redis_server.url, get_settings().queue_name) == 0
    assert len(repo.list_benchmarks(model.id)) == 1


def test_redis_killed_with_jobs_queued_loses_none(shared_lab, classifier_ir, redis_server, quick_recovery):
    """kill -9 of Redis with three messages waiting, then a job submitted while it is down: all four run."""
    model = lab.add_model_from_path(classifier_ir)
    queued = [submit_benchmark(model.id, 0.3) for _ in range(3)]
    redis_server.kill()
    try:
        while_down = submit_benchmark(model.id, 0.3)  # stored PENDING; its message could not be sent
    finally:
        redis_server.start()
    worker = start_worker()
    try:
        done = [wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=90)
                for job_id in queued + [while_down]]
    finally:
        stop(worker)
    assert [job.status for job in done] == [JobStatus.SUCCEEDED] * 4, [job.message for job in done]
    assert len(repo.list_benchmarks(model.id)) == 4


def test_redis_restarted_while_the_worker_runs_loses_no_job(shared_lab, classifier_ir, redis_server,
                                                           quick_recovery):
    model = lab.add_model_from_path(classifier_ir)
    worker = start_worker()
    try:
        running = submit_benchmark(model.id, 3.0)
        wait_for(running, lambda j: j.status == JobStatus.RUNNING)
        waiting = submit_benchmark(model.id, 0.3)
        redis_server.restart(down_seconds=2.0)  # the consumer loses its connection mid-job
        done = [wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=90) for job_id in (running, waiting)]
    finally:
        stop(worker)
    assert [job.status for job in done] == [JobStatus.SUCCEEDED] * 2, [job.message for job in done]


def test_postgres_restarted_mid_job_the_job_finishes_or_fails_with_a_reason(shared_lab, classifier_ir,
                                                                          postgres_server, quick_recovery,
                                                                          monkeypatch):
    monkeypatch.setenv("OPTLAB_DB_RETRY_SECONDS", "60")
    model = lab.add_model_from_path(classifier_ir)
    worker = start_worker()
    try:
        job_id = submit_benchmark(model.id, 4.0)
        wait_for(job_id, lambda j: j.status == JobStatus.RUNNING and j.progress > 0)
        postgres_server.restart(down_seconds=3.0)  # connections cut; heartbeats and progress fail meanwhile
        done = wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=120)
    finally:
        stop(worker)
    # Never lost: either it rode out the restart, or it says why it did not.
    assert done.status == JobStatus.SUCCEEDED or done.message, done
    if done.status == JobStatus.SUCCEEDED:
        assert len(repo.list_benchmarks(model.id)) == 1


def test_an_unknown_queue_url_is_refused_with_the_fix_and_no_password(lab_env, monkeypatch):
    from core.jobs.queue import get_task

    monkeypatch.setenv("OPTLAB_QUEUE_URL", "amqp://lab:s3cret@rabbit:5672/")
    with pytest.raises(ConfigError, match=r"sqlite:///FILE or redis://") as error:
        get_task()
    assert "s3cret" not in str(error.value)


def cli_json(*argv: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "core", *argv, "--json"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_jobs_routed_to_two_targets_run_only_there_and_land_in_one_database(shared_lab, classifier_ir,
                                                                           quick_recovery):
    model = lab.add_model_from_path(classifier_ir)
    first, second = start_target_worker("cpu-a", "host-a"), start_target_worker("cpu-b", "host-b")
    try:
        listed = {w["queue"]: w for w in cli_json("workers")}
        assert set(listed) == {"cpu-a", "cpu-b"}
        assert listed["cpu-a"]["host"] == "host-a" and "CPU" in listed["cpu-a"]["devices"]
        sent = {}
        for target in ("cpu-a", "cpu-b", "cpu-a", "cpu-b"):
            with routed_to(target):
                sent[submit_benchmark(model.id, 0.3)] = target
        with routed_to("edge-box-1"):
            stranded = submit_benchmark(model.id, 0.3)
        done = {job_id: wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=90) for job_id in sent}
        first.terminate()  # a worker stopped cleanly takes its row out at once
        first.wait(30)
        assert {w.queue for w in live_workers()} == {"cpu-b"}
    finally:
        stop(first)
        stop(second)
    assert all(job.status == JobStatus.SUCCEEDED for job in done.values()), [j.message for j in done.values()]
    hosts = {row.job_id: row.environment["host"] for row in repo.list_benchmarks(model.id)}
    assert hosts == {job_id: {"cpu-a": "host-a", "cpu-b": "host-b"}[target] for job_id, target in sent.items()}
    assert repo.get_job(stranded).status == JobStatus.PENDING, "no worker serves edge-box-1: the job waits"
    assert not target_alive("edge-box-1")


def test_a_killed_target_worker_s_job_is_interrupted_and_rerun_on_the_same_target(shared_lab, classifier_ir,
                                                                                  quick_recovery):
    model = lab.add_model_from_path(classifier_ir)
    watcher, doomed = start_target_worker("cpu-a", "host-a"), start_target_worker("cpu-b", "host-b")
    try:
        with routed_to("cpu-b"):
            job_id = submit_benchmark(model.id, 3.0)
        wait_for(job_id, lambda j: j.status == JobStatus.RUNNING)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        # cpu-a's worker notices the silence by the database's clock and sends the job back to cpu-b.
        wait_for(job_id, lambda j: j.status != JobStatus.RUNNING, timeout=60)
        assert repo.get_job(job_id).status == JobStatus.PENDING and repo.get_job(job_id).queue == "cpu-b"
        assert not target_alive("cpu-b")
        replacement = start_target_worker("cpu-b", "host-b")
        try:
            done = wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=90)
        finally:
            stop(replacement)
    finally:
        stop(watcher)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2, done
    [row] = repo.list_benchmarks(model.id)
    assert row.environment["host"] == "host-b"


def announce_worker(queue: str, host: str, *, silent_for: timedelta | None = None) -> None:
    """A worker row as `python -m core.worker` writes it; silent_for ages its last heartbeat."""
    from sqlalchemy import update

    from db import models as orm
    from db import workers
    from db.session import database_now, session_scope

    row = workers.announce(host=host, queue=queue, pid=1, devices=["CPU", "GPU"], cpu="a CPU", openvino="2026.4")
    if silent_for is not None:
        with session_scope() as s:
            s.execute(update(orm.Worker).where(orm.Worker.id == row.id).values(last_seen=database_now(silent_for)))


def test_the_optimize_page_sends_the_job_to_the_chosen_target_and_names_one_without_a_worker(lab_env):
    from tests.test_pages import page

    lab.ensure_demo()
    announce_worker("cpu-a", "host-a")
    announce_worker("edge-box-1", "edge", silent_for=timedelta(hours=1))
    at = page("optimize").run()
    picker = next(s for s in at.selectbox if s.label == "Run on")
    assert picker.options == [f"{get_settings().queue_name} — no live worker", "cpu-a — host-a (CPU, GPU)",
                              "edge-box-1 — no live worker"]
    picker.set_value("edge-box-1").run()
    assert any("No live worker serves 'edge-box-1'" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Run INT8 quantization").click().run()
    assert not at.exception, at.exception
    [job] = repo.list_jobs(5)
    assert job.queue == "edge-box-1" and job.status == JobStatus.PENDING
    at = page("jobs").run()
    workers_shown = at.dataframe[-1].value
    assert dict(zip(workers_shown["queue"], workers_shown["alive"])) == {"cpu-a": True, "edge-box-1": False}


def test_compare_takes_a_row_s_latency_from_the_machine_picked(lab_env, classifier_ir):
    from tests.stored_results import store_benchmark
    from tests.test_pages import page

    model = lab.add_model_from_path(classifier_ir)
    for latency, host in ((1.0, "xeon-1"), (1.2, "xeon-1"), (9.0, "edge-box-1")):
        store_benchmark(model.id, latency=latency, host=host)
    [pooled] = cli_json("results")
    assert pooled["latency_runs"] == 3
    [xeon] = cli_json("results", "--host", "xeon-1")
    assert (xeon["host"], xeon["latency_runs"], xeon["latency_high_ms"]) == ("xeon-1", 2, 1.2)
    at = page("compare").run()
    machines = next(m for m in at.multiselect if m.label == "Measured on")
    assert machines.options == ["edge-box-1", "xeon-1"]
    assert any("several machines" in c.value for c in at.caption)
    machines.set_value(["edge-box-1"]).run()
    assert not at.exception, at.exception
    shown = at.dataframe[0].value
    assert shown["host"].tolist() == ["edge-box-1"] and shown["latency_runs"].tolist() == [1]


@pytest.mark.parametrize("kind", ["shared folder", "s3"])
def test_artifacts_flow_through_the_store_to_a_worker_with_its_own_cache(shared_lab, classifier_ir, tmp_path,
                                                                         monkeypatch, quick_recovery, request, kind):
    import fsspec
    import openvino as ov

    from core.optimize.recipes import Fp16Options
    from core.options import JobKind, MeasureOptions
    from core.storage import MANIFEST, resolve

    cache = tmp_path / "cache-b"
    if kind == "s3":
        s3 = request.getfixturevalue("s3_server")
        for name, value in s3.settings.items():
            monkeypatch.setenv(name, value)
        url = f"s3://{s3.bucket}/{tmp_path.name}"
    else:
        url = str(tmp_path / "store")
    monkeypatch.setenv("OPTLAB_ARTIFACTS_URL", url)
    parent = lab.add_model_from_path(classifier_ir)
    unit = "/".join(parent.path.split("/")[:2])
    store, root = fsspec.core.url_to_fs(url)
    assert store.exists(f"{root}/{unit}/{MANIFEST}"), "a stored model is published to the store"
    remote = start_target_worker("cpu-b", "host-b", OPTLAB_DATA_DIR=str(cache))  # another machine's disk
    try:
        with routed_to("cpu-b"):
            job = lab.submit_optimization(kind=JobKind.FP16, model_id=parent.id, dataset_id=None,
                                          options=Fp16Options(), measure=MeasureOptions(seconds=0.3))
        done = wait_for(job.id, lambda j: JobStatus(j.status).finished, timeout=120)
    finally:
        stop(remote)
    assert done.status == JobStatus.SUCCEEDED, done.message
    assert (cache / parent.path).read_bytes() == resolve(parent.path).read_bytes(), "fetched into B's cache"
    child = repo.get_model(done.result_model_id)
    assert not (shared_lab / child.path).exists(), "the child was made on B"
    ov.Core().compile_model(str(resolve(child.path)), "CPU")  # fetched here from the store, with its .bin
    assert {row.environment["host"] for row in repo.list_benchmarks(child.id)} == {"host-b"}


def test_a_store_copy_that_fails_its_checksum_is_refused(lab_env, classifier_ir, tmp_path, monkeypatch):
    import shutil

    from core.errors import AppError
    from core.storage import resolve

    store = tmp_path / "store"
    monkeypatch.setenv("OPTLAB_ARTIFACTS_URL", f"file://{store}")
    model = lab.add_model_from_path(classifier_ir)
    unit = "/".join(model.path.split("/")[:2])
    shutil.rmtree(lab_env / unit)  # as on a machine that never had it
    (store / model.path).with_suffix(".bin").write_bytes(b"tampered")
    with pytest.raises(AppError, match="does not match its checksum"):
        resolve(model.path)
    assert not (lab_env / unit).exists(), "nothing of the bad download is kept"
