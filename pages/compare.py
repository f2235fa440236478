"""Compare: accuracy against latency with the Pareto front, and every number in a table."""

import pandas as pd
import streamlit as st

from core.compare import accuracy_latency_figure, results_rows

st.title("Compare")
rows = results_rows()
if not rows:
    st.info("Nothing measured yet. Run a quantization job on the Optimize page; its parent and child "
            "models are evaluated and benchmarked automatically.")
    st.stop()
st.plotly_chart(accuracy_latency_figure(rows), key="accuracy-latency")
st.caption("Latency: median of the latency-hint run at batch 1 (min–max in the table). Throughput: "
           "throughput-hint run. 'precision' is the inference precision OpenVINO reported; f32 is a forced "
           "FP32 baseline, bf16 is what this CPU runs FP32 models at by default.")
table = pd.DataFrame(rows)
table["top1"] = table["top1"] * 100
st.dataframe(table, hide_index=True, column_config={
    "top1": st.column_config.NumberColumn("top-1 (%)", format="%.2f"),
    "latency_ms": st.column_config.NumberColumn("latency median (ms)", format="%.3f"),
    "latency_min_ms": st.column_config.NumberColumn("min (ms)", format="%.3f"),
    "latency_max_ms": st.column_config.NumberColumn("max (ms)", format="%.3f"),
    "throughput_fps": st.column_config.NumberColumn("throughput (FPS)", format="%.1f")})
