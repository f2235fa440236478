"""Plotly figures of the Compare page (no UI framework): accuracy against latency, throughput or
size with the Pareto front, one colour per algorithm."""

from __future__ import annotations

from html import escape
from typing import Any

from core.compare.table import AXIS_COLUMN, AXIS_TITLE, families, family_label, front_rows
from core.measure.accuracy_tables import is_percent, metric_title, shown_value
from core.options import CompareAxis

# Above this many points WebGL draws far faster than SVG.
WEBGL_FROM = 1000
MAX_FRONTS = 12


def accuracy_figure(rows: list[dict[str, Any]], axis: CompareAxis = CompareAxis.LATENCY, metric: str = "top1"):
    """Scatter of an accuracy metric (default top-1) against the axis column, the Pareto front dashed.

    Each point's customdata is its row key, so a selected point leads back to its row; the hover
    shows the recipe and the settings the numbers were measured with.
    """
    import plotly.graph_objects as go

    axis = CompareAxis(axis)
    column = AXIS_COLUMN[axis]
    rows = [r for r in rows if r.get(metric) is not None and r.get(column) is not None]
    title = metric_title(metric)
    scatter = go.Scattergl if len(rows) >= WEBGL_FROM else go.Scatter
    figure = go.Figure()
    for algorithm in sorted({r["algorithm"] for r in rows}):
        group = [r for r in rows if r["algorithm"] == algorithm]
        figure.add_trace(scatter(
            x=[r[column] for r in group], y=[shown_value(metric, r[metric]) for r in group], mode="markers",
            name=algorithm, text=[escape(f"{r['model']} @ {r['precision']}") for r in group],
            # Hollow: a row whose every run was measured on a busy machine (core.compare.table).
            marker={"size": 12, "symbol": ["circle-open" if r.get("noisy") else "circle" for r in group],
                    "line": {"width": 2}},
            customdata=[[r["key"], escape(str(r["recipe"])), r["settings"], r["load_average"],
                         f"<br><b>warning</b>: {escape(r['warnings'])}" if r.get("warnings") else "",
                         _evidence(r)] for r in group],
            hovertemplate=(f"%{{text}}<br>{AXIS_TITLE[axis]}: %{{x:.3f}}<br>{title}: %{{y:.4g}}"
                           "<br>%{customdata[5]}<br>recipe: %{customdata[1]}%{customdata[4]}"
                           "<br>%{customdata[2]}, load %{customdata[3]}<extra></extra>")))
    # Unrelated models never share a front; past MAX_FRONTS families (the "all families" view of a
    # big lab) only the newest get one, as hundreds of dashed lines would hide the points.
    for family, members in list(families(rows).items())[:MAX_FRONTS]:
        front = front_rows(members, axis, metric)
        if front:
            figure.add_trace(go.Scatter(x=[r[column] for r in front], y=[shown_value(metric, r[metric]) for r in front],
                                        mode="lines+markers", name=f"Pareto front: {escape(family_label(family))}",
                                        line={"dash": "dash"}, marker={"size": 18, "symbol": "circle-open"},
                                        hoverinfo="skip"))
    figure.update_layout(xaxis_title=AXIS_TITLE[axis], yaxis_title=title,
                         legend_title="algorithm", margin={"t": 30})
    return figure


def _evidence(row: dict[str, Any]) -> str:
    """'latency: median of 3 runs (0.41–0.45 ms)', 'noisy' when no quiet run backs it."""
    if row.get("latency_runs") is None:
        return ""
    text = (f"latency: median of {row['latency_runs']} run(s) ({row['latency_low_ms']:.3f}–"
            f"{row['latency_high_ms']:.3f} ms)")
    if row.get("noisy"):
        return text + ", <b>noisy</b>: measured on a busy machine"
    left_out = row.get("noisy_runs_left_out") or 0
    return text + (f", {left_out} noisy run(s) left out" if left_out else "")


def batch_figure(curves: list[dict[str, Any]]):
    """Throughput (left) and median latency (right) against batch size, one line per model."""
    return lines_figure(curves, x="batch", x_title="batch size", log2_x=True,
                        panels=(("throughput_fps", "throughput (FPS)"), ("latency_ms", "median latency (ms)")))


def generation_figure(curves: list[dict[str, Any]]):
    """Tokens/s (left) and time to first token (right) against the prompt length, one line per model
    and new-token count (curves: core.measure.charts.generation_curves)."""
    return lines_figure(curves, x="prompt_tokens", x_title="prompt tokens", log2_x=True,
                        panels=(("tokens_per_s", "tokens/s"), ("ttft_ms", "time to first token (ms)")))


def lines_figure(curves: list[dict[str, Any]], *, x: str, x_title: str, panels: tuple[tuple[str, str], ...],
                 log2_x: bool = False):
    """One panel per (column, title) of panels, each curve ("line") a line against x in every panel."""
    import plotly.colors
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=len(panels), subplot_titles=[title for _, title in panels])
    palette = plotly.colors.qualitative.Plotly
    for index, line in enumerate(dict.fromkeys(c["line"] for c in curves)):
        points = sorted((c for c in curves if c["line"] == line), key=lambda c: c[x])
        style = dict(mode="lines+markers", name=escape(line), legendgroup=line,  # one colour per line, all panels
                     line={"color": palette[index % len(palette)]})
        for column, (value, _) in enumerate(panels, 1):
            figure.add_trace(go.Scatter(x=[c[x] for c in points], y=[c[value] for c in points],
                                        showlegend=column == 1, **style), row=1, col=column)
    if log2_x:
        figure.update_xaxes(title_text=x_title, type="log", dtick=0.30103)  # ticks at powers of 2
    else:
        figure.update_xaxes(title_text=x_title)
    figure.update_layout(margin={"t": 40})
    return figure


def training_figure(epochs: list) -> Any:
    """A training job's curve: mean loss per epoch (left axis) and the validation metric after it
    (right axis), epochs numbered across phases ('prune 2', 'qat 0' = where QAT started)."""
    import plotly.graph_objects as go

    labels = [f"{e.phase} {e.epoch}" for e in epochs]
    figure = go.Figure()
    trained = [(label, e.loss) for label, e in zip(labels, epochs) if e.loss is not None]
    figure.add_trace(go.Scatter(x=[x for x, _ in trained], y=[y for _, y in trained], name="training loss",
                                mode="lines+markers"))
    scale = 100 if epochs[-1].metric and is_percent(epochs[-1].metric) else 1
    scored = [(label, e.value * scale) for label, e in zip(labels, epochs) if e.value is not None]
    if scored:
        figure.add_trace(go.Scatter(x=[x for x, _ in scored], y=[y for _, y in scored], yaxis="y2",
                                    name=metric_title(epochs[-1].metric), mode="lines+markers"))
    figure.update_layout(xaxis=dict(type="category", categoryarray=labels, title="epoch"),
                         yaxis=dict(title="loss"), height=280, margin=dict(t=20, b=40),
                         yaxis2=dict(title=metric_title(epochs[-1].metric) if scored else "", overlaying="y",
                                     side="right"), legend=dict(orientation="h"))
    return figure
