"""Optimization Lab: `streamlit run app.py`. Page config, navigation, and the local worker."""

import logging
import uuid

import streamlit as st

from core.config import get_settings
from core.errors import AppError
from core.jobs.worker import ensure_local_worker, worker_running
from db.session import upgrade_schema
from pages import route_through_app
from pages.login import login_gate
from pages.widgets import job_toasts, plain

log = logging.getLogger("optlab.app")
st.set_page_config(page_title="Optimization Lab", page_icon="⚡", layout="wide")
route_through_app()  # the server's first run may be Streamlit's legacy pages/ mode running app.py as a page
login_gate()  # nothing below (no page, no worker) runs for a visitor who may not use the lab


@st.cache_resource
def migrated() -> bool:
    upgrade_schema()
    return True


@st.cache_resource(validate=lambda _: worker_running())
def local_worker() -> bool:
    """Starts the local worker once per server; re-checked (lock held) on every run."""
    return ensure_local_worker()


try:
    migrated()
except AppError as error:  # a damaged database: the way out, not a traceback
    st.error(plain(error))
    st.stop()
if get_settings().start_local_worker:
    local_worker()
job_toasts()  # a toast on any page when a job ends
page = st.navigation([
    st.Page("pages/home.py", title="Overview", icon=":material/home:", default=True),
    st.Page("pages/models.py", title="Models", icon=":material/deployed_code:"),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
    st.Page("pages/optimize.py", title="Optimize", icon=":material/bolt:"),
    st.Page("pages/jobs.py", title="Jobs", icon=":material/pending_actions:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/monitoring:"),
    st.Page("pages/measure.py", title="Measure", icon=":material/speed:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
])
try:
    page.run()
except Exception:  # a bug, not bad input (that is an AppError, shown where it happens): no traceback
    reference = uuid.uuid4().hex[:8]
    log.exception("Unexpected error on page %s (reference %s)", page.title, reference)
    st.error(f"Something went wrong on this page (reference {reference}); nothing stored was changed. "
             "The server's log has the details under that reference.")
