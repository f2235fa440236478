"""Compare: accuracy against latency / throughput / size with the Pareto front, filters, a sortable
table with CSV / JSON downloads, throughput and latency against batch size, "pick for me" and A/B."""

import pandas as pd
import streamlit as st

from core import compare
from core.compare_figures import accuracy_figure, batch_figure
from core.errors import AppError
from core.options import CompareAxis, CompareFilters
from pages import route_through_app

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
    st.error(str(error))
    st.stop()
if not shown:
    st.info("No result passes these filters; clear some of them.")
    st.stop()

axis = st.radio("Accuracy against", [a.value for a in CompareAxis], horizontal=True)
event = st.plotly_chart(accuracy_figure(shown, axis), key="accuracy-figure", on_select="rerun",
                        selection_mode="points")
selected = {p["customdata"][0] for p in event.selection.points if p.get("customdata")}
if selected:
    st.write("Selected points")
    st.dataframe(pd.DataFrame([r for r in shown if r["key"] in selected]), hide_index=True)
st.caption("Latency: median of the latency-hint run at batch 1 (min–max in the table). Throughput: "
           "throughput-hint run. 'precision' is the inference precision OpenVINO reported; f32 is a forced "
           "FP32 baseline, bf16 is what this CPU runs FP32 models at by default. Click a column to sort.")
table = pd.DataFrame(shown).drop(columns=["key"])
table["top1"] = table["top1"] * 100
st.dataframe(table, hide_index=True, column_config={
    "top1": st.column_config.NumberColumn("top-1 (%)", format="%.2f"),
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
    st.success(f"**{pick.row['model']} @ {pick.row['precision']}** (model #{pick.row['model_id']}): {pick.reason}.")
except AppError as error:
    st.warning(str(error))

st.subheader("A/B")
labels = {r["key"]: f"{r['model']} @ {r['precision']}" for r in shown}
keys = list(labels)
a_column, b_column = st.columns(2)
key_a = a_column.selectbox("A", keys, format_func=labels.get)
key_b = b_column.selectbox("B", keys, index=len(keys) - 1, format_func=labels.get)
st.dataframe(pd.DataFrame(compare.ab_comparison(shown, key_a, key_b)), hide_index=True, column_config={"B / A": st.column_config.NumberColumn(format="%.3f")})
