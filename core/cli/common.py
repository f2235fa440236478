"""What every command group shares: printing records, following a job, opening the lab's database."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.config import get_settings
from core.errors import AppError
from core.jobs.runner import retried_after_interruption
from core.jobs.targets import target_alive
from core.jobs.worker import ensure_local_worker
from core.options import JobStatus
from core.storage import resolve
from db import repository as repo
from db.session import upgrade_schema


def print_record(obj, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, default=str))
    else:
        for key, value in obj.items():
            print(f"{key}: {value}")


def with_lab(command: Callable[..., int | None]) -> Callable[..., int]:
    """A command that uses the lab's database: the schema is brought up to date first."""
    @functools.wraps(command)
    def run(args) -> int:
        upgrade_schema()
        return command(args) or 0
    return run


def wait_for(job_id: int) -> int:
    """Follows a job until it finishes; exit code 0 on success.

    Starts a local worker when none runs for a job of the default queue, unless OPTLAB_LOCAL_WORKER=0
    (workers run elsewhere); a job sent to another target waits for that target's workers (a note
    says so when none is alive).
    """
    last = None
    job = repo.get_job(job_id)
    local = get_settings().start_local_worker and job.queue == get_settings().queue_name
    if not local and not target_alive(job.queue):
        print(f"No live worker serves queue '{job.queue}': job {job_id} waits until one starts "
              f"(`python -m core.worker --queue {job.queue}` on the target machine).", file=sys.stderr)
    while True:
        if local:  # checked on every poll: a worker started by an earlier command may just be exiting
            ensure_local_worker()
        job = repo.get_job(job_id)
        line = f"job {job.id} {job.status} {job.progress:.0%} {job.stage}"
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        if JobStatus(job.status).finished:
            if job.message:
                print(job.message, file=sys.stderr)
            return 0 if job.status == JobStatus.SUCCEEDED else 1
        if job.status == JobStatus.INTERRUPTED and not retried_after_interruption(job):
            print(f"Job {job.id} was interrupted (its process stopped before it finished) and is not retried "
                  f"automatically: `python -m core rerun {job.id}` runs it again.", file=sys.stderr)
            return 1
        time.sleep(1.0)


def option_pairs(items: list[str]) -> list[tuple[str, str]]:
    """['mode=int4_sym', 'group-size=64'] -> [('mode', 'int4_sym'), ('group_size', '64')]."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise AppError(f"'{item}' is not OPTION=VALUE.")
        pairs.append((name.strip().replace("-", "_"), value))
    return pairs


def model_file(model: str) -> Path:
    """The model file given, or the IR of a stored model when model is an id that is no file."""
    if Path(model).exists() or not model.isdigit():
        return Path(model)
    upgrade_schema()
    return resolve(repo.get_model(int(model)).path)
