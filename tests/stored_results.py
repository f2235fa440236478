"""Stored measurement rows with chosen numbers, for tests and benchmarks/ui_scale.py."""

from __future__ import annotations

from typing import Any

from db import repository as repo
from db.records import BenchmarkRecord


def benchmark_row(*, hint: str = "latency", batch: int = 1, fps: float = 100.0, precision: str = "f32",
                  latency: float = 1.25, duration: float = 1.0, device: str = "CPU",
                  sweep_point: str | None = None, host: str | None = None) -> dict[str, Any]:
    """A BenchmarkResult.to_dict()-shaped dict; latency min/max are 0.8x / 1.6x the median; host: the
    machine it ran on (environment.host)."""
    return {"device": device, "hint": hint, "batch": batch, "streams": 1, "infer_requests": 2,
            "precision": precision, "throughput_fps": fps, "first_inference_ms": 3.0, "compile_ms": 50.0,
            "iterations": 10, "duration_s": duration, "sweep_point": sweep_point,
            "environment": {"load_average": [0.5, 0.4, 0.3], **({"host": host} if host else {})},
            "latency_ms": {"median": latency, "mean": latency * 1.04, "min": latency * 0.72,
                           "max": latency * 1.6, "p90": latency * 1.2, "p99": latency * 1.5}}


def store_benchmark(model_id: int, **values: Any) -> BenchmarkRecord:
    """Stores one benchmark row of benchmark_row(**values) for model_id."""
    return repo.add_benchmark(model_id, benchmark_row(**values))


def store_generation(model_id: int, *, tokens_per_s: float = 100.0, ttft_ms: float = 5.0, prompt_tokens: int = 32,
                     new_tokens: int = 64, peak_memory_mb: float = 300.0):
    """Stores one generation point (GenerationResult.to_dict()-shaped, TPOT = 1000 / tokens_per_s)."""
    from db import generations

    def stats(mean: float) -> dict[str, float]:
        return {"mean": mean, "std": mean * 0.05, "p50": mean, "p90": mean * 1.1}

    return generations.add_generation(model_id, {
        "device": "CPU", "prompt_tokens": prompt_tokens, "input_tokens": prompt_tokens, "new_tokens": new_tokens,
        "generated_tokens": new_tokens, "repeats": 3, "ttft_ms": stats(ttft_ms), "tpot_ms": stats(1000 / tokens_per_s),
        "tokens_per_s": stats(tokens_per_s), "generate_ms": stats(ttft_ms + new_tokens * 1000 / tokens_per_s),
        "tokenize_ms": 0.1, "detokenize_ms": 0.1, "load_ms": 50.0, "peak_memory_mb": peak_memory_mb,
        "environment": {"load_average": [0.5, 0.4, 0.3]}})
