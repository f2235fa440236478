"""Frozen records the repository returns (never ORM rows, so nothing lazy-loads after a session)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def to_record(cls: type[T], row: Any) -> T:
    """Copies the fields cls declares from an ORM row."""
    return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class ModelRecord:
    id: int
    name: str
    format: str
    path: str
    size_bytes: int
    inputs: list[Any]
    outputs: list[Any]
    parent_id: int | None
    recipe: dict[str, Any]
    created_at: datetime
    task: str | None = None
    task_settings: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    format: str
    path: str
    samples: int
    has_labels: bool
    classes: list[Any]
    preprocessing: dict[str, Any]
    skipped: int
    created_at: datetime


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: str
    options: dict[str, Any]
    status: str
    progress: float
    stage: str
    message: str
    queue: str
    attempts: int
    idempotency_key: str | None
    model_id: int | None
    dataset_id: int | None
    result_model_id: int | None
    cancel_requested: bool
    pid: int | None
    exit_code: int | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class BenchmarkRecord:
    id: int
    model_id: int
    job_id: int | None
    device: str
    hint: str
    batch: int
    streams: int
    infer_requests: int
    precision: str
    latency_median_ms: float
    latency_mean_ms: float
    latency_min_ms: float
    latency_max_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    throughput_fps: float
    first_inference_ms: float
    compile_ms: float
    iterations: int
    duration_s: float
    environment: dict[str, Any]
    created_at: datetime
    auto_batch: bool = False
    peak_memory_mb: float | None = None
    sweep_point: str | None = None
    repeat: int = 0
    noisy: bool = False
    host: str | None = None


@dataclass(frozen=True)
class ProfileRecord:
    id: int
    model_id: int
    job_id: int | None
    device: str
    precision: str
    total_ms: float
    layers: list[Any]
    created_at: datetime


@dataclass(frozen=True)
class SensitivityRecord:
    id: int
    model_id: int
    job_id: int | None
    dataset_id: int | None
    metric: str
    float_value: float
    int8_value: float
    layers: list[Any]  # {"name", "type", "value", "recovered"}, most recovering first
    seconds: float
    created_at: datetime


@dataclass(frozen=True)
class AccuracyRecord:
    id: int
    model_id: int
    dataset_id: int | None
    job_id: int | None
    metric: str
    value: float
    samples: int
    precision: str
    reference_model_id: int | None
    created_at: datetime
    split: str | None = None  # 'validation' or 'all'; None for rows stored before 0004
    details: dict[str, Any] | None = None  # e.g. the similarity metric's worst answers (0008)


@dataclass(frozen=True)
class GenerationRecord:
    """One point of a generation benchmark; stats holds each quantity's mean, std, p50 and p90."""

    id: int
    model_id: int
    job_id: int | None
    device: str
    prompt_tokens: int
    input_tokens: int
    new_tokens: int
    generated_tokens: int
    repeats: int
    ttft_ms: float
    tpot_ms: float
    tokens_per_s: float
    generate_ms: float
    peak_memory_mb: float | None
    stats: dict[str, Any]
    environment: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class TrainingEpochRecord:
    """One epoch of a training job: mean training loss, the validation metric after it, seconds it took."""

    id: int
    job_id: int
    phase: str  # prune | qat
    epoch: int  # from 1 within its phase; 0: where the phase started (before any training step)
    loss: float | None
    metric: str | None
    value: float | None
    sparsity: float | None
    seconds: float
    created_at: datetime


@dataclass(frozen=True)
class WorkerRecord:
    """A worker as it last announced itself (last_seen: by the database's clock)."""

    id: int
    host: str
    queue: str
    pid: int
    devices: list[str]
    cpu: str
    openvino: str
    started_at: datetime
    last_seen: datetime
