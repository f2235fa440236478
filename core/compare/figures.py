"""Plotly figures of the Compare page (no UI framework): accuracy against latency, throughput or
size with the Pareto front, one colour per algorithm."""

from __future__ import annotations

from html import escape
from typing import Any

from core.compare.table import AXIS_COLUMN, AXIS_TITLE, families, family_label, front_rows
from core.measure.accuracy_tables import metric_title, shown_value
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
    import plotly.colors
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("throughput (FPS)", "median latency (ms)"))
    palette = plotly.colors.qualitative.Plotly
    for index, line in enumerate(dict.fromkeys(c["line"] for c in curves)):
        points = sorted((c for c in curves if c["line"] == line), key=lambda c: c["batch"])
        batches = [c["batch"] for c in points]
        style = dict(mode="lines+markers", name=escape(line), legendgroup=line,  # one colour per model, both panels
                     line={"color": palette[index % len(palette)]})
        figure.add_trace(go.Scatter(x=batches, y=[c["throughput_fps"] for c in points], **style), row=1, col=1)
        figure.add_trace(go.Scatter(x=batches, y=[c["latency_ms"] for c in points], showlegend=False, **style),
                         row=1, col=2)
    figure.update_xaxes(title_text="batch size", type="log", dtick=0.30103)  # ticks at powers of 2
    figure.update_layout(margin={"t": 40})
    return figure
