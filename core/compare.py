"""The comparison table and the accuracy-vs-latency chart (plotly figures, no UI framework)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db import repository as repo


def results_rows() -> list[dict[str, Any]]:
    """One row per (model, inference precision) with its latest measurements.

    Latency is the latest latency-hint, batch-1 run; throughput the latest throughput-hint run
    at the same precision; accuracy the latest top-1 at that precision.
    """
    models = {m.id: m for m in repo.list_models()}
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for b in repo.list_benchmarks():
        row = latest.setdefault((b.model_id, b.precision), {})
        if b.hint == "latency" and b.batch == 1:
            row.update(latency_ms=b.latency_median_ms, latency_min_ms=b.latency_min_ms,
                       latency_max_ms=b.latency_max_ms, load_average=(b.environment.get("load_average") or [None])[0],
                       measured_at=b.created_at, device=b.device)
        elif b.hint == "throughput":
            row.update(throughput_fps=b.throughput_fps, throughput_streams=b.streams)
    for a in repo.list_accuracy():
        if a.metric == "top1" and (a.model_id, a.precision) in latest:
            latest[(a.model_id, a.precision)]["top1"] = a.value
    rows = []
    for (model_id, precision), values in sorted(latest.items()):
        model = models.get(model_id)
        if model is None or "latency_ms" not in values:
            continue
        parent = models.get(model.parent_id) if model.parent_id else None
        rows.append({"model_id": model_id, "model": model.name,
                     "algorithm": model.recipe.get("algorithm", ""),
                     "parent": parent.name if parent else "", "precision": precision,
                     "top1": values.get("top1"), "latency_ms": values["latency_ms"],
                     "latency_min_ms": values["latency_min_ms"], "latency_max_ms": values["latency_max_ms"],
                     "throughput_fps": values.get("throughput_fps"),
                     "size_mb": round(model.size_bytes / 1e6, 3), "device": values["device"],
                     "load_average": values["load_average"], "measured_at": values["measured_at"]})
    return rows


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats: lower latency (x) and higher accuracy (y).

    Returned in order of increasing latency.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def accuracy_latency_figure(rows: list[dict[str, Any]]):
    """Scatter of top-1 against median latency, with the Pareto front drawn as a line."""
    import plotly.graph_objects as go

    rows = [r for r in rows if r.get("top1") is not None]
    figure = go.Figure()
    for algorithm in sorted({r["algorithm"] for r in rows}):
        group = [r for r in rows if r["algorithm"] == algorithm]
        figure.add_trace(go.Scatter(
            x=[r["latency_ms"] for r in group], y=[r["top1"] * 100 for r in group], mode="markers",
            name=algorithm, marker={"size": 12},
            text=[f"{r['model']} @ {r['precision']}" for r in group],
            hovertemplate="%{text}<br>latency %{x:.3f} ms<br>top-1 %{y:.2f} %<extra></extra>"))
    front = [rows[i] for i in pareto_front([(r["latency_ms"], r["top1"]) for r in rows])]
    if front:
        figure.add_trace(go.Scatter(x=[r["latency_ms"] for r in front], y=[r["top1"] * 100 for r in front],
                                    mode="lines", name="Pareto front", line={"dash": "dash"},
                                    hoverinfo="skip"))
    figure.update_layout(xaxis_title="median latency, batch 1 (ms)", yaxis_title="top-1 accuracy (%)",
                         legend_title="algorithm", margin={"t": 30})
    return figure
