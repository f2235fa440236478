"""Stored measurement rows with chosen numbers, for tests and benchmarks/ui_scale.py."""

from __future__ import annotations

from typing import Any

from db import repository as repo
from db.records import BenchmarkRecord


def benchmark_row(*, hint: str = "latency", batch: int = 1, fps: float = 100.0, precision: str = "f32",
                  latency: float = 1.25, duration: float = 1.0, device: str = "CPU",
                  sweep_point: str | None = None) -> dict[str, Any]:
    """A BenchmarkResult.to_dict()-shaped dict; latency min/max are 0.8x / 1.6x the median."""
    return {"device": device, "hint": hint, "batch": batch, "streams": 1, "infer_requests": 2,
            "precision": precision, "throughput_fps": fps, "first_inference_ms": 3.0, "compile_ms": 50.0,
            "iterations": 10, "duration_s": duration, "sweep_point": sweep_point, "environment": {"load_average": [0.5, 0.4, 0.3]},
            "latency_ms": {"median": latency, "mean": latency * 1.04, "min": latency * 0.72,
                           "max": latency * 1.6, "p90": latency * 1.2, "p99": latency * 1.5}}


def store_benchmark(model_id: int, **values: Any) -> BenchmarkRecord:
    """Stores one benchmark row of benchmark_row(**values) for model_id."""
    return repo.add_benchmark(model_id, benchmark_row(**values))
