"""Small widgets shared by pages (kept here so pages stay thin)."""

import re

import streamlit as st

from core.errors import AppError
from core.jobs import runner as jobs
from core.options import JobStatus
from db import repository as repo

# What Streamlit's Markdown acts on anywhere in a line: emphasis, links / images, HTML, code,
# tables, strikethrough, LaTeX ($), emoji / colour / icon directives (:...:), entities and escapes;
# and at the start of a line: headings, lists, quotes, rules.
_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>|~$:&"})
_LINE_START = re.compile(r"^(\s*\d*)([-+#=>]|(?<=\d)[.)])", re.MULTILINE)


def plain(text: object) -> str:
    """text with every Markdown-active sign backslash-escaped, so that Markdown shows it as typed.

    Streamlit renders alerts, toasts, captions and progress text as Markdown: a model named
    '**x** ![](http://host/pixel)' would otherwise come out bold and fetch a remote image. Every
    user-supplied value (names, job messages, error messages quoting them) goes through this.
    """
    return _LINE_START.sub(r"\1\\\2", str(text).translate(_MARKUP))


def job_panel(job_id: int) -> None:
    """Live progress of one job with a cancel button; refreshes itself every second."""

    watching = f"job-panel-watching-{job_id}"

    @st.fragment(run_every=1.0)
    def panel() -> None:
        job = repo.get_job(job_id)
        status = JobStatus(job.status)
        if status in (JobStatus.PENDING, JobStatus.RUNNING):
            st.session_state[watching] = True
        elif st.session_state.pop(watching, False):
            # Only this fragment reruns while the job runs; rerun the page once so what it draws
            # outside the panel (e.g. Measure's results) includes the rows the job just stored.
            st.rerun(scope="app")
        text = f"Job #{job.id} {job.kind} — {job.status}: {plain(job.stage)}"
        st.progress(job.progress, text=text)
        if status == JobStatus.SUCCEEDED:
            st.success(f"Job #{job.id} finished. See the Compare page for the numbers.")
        elif status in (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED):
            st.error(f"Job #{job.id} {job.status}. {plain(job.message)}")
        elif st.button("Cancel", key=f"cancel-{job.id}"):
            try:
                jobs.cancel(job.id)
            except AppError as error:
                st.error(plain(error))

    panel()


def job_toasts() -> None:
    """Shows a toast on whichever page is open when a job ends; checks every 2 seconds."""
    from core.compare.overview import ended_jobs

    @st.fragment(run_every=2.0)
    def watch() -> None:
        statuses, ended = ended_jobs(st.session_state.get("job_statuses"), repo.list_jobs(50))
        st.session_state.job_statuses = statuses
        for job in ended:
            ok = job.status == JobStatus.SUCCEEDED
            st.toast(f"Job #{job.id} {job.kind} {job.status}." + (" See the Compare page." if ok else
                     f" {plain(job.message[:120])}"), icon=":material/check_circle:" if ok else ":material/error:")

    watch()


def current_job_panel(job_key: str, counter_key: str) -> None:
    """The live panel of the job a page submitted, and a button to set up the next run.

    The counter is part of the page's idempotency key, so only this button (never a double click)
    makes the next submit a new job.
    """
    if job_key in st.session_state:
        job_panel(st.session_state[job_key])
        if st.button("Set up another run"):
            st.session_state[counter_key] += 1
            del st.session_state[job_key]
            st.rerun()
