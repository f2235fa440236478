"""Scale-out on real servers (issue 16): the queue on Redis, results in Postgres, and what happens
when either restarts under a running lab. The servers are the session's (tests/servers.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from core import lab
from core.config import REPO_ROOT, get_settings
from core.errors import ConfigError
from core.jobs.runner import routed_to
from core.jobs.targets import live_workers, target_alive
from core.options import JobStatus
from db import repository as repo
from db.session import get_engine
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


def start_target_worker(queue: str, host: str, **settings: str) -> subprocess.Popen:
    """`python -m core.worker --queue QUEUE` as another machine runs it (its own OPTLAB_HOST); returns
    once it has announced itself in the workers table."""
    env = {**os.environ, "OPTLAB_HOST": host, **settings}
    process = subprocess.Popen([sys.executable, "-m", "core.worker", "--queue", queue], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not any(w.queue == queue and w.host == host and w.pid == process.pid for w in live_workers()):
        assert process.poll() is None, f"the worker for {queue} exited with {process.returncode}"
        assert time.monotonic() < deadline, f"the worker for {queue} did not announce itself"
        time.sleep(0.2)
    return process


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
