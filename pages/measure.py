"""Measure: batch sweeps, batch × streams grids, automatic batching and per-layer profiles."""

import streamlit as st

from core import lab
from core.compare.figures import batch_figure
from core.errors import AppError
from core.measure import charts
from core.measure.batching import best_batch
from core.measure.options import BatchSweepOptions, ProfileOptions
from core.measure.sweeps import estimate_seconds, sweep_points
from core.options import PerformanceHint, Precision
from db import repository as repo
from pages import route_through_app
from pages.llm_measure import llm_measure
from pages.tables import table
from pages.targets import target_picker
from pages.widgets import current_job_panel, plain, press_key

route_through_app()

st.title("Measure")
models = repo.list_models()
if not models:
    st.info("Add a model on the Models page first, or press **Try the demo** on the Overview page.")
    st.stop()
names = {m.id: f"#{m.id} {m.name}" for m in models}
model_id = st.selectbox("Model", list(names), format_func=names.get)
if lab.is_text_encoder(repo.get_model(model_id)):
    st.info("A text encoder's token inputs are dynamic; its optimization jobs time it at batch 1 × 128 tokens. For "
            "a batch sweep, store a copy with static shapes first: `python -m core set-shape "
            f"{model_id} --shape 'input_ids=1,128; attention_mask=1,128'` (and token_type_ids if it has one), or "
            "'Set shape' on the Models page.")
    st.stop()
if lab.is_language_model(repo.get_model(model_id)):
    llm_measure(model_id, {m.id: names[m.id] for m in models if lab.is_language_model(m)})
    st.stop()

target = target_picker("measure_target")
sweep_tab, profile_tab = st.tabs(["Batch sweep", "Per-layer profile"])
with sweep_tab:
    left, right = st.columns(2)
    batches = left.text_input("Batch sizes", "1,2,4,8")
    streams = right.text_input("Streams (empty = the hint's choice; several = a grid)", "")
    hint = left.selectbox("Hint", [h.value for h in PerformanceHint], index=1)
    precision = right.selectbox("Inference precision", [p.value for p in Precision], key="sweep-precision")
    seconds = left.number_input("Seconds per point", 0.5, 60.0, 2.0)
    repeats = right.number_input("Repeats per point (spread)", 1, 10, 1)
    threads = left.number_input("Threads (0 = all cores)", 0, 1024, 0,
                                help="INFERENCE_NUM_THREADS of every point, like benchmark_app -nthreads")
    auto = st.toggle("Automatic batching as a dimension (off and on)")
    try:
        options = BatchSweepOptions(batches=[b for b in batches.split(",") if b.strip()],
                                    streams=[s for s in streams.split(",") if s.strip()],
                                    auto_batch=(False, True) if auto else (False,), hint=hint,
                                    precision=precision, seconds=seconds, repeats=repeats,
                                    threads=threads or None)
        st.caption(f"{len(sweep_points(options))} points × {repeats} repeats: about "
                   f"{estimate_seconds(options):.0f} s")
        if st.button("Run sweep", type="primary"):
            with lab.routed_to(target):
                st.session_state.measure_job = lab.submit_batch_sweep(
                    model_id=model_id, options=options,
                    idempotency_key=press_key("measure", "measure_job", [model_id, options.to_dict(), target])).id
    except AppError as error:
        st.error(plain(error))

with profile_tab:
    profile_precision = st.selectbox("Inference precision", [p.value for p in Precision], key="profile-precision")
    if st.button("Run profile", type="primary"):
        try:
            with lab.routed_to(target):
                st.session_state.measure_job = lab.submit_profile(
                    model_id=model_id, options=ProfileOptions(precision=profile_precision),
                    idempotency_key=press_key("profile", "measure_job", [model_id, profile_precision, target])).id
        except AppError as error:
            st.error(plain(error))

current_job_panel("measure_job")

st.header("Results")
compared = st.multiselect("Models", list(names), default=[model_id], format_func=names.get)
summary = charts.sweep_summary(compared)
if summary:
    st.plotly_chart(batch_figure(charts.sweep_curves(summary)))
    if len({r["streams"] for r in summary if r["model_id"] == model_id}) > 1:
        st.plotly_chart(charts.grid_figure(summary, model_id))
    if any(r["auto_batch"] for r in summary):
        st.plotly_chart(charts.auto_batch_figure(summary))
    budget = st.number_input("Latency budget (ms)", 0.0, 10000.0, 0.0, help="0 = no budget")
    best = best_batch(model_id, latency_budget_ms=budget or None)
    st.metric("Best batch for this budget", best if best is not None else "none fits")
    table(summary)
else:
    st.info("No sweep stored for these models yet; run one above.")

profiles = charts.profile_choices()
if profiles:
    chosen = st.selectbox("Profile", list(profiles), format_func=profiles.get)
    table(charts.profile_table(chosen))
    other = st.selectbox("Diff against", [None, *profiles], format_func=lambda p: profiles.get(p, "none"))
    if other:
        table(charts.profile_diff_table(other, chosen))
