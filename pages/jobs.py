"""Jobs: every job with live status; cancel, re-run, and read a job's log; the workers serving the queues."""

import pandas as pd
import streamlit as st

from core.errors import AppError
from core.jobs import runner as jobs
from core.jobs.queue import job_log_path
from db import repository as repo
from pages import route_through_app
from pages.targets import workers_table
from pages.widgets import plain

route_through_app()

st.title("Jobs")
jobs.recover_stale()  # a crashed worker's jobs show up as interrupted as soon as someone looks


@st.fragment(run_every=2.0)
def job_table() -> None:
    rows = repo.list_jobs(200)
    if not rows:
        st.info("No jobs yet. Start one on the Optimize page.")
        return
    st.dataframe(pd.DataFrame([{
        "id": j.id, "kind": j.kind, "status": j.status, "progress": j.progress, "stage": j.stage,
        "attempts": j.attempts, "queue": j.queue, "created": j.created_at, "message": j.message[:200]}
        for j in rows]), hide_index=True,
        column_config={"progress": st.column_config.ProgressColumn("progress", min_value=0, max_value=1)})


job_table()
all_jobs = repo.list_jobs(200)
if all_jobs:
    job = st.selectbox("Job", all_jobs, format_func=lambda j: f"#{j.id} {j.kind} ({j.status})")
    cancel, rerun, _ = st.columns([1, 1, 4])
    try:
        if cancel.button("Cancel job", disabled=job.status not in ("pending", "running")):
            jobs.cancel(job.id)
            st.rerun()
        if rerun.button("Run again", disabled=job.status not in ("failed", "cancelled", "interrupted")):
            jobs.rerun(job.id)
            st.rerun()
    except AppError as error:
        st.error(plain(error))
    log = job_log_path(job.id)
    st.code(log.read_text(errors="replace")[-5000:] if log.exists() else "(no log yet)", language=None)

st.subheader("Workers")
workers_table()
