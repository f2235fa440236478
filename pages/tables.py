"""Tables as the pages show them: every key core's rows carry gets its title, unit and format."""

import pandas as pd
import streamlit as st

# Titles (with units) and formats of the keys core's rows carry, so no table shows a raw key:
# a printf number format, "percent" (a fraction shown as %), "check" (a bool), "datetime" or None (text).
COLUMNS = {
    "model_id": ("model #", "%d"), "dataset_id": ("dataset #", "%d"), "element_type": ("element type", None),
    "measured_at": ("measured (UTC)", "datetime"), "size_mb": ("size (MB)", "%.3f"),
    "load_average": ("load average (1 min)", "%.2f"), "host": ("machine", None), "reference": ("agreement reference", None),
    "latency_ms": ("latency median (ms)", "%.3f"), "latency_low_ms": ("lowest run (ms)", "%.3f"),
    "latency_high_ms": ("highest run (ms)", "%.3f"), "latency_runs": ("runs", "%d"),
    "noisy_runs_left_out": ("noisy runs left out", "%d"), "latency_min_ms": ("latest run min (ms)", "%.3f"),
    "latency_max_ms": ("latest run max (ms)", "%.3f"), "latency_per_sample_ms": ("latency per sample (ms)", "%.3f"),
    "throughput_fps": ("throughput (FPS)", "%.1f"), "throughput_cv": ("throughput CV", "percent"),
    "peak_memory_mb": ("peak memory (MB)", "%.1f"), "auto_batch": ("auto batching", "check"),
    "layer_type": ("layer type", None), "time_ms": ("time (ms)", "%.3f"), "share": ("share of time", "percent"),
    "time_a_ms": ("time A (ms)", "%.4f"), "time_b_ms": ("time B (ms)", "%.4f"),
    "time_delta_ms": ("B − A (ms)", "%.4f"), "precisions_a": ("precisions A", None),
    "precisions_b": ("precisions B", None), "precision_changed": ("precision changed", "check"),
    "float_in_b": ("still float in B", "check"), "size_share": ("share of weights", "percent"),
    "tokens_per_s": ("tokens/s", "%.1f"), "tokens_per_s_low": ("lowest run (tokens/s)", "%.1f"),
    "tokens_per_s_high": ("highest run (tokens/s)", "%.1f"), "ttft_ms": ("time to first token (ms)", "%.3f"),
    "ttft_ms_low": ("lowest run TTFT (ms)", "%.3f"), "ttft_ms_high": ("highest run TTFT (ms)", "%.3f"),
    "tpot_ms": ("time per output token (ms)", "%.3f"), "word_perplexity": ("word perplexity", "%.4g"),
    "similarity": ("answer similarity with parent", "%.4f"), "prompts": ("prompt set", None), "runs": ("runs", "%d"),
    "prompt_tokens": ("prompt tokens", "%d"), "input_tokens": ("tokens in the prompt", "%d"),
    "new_tokens": ("new tokens", "%d"), "generated_tokens": ("tokens generated", "%d"), "repeats": ("repeats", "%d"),
    "ttft_std_ms": ("TTFT std (ms)", "%.3f"), "ttft_p90_ms": ("TTFT p90 (ms)", "%.3f"),
    "tpot_std_ms": ("TPOT std (ms)", "%.4f"), "tokens_per_s_std": ("tokens/s std", "%.1f"),
    "generate_ms": ("generate (ms)", "%.2f"), "tokenize_ms": ("tokenize (ms)", "%.3f"),
    "detokenize_ms": ("detokenize (ms)", "%.3f"),
}


def _column(title: str, kind: str | None):
    if kind is None:
        return st.column_config.TextColumn(title)
    if kind == "check":
        return st.column_config.CheckboxColumn(title)
    if kind == "datetime":
        return st.column_config.DatetimeColumn(title, format="YYYY-MM-DD HH:mm:ss")
    return st.column_config.NumberColumn(title, format=kind)


def table(data, *, titles: dict[str, tuple[str, str | None]] | None = None, **kwargs) -> None:
    """st.dataframe of rows (dicts) or a frame, every column in COLUMNS (or titles) given its title."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    known = {**COLUMNS, **(titles or {})}
    st.dataframe(frame, hide_index=True, column_config={
        name: _column(*known[name]) for name in frame.columns if name in known}, **kwargs)
