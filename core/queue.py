"""The job queue (Huey on its own SQLite file) and the supervisor task the worker runs.

The queue message carries only a job id: the `jobs` row is the source of truth. The supervisor
imports no OpenVINO; it spawns `python -m core.jobs run ID`, which alone does the heavy work, and
turns a cancel request into terminate-then-kill within seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.config import REPO_ROOT, Settings, get_settings
from core.options import JobStatus

_queues: dict[tuple[str, str], object] = {}
POLL_SECONDS = 0.5
KILL_AFTER_SECONDS = 3.0


def job_dir(job_id: int, settings: Settings | None = None) -> Path:
    """Folder of one job's log and scratch files."""
    path = (settings or get_settings()).data_dir / "jobs" / str(job_id)
    path.mkdir(parents=True, exist_ok=True)
    return path


def job_log_path(job_id: int) -> Path:
    return job_dir(job_id) / "job.log"


def get_task(queue_name: str | None = None):
    """The Huey task that supervises one job, bound to the configured queue file and name."""
    settings = get_settings()
    name = queue_name or settings.queue_name
    key = (str(settings.queue_path), name)
    if key not in _queues:
        from huey import SqliteHuey

        settings.queue_path.parent.mkdir(parents=True, exist_ok=True)
        huey = SqliteHuey(name=name, filename=str(settings.queue_path), results=False)
        _queues[key] = huey.task(name="supervise_job")(supervise_job)
    return _queues[key]


def enqueue(job_id: int, queue_name: str | None = None) -> None:
    get_task(queue_name)(job_id)


def supervise_job(job_id: int) -> None:
    """Runs one job in its own process, relays cancel requests, records how it ended."""
    from db import repository as repo

    if repo.get_job(job_id).status != JobStatus.PENDING:
        return  # cancelled while queued, or picked up by another worker
    with open(job_log_path(job_id), "ab") as log:
        # start_new_session: a terminal's Ctrl-C to the worker must not hit the job directly.
        process = subprocess.Popen([sys.executable, "-m", "core.jobs", "run", str(job_id)],
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        cancelled = _wait(process, job_id)
    job = repo.get_job(job_id)
    if job.status != JobStatus.RUNNING:
        return
    if cancelled:
        repo.finish_job(job_id, JobStatus.CANCELLED, message="Cancelled by the user.",
                        exit_code=process.returncode)
        repo.end_unfinished_points(job_id, JobStatus.CANCELLED, "The sweep was cancelled.")
    else:
        tail = _log_tail(job_id)
        repo.finish_job(job_id, JobStatus.FAILED, exit_code=process.returncode,
                        message=f"The job process exited with code {process.returncode} before "
                                f"finishing. Last log lines:\n{tail}")
        repo.end_unfinished_points(job_id, JobStatus.FAILED, "The sweep's process ended unexpectedly.")


def _wait(process: subprocess.Popen, job_id: int) -> bool:
    """Waits for the process; returns True when it was stopped because of a cancel request."""
    from db import repository as repo

    while process.poll() is None:
        if repo.is_cancel_requested(job_id):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(KILL_AFTER_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return True
        time.sleep(POLL_SECONDS)
    return False


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
