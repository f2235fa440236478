"""The Measure page of a language model: the generation benchmark (prompt × new-token grid through
openvino.genai, like llm_bench) and quality (word perplexity on texts, answer similarity with a
reference model on prompts), each run as a job, with their stored results."""

import streamlit as st

from core import lab
from core.compare.figures import generation_figure
from core.errors import AppError
from core.measure import charts
from core.measure.accuracy_tables import metric_title, model_accuracy
from core.measure.options import GenerationBenchOptions
from core.options import LLM_METRICS, EvaluateOptions
from db import repository as repo
from pages.tables import table
from pages.widgets import current_job_panel, plain, press_key


def llm_measure(model_id: int, language_models: dict[int, str]) -> None:
    """Draws the forms and results for language model model_id (language_models: id -> label of all)."""
    bench_tab, quality_tab = st.tabs(["Generation benchmark", "Quality"])
    with bench_tab:
        left, right = st.columns(2)
        prompts = left.text_input("Prompt tokens (one point each)", "32,256",
                                  help="prompt lengths in tokens; each is a point of the grid")
        new = right.text_input("New tokens (one point each)", "64", help="tokens generated per run, greedy, EOS ignored")
        repeats = left.number_input("Repeats per point", 1, 50, 3, help="timed generations; mean, std and p90 are kept")
        warmup = right.number_input("Warm-up generations per point (not kept)", 0, 10, 1)
        others = [i for i in language_models if i != model_id]
        versus = left.selectbox("Interleaved A/B with (B)", [None, *others], format_func=lambda i: "no A/B" if i is None
                                else language_models[i], help="both models measured at every point in turn, the "
                                "order flipped each round, so a busy machine slows both alike")
        rounds = right.number_input("A/B rounds", 1, 20, 3 if versus else 1, disabled=versus is None)
        prompt_sets = {d.id: f"#{d.id} {d.name}" for d in repo.list_datasets() if lab.is_text(d)}
        prompts_id = left.selectbox("Prompt text", [None, *prompt_sets], format_func=lambda i: "the lab's filler text"
                                    if i is None else f"cut from {prompt_sets[i]}",
                                    help="each prompt is this text (its rows joined) cut at the prompt length")
        try:
            options = GenerationBenchOptions(prompt_tokens=[p for p in prompts.split(",") if p.strip()],
                                             new_tokens=[n for n in new.split(",") if n.strip()], repeats=repeats,
                                             warmup=warmup, versus_model_id=versus, rounds=rounds if versus else 1,
                                             prompts_id=prompts_id)
            st.caption(f"{len(options.prompt_tokens) * len(options.new_tokens)} points × {repeats} repeats")
            if st.button("Run generation benchmark", type="primary"):
                st.session_state.measure_job = lab.submit_generate_bench(
                    model_id=model_id, options=options,
                    idempotency_key=press_key("generate", "measure_job", [model_id, options.to_dict()])).id
        except AppError as error:
            st.error(plain(error))
    with quality_tab:
        texts = {d.id: f"#{d.id} {d.name} ({d.samples})" for d in repo.list_datasets() if lab.is_text(d)}
        if not texts:
            st.info("No texts yet: add a .txt, a text column of a table, or press **Try the LLM demo** on the "
                    "Overview page.")
        else:
            left, right = st.columns(2)
            metric = left.selectbox("Metric", LLM_METRICS, format_func=metric_title)
            dataset_id = right.selectbox("Texts" if metric == "word_perplexity" else "Prompts", list(texts),
                                         format_func=texts.get)
            model = repo.get_model(model_id)
            others = [i for i in language_models if i != model_id]
            reference = left.selectbox("Reference model (its answers are the expected ones)", [None, *others],
                                       index=others.index(model.parent_id) + 1 if model.parent_id in others else 0,
                                       format_func=lambda i: "the parent" if i is None else language_models[i],
                                       disabled=metric != "similarity")
            samples = right.number_input("Samples (0 = all)", 0, 100000, 0)
            if st.button("Run evaluation", type="primary"):
                try:
                    options = EvaluateOptions(dataset_id=dataset_id, metric=metric, max_samples=samples or None,
                                              reference_model_id=reference if metric == "similarity" else None)
                    st.session_state.measure_job = lab.submit_evaluate(
                        model_id=model_id, options=options,
                        idempotency_key=press_key("llm-quality", "measure_job", [model_id, options.to_dict()])).id
                except AppError as error:
                    st.error(plain(error))
    current_job_panel("measure_job")

    st.header("Results")
    compared = st.multiselect("Models", list(language_models), default=[model_id], format_func=language_models.get)
    points = charts.generation_points(compared)
    if points:
        st.plotly_chart(generation_figure(charts.generation_curves(points)), key="generation-figure")
        table(points)
    else:
        st.info("No generation benchmark stored for these models yet; run one above.")
    ratios = charts.latest_interleaved(model_id)
    if ratios:
        st.write("Newest interleaved A/B: B / A per round (median, lowest and highest round)")
        table(ratios, titles={"median": ("B / A median", "%.3f"), "min": ("lowest round", "%.3f"),
                              "max": ("highest round", "%.3f")})
    quality = model_accuracy(model_id)
    if quality:
        st.write("Quality (newest per dataset and metric)")
        table(quality, titles={"value": ("value", "%.4g")})
