"""Compare: accuracy against latency / throughput / size with the Pareto front, filters, a sortable
table with CSV / JSON downloads, throughput and latency against batch size, "pick for me" and A/B."""

import streamlit as st

from core import lab
from core.compare import generation
from core.compare import table as compare
from core.compare.figures import accuracy_figure, batch_figure
from core.compare.pick import pick_for_me
from core.errors import AppError
from core.measure.accuracy_tables import higher_is_better, is_percent, metric_title, stored_value
from core.options import BenchmarkOptions, CompareFilters
from db import repository as repo
from pages import route_through_app
from pages.ab_view import ab_view
from pages.llm_compare import llm_compare
from pages.tables import table
from pages.widgets import current_job_panel, plain, press_key

route_through_app()

st.title("Compare")
hosts = repo.benchmark_hosts()
machines = st.multiselect("Measured on", hosts, placeholder=f"any of {len(hosts)} machines",
                          help="latency and throughput from the runs on these machines only") if len(hosts) > 1 else []
if len(hosts) > 1 and len(machines) != 1:
    st.caption("Results measured on several machines: pick one above to compare models on the same hardware.")
rows, language = compare.results_rows(machines), generation.points()
if machines and not rows and not language:
    st.info("No tensor model was measured on the machines picked; clear 'Measured on' to see every result.")
    st.stop()
if not rows and not language:
    st.info("Nothing measured yet. Run a quantization job on the Optimize page; its parent and child "
            "models are evaluated and benchmarked automatically.")
    st.stop()
# Language models are judged by other numbers (tokens/s, perplexity, similarity): a view of their own.
newest_kind = "language models" if language and (not rows or generation.newest_measured() > max(
    r["measured_at"] for r in rows)) else "tensor models"  # by default what the user measured last
if language and (not rows or st.segmented_control(
        "Models", ["tensor models", "language models"], default=newest_kind, key="compare-kind") == "language models"):
    llm_compare()
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
# Newest first: by default the family the user worked on last.
families = {compare.family_label(f): members for f, members in compare.families(shown).items()}
family = st.selectbox("Model family (source model × dataset): one Pareto front each", ["all families", *families],
                      index=1)
shown = families.get(family, shown)

metric_column, axis_column = st.columns([1, 2])
metric = metric_column.selectbox("Accuracy metric", compare.accuracy_metrics(shown), format_func=metric_title)
axis = axis_column.radio("Accuracy against", [a.value for a in compare.TENSOR_AXES], horizontal=True)
event = st.plotly_chart(accuracy_figure(shown, axis, metric), key="accuracy-figure", on_select="rerun",
                        selection_mode="points")
selected = {p["customdata"][0] for p in event.selection.points if p.get("customdata")}
if selected:
    st.write("Selected points")
    table(compare.table_frame([r for r in shown if r["key"] in selected]), titles=compare.metric_columns(shown))
st.caption("Latency: the median of every latency-hint run at batch 1 of that model and precision (interleaved "
           "A/B runs included), lowest–highest run beside it. Runs measured while other processes kept over half "
           "the cores busy are 'noisy': left out when quieter runs exist; a row with only noisy runs is hollow in "
           "the chart. Throughput: the latest throughput-hint run. 'precision' is the inference precision "
           "OpenVINO reported; f32 is a forced FP32 baseline. Click a column to sort.")
# What a decision reads first (model, its quality, the latency headline with its evidence), then the rest.
frame = compare.table_frame(shown)
first = ["model", "precision", *compare.metric_columns(shown), "latency_ms", "latency_low_ms", "latency_high_ms",
         "latency_runs", "noisy", "noisy_runs_left_out", "throughput_fps", "size_mb"]
unmeasured = {m for m in compare.metric_columns(shown) if all(r.get(m) is None for r in shown)}  # e.g. top-1 of a detector
table(frame, titles=compare.metric_columns(shown),
      column_order=[c for c in first if c in frame.columns and c not in unmeasured]
      + [c for c in frame.columns if c not in first and c not in unmeasured])
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
# The quality side is the metric chosen above (an agreement metric works without labels).
bound = f"{'minimum' if higher_is_better(metric) else 'maximum'} {metric_title(metric)}"
by_budget = mode.radio("Constraint", ["latency budget (ms)", bound]) == "latency budget (ms)"
limit = value.number_input("Value", min_value=0.0, value=float(round(max(r["latency_ms"] for r in shown), 3))
                           if by_budget else 90.0 if is_percent(metric) else 0.0, format="%.4g")
try:
    pick = pick_for_me(shown, latency_budget_ms=limit if by_budget else None, metric=metric,
                       min_accuracy=None if by_budget else stored_value(metric, limit))
    row = pick.row
    (st.warning if pick.contenders or row["noisy"] else st.success)(
        f"**{plain(row['model'])} @ {row['precision']}** (model #{row['model_id']}): {plain(pick.reason)}.")
    if pick.contenders and st.button("Re-measure them interleaved (A B A B)", type="primary"):
        contender = pick.contenders[0]["key"]
        job = lab.submit_interleaved(row["key"], contender, benchmark=BenchmarkOptions(seconds=2.0), rounds=3,
                                     idempotency_key=press_key("pick", "pick_job", [row["key"], contender]))
        st.session_state.pick_job = job.id
    current_job_panel("pick_job")
except AppError as error:
    st.warning(plain(error))

ab_view(shown)
