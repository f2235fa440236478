"""Compare: accuracy against latency / throughput / size with the Pareto front, filters, a sortable
table with CSV / JSON downloads, throughput and latency against batch size, "pick for me" and A/B."""

import pandas as pd
import streamlit as st

from core.compare import table as compare
from core.compare.figures import accuracy_figure, batch_figure
from core.errors import AppError
from core.measure.accuracy_tables import metric_title
from core.options import CompareAxis, CompareFilters
from pages import route_through_app
from pages.ab_view import ab_view
from pages.widgets import plain

route_through_app()

st.title("Compare")
rows = compare.results_rows()
if not rows:
    st.info("Nothing measured yet. Run a quantization job on the Optimize page; its parent and child "
            "models are evaluated and benchmarked automatically.")
    st.stop()
with st.expander("Filters"):
    columns = st.columns(len(compare.FILTER_COLUMNS))
    picked = {field: column.multiselect(field.capitalize(), values, placeholder="all")
              for column, (field, values) in zip(columns, compare.filter_choices(rows).items())}
    days = tuple(st.date_input("Measured between (UTC)", value=(min(r["measured_at"] for r in rows).date(),
                                                                  max(r["measured_at"] for r in rows).date())))
try:
    shown = compare.filter_rows(rows, CompareFilters(**picked, since=days[0], until=(days * 2)[1]))
except AppError as error:
    st.error(plain(error))
    st.stop()
if not shown:
    st.info("No result passes these filters; clear some of them.")
    st.stop()

metric_column, axis_column = st.columns([1, 2])
metric = metric_column.selectbox("Accuracy metric", compare.accuracy_metrics(shown), format_func=metric_title)
axis = axis_column.radio("Accuracy against", [a.value for a in CompareAxis], horizontal=True)
event = st.plotly_chart(accuracy_figure(shown, axis, metric), key="accuracy-figure", on_select="rerun",
                        selection_mode="points")
selected = {p["customdata"][0] for p in event.selection.points if p.get("customdata")}
if selected:
    st.write("Selected points")
    st.dataframe(pd.DataFrame([r for r in shown if r["key"] in selected]), hide_index=True)
st.caption("Latency: median of the latency-hint run at batch 1 (min–max in the table). Throughput: "
           "throughput-hint run. 'precision' is the inference precision OpenVINO reported; f32 is a forced "
           "FP32 baseline, bf16 is what this CPU runs FP32 models at by default. Click a column to sort.")
st.dataframe(compare.table_frame(shown), hide_index=True, column_config={
    **{column: st.column_config.NumberColumn(title, format=number_format)
       for column, (title, number_format) in compare.metric_columns(shown).items()},
    "reference": st.column_config.TextColumn("agreement reference"),
    "latency_ms": st.column_config.NumberColumn("latency median (ms)", format="%.3f"),
    "latency_min_ms": st.column_config.NumberColumn("min (ms)", format="%.3f"),
    "latency_max_ms": st.column_config.NumberColumn("max (ms)", format="%.3f"),
    "throughput_fps": st.column_config.NumberColumn("throughput (FPS)", format="%.1f")})
left, right, _ = st.columns([1, 1, 4])
left.download_button("Download CSV", lambda: compare.table_csv(shown), "compare.csv", "text/csv", on_click="ignore")
right.download_button("Download JSON", lambda: compare.table_json(shown), "compare.json", "application/json",
                      on_click="ignore")

curves = compare.batch_curves([r["model_id"] for r in shown])
if curves:
    st.subheader("Batch size")
    st.plotly_chart(batch_figure(curves), key="batch-figure")

st.subheader("Pick for me")
mode, value = st.columns(2)
by_budget = mode.radio("Constraint", ["latency budget (ms)", "minimum top-1 (%)"]) == "latency budget (ms)"
limit = value.number_input("Value", min_value=0.0, value=float(round(max(r["latency_ms"] for r in shown), 3))
                           if by_budget else 90.0, format="%.3f")
try:
    pick = compare.pick_for_me(shown, latency_budget_ms=limit if by_budget else None,
                               min_accuracy=None if by_budget else limit / 100)
    row = pick.row
    st.success(f"**{plain(row['model'])} @ {row['precision']}** (model #{row['model_id']}): {plain(pick.reason)}.")
except AppError as error:
    st.warning(plain(error))

ab_view(shown)
