"""Tables and plotly figures of the Measure page (no UI framework): sweep summaries, the
batch × streams heatmap, automatic batching on / off, profile tables and generation points."""

from __future__ import annotations

import statistics
from collections import defaultdict
from html import escape
from typing import Any

from core.errors import NotFoundError
from core.measure.accuracy_tables import metric_text, metric_title, shown_value
from core.measure.profile import by_layer_type, profile_diff
from core.measure.sweeps import spread
from db import generations
from db import repository as repo


def sweep_summary(model_ids: list[int]) -> list[dict[str, Any]]:
    """One row per (model, precision, sweep point): medians over repeats and the throughput CV.

    Returns:
        Rows with model, model_id, precision, point, batch, streams, auto_batch, repeats,
        throughput_fps, throughput_cv, latency_ms, latency_per_sample_ms, peak_memory_mb.
    """
    names = {m.id: m.name for m in repo.list_models()}
    groups: dict[tuple, list] = defaultdict(list)
    for model_id in model_ids:
        for row in repo.sweep_benchmarks(model_id):
            groups[(model_id, row.precision, row.sweep_point)].append(row)
    summary = []
    for (model_id, precision, point), rows in groups.items():
        throughput = spread([r.throughput_fps for r in rows])
        latency = statistics.median(r.latency_median_ms for r in rows)
        summary.append({"model": names.get(model_id, str(model_id)), "model_id": model_id, "precision": precision,
                        "point": point, "batch": rows[0].batch, "streams": rows[0].streams,
                        "auto_batch": rows[0].auto_batch, "repeats": len(rows),
                        "throughput_fps": throughput.median, "throughput_cv": throughput.cv,
                        "latency_ms": latency, "latency_per_sample_ms": latency / rows[0].batch,
                        "peak_memory_mb": max((r.peak_memory_mb or 0.0) for r in rows) or None})
    return sorted(summary, key=lambda r: (r["model_id"], r["auto_batch"], r["streams"], r["batch"]))


def generation_points(model_ids: list[int]) -> list[dict[str, Any]]:
    """The newest generation benchmark run of each (model, prompt tokens, new tokens): means with
    their spread over the repeats (std, p90), as the Measure page's table shows them."""
    names = {m.id: m.name for m in repo.list_models()}
    newest = {}
    for model_id in model_ids:
        for g in generations.list_generations(model_id):
            newest[(model_id, g.prompt_tokens, g.new_tokens)] = g
    return [{"model": names.get(g.model_id, str(g.model_id)), "model_id": g.model_id, "prompt_tokens": g.prompt_tokens,
             "input_tokens": g.input_tokens, "new_tokens": g.new_tokens, "generated_tokens": g.generated_tokens,
             "repeats": g.repeats, "ttft_ms": g.ttft_ms, "ttft_std_ms": g.stats["ttft_ms"]["std"],
             "ttft_p90_ms": g.stats["ttft_ms"]["p90"], "tpot_ms": g.tpot_ms, "tpot_std_ms": g.stats["tpot_ms"]["std"],
             "tokens_per_s": g.tokens_per_s, "tokens_per_s_std": g.stats["tokens_per_s"]["std"],
             "generate_ms": g.generate_ms, "tokenize_ms": g.stats.get("tokenize_ms"),
             "detokenize_ms": g.stats.get("detokenize_ms"), "peak_memory_mb": g.peak_memory_mb, "device": g.device,
             "measured_at": g.created_at} for _, g in sorted(newest.items())]


def latest_interleaved(model_id: int) -> list[dict[str, Any]]:
    """B / A ratios (core.measure.generation.interleaved_ratios) of the newest interleaved A/B
    generation job the model took part in, with A and B named; empty when there is none."""
    from core.measure.generation import interleaved_ratios

    jobs = [g.job_id for g in generations.list_generations(model_id) if "ab_side" in g.environment]
    if not jobs:
        return []
    rows = generations.list_generations(job_id=jobs[-1])
    names = {m.id: m.name for m in repo.list_models()}
    sides = {r.environment["ab_side"]: names.get(r.model_id, str(r.model_id)) for r in rows}
    return [{"A": sides.get("A"), "B": sides.get("B"), **ratio} for ratio in interleaved_ratios(rows)]


def generation_curves(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Curves for core.compare.figures.generation_figure: one line per model and new-token count."""
    return [{**p, "line": f"{p['model']} ({p['new_tokens']} new tokens)"} for p in points]


def sweep_curves(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Curves for core.compare.figures.batch_figure: one line per model, precision and streams /
    auto-batching setting."""
    curves = []
    for row in summary:
        setting = "auto-batching" if row["auto_batch"] else f"{row['streams']} streams"
        curves.append({"line": f"{row['model']} @ {row['precision']} ({setting})", "batch": row["batch"],
                       "throughput_fps": row["throughput_fps"], "latency_ms": row["latency_ms"]})
    return curves


def grid_figure(summary: list[dict[str, Any]], model_id: int):
    """Heatmap of throughput over batch (x) × streams (y) for one model, like DL Workbench's."""
    rows = [r for r in summary if r["model_id"] == model_id and not r["auto_batch"]]
    batches = sorted({r["batch"] for r in rows})
    streams = sorted({r["streams"] for r in rows})
    value = {(r["batch"], r["streams"]): r["throughput_fps"] for r in rows}
    return heatmap([str(b) for b in batches], [str(s) for s in streams],
                   [[value.get((b, s)) for b in batches] for s in streams],
                   x_title="batch size", y_title="streams", value_title="FPS", text="%{z:.0f}")


def heatmap(x: list[str], y: list[str], z: list[list[float | None]], *, x_title: str, y_title: str,
            value_title: str, text: str = "%{z:.4g}"):
    """A heatmap of z (rows along y, columns along x; None = not measured) with its values written in."""
    import plotly.graph_objects as go

    figure = go.Figure(go.Heatmap(x=x, y=y, z=z, colorbar={"title": value_title}, texttemplate=text))
    figure.update_layout(xaxis_title=x_title, yaxis_title=y_title, margin={"t": 30})
    return figure


def auto_batch_figure(summary: list[dict[str, Any]]):
    """Throughput with automatic batching off and on, per batch size (grouped bars per model)."""
    import plotly.graph_objects as go

    figure = go.Figure()
    for (model, auto), rows in _group(summary, ("model", "auto_batch")).items():
        rows = sorted(rows, key=lambda r: r["batch"])
        figure.add_trace(go.Bar(x=[str(r["batch"]) for r in rows], y=[r["throughput_fps"] for r in rows],
                                name=escape(f"{model}: auto-batching {'on' if auto else 'off'}")))
    figure.update_layout(barmode="group", xaxis_title="batch size (on: requests grouped by OpenVINO)",
                         yaxis_title="throughput (FPS)", margin={"t": 30})
    return figure


def _group(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in keys)].append(row)
    return dict(groups)


def profile_choices() -> dict[int, str]:
    """Stored profiles, newest first: id -> label naming the model ('model #3 demo INT8 @ i8/bf16:
    2.100 ms, profiled 2026-12-02 06:10:11')."""
    names = {m.id: m.name for m in repo.list_models()}
    return {p.id: f"model #{p.model_id} {names.get(p.model_id, '(deleted)')} @ {p.precision}: {p.total_ms:.3f} ms, "
                  f"profiled {p.created_at:%Y-%m-%d %H:%M:%S}" for p in reversed(repo.list_profiles())}


def profile_table(profile_id: int) -> list[dict[str, Any]]:
    """Time per layer type of one stored profile, with the precisions its layers ran in."""
    return by_layer_type(_profile(profile_id).layers)


def profile_diff_table(profile_a: int, profile_b: int) -> list[dict[str, Any]]:
    """The per-layer-type diff of two stored profiles (core.measure.profile.profile_diff)."""
    return profile_diff(_profile(profile_a).layers, _profile(profile_b).layers)


def _profile(profile_id: int):
    found = [p for p in repo.list_profiles() if p.id == profile_id]
    if not found:
        raise NotFoundError(f"Profile #{profile_id} does not exist; run a profile job first.")
    return found[0]


def sensitivity_figure(ranking, top: int = 20):
    """Bars of the task metric each layer recovers when kept in float (most costly on top), with the
    float and INT8 values in the title; ranking is a SensitivityRecord."""
    import plotly.graph_objects as go

    layers = ranking.layers[:top][::-1]  # plotly draws the first bar at the bottom
    shown = [shown_value(ranking.metric, layer["recovered"]) for layer in layers]  # % metrics: in points
    figure = go.Figure(go.Bar(x=shown, y=[escape(f"{layer['name']} ({layer['type']})") for layer in layers],
                              orientation="h", hovertext=[escape(metric_text(ranking.metric, layer["value"]))
                                                          for layer in layers],
                              hovertemplate="%{y}<br>recovers %{x:.4g}<br>metric with it in float: %{hovertext}"
                                            "<extra></extra>"))
    title = (f"{metric_title(ranking.metric)}: float {metric_text(ranking.metric, ranking.float_value)}, "
             f"INT8 {metric_text(ranking.metric, ranking.int8_value)}")
    figure.update_layout(title=escape(title), xaxis_title=escape(f"recovered by keeping the layer in float "
                                                                 f"({metric_title(ranking.metric)})"),
                         margin={"t": 40, "l": 10}, height=max(250, 28 * len(layers) + 120))
    return figure
