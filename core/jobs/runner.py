"""Jobs: submit, cancel, re-run and recover (any process); run (the job process only).

`python -m core.jobs run ID` is the job process the worker spawns. It alone imports OpenVINO and
NNCF, heartbeats to its row, reports throttled progress, and exits if its supervisor dies.
`python -m core.jobs standby` is the same process started ahead of its job: it imports the heavy
modules while the queue is idle and runs the job whose id arrives on its stdin.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Callable, Iterator

from core.config import get_settings
from core.errors import AppError, JobCancelled, JobError
from core.intake.cleanup import remove_abandoned_folders
from core.jobs.handlers import HANDLERS
from core.jobs.queue import enqueue, job_log_path, queued_job_ids
from core.options import JobKind, JobStatus
from core.storage import claimed_by, disk_full
from db import repository as repo
from db.records import JobRecord
from db.session import is_transient

log = logging.getLogger("optlab.jobs")
# Kinds that only read their inputs and write new rows: safe to run again after an interruption.
RERUNNABLE = frozenset({JobKind.QUANTIZE, JobKind.EVALUATE, JobKind.BENCHMARK, JobKind.FP16,
                        JobKind.QUANTIZE_WITH_ACCURACY_CONTROL, JobKind.COMPRESS_WEIGHTS, JobKind.SWEEP,
                        JobKind.BATCH_SWEEP, JobKind.PROFILE, JobKind.INTERLEAVED, JobKind.IMPORT_DATA, JobKind.IMPORT_MODEL,
                        JobKind.SENSITIVITY, JobKind.QAT, JobKind.PRUNE})
# Jobs this process runs right now (the job itself, and a sweep's current point); all heartbeat.
ACTIVE_JOBS: set[int] = set()
_target: ContextVar[str | None] = ContextVar("target", default=None)


@contextmanager
def routed_to(queue: str | None) -> Iterator[None]:
    """Jobs submitted in this block go to queue (a target: the workers serving it, e.g. "edge-box-1")
    instead of OPTLAB_QUEUE; None keeps the default."""
    token = _target.set(queue or None)
    try:
        yield
    finally:
        _target.reset(token)


def current_target() -> str:
    """The queue a job submitted here and now goes to."""
    return _target.get() or get_settings().queue_name


def submit(kind: JobKind, options: dict[str, Any], *, model_id: int | None = None,
           dataset_id: int | None = None, idempotency_key: str | None = None,
           queue: str | None = None) -> JobRecord:
    """Stores a PENDING job and puts its id on its queue (once per idempotency key): queue, else the
    target of the enclosing routed_to block, else OPTLAB_QUEUE."""
    queue = queue or current_target()
    job, created = repo.create_job(kind=JobKind(kind), options=options, queue=queue,
                                   model_id=model_id, dataset_id=dataset_id,
                                   idempotency_key=idempotency_key)
    if created:
        enqueue(job.id, queue)
    return job


def cancel(job_id: int) -> JobRecord:
    """Asks for a job to stop; the supervisor terminates a running one within seconds."""
    sweep_id = repo.get_job(job_id).options.get("sweep_job_id")
    if sweep_id:
        raise JobError(f"Job #{job_id} is a point of sweep #{sweep_id}; cancel the sweep (the points "
                       "finished so far are kept).")
    return repo.request_cancel(job_id)


def rerun(job_id: int) -> JobRecord:
    """Puts an interrupted, failed or cancelled job back on its queue."""
    job = repo.reset_for_rerun(job_id)
    enqueue(job.id, job.queue)
    return job


def retried_after_interruption(job: JobRecord) -> bool:
    """Whether the worker puts this interrupted job back on its queue by itself.

    Only kinds safe to rerun, within OPTLAB_MAX_ATTEMPTS; a sweep's point is resumed by its sweep,
    never requeued on its own.
    """
    return (job.kind in RERUNNABLE and job.attempts < get_settings().max_attempts
            and not job.options.get("sweep_job_id"))


def recover_stale() -> list[JobRecord]:
    """Marks RUNNING jobs without a recent heartbeat (by the database's clock) INTERRUPTED; requeues
    those safe to rerun, each to its own queue (its target: whichever worker noticed, the job runs
    where it was sent); removes the folders of jobs killed before they stored the row naming them
    (core.intake.cleanup).

    Returns the jobs put back on the queue.
    """
    settings = get_settings()
    requeued = []
    for job in repo.interrupt_stale_jobs(timedelta(seconds=settings.stale_seconds)):
        log.warning("Job %s had no heartbeat for %ss: interrupted", job.id, settings.stale_seconds)
        if retried_after_interruption(job):
            requeued.append(rerun(job.id))
    for name in remove_abandoned_folders():
        log.warning("Removed %s: its job was killed before storing what it made", name)
    return requeued


def recover_lost_messages(queue_name: str) -> list[JobRecord]:
    """Puts PENDING jobs of queue_name back on it when their message is gone.

    Huey delivers at most once: a supervisor that crashed (a database outage, a killed worker)
    took its message with it and the job would wait forever. Only jobs pending longer than the
    stale time count; a message enqueued twice is harmless (the claim is conditional, and a
    supervisor skips a job that is no longer pending). Returns the jobs re-enqueued.
    """
    waiting = queued_job_ids(queue_name)
    lost = [job for job in repo.pending_jobs(queue_name, older_than=timedelta(seconds=get_settings().stale_seconds))
            if job.id not in waiting]
    for job in lost:
        log.warning("Job %s was pending without a queue message: enqueued again", job.id)
        enqueue(job.id, queue_name)
    return lost


class Reporter:
    """Progress of the running job: throttled writes (at most ~1/s), each one also a heartbeat.

    It is also what a handler can ask of the runner: run_child runs another claimed job (a
    sweep's point) in this process, its progress followed by this job's.
    """

    def __init__(self, job_id: int, min_interval: float = 1.0,
                 on_overall: Callable[[float, str], None] | None = None) -> None:
        self.job_id = job_id
        self.min_interval = min_interval
        self.on_overall = on_overall  # a sweep follows its points' progress through this
        self._last = 0.0
        self._stage = "starting"
        self._span = (0.0, 1.0)
        self.warnings: list[str] = []  # the job then ends "succeeded with a warning": its message

    def warn(self, text: str) -> None:
        """Notes that the job obtained something other than what was asked (shown when it ends)."""
        self.warnings.append(text)
        print(f"warning: {text}", flush=True)

    def stage(self, name: str, start: float, end: float) -> None:
        """Enters a stage covering [start, end] of the whole job's progress."""
        self._stage, self._span = name, (start, end)
        self.fraction(0.0, force=True)

    def fraction(self, done: float, detail: str = "", *, force: bool = False) -> None:
        """Reports done (0..1) of the current stage."""
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        start, end = self._span
        label = f"{self._stage}: {detail}" if detail else self._stage
        overall = start + (end - start) * max(0.0, min(1.0, done))
        try:
            repo.report_progress(self.job_id, overall, label)
        except Exception as error:  # progress may be skipped (the next report carries it); work goes on
            if not is_transient(error):
                raise
            log.warning("Progress of job %s not written (database unavailable): %s", self.job_id, label)
        if self.on_overall:
            self.on_overall(overall, label)

    def run_child(self, job_id: int) -> bool:
        """Runs the claimed job job_id here like execute does; True when it succeeded."""
        return execute(job_id, Reporter(job_id, on_overall=lambda done, label: self.fraction(done, label)))


def _heartbeat_forever(job_id: int, supervisor_pid: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != supervisor_pid:
            # The worker died (e.g. kill -9): stop now so the row goes stale and gets requeued.
            os._exit(3)
        for active in list(ACTIVE_JOBS):
            try:
                repo.heartbeat(active)  # retried through a blip (db.session.retry_transient)
            except Exception:  # the thread must outlive any error, or the job goes stale for good
                log.exception("Heartbeat of job %s failed; trying again in %s s", active, interval)


def execute(job_id: int, reporter: Reporter) -> bool:
    """Runs a claimed (RUNNING) job's handler in this process and records how it ended."""
    job = repo.get_job(job_id)
    ACTIVE_JOBS.add(job_id)
    print(f"job {job_id} ({job.kind}) attempt {job.attempts} started, options {job.options}", flush=True)
    try:
        with claimed_by(job_id):  # what a kill -9 leaves half-written is removed (core.intake.cleanup)
            result_model_id = HANDLERS[job.kind](job, reporter)
    except JobCancelled as error:
        print(f"job {job_id} cancelled: {error}", flush=True)
        repo.finish_job(job_id, JobStatus.CANCELLED, message=str(error))
        return True
    except AppError as error:
        print(f"job {job_id} failed: {error}", flush=True)
        repo.finish_job(job_id, JobStatus.FAILED, message=str(error), exit_code=1)
        return False
    except Exception as error:
        traceback.print_exc()
        full = disk_full(error)
        if full is not None:
            repo.finish_job(job_id, JobStatus.FAILED, message=str(full), exit_code=1)
            return False
        repo.finish_job(job_id, JobStatus.FAILED, exit_code=1,
                        message=f"Unexpected error: {type(error).__name__}: {error}. "
                                "The job log has the traceback.")
        return False
    finally:
        ACTIVE_JOBS.discard(job_id)
    repo.finish_job(job_id, JobStatus.SUCCEEDED, exit_code=0, result_model_id=result_model_id,
                    message=" ".join(reporter.warnings))
    print(f"job {job_id} succeeded", flush=True)
    return True


def run(job_id: int) -> int:
    """Runs one job in this process (the job process). Returns the process exit code."""
    if not repo.claim_job(job_id, os.getpid()):
        log.info("Job %s is not pending; nothing to do.", job_id)
        return 0
    threading.Thread(target=_heartbeat_forever, daemon=True,
                     args=(job_id, os.getppid(), get_settings().heartbeat_seconds)).start()
    # A cancel (SIGTERM from the supervisor) unwinds the job, so that what it wrote half-way (an
    # optimized model's folder) is removed; the supervisor kills it if that takes over 3 s.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return 0 if execute(job_id, Reporter(job_id)) else 1


def _exit_on_sigterm(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def standby() -> int:
    """Imports what jobs need, waits for a job id on stdin, then runs that job with its log as output.

    The worker keeps one of these ready so that a job does not first spend ~2 s importing
    OpenVINO, NNCF and SQLAlchemy. End of input (the worker is gone) ends it without a job.
    """
    importlib.import_module("nncf")  # the import is the point: it is what takes the time
    line = sys.stdin.readline().strip()
    if not line.isdigit():
        return 0
    log_fd = os.open(job_log_path(int(line)), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        os.dup2(log_fd, stream.fileno())
    os.close(log_fd)
    return run(int(line))


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO)
    if argv == ["standby"]:
        return standby()
    if len(argv) != 2 or argv[0] != "run" or not argv[1].isdigit():
        print("usage: python -m core.jobs run JOB_ID | python -m core.jobs standby", file=sys.stderr)
        return 2
    return run(int(argv[1]))
