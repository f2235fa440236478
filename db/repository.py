"""Reads and writes of the lab's rows. Every function returns frozen records, never ORM rows.

Status transitions are conditional UPDATEs, so two processes can never both move a job on. Every
public function rides out a database blip (retry_transient) except report_progress: progress may
be skipped (the next report carries it), a state transition may not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from core.errors import JobError, NotFoundError
from core.options import JobStatus
from db import models as orm
from db.models import utcnow
from db.records import (
    AccuracyRecord,
    BenchmarkRecord,
    DatasetRecord,
    JobRecord,
    ModelRecord,
    ProfileRecord,
    SensitivityRecord,
    to_record,
)
from db.session import database_now, retry_transient, session_scope

_UNFINISHED = (JobStatus.PENDING, JobStatus.RUNNING)


# --- models and datasets -------------------------------------------------------------------------

@retry_transient
def add_model(*, name: str, format: str, path: str, size_bytes: int, inputs: list[Any],
              outputs: list[Any], parent_id: int | None = None, recipe: dict[str, Any] | None = None,
              task: str | None = None, task_settings: dict[str, Any] | None = None) -> ModelRecord:
    with session_scope() as s:
        row = orm.Model(name=name, format=format, path=path, size_bytes=size_bytes, inputs=inputs,
                        outputs=outputs, parent_id=parent_id, recipe=recipe or {}, task=task,
                        task_settings=task_settings or {})
        s.add(row)
        s.flush()
        return to_record(ModelRecord, row)


@retry_transient
def set_model_task(model_id: int, task: str, task_settings: dict[str, Any]) -> ModelRecord:
    """Sets what a model does and how its outputs are read (children without their own inherit it)."""
    with session_scope() as s:
        row = s.get(orm.Model, model_id)
        if row is None:
            raise NotFoundError(f"Model {model_id} does not exist.")
        row.task, row.task_settings = task, task_settings
        s.flush()
        return to_record(ModelRecord, row)


def _get(table, record, row_id: int, missing: str):
    with session_scope() as s:
        row = s.get(table, row_id)
        if row is None:
            raise NotFoundError(missing)
        return to_record(record, row)


def _list(table, record, *conditions) -> list:
    with session_scope() as s:
        return [to_record(record, r) for r in s.scalars(select(table).where(*conditions).order_by(table.id))]


def _newest(table, record, *conditions):
    rows = _list(table, record, *conditions)
    return rows[-1] if rows else None


@retry_transient
def get_model(model_id: int) -> ModelRecord:
    return _get(orm.Model, ModelRecord, model_id,
                f"Model #{model_id} does not exist; pick one from the Models page.")


@retry_transient
def list_models() -> list[ModelRecord]:
    return _list(orm.Model, ModelRecord)


@retry_transient
def find_model(name: str) -> ModelRecord | None:
    """The newest root model (no parent) called name, if any."""
    return _newest(orm.Model, ModelRecord, orm.Model.name == name, orm.Model.parent_id.is_(None))


@retry_transient
def add_dataset(*, name: str, format: str, path: str, samples: int, has_labels: bool,
                classes: list[Any], preprocessing: dict[str, Any], skipped: int = 0) -> DatasetRecord:
    with session_scope() as s:
        row = orm.Dataset(name=name, format=format, path=path, samples=samples, has_labels=has_labels,
                          classes=classes, preprocessing=preprocessing, skipped=skipped)
        s.add(row)
        s.flush()
        return to_record(DatasetRecord, row)


@retry_transient
def get_dataset(dataset_id: int) -> DatasetRecord:
    return _get(orm.Dataset, DatasetRecord, dataset_id,
                f"Dataset #{dataset_id} does not exist; pick one from the Data page.")


@retry_transient
def list_datasets() -> list[DatasetRecord]:
    return _list(orm.Dataset, DatasetRecord)


@retry_transient
def find_dataset(name: str) -> DatasetRecord | None:
    return _newest(orm.Dataset, DatasetRecord, orm.Dataset.name == name)


# --- jobs ----------------------------------------------------------------------------------------

@retry_transient
def create_job(*, kind: str, options: dict[str, Any], queue: str, model_id: int | None = None,
               dataset_id: int | None = None, idempotency_key: str | None = None) -> tuple[JobRecord, bool]:
    """Inserts a PENDING job; returns (job, created). A repeated idempotency key returns the first."""
    try:
        with session_scope() as s:
            row = orm.Job(kind=kind, options=options, status=JobStatus.PENDING, queue=queue,
                          model_id=model_id, dataset_id=dataset_id, idempotency_key=idempotency_key)
            s.add(row)
            s.flush()
            return to_record(JobRecord, row), True
    except IntegrityError:
        with session_scope() as s:
            row = s.scalars(select(orm.Job).where(orm.Job.idempotency_key == idempotency_key)).one()
            return to_record(JobRecord, row), False


@retry_transient
def get_job(job_id: int) -> JobRecord:
    return _get(orm.Job, JobRecord, job_id, f"Job #{job_id} does not exist; see the Jobs page for the list.")


@retry_transient
def list_jobs(limit: int = 200) -> list[JobRecord]:
    with session_scope() as s:
        rows = s.scalars(select(orm.Job).order_by(orm.Job.id.desc()).limit(limit))
        return [to_record(JobRecord, r) for r in rows]


def _transition(job_id: int, allowed: tuple[str, ...], **values: Any) -> bool:
    with session_scope() as s:
        result = s.execute(update(orm.Job).where(orm.Job.id == job_id, orm.Job.status.in_(allowed))
                           .values(**values))
        return result.rowcount == 1


@retry_transient
def claim_job(job_id: int, pid: int) -> bool:
    """PENDING -> RUNNING, exactly once; counts the attempt."""
    now = utcnow()
    return _transition(job_id, (JobStatus.PENDING,), status=JobStatus.RUNNING, pid=pid,
                       attempts=orm.Job.attempts + 1, started_at=now, heartbeat_at=database_now(),
                       progress=0.0, stage="starting", message="", exit_code=None)


def report_progress(job_id: int, progress: float, stage: str) -> None:
    """Writes progress (0..1) and stage of a running job; doubles as a heartbeat."""
    _transition(job_id, (JobStatus.RUNNING,), progress=max(0.0, min(1.0, progress)), stage=stage,
                heartbeat_at=database_now())


@retry_transient
def heartbeat(job_id: int) -> None:
    _transition(job_id, (JobStatus.RUNNING,), heartbeat_at=database_now())


@retry_transient
def finish_job(job_id: int, status: JobStatus, *, message: str = "", exit_code: int | None = None,
               result_model_id: int | None = None) -> bool:
    """RUNNING -> a finished state. Returns False when the job had already left RUNNING."""
    values: dict[str, Any] = dict(status=status, message=message, exit_code=exit_code,
                                  finished_at=utcnow())
    if status == JobStatus.SUCCEEDED:
        values["progress"] = 1.0
        values["stage"] = "done"
    if result_model_id is not None:
        values["result_model_id"] = result_model_id
    return _transition(job_id, (JobStatus.RUNNING,), **values)


@retry_transient
def fail_unstarted(job_id: int, *, message: str, exit_code: int | None = None) -> bool:
    """PENDING -> FAILED, for a job whose process ended (or never started) before claiming it."""
    return _transition(job_id, (JobStatus.PENDING,), status=JobStatus.FAILED, message=message,
                       exit_code=exit_code, finished_at=utcnow())


@retry_transient
def set_result_model(job_id: int, model_id: int) -> None:
    _transition(job_id, (JobStatus.RUNNING,), result_model_id=model_id)


@retry_transient
def set_job_dataset(job_id: int, dataset_id: int) -> None:
    """The dataset an import job stored (its dataset_id, like the input dataset of other kinds)."""
    _transition(job_id, (JobStatus.RUNNING,), dataset_id=dataset_id)


@retry_transient
def request_cancel(job_id: int) -> JobRecord:
    """Flags a job for cancellation; a PENDING job is cancelled at once."""
    job = get_job(job_id)
    if JobStatus(job.status).finished or job.status == JobStatus.INTERRUPTED:
        raise JobError(f"Job #{job_id} is already {job.status}; nothing to cancel.")
    _transition(job_id, _UNFINISHED, cancel_requested=True)
    _transition(job_id, (JobStatus.PENDING,), status=JobStatus.CANCELLED, finished_at=utcnow(),
                message="Cancelled before it started.")
    return get_job(job_id)


@retry_transient
def list_sweep_points(sweep_job_id: int) -> list[JobRecord]:
    """The point jobs of a sweep, in creation order."""
    return _list(orm.Job, JobRecord, orm.Job.options["sweep_job_id"].as_integer() == sweep_job_id)


@retry_transient
def end_unfinished_points(sweep_job_id: int, status: JobStatus, message: str) -> None:
    """Ends the pending / running points of a sweep that was cancelled or died."""
    for point in list_sweep_points(sweep_job_id):
        _transition(point.id, _UNFINISHED, status=status, message=message, finished_at=utcnow())


@retry_transient
def pending_jobs(queue: str, *, older_than: timedelta) -> list[JobRecord]:
    """PENDING jobs of queue created more than older_than ago (not a sweep's points: the sweep runs those)."""
    with session_scope() as s:
        rows = s.scalars(select(orm.Job).where(orm.Job.queue == queue, orm.Job.status == JobStatus.PENDING,
                                               orm.Job.created_at < utcnow() - older_than).order_by(orm.Job.id))
        return [job for job in (to_record(JobRecord, r) for r in rows) if not job.options.get("sweep_job_id")]


@retry_transient
def live_job_ids() -> set[int]:
    """Ids of every PENDING or RUNNING job (any queue)."""
    with session_scope() as s:
        return set(s.scalars(select(orm.Job.id).where(orm.Job.status.in_((JobStatus.PENDING, JobStatus.RUNNING)))))


@retry_transient
def has_unfinished_jobs(queue: str) -> bool:
    """True while a job of this queue is pending or running."""
    with session_scope() as s:
        return s.scalar(select(orm.Job.id).where(orm.Job.queue == queue, orm.Job.status.in_(_UNFINISHED))
                        .limit(1)) is not None


@retry_transient
def delete_measurements(job_id: int, model_id: int) -> int:
    """Removes the benchmark, accuracy and generation rows job_id stored for model_id (an earlier attempt's,
    before a re-run measures again); returns how many went."""
    with session_scope() as s:
        return sum(s.execute(delete(table).where(table.job_id == job_id, table.model_id == model_id)).rowcount
                   for table in (orm.BenchmarkResult, orm.AccuracyResult, orm.GenerationResult))


@retry_transient
def delete_model(model_id: int) -> None:
    """Removes a model row (its measurements go with it; children keep a null parent)."""
    with session_scope() as s:
        row = s.get(orm.Model, model_id)
        if row is not None:
            s.delete(row)


@retry_transient
def is_cancel_requested(job_id: int) -> bool:
    with session_scope() as s:
        return bool(s.scalar(select(orm.Job.cancel_requested).where(orm.Job.id == job_id)))


@retry_transient
def interrupt_stale_jobs(stale_after: timedelta) -> list[JobRecord]:
    """RUNNING jobs whose heartbeat is older than stale_after (by the database's clock) become INTERRUPTED."""
    with session_scope() as s:
        ids = list(s.scalars(select(orm.Job.id).where(orm.Job.status == JobStatus.RUNNING,
                                                      orm.Job.heartbeat_at < database_now(stale_after))))
    message = "The worker stopped answering (no heartbeat); the job was interrupted."
    interrupted = [i for i in ids if _transition(i, (JobStatus.RUNNING,), status=JobStatus.INTERRUPTED,
                                                 finished_at=utcnow(), message=message)]
    return [get_job(i) for i in interrupted]


@retry_transient
def reset_for_rerun(job_id: int) -> JobRecord:
    """A finished or interrupted job goes back to PENDING (same id, same options)."""
    allowed = (JobStatus.INTERRUPTED, JobStatus.FAILED, JobStatus.CANCELLED)
    if not _transition(job_id, allowed, status=JobStatus.PENDING, cancel_requested=False, progress=0.0,
                       stage="queued again", message="", started_at=None, finished_at=None, pid=None):
        job = get_job(job_id)
        raise JobError(f"Job #{job_id} is {job.status}; only interrupted, failed or cancelled jobs "
                       "can be run again.")
    return get_job(job_id)


# --- results -------------------------------------------------------------------------------------

@retry_transient
def add_benchmark(model_id: int, result: dict[str, Any], job_id: int | None = None) -> BenchmarkRecord:
    """Stores one measurement given as BenchmarkResult.to_dict()."""
    latency = result["latency_ms"]
    with session_scope() as s:
        row = orm.BenchmarkResult(
            model_id=model_id, job_id=job_id, device=result["device"], hint=result["hint"],
            batch=result["batch"], streams=result["streams"], infer_requests=result["infer_requests"],
            precision=result["precision"], throughput_fps=result["throughput_fps"],
            first_inference_ms=result["first_inference_ms"], compile_ms=result["compile_ms"],
            iterations=result["iterations"], duration_s=result["duration_s"],
            environment=result["environment"], auto_batch=bool(result.get("auto_batch", False)),
            peak_memory_mb=result.get("peak_memory_mb"), sweep_point=result.get("sweep_point"),
            repeat=int(result.get("repeat", 0)), noisy=bool(result.get("noisy", False)),
            host=result["environment"].get("host"),
            **{f"latency_{k}_ms": latency[k] for k in ("median", "mean", "min", "max", "p90", "p99")})
        s.add(row)
        s.flush()
        return to_record(BenchmarkRecord, row)


@retry_transient
def add_accuracy(*, model_id: int, dataset_id: int | None, metric: str, value: float, samples: int,
                 precision: str, job_id: int | None = None, reference_model_id: int | None = None,
                 split: str | None = None, details: dict[str, Any] | None = None) -> AccuracyRecord:
    with session_scope() as s:
        row = orm.AccuracyResult(model_id=model_id, dataset_id=dataset_id, metric=metric, value=value,
                                 samples=samples, precision=precision, job_id=job_id,
                                 reference_model_id=reference_model_id, split=split, details=details)
        s.add(row)
        s.flush()
        return to_record(AccuracyRecord, row)


@retry_transient
def list_benchmarks(model_id: int | None = None) -> list[BenchmarkRecord]:
    table = orm.BenchmarkResult
    return _list(table, BenchmarkRecord, *([table.model_id == model_id] if model_id is not None else []))


@retry_transient
def sweep_benchmarks(model_id: int) -> list[BenchmarkRecord]:
    """A model's stored batch-sweep / grid points (rows with a sweep_point label), oldest first."""
    table = orm.BenchmarkResult
    return _list(table, BenchmarkRecord, table.model_id == model_id, table.sweep_point.is_not(None))


@retry_transient
def add_profile(*, model_id: int, device: str, precision: str, total_ms: float, layers: list[dict[str, Any]],
                job_id: int | None = None) -> ProfileRecord:
    """Stores one per-layer profile (layers: JSON-able dicts, one per executed layer)."""
    with session_scope() as s:
        row = orm.Profile(model_id=model_id, job_id=job_id, device=device, precision=precision,
                          total_ms=total_ms, layers=layers)
        s.add(row)
        s.flush()
        return to_record(ProfileRecord, row)


@retry_transient
def list_profiles(model_id: int | None = None) -> list[ProfileRecord]:
    table = orm.Profile
    return _list(table, ProfileRecord, *([table.model_id == model_id] if model_id is not None else []))


@retry_transient
def add_sensitivity(*, model_id: int, dataset_id: int | None, metric: str, float_value: float, int8_value: float,
                    layers: list[dict[str, Any]], seconds: float, job_id: int | None = None) -> SensitivityRecord:
    """Stores one layer-sensitivity ranking (layers most recovering first)."""
    with session_scope() as s:
        row = orm.Sensitivity(model_id=model_id, job_id=job_id, dataset_id=dataset_id, metric=metric,
                              float_value=float_value, int8_value=int8_value, layers=layers, seconds=seconds)
        s.add(row)
        s.flush()
        return to_record(SensitivityRecord, row)


@retry_transient
def list_sensitivities(model_id: int) -> list[SensitivityRecord]:
    table = orm.Sensitivity
    return _list(table, SensitivityRecord, table.model_id == model_id)


@retry_transient
def list_accuracy(model_id: int | None = None) -> list[AccuracyRecord]:
    table = orm.AccuracyResult
    return _list(table, AccuracyRecord, *([table.model_id == model_id] if model_id is not None else []))


def _scan(table, record, *conditions) -> list:
    """Like _list, through a plain SELECT of the record's columns (no ORM objects): about twice
    as fast, for pages that read every result row (Compare with 10,000 results)."""
    import dataclasses

    columns = [table.__table__.c[f.name] for f in dataclasses.fields(record)]
    with session_scope() as s:
        return [record(*row) for row in s.execute(select(*columns).where(*conditions).order_by(table.id))]


@retry_transient
def scan_benchmarks(*, batch: int | None = None, min_batch: int | None = None,
                    model_ids: list[int] | None = None) -> list[BenchmarkRecord]:
    """Every stored benchmark row, oldest first; only at batch / from min_batch / of model_ids if given."""
    table = orm.BenchmarkResult
    conditions = ([table.batch == batch] if batch is not None else []) + (
        [table.batch >= min_batch] if min_batch is not None else []) + (
        [table.model_id.in_(model_ids)] if model_ids is not None else [])
    return _scan(table, BenchmarkRecord, *conditions)


@retry_transient
def latency_evidence(hosts: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per (model, precision, noisy): the plain batch-1 latency-hint runs' median latency — the median
    of the runs' medians, their lowest and highest and how many there are — aggregated in SQL.

    Plain runs: no batch-sweep point, no automatic batching; interleaved A/B runs count (they are
    plain runs, measured alternately). hosts: only runs measured on these machines (all when empty).
    """
    table = orm.BenchmarkResult
    plain = (table.hint == "latency", table.batch == 1, table.auto_batch.is_(False), table.sweep_point.is_(None),
             *_on_hosts(hosts))
    part = (table.model_id, table.precision, table.noisy)
    ranked = select(table.model_id, table.precision, table.noisy, table.latency_median_ms.label("value"),
                    func.row_number().over(partition_by=part, order_by=table.latency_median_ms).label("rank"),
                    func.count().over(partition_by=part).label("runs")).where(*plain).subquery()
    middle = select(ranked.c.model_id, ranked.c.precision, ranked.c.noisy, func.avg(ranked.c.value),
                    func.min(ranked.c.runs)).where(
        ranked.c.rank >= (ranked.c.runs + 1) // 2, ranked.c.rank <= ranked.c.runs // 2 + 1).group_by(
        ranked.c.model_id, ranked.c.precision, ranked.c.noisy)
    spread = select(table.model_id, table.precision, table.noisy, func.min(table.latency_median_ms),
                    func.max(table.latency_median_ms)).where(*plain).group_by(*part)
    with session_scope() as s:
        bounds = {tuple(r[:3]): (r[3], r[4]) for r in s.execute(spread)}
        return [{"model_id": m, "precision": p, "noisy": bool(n), "median_ms": float(median), "runs": int(runs),
                 "low_ms": bounds[(m, p, n)][0], "high_ms": bounds[(m, p, n)][1]}
                for m, p, n, median, runs in s.execute(middle)]


@retry_transient
def latest_runs(hint: str, hosts: Sequence[str] = ()) -> list[BenchmarkRecord]:
    """The newest plain batch-1 run of each (model, precision) with this hint (its settings, load),
    among the runs on hosts (all when empty)."""
    table = orm.BenchmarkResult
    newest = select(func.max(table.id)).where(table.hint == hint, table.batch == 1, table.auto_batch.is_(False),
                                              table.sweep_point.is_(None), *_on_hosts(hosts)).group_by(
        table.model_id, table.precision)
    return _list(table, BenchmarkRecord, table.id.in_(newest))


def _on_hosts(hosts: Sequence[str]) -> tuple:
    return (orm.BenchmarkResult.host.in_(hosts),) if hosts else ()


@retry_transient
def benchmark_hosts() -> list[str]:
    """The machines measurements were stored from (rows from before hosts were recorded left out)."""
    table = orm.BenchmarkResult
    with session_scope() as s:
        return sorted(s.scalars(select(table.host).where(table.host.is_not(None)).distinct()))


@retry_transient
def scan_accuracy() -> list[AccuracyRecord]:
    """Every stored accuracy row, oldest first."""
    return _scan(orm.AccuracyResult, AccuracyRecord)


@retry_transient
def counts() -> dict[str, int]:
    """Row counts for the overview page."""

    with session_scope() as s:
        return {name: s.scalar(select(func.count()).select_from(table)) or 0
                for name, table in (("models", orm.Model), ("datasets", orm.Dataset),
                                    ("jobs", orm.Job), ("benchmarks", orm.BenchmarkResult))}


def utc_age(moment: datetime | None) -> float | None:
    """Seconds since a stored (naive UTC) timestamp."""
    return None if moment is None else (utcnow() - moment).total_seconds()
