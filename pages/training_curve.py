"""The live training curve of a QAT / pruning job, drawn inside its job panel (which reruns every second)."""

from __future__ import annotations

import streamlit as st

from core.compare.figures import training_figure
from db import training


def training_curve(job) -> None:
    """Loss and validation metric per epoch so far, or what the job is waiting for."""
    epochs = training.list_epochs(job.id)
    if not epochs:
        st.caption("The training curve appears after the first epoch (loading data and the INT8 / pruned start "
                   "come first).")
        return
    st.plotly_chart(training_figure(epochs), key=f"curve-{job.id}-{len(epochs)}")
    last = epochs[-1]
    if last.sparsity is not None:
        st.caption(f"sparsity {last.sparsity:.1%} after {last.phase} epoch {last.epoch}")
