"""Targets: the queues jobs are routed to, and the workers (machines) alive to serve them."""

from __future__ import annotations

from datetime import timedelta

from core.config import get_settings
from db import workers
from db.records import WorkerRecord


def live_workers() -> list[WorkerRecord]:
    """Workers seen within OPTLAB_STALE_SECONDS by the database's clock (a killed one drops out)."""
    return workers.list_workers(alive_within=timedelta(seconds=get_settings().stale_seconds))


def target_alive(queue: str) -> bool:
    return any(worker.queue == queue for worker in live_workers())


def known_targets() -> list[str]:
    """The default queue first, then every queue a worker ever announced (alive or not)."""
    default = get_settings().queue_name
    return [default] + sorted({w.queue for w in workers.list_workers()} - {default})
