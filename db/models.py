"""SQLAlchemy 2.x ORM tables. Schema changes go through Alembic (db/migrations)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Model(Base):
    __tablename__ = "models"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (0003)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(Integer)
    inputs: Mapped[list[Any]] = mapped_column(JSON)
    outputs: Mapped[list[Any]] = mapped_column(JSON)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"), index=True)
    recipe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # What the model does (core/tasks: classification, detection, ...) and how its outputs are read.
    task: Mapped[str | None] = mapped_column(String(40))
    task_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (0003)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(500))
    samples: Mapped[int] = mapped_column(Integer)
    has_labels: Mapped[bool] = mapped_column(Boolean)
    classes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    preprocessing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (0003)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    queue: Mapped[str] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"))
    result_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pid: Mapped[int | None] = mapped_column(Integer)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class BenchmarkResult(Base):
    __tablename__ = "benchmark_results"
    __table_args__ = (  # the headline latency's median (0005); ids are never reused (0003)
        Index("ix_benchmark_results_evidence", "hint", "batch", "model_id", "precision", "noisy", "latency_median_ms"),
        {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    device: Mapped[str] = mapped_column(String(40))
    hint: Mapped[str] = mapped_column(String(20))
    batch: Mapped[int] = mapped_column(Integer)
    streams: Mapped[int] = mapped_column(Integer)
    infer_requests: Mapped[int] = mapped_column(Integer)
    precision: Mapped[str] = mapped_column(String(10))
    latency_median_ms: Mapped[float] = mapped_column(Float)
    latency_mean_ms: Mapped[float] = mapped_column(Float)
    latency_min_ms: Mapped[float] = mapped_column(Float)
    latency_max_ms: Mapped[float] = mapped_column(Float)
    latency_p90_ms: Mapped[float] = mapped_column(Float)
    latency_p99_ms: Mapped[float] = mapped_column(Float)
    throughput_fps: Mapped[float] = mapped_column(Float)
    first_inference_ms: Mapped[float] = mapped_column(Float)
    compile_ms: Mapped[float] = mapped_column(Float)
    iterations: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Added in 0002 (issue 5): automatic batching, peak memory, and which sweep point / repeat.
    auto_batch: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    sweep_point: Mapped[str | None] = mapped_column(String(100))
    repeat: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Added in 0005 (issue 12): other processes used over half the cores during the timed loop.
    noisy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Added in 0011 (issue 16): the machine it ran on (OPTLAB_HOST of the worker); NULL before that.
    host: Mapped[str | None] = mapped_column(String(255), index=True)


class Profile(Base):
    """One per-layer profile run (performance counters) of a model at one precision."""

    __tablename__ = "profiles"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (0003)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    device: Mapped[str] = mapped_column(String(40))
    precision: Mapped[str] = mapped_column(String(10))
    total_ms: Mapped[float] = mapped_column(Float)
    layers: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Sensitivity(Base):
    """One layer-sensitivity ranking of a model's INT8 layers on a task metric (core.optimize.sensitivity)."""

    __tablename__ = "sensitivities"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (0003)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"))
    metric: Mapped[str] = mapped_column(String(40))
    float_value: Mapped[float] = mapped_column(Float)
    int8_value: Mapped[float] = mapped_column(Float)
    layers: Mapped[list[Any]] = mapped_column(JSON)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AccuracyResult(Base):
    __tablename__ = "accuracy_results"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused (0003)

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    metric: Mapped[str] = mapped_column(String(40))
    value: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)
    precision: Mapped[str] = mapped_column(String(10))
    reference_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Added in 0004: 'validation' (the validation part of a split dataset) or 'all'; None before.
    split: Mapped[str | None] = mapped_column(String(20))
    # Added in 0008: what a metric keeps beside its value (the similarity metric's worst answers).
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class GenerationResult(Base):
    """One (prompt tokens, new tokens) point of a generation benchmark (core.measure.generation):
    the means as columns, every statistic (mean, std, p50, p90) in stats."""

    __tablename__ = "generation_results"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    device: Mapped[str] = mapped_column(String(40))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer)
    new_tokens: Mapped[int] = mapped_column(Integer)
    generated_tokens: Mapped[int] = mapped_column(Integer)
    repeats: Mapped[int] = mapped_column(Integer)
    ttft_ms: Mapped[float] = mapped_column(Float)
    tpot_ms: Mapped[float] = mapped_column(Float)
    tokens_per_s: Mapped[float] = mapped_column(Float)
    generate_ms: Mapped[float] = mapped_column(Float)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrainingEpoch(Base):
    """One epoch of a QAT / pruning job (core.optimize.training): the training curve's point."""

    __tablename__ = "training_epochs"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(20))
    epoch: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float | None] = mapped_column(Float)
    metric: Mapped[str | None] = mapped_column(String(40))
    value: Mapped[float | None] = mapped_column(Float)
    sparsity: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Worker(Base):
    """A queue consumer that announced itself (issue 16): the host serving a queue (a target) with its
    devices; last_seen is the database's clock, so no machine's clock decides who is alive."""

    __tablename__ = "workers"
    __table_args__ = (UniqueConstraint("host", "queue", name="uq_workers_host_queue"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    queue: Mapped[str] = mapped_column(String(100), index=True)
    pid: Mapped[int] = mapped_column(Integer)
    devices: Mapped[list[str]] = mapped_column(JSON, default=list)
    cpu: Mapped[str] = mapped_column(String(200), default="")
    openvino: Mapped[str] = mapped_column(String(60), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime)
