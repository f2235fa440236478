"""The Models page's layer sensitivity: rank a model's INT8 layers on its task metric (a background
job), the ranking as bars, and one click to quantize with the worst k in float (or one child per k)."""

import streamlit as st

from core import lab
from core.errors import AppError
from core.measure.accuracy_tables import is_percent, metric_title, stored_value
from core.measure.charts import sensitivity_figure
from core.optimize.recipes import SensitivityOptions
from core.options import MeasureOptions
from db import repository as repo
from db.records import ModelRecord
from pages.widgets import current_job_panel, plain, press_key

JOB_KEY = "sensitivity-job"


def sensitivity_view(model: ModelRecord) -> None:
    """Draws the section for model."""
    st.subheader("Layer sensitivity")
    datasets = repo.list_datasets()
    rankings = repo.list_sensitivities(model.id)
    if rankings:
        ranking = rankings[-1]
        st.plotly_chart(sensitivity_figure(ranking), key=f"sensitivity-{ranking.id}")
        st.caption(f"{len(ranking.layers)} INT8 layers ranked in {ranking.seconds:.1f} s (job #{ranking.job_id}): "
                   "each bar is what keeping that layer alone in float recovers of the metric.")
        with st.form("ignore-worst"):
            left, right = st.columns(2)
            k = left.number_input("Keep the k most costly layers in float", 1, len(ranking.layers), 1)
            auto = left.checkbox("Auto: try k = 1, 2, ... up to k, stopping at the first within the max drop "
                                 "(every tried point on the Compare chart)")
            max_drop = right.number_input(f"Max drop in {metric_title(ranking.metric)} (auto)", 0.0, 100.0,
                                          1.0 if is_percent(ranking.metric) else 0.01, format="%.4g",
                                          help="as the metric is shown: points of a % metric")
            if st.form_submit_button("Quantize"):
                ks = list(range(1, int(k) + 1)) if auto else [int(k)]
                try:
                    job = lab.submit_ignoring_worst(ranking.id, model.id, ks, measure=MeasureOptions(
                        dataset_id=ranking.dataset_id, seconds=3.0),
                        max_drop=stored_value(ranking.metric, max_drop) if auto and len(ks) > 1 else None)
                    st.success(f"Queued job #{job.id}; its children appear on the Compare page.")
                except AppError as error:
                    st.error(plain(error))
    elif not datasets:
        st.info("Add data on the Data page first: the ranking needs calibration and validation data.")
        return
    else:
        st.caption("No ranking yet: it quantizes the model once, then scores it with each layer alone in float.")
    names = {d.id: d.name for d in datasets}
    with st.form("rank-layers"):
        left, middle, right = st.columns(3)
        calibration = left.selectbox("Calibration data", list(names), format_func=lambda i: f"#{i} {names[i]}")
        validation = middle.selectbox("Validation data", list(names), index=len(names) - 1,
                                      format_func=lambda i: f"#{i} {names[i]}")
        metric = right.text_input("Metric (empty: the task's first)", placeholder="top1, map50, cer, miou ...")
        if st.form_submit_button("Rank layers"):
            try:
                options = SensitivityOptions(validation_dataset_id=validation, metric=metric.strip() or None)
                st.session_state[JOB_KEY] = lab.submit_sensitivity(
                    model_id=model.id, dataset_id=calibration, options=options,
                    idempotency_key=press_key("sensitivity", JOB_KEY, [model.id, calibration, options.to_dict()])).id
            except AppError as error:
                st.error(plain(error))
    current_job_panel(JOB_KEY)
