"""Overview: what is stored, what runs, the latest results, and the one-click demo."""

import pandas as pd
import streamlit as st

from core.compare.overview import latest_results
from db import repository as repo
from pages import route_through_app
from pages.demo import DEMO_PARAM
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
# Links, not buttons that switch pages: a page switch requested by the server can be lost to a
# fragment's timed rerun that the browser sent before it saw the switch (a blank page, ~1 in 10
# clicks). A link switches in the browser; the Optimize page registers the demo (pages.demo).
vision.page_link("pages/optimize.py", label="Try the demo", icon=":material/play_arrow:",
                 query_params={DEMO_PARAM: "vision"})
language.page_link("pages/optimize.py", label="Try the LLM demo", icon=":material/play_arrow:",
                   query_params={DEMO_PARAM: "llm"})


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
    st.page_link("pages/compare.py", label="Compare all results", icon=":material/monitoring:")
