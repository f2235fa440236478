"""The best batch size of a model, from its stored batch-sweep rows (feeds OVMS / DL Streamer exports)."""

from __future__ import annotations

import statistics
from collections import defaultdict

from db import repository as repo


def best_batch(model_id: int, *, latency_budget_ms: float | None = None) -> int | None:
    """The batch size with the highest throughput whose median latency fits the budget.

    Repeats of a point are combined by their median, and in a batch × streams grid every point
    competes; automatic-batching points are left out (the
    model itself stays at batch 1 there, which is not a batch size an export can set).

    Args:
        model_id: The model whose stored sweep rows are read.
        latency_budget_ms: Largest acceptable median latency per inference; None = no limit.

    Returns:
        The batch size, or None when the model has no sweep rows or none fits the budget.
    """
    by_point: dict[tuple[int, str, str], list[tuple[float, float]]] = defaultdict(list)
    for row in repo.sweep_benchmarks(model_id):
        if not row.auto_batch:
            by_point[(row.batch, row.sweep_point or "", row.precision)].append((row.throughput_fps, row.latency_median_ms))
    candidates = []
    for (batch, _, _), values in by_point.items():  # in a grid, each batch's best streams setting competes
        latency = statistics.median(v[1] for v in values)
        if latency_budget_ms is None or latency <= latency_budget_ms:
            candidates.append((statistics.median(v[0] for v in values), -batch, batch))
    return max(candidates)[2] if candidates else None
