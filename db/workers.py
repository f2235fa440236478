"""The workers table: each queue consumer announces itself and is seen alive by the database's clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from db import models as orm
from db.records import WorkerRecord, to_record
from db.session import database_now, retry_transient, session_scope


@retry_transient
def announce(*, host: str, queue: str, pid: int, devices: list[str], cpu: str, openvino: str) -> WorkerRecord:
    """Stores (or renews) the worker of queue on host: one row per (host, queue)."""
    table = orm.Worker
    with session_scope() as s:
        row = s.scalar(select(table).where(table.host == host, table.queue == queue))
        if row is None:
            row = table(host=host, queue=queue)
            s.add(row)
        row.pid, row.devices, row.cpu, row.openvino = pid, devices, cpu, openvino
        row.started_at = row.last_seen = database_now()
        s.flush()
        s.refresh(row)
        return to_record(WorkerRecord, row)


@retry_transient
def seen(worker_id: int) -> None:
    """The worker's heartbeat."""
    with session_scope() as s:
        s.execute(update(orm.Worker).where(orm.Worker.id == worker_id).values(last_seen=database_now()))


@retry_transient
def retire(worker_id: int) -> None:
    """Removes the row of a worker that stops cleanly (a killed one goes stale instead)."""
    with session_scope() as s:
        s.execute(delete(orm.Worker).where(orm.Worker.id == worker_id))


@retry_transient
def list_workers(alive_within: timedelta | None = None) -> list[WorkerRecord]:
    """Every announced worker, or only those seen within alive_within; by queue, then host."""
    table = orm.Worker
    query = select(table).order_by(table.queue, table.host)
    if alive_within is not None:
        query = query.where(table.last_seen >= database_now(alive_within))
    with session_scope() as s:
        return [to_record(WorkerRecord, row) for row in s.scalars(query)]
