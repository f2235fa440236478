"""Where a job runs: the "Run on" picker (a target is a queue its workers serve) and the workers table."""

import pandas as pd
import streamlit as st

from core.config import get_settings
from core.jobs.targets import known_targets, live_workers
from db import workers


def target_picker(key: str) -> str:
    """The queue the page's next job goes to.

    Asked only once there is a choice (workers announced other queues) or no local worker runs;
    a target without a live worker is named as such before anything is submitted to it.
    """
    targets, live = known_targets(), live_workers()
    if len(targets) == 1 and get_settings().start_local_worker:
        return targets[0]

    def describe(queue: str) -> str:
        serving = [w for w in live if w.queue == queue]
        if not serving:
            return f"{queue} — no live worker"
        return f"{queue} — " + ", ".join(f"{w.host} ({', '.join(w.devices) or 'no devices'})" for w in serving)

    chosen = st.selectbox("Run on", targets, format_func=describe, key=key,
                          help="the queue of the workers that run the job: one per machine or device")
    if not any(w.queue == chosen for w in live):
        st.warning(f"No live worker serves '{chosen}': a job sent there waits until one starts on the target "
                   f"machine (python -m core.worker --queue {chosen}).", icon=":material/cloud_off:")
    return chosen


def workers_table() -> None:
    """Every announced worker, alive or not (last seen by the database's clock)."""
    alive = {w.id for w in live_workers()}
    rows = workers.list_workers()
    if not rows:
        st.info("No worker has announced itself yet; the app starts one on this machine unless "
                "OPTLAB_LOCAL_WORKER=0 (then start `python -m core.worker --queue QUEUE` where jobs should run).")
        return
    st.dataframe(pd.DataFrame([{
        "queue": w.queue, "host": w.host, "alive": w.id in alive, "devices": ", ".join(w.devices), "cpu": w.cpu,
        "openvino": w.openvino, "last seen (UTC)": w.last_seen} for w in rows]), hide_index=True)
