"""The job queue (Huey on its own SQLite file, or on Redis for workers on other machines) and the
supervisor task the worker runs.

The queue message carries only a job id: the `jobs` row is the source of truth. The supervisor
imports no OpenVINO; each job runs in a process of its own (`python -m core.jobs`), which alone does
the heavy work, and the supervisor turns a cancel request into terminate-then-kill within seconds.
One such process is kept started ahead ("standby"), its imports done, so a job starts at once: the
next one starts as soon as the previous is handed its job, unless that job begins by measuring (its
imports would disturb the timing), then when the job ends.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.config import REPO_ROOT, Settings, get_settings, redact
from core.errors import ConfigError
from core.options import JobKind, JobStatus
from core.storage import sanitize_filename
from db import repository as repo
from db.records import JobRecord

log = logging.getLogger("optlab.queue")
_queues: dict[tuple[str, str], object] = {}
_standby: subprocess.Popen | None = None
_standby_lock = threading.Lock()
_supervising: int | None = None  # the job this worker's (single) consumer thread supervises now
POLL_SECONDS = 0.5
# Kinds whose first work is timing a model: the next standby waits until they end. Optimizations
# start by loading data and running NNCF, which a standby's imports do not distort.
MEASURES_FIRST = {JobKind.BENCHMARK, JobKind.EVALUATE, JobKind.BATCH_SWEEP, JobKind.PROFILE,
                  JobKind.INTERLEAVED}
KILL_AFTER_SECONDS = 3.0


def job_dir(job_id: int, settings: Settings | None = None) -> Path:
    """Folder of one job's log and scratch files."""
    path = (settings or get_settings()).data_dir / "jobs" / str(job_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_log_path(job_id: int) -> Path:
    return job_dir(job_id) / "job.log"


def broker(url: str, name: str):
    """The Huey instance of queue `name` on the broker at url (OPTLAB_QUEUE_URL).

    Raises:
        ConfigError: url is neither sqlite:///FILE nor redis:// / rediss:// / unix://.
    """
    if url.startswith(("redis://", "rediss://", "unix://")):
        from huey import RedisHuey  # TLS and credentials come with the URL (rediss://, ?ssl_ca_certs=...)

        return RedisHuey(name=name, url=url, results=False)
    if url.startswith("sqlite:///"):
        from huey import SqliteHuey

        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(name=name, filename=str(path), results=False)
    raise ConfigError(f"OPTLAB_QUEUE_URL must be sqlite:///FILE or redis://HOST:PORT/DB (rediss:// with TLS), not "
                      f"'{redact(url)}'. Unset it for the embedded queue file.")


def get_task(queue_name: str | None = None):
    """The Huey task that supervises one job, bound to the configured broker and queue name."""
    settings = get_settings()
    name = queue_name or settings.queue_name
    key = (settings.queue_url, name)
    if key not in _queues:
        _queues[key] = broker(settings.queue_url, name).task(name="supervise_job")(supervise_job)
    return _queues[key]


def enqueue(job_id: int, queue_name: str | None = None) -> bool:
    """Puts job_id on its queue; False when the broker is unreachable (the job stays PENDING, and the
    worker's recovery round enqueues it again once the broker is back: see recover_lost_messages)."""
    try:
        get_task(queue_name)(job_id)
    except ConfigError:
        raise
    except Exception as error:  # redis.ConnectionError, a locked queue file: the row is what counts
        log.warning("Job %s stored but not queued (%s: %s); it is queued again when the broker answers",
                    job_id, type(error).__name__, redact(str(error)))
        return False
    return True


def queued_job_ids(queue_name: str | None = None) -> set[int]:
    """Ids of the jobs whose message waits on the queue, plus the one being supervised here."""
    ids = {int(task.args[0]) for task in get_task(queue_name).huey.pending() if task.args}
    return ids | ({_supervising} if _supervising is not None else set())


def supervise_job(job_id: int) -> None:
    """Runs one job in its own process, relays cancel requests, records how it ended."""
    global _supervising
    _supervising = job_id
    try:
        _supervise(job_id)
    finally:
        _supervising = None


@contextmanager
def host_slot() -> Iterator[None]:
    """Holds this host's one job slot: one heavy job at a time per host (OPTLAB_HOST), whichever
    queue or data dir its workers serve, so measurements never share the machine with another job.

    An OS lock in the system's temporary folder (not the data dir, which each worker may have its
    own of); it is released when the supervisor ends, however it ends.
    """
    path = Path(tempfile.gettempdir()) / f"optlab-jobs-{sanitize_filename(get_settings().host)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _supervise(job_id: int) -> None:
    if repo.get_job(job_id).status != JobStatus.PENDING:
        return  # cancelled while queued, or picked up by another worker
    with host_slot():  # waits while another worker of this host runs a job
        queued = repo.get_job(job_id)
        if queued.status == JobStatus.PENDING:  # it may have been cancelled meanwhile
            _run_supervised(queued)


def _run_supervised(queued: JobRecord) -> None:
    job_id = queued.id
    try:
        process = _job_process(job_id)
    except RuntimeError as error:
        repo.fail_unstarted(job_id, message=str(error))
        return
    try:
        if queued.kind not in MEASURES_FIRST:
            prepare_standby()
        cancelled = _wait(process, job_id)
    finally:
        prepare_standby()  # a no-op when one already waits
    job = repo.get_job(job_id)
    if job.status == JobStatus.PENDING:  # the process ended before it claimed the job
        repo.fail_unstarted(job_id, exit_code=process.returncode,
                            message=_ended_early(process, job_id, "starting the job"))
        return
    if job.status != JobStatus.RUNNING or job.pid != process.pid:
        return  # it finished, or another process holds it (its claim came first): not ours to end
    if cancelled:
        kept = (f" Model #{job.result_model_id} was already stored and is kept, not measured; measure "
                "or delete it from its page." if job.result_model_id else "")
        repo.finish_job(job_id, JobStatus.CANCELLED, message="Cancelled by the user." + kept,
                        exit_code=process.returncode)
        repo.end_unfinished_points(job_id, JobStatus.CANCELLED, "The sweep was cancelled.")
    else:
        repo.finish_job(job_id, JobStatus.FAILED, exit_code=process.returncode,
                        message=_ended_early(process, job_id, "finishing"))
        repo.end_unfinished_points(job_id, JobStatus.FAILED, "The sweep's process ended unexpectedly.")


def prepare_standby() -> None:
    """Starts the next job process ahead of its job unless one is already waiting."""
    global _standby
    with _standby_lock:
        if _standby is None or _standby.poll() is not None:
            # start_new_session: a terminal's Ctrl-C to the worker must not hit the job directly.
            # Until its job arrives, its output (an import error, say) goes to the worker's log.
            _standby = subprocess.Popen([sys.executable, "-m", "core.jobs", "standby"], cwd=REPO_ROOT,
                                        stdin=subprocess.PIPE, start_new_session=True)


def _job_process(job_id: int) -> subprocess.Popen:
    """The standby process, handed job_id (a fresh one when none is alive)."""
    global _standby
    for _ in range(2):
        prepare_standby()
        with _standby_lock:
            process, _standby = _standby, None
        try:
            process.stdin.write(f"{job_id}\n".encode())
            process.stdin.close()
            return process
        except BrokenPipeError:  # it died between the check and the hand-over: start another
            process.wait()
    raise RuntimeError("Could not start a job process; see worker.log in the data folder.")


def _wait(process: subprocess.Popen, job_id: int) -> bool:
    """Waits for the process; returns True when it was stopped because of a cancel request."""
    while process.poll() is None:
        if repo.is_cancel_requested(job_id):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(KILL_AFTER_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return True
        try:
            process.wait(POLL_SECONDS)  # returns as soon as it exits: the next job need not wait a poll
        except subprocess.TimeoutExpired:
            pass
    return False


def _ended_early(process: subprocess.Popen, job_id: int, before: str) -> str:
    """The message of a job whose process exited before `before`, with its log's last lines."""
    return (f"The job process exited with code {process.returncode} before {before}. Last log lines:\n"
            f"{_log_tail(job_id)}")


def _log_tail(job_id: int, lines: int = 15) -> str:
    path = job_log_path(job_id)
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
