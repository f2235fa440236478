"""`python -m core.jobs.worker`: the queue consumer, a supervisor that imports no OpenVINO.

One worker per queue per host holds an OS file lock (lock_path); a second one started for the same
queue exits at once, so two app servers of one lab share one worker. Each worker announces itself
in the workers table (host, queue, devices) and is seen alive there by the database's clock;
whatever queues a host's workers serve, they run one job at a time (core.jobs.queue.host_slot).
Started with --parent-pid (as the app does), the worker exits when that process is gone.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from core.config import REPO_ROOT, get_settings
from core.errors import AppError
from core.jobs import runner as jobs
from core.jobs.queue import get_task, prepare_standby
from db import repository as repo
from db import workers
from db.session import upgrade_schema

RECOVER_EVERY_SECONDS = 10.0
log = logging.getLogger("optlab.worker")


def lock_path(queue_name: str) -> Path:
    """The lock one consumer of queue_name per host holds: per broker, queue and host (OPTLAB_HOST),
    so that a second worker for the same queue on this host exits, while a lab with its own data dir
    (its own queue file) or a simulated second host gets a worker of its own."""
    settings = get_settings()
    key = hashlib.sha256(f"{settings.queue_url}\n{queue_name}\n{settings.host}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"optlab-worker-{key}.lock"


def _try_lock(path: Path) -> int | None:
    """Takes the exclusive lock; returns the open fd, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def worker_running(queue_name: str | None = None) -> bool:
    """True when some process holds the worker lock of this queue."""
    fd = _try_lock(lock_path(queue_name or get_settings().queue_name))
    if fd is None:
        return True
    os.close(fd)
    return False


def ensure_local_worker(wait_seconds: float = 20.0) -> bool:
    """Starts a worker for the default queue unless one runs; waits until it holds its lock.

    Returns True when this call started it.
    """
    if worker_running():
        return False
    log_file = open(get_settings().data_dir / "worker.log", "ab")
    subprocess.Popen([sys.executable, "-m", "core.jobs.worker", "--parent-pid", str(os.getpid())],
                     cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL, start_new_session=True)
    log_file.close()
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if worker_running():
            return True
        time.sleep(0.2)
    raise RuntimeError("The local worker did not start; see worker.log in the data folder.")


def announce(queue_name: str):
    """Stores this worker in the workers table with its machine's devices, CPU and OpenVINO version
    (asked of a short-lived process: the worker itself imports no OpenVINO)."""
    asked = subprocess.run([sys.executable, "-m", "core.measure.machine"], cwd=REPO_ROOT, capture_output=True,
                           text=True, timeout=300)
    machine = json.loads(asked.stdout) if asked.returncode == 0 else {"devices": [], "cpu": "", "openvino": ""}
    if asked.returncode != 0:
        log.warning("Could not list OpenVINO's devices: %s", asked.stderr.strip()[-500:])
    return workers.announce(host=get_settings().host, queue=queue_name, pid=os.getpid(), **machine)


def _watch(parent_pid: int | None, queue_name: str, worker_id: int) -> None:
    """Recovers stale jobs and lost queue messages periodically, and stamps this worker seen; ends the
    worker once its parent is gone and it is idle. No error (a database outage, say) ends this
    thread: it tries again."""
    last_recovery = last_seen = time.monotonic()
    while True:
        time.sleep(1.0)
        try:
            if parent_pid and os.getppid() != parent_pid and not repo.has_unfinished_jobs(queue_name):
                # Orphaned and idle: nothing is lost by stopping (queued work would be, so it waits).
                log.info("Parent process %s is gone and the queue is empty; worker exits.", parent_pid)
                workers.retire(worker_id)
                os._exit(0)
            if time.monotonic() - last_seen >= get_settings().heartbeat_seconds:
                last_seen = time.monotonic()
                workers.seen(worker_id)
            if time.monotonic() - last_recovery < min(RECOVER_EVERY_SECONDS, get_settings().stale_seconds):
                continue
            last_recovery = time.monotonic()
            jobs.recover_stale()
            jobs.recover_lost_messages(queue_name)
        except Exception:
            log.exception("Recovering jobs failed; trying again in %s s", RECOVER_EVERY_SECONDS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.jobs.worker", description=__doc__)
    parser.add_argument("--queue", default=None, help="queue to consume (default: OPTLAB_QUEUE or 'local')")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    settings = get_settings()
    queue_name = args.queue or settings.queue_name
    fd = _try_lock(lock_path(queue_name))
    if fd is None:
        log.info("A worker for queue %r already runs; nothing to do.", queue_name)
        return 0
    try:
        upgrade_schema()
    except AppError as error:  # a damaged database: say so in one line, not a traceback
        log.error("%s", error)
        return 2
    requeued = jobs.recover_stale() + jobs.recover_lost_messages(queue_name)
    me = announce(queue_name)
    log.info("Worker for queue %r on %s (devices %s) started (pid %s); requeued %d job(s).", queue_name, me.host,
             ", ".join(me.devices) or "none", os.getpid(), len(requeued))
    threading.Thread(target=_watch, args=(args.parent_pid, queue_name, me.id), daemon=True).start()
    prepare_standby()
    consumer = get_task(queue_name).huey.create_consumer(workers=1, worker_type="thread",
                                                         periodic=False, max_delay=0.2)
    try:
        consumer.run()
    finally:
        workers.retire(me.id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
