"""Reads and writes of training curves (one row per epoch of a QAT / pruning job), as frozen records."""

from __future__ import annotations

from sqlalchemy import delete, select

from db import models as orm
from db.records import TrainingEpochRecord, to_record
from db.session import retry_transient, session_scope


@retry_transient
def add_epoch(job_id: int, *, phase: str, epoch: int, loss: float | None, metric: str | None, value: float | None,
              sparsity: float | None, seconds: float) -> TrainingEpochRecord:
    """Stores one epoch, replacing a row of the same (phase, epoch) an interrupted attempt left."""
    table = orm.TrainingEpoch
    with session_scope() as s:
        s.execute(delete(table).where(table.job_id == job_id, table.phase == phase, table.epoch == epoch))
        row = table(job_id=job_id, phase=phase, epoch=epoch, loss=loss, metric=metric, value=value,
                    sparsity=sparsity, seconds=seconds)
        s.add(row)
        s.flush()
        return to_record(TrainingEpochRecord, row)


@retry_transient
def list_epochs(job_id: int) -> list[TrainingEpochRecord]:
    """A job's epochs in the order they ran."""
    table = orm.TrainingEpoch
    with session_scope() as s:
        return [to_record(TrainingEpochRecord, r) for r in s.scalars(select(table).where(table.job_id == job_id)
                                                                     .order_by(table.id))]
