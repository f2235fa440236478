"""Optimize: pick a model and data, set NNCF options, run an INT8 quantization job."""

import uuid

import streamlit as st

from core import lab
from core.errors import AppError
from core.options import MeasureOptions, QuantizationPreset, QuantizeOptions
from db import repository as repo
from pages.widgets import job_panel

st.title("Optimize")
models, datasets = repo.list_models(), repo.list_datasets()
if not models or not datasets:
    st.info("You need a model and some images first: add them on the Models and Data pages, or press "
            "**Try the demo** on the Overview page.")
    st.stop()


def pick(label, items, state_key, fmt, optional=False):
    ids = ([None] if optional else []) + [i.id for i in items]
    by_id = {i.id: i for i in items}
    current = st.session_state.get(state_key)
    chosen = st.selectbox(label, ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda i: "none" if i is None else fmt(by_id[i]))
    st.session_state[state_key] = chosen
    return chosen


model_id = pick("Model", models, "model_id", lambda m: f"#{m.id} {m.name}")
calibration_id = pick("Calibration data", datasets, "calibration_id", lambda d: f"#{d.id} {d.name} ({d.samples})")
validation_id = pick("Validation data (accuracy)", [d for d in datasets if d.has_labels], "validation_id",
                     lambda d: f"#{d.id} {d.name} ({d.samples})", optional=True)
left, middle, right = st.columns(3)
preset = left.selectbox("Preset", [p.value for p in QuantizationPreset],
                        help="performance: symmetric weights and activations; mixed: asymmetric activations")
subset = middle.number_input("Calibration subset size", 1, 100_000, 300)
seconds = right.number_input("Seconds per benchmark run", 1.0, 120.0, 3.0)

st.session_state.setdefault("run_counter", 0)
st.session_state.setdefault("session_nonce", uuid.uuid4().hex)
if st.button("Run INT8 quantization", type="primary"):
    try:
        # The same key for repeated clicks: a double click returns the job already submitted.
        job = lab.submit_quantize(
            model_id=model_id, calibration_id=calibration_id,
            options=QuantizeOptions(preset=preset, subset_size=int(subset)),
            measure=MeasureOptions(dataset_id=validation_id, seconds=seconds),
            idempotency_key=f"{st.session_state.session_nonce}-{st.session_state.run_counter}")
        st.session_state.current_job = job.id
    except AppError as error:
        st.error(str(error))

if "current_job" in st.session_state:
    job_panel(st.session_state.current_job)
    if st.button("Set up another run"):
        st.session_state.run_counter += 1
        del st.session_state.current_job
        st.rerun()
