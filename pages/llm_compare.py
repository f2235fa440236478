"""The Compare page's view of language models: quality (answer similarity, word perplexity) against
tokens/s, time to first token, size or peak memory with the Pareto front, the table, the recipe grid
of a compression sweep as a heat map, and the worst answers of a model beside its parent's."""

from typing import Any

import streamlit as st

from core.compare import generation
from core.compare import table as compare
from core.compare.figures import accuracy_figure
from core.measure.accuracy_tables import metric_title
from core.measure.charts import heatmap
from core.options import LLM_METRICS, CompareAxis
from pages.tables import table

TITLES = {"tokens_per_s": ("tokens/s (median of runs)", "%.1f"), "ttft_ms": ("time to first token (ms, median)", "%.3f"),
          "tpot_ms": ("time per output token (ms, median)", "%.4f")}
FIRST = ["model", "similarity", "word_perplexity", "tokens_per_s", "tokens_per_s_low", "tokens_per_s_high",
         "ttft_ms", "tpot_ms", "peak_memory_mb", "size_mb", "runs"]


def llm_compare() -> None:
    """Draws the language-model view (the page has checked that some language model was measured)."""
    points = generation.points()
    point = st.selectbox("Generation point (prompt tokens × new tokens)", points,
                         format_func=lambda p: f"{p[0]} × {p[1]}",
                         help="every model's speed at the same point; the first is the one most models have")
    rows = generation.generation_rows(point)
    families = {compare.family_label(f): members for f, members in compare.families(rows).items()}
    family = st.selectbox("Model family (source model × text dataset): one Pareto front each",
                          ["all families", *families], index=1 if families else 0)
    shown = families.get(family, rows)
    metrics = [m for m in LLM_METRICS if any(r.get(m) is not None for r in shown)]
    metric_column, axis_column = st.columns([1, 2])
    if not metrics:
        st.info("No quality measured for these models yet: compress one with texts (word perplexity) and "
                "prompts (similarity) chosen on the Optimize page, or evaluate it on the Measure page.")
    else:
        metric = metric_column.selectbox("Quality metric", metrics, format_func=metric_title)
        axis = axis_column.radio("Quality against", [a.value for a in compare.LLM_AXES], horizontal=True)
        st.plotly_chart(accuracy_figure(shown, CompareAxis(axis), metric), key="llm-figure")
        if metric == "similarity":
            st.caption("Similarity: the mean cosine of each answer's sentence embedding (all-MiniLM-L6-v2) with the "
                       "parent's greedy answer to the same prompt (who_what_benchmark's method); 1 = the same answers.")
        else:
            st.caption("Word perplexity: exp(negative log-likelihood of the texts per word); lower is better, the "
                       "Pareto front runs along the lowest.")
    st.caption("Speed: openvino.genai greedy generation at the point above, warm-up excluded; the median of every run "
               "stored at that point (each run the mean of its repeats), lowest–highest run beside it.")
    frame = compare.table_frame(shown) if shown else None
    if frame is not None:
        table(frame, titles=TITLES, column_order=[c for c in FIRST if c in frame.columns]
              + [c for c in frame.columns if c not in FIRST])
        left, right, _ = st.columns([1, 1, 4])
        left.download_button("Download CSV", lambda: compare.table_csv(shown), "compare-llm.csv", "text/csv",
                             on_click="ignore")
        right.download_button("Download JSON", lambda: compare.table_json(shown), "compare-llm.json",
                              "application/json", on_click="ignore")
    _sweep_grid(shown)
    _worst_answers(shown)


def _sweep_grid(rows: list[dict[str, Any]]) -> None:
    values = [v for v in ("similarity", "word_perplexity", "tokens_per_s") if any(r.get(v) is not None for r in rows)]
    grids = {v: generation.recipe_grid(rows, v) for v in values}
    grids = {v: g for v, g in grids.items() if g}
    if grids:
        st.subheader("Compression recipes: ratio × group size")
        value = st.radio("Cell value", list(grids), horizontal=True,
                         format_func=lambda v: metric_title(v) if v in LLM_METRICS else generation.SPEED[v])
        title = metric_title(value) if value in LLM_METRICS else generation.SPEED[value]
        grid = grids[value]
        st.plotly_chart(heatmap(grid["x"], grid["y"], grid["z"], x_title=f"group size ({grid['mode']})",
                                y_title="ratio (share of layers in 4 bit)", value_title=title), key="llm-grid")


def _worst_answers(rows: list[dict[str, Any]]) -> None:
    worst = {r["model_id"]: generation.worst_answers(r["model_id"]) for r in rows if r.get("similarity") is not None}
    names = {r["model_id"]: r["model"] for r in rows if worst.get(r["model_id"])}
    if not names:
        return
    st.subheader("Worst answers")
    model_id = st.selectbox("Model", list(names), index=len(names) - 1, format_func=lambda i: f"#{i} {names[i]}",
                            key="worst-model")
    st.caption("The prompts whose answers differ most from the reference's (lowest similarity first).")
    table(worst[model_id], titles={"similarity": ("similarity", "%.3f")})
