"""Overview: what is stored, what runs, the latest results, and the one-click demo."""

import pandas as pd
import streamlit as st

from core import lab
from core.compare.overview import latest_results
from core.errors import AppError
from db import repository as repo
from pages import route_through_app
from pages.widgets import plain

route_through_app()

st.title("Optimization Lab")
st.write("Make a model run faster on Intel hardware: quantize it with NNCF, then compare accuracy, "
         "latency and throughput against the original, and download the optimized IR.")

counts = repo.counts()
columns = st.columns(4)
for column, (label, value) in zip(columns, counts.items()):
    column.metric(label.capitalize(), value)

st.subheader("Start here")
vision, language = st.columns(2)
vision.write("The demo registers a small Fashion-MNIST classifier with calibration and validation images, "
             "then takes you to the Optimize page.")
language.write("The LLM demo registers fortune-llama (a 2.75 M-parameter Llama trained on Debian's fortunes), its "
               "held-out texts (word perplexity) and prompts (answer similarity), then takes you to Optimize.")
if vision.button("Try the demo", type="primary"):
    try:
        model, calibration, validation = lab.ensure_demo()
    except AppError as error:
        st.error(plain(error))
    else:
        st.session_state.update(model_id=model.id, calibration_id=calibration.id,
                                validation_id=validation.id)
        st.switch_page("pages/optimize.py")
if language.button("Try the LLM demo", type="primary"):
    try:
        model, texts, prompts = lab.ensure_llm_demo()
    except AppError as error:
        st.error(plain(error))
    else:
        st.session_state.update(model_id=model.id, texts_id=texts.id, prompts_id=prompts.id,
                                algorithm="compress_weights", _kept_algorithm="compress_weights")
        st.switch_page("pages/optimize.py")


@st.fragment(run_every=2.0)
def running_jobs() -> None:
    running = [j for j in repo.list_jobs(50) if j.status in ("pending", "running")]
    if running:
        st.subheader("Running now")
        for job in running:
            st.progress(job.progress, text=f"Job #{job.id} {job.kind}: {plain(job.stage or job.status)}")


running_jobs()
latest = latest_results(5)
if latest:
    st.subheader("Latest results")
    st.dataframe(pd.DataFrame(latest), hide_index=True, column_config={
        "top-1 (%)": st.column_config.NumberColumn(format="%.2f"),
        "latency (ms)": st.column_config.NumberColumn("latency median (ms)", format="%.3f")})
    if st.button("Compare all results"):
        st.switch_page("pages/compare.py")
