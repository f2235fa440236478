"""Optimize: pick a model, data and an NNCF algorithm (or a sweep of its options), and run it."""

import streamlit as st

from core import lab
from core.errors import AppError
from core.intake import sources
from core.measure.accuracy_tables import is_percent, metric_text
from core.optimize.recipes import ALGORITHM_OPTIONS, SweepOptions
from core.tasks.metrics import METRICS
from core.options import JobKind, MeasureOptions
from db import repository as repo
from pages import route_through_app
from pages.demo import register_requested_demo
from pages.forms import form_state, invalid, options_form, sweep_form
from pages.targets import target_picker
from pages.widgets import JOB_LABELS, current_job_panel, kept, plain, press_key

route_through_app()

LABELS = {kind: JOB_LABELS[kind] for kind in ALGORITHM_OPTIONS}

register_requested_demo()
st.title("Optimize")
models, datasets = repo.list_models(), repo.list_datasets()
if not models or not datasets:
    st.info("You need a model and some data first: add them on the Models and Data pages, or press "
            "**Try the demo** on the Overview page.")
    st.stop()


def pick(label, items, state_key, fmt, optional=False, avoid=None):
    ids = ([None] if optional else []) + [i.id for i in items]
    by_id = {i.id: i for i in items}
    # Default to the first real choice (not `avoid`); "none" only when the user picks it (and then kept).
    fallback = next((i for i in ids if i is not None and i != avoid), ids[0])
    current = st.session_state.get(state_key, fallback)
    default = ids.index(current if current in ids else fallback)
    chosen = st.selectbox(label, ids, index=default,
                          format_func=lambda i: "none" if i is None else fmt(by_id[i]))
    st.session_state[state_key] = chosen
    return chosen


model_id = pick("Model", models, "model_id", lambda m: f"#{m.id} {m.name}")
language = lab.is_language_model(repo.get_model(model_id))
texts = [d for d in datasets if lab.is_text(d)]
if language and lab.is_text_encoder(repo.get_model(model_id)):
    calibration_id = prompts_id = None
    validation_id = pick("Texts (cosine of the embeddings with the parent's)", texts, "texts_id",
                         lambda d: f"#{d.id} {d.name} ({d.samples})", optional=True)
    choices, skip = [JobKind.COMPRESS_WEIGHTS, JobKind.FP16], ("use_data",)
    st.caption("A text encoder is timed like benchmark_app at batch 1 × 128 tokens and judged by the cosine of its "
               "mean-pooled embeddings of the texts with its parent's; it shows on the tensor view of Compare.")
elif language:  # judged by generation speed, perplexity on texts and the similarity of answers to prompts
    left, middle, right = st.columns(3)
    with left:
        validation_id = pick("Texts (word perplexity)", texts, "texts_id", lambda d: f"#{d.id} {d.name} ({d.samples})",
                             optional=True)
    with middle:
        prompts_id = pick("Prompts (answer similarity with the parent)", texts, "prompts_id",
                          lambda d: f"#{d.id} {d.name} ({d.samples})", optional=True, avoid=validation_id)
    with right:  # by default not the texts perplexity is measured on
        calibration_id = pick("Calibration texts (data-aware compression)", texts, "calibration_texts_id",
                              lambda d: f"#{d.id} {d.name} ({d.samples})", optional=True, avoid=validation_id)
    choices, skip = [JobKind.COMPRESS_WEIGHTS, JobKind.FP16], ()
    st.caption("A language model is measured by openvino.genai (32 prompt × 64 new tokens, greedy), by word perplexity "
               "on the texts and, for the child, by the similarity of its answers to the prompts with the parent's.")
else:
    prompts_id = None
    tensors = [d for d in datasets if not lab.is_text(d)]
    calibration_id = pick("Calibration data", tensors, "calibration_id", lambda d: f"#{d.id} {d.name} ({d.samples})",
                          optional=True)
    validation_id = pick("Validation data (accuracy)", [d for d in tensors if d.has_labels], "validation_id",
                         lambda d: f"#{d.id} {d.name} ({d.samples})", optional=True, avoid=calibration_id)
    choices, skip = list(LABELS), ("validation_dataset_id",)
if language and calibration_id is not None and calibration_id == validation_id:
    st.warning("Calibration and perplexity texts are the same: data-aware compression would be judged on the texts "
               "it calibrated on. Pick other calibration texts, or leave 'use data' off.")
elif calibration_id is not None and calibration_id == validation_id and not sources.dataset_split(
        repo.get_dataset(calibration_id)):
    st.warning("Calibration and validation are the same samples: the accuracy will be measured on the data NNCF "
               "calibrated on. Split the dataset on the Data page (then each job reads its own part), or pick "
               "other validation data.")
kind = JobKind(kept(st.radio, "Algorithm", key="algorithm", default=choices[0], options=choices,
                    format_func=LABELS.get, horizontal=True))
if kind == JobKind.QAT and "recovering" in st.session_state:
    st.info(plain(st.session_state.recovering) + " Run it as proposed, or change the options first.",
            icon=":material/healing:")
if kind in (JobKind.QAT, JobKind.PRUNE):
    st.caption("Trains the model's PyTorch form (.pt2) in the job: the calibration data is the training data (class "
               "labels: cross-entropy; none: distillation from the parent), the validation data scores each epoch "
               "on the live training curve; a cancelled or interrupted job resumes from its last epoch when run again.")
sweep = kept(st.toggle, "Sweep: several values per option, one job per combination", key="sweep", default=False)
seconds = 3.0 if language else st.number_input("Seconds per benchmark run", 1.0, 120.0, 3.0)
remeasure = st.checkbox("Measure the parent again", help="by default its stored quiet runs of the same settings "
                        "(and its accuracy on the validation data) are reused")
with st.expander("Options", expanded=sweep or kind != JobKind.QUANTIZE):
    operations = {} if language else st.cache_data(lab.model_operations)(model_id)
    graph_choices = {"ignored_types": list(operations), "ignored_names": sum(operations.values(), [])}
    base, grid = sweep_form(ALGORITHM_OPTIONS[kind], skip=skip) if sweep else (
        options_form(ALGORITHM_OPTIONS[kind], skip=skip, choices=graph_choices), {})
if kind == JobKind.QUANTIZE_WITH_ACCURACY_CONTROL:
    base["validation_dataset_id"] = validation_id

target = target_picker("optimize_target")
try:
    plan = SweepOptions(algorithm=kind, base=base, grid=grid) if sweep and not invalid(base, grid) else None
    label = f"Run sweep ({len(plan.points())} points)" if plan else f"Run {LABELS[kind]}"
    if st.button(label, type="primary", disabled=invalid(base, grid),
                 help="fix the option marked in red first" if invalid(base, grid) else None):
        measure = MeasureOptions(dataset_id=validation_id, seconds=seconds, remeasure_parent=remeasure,
                                 prompts_id=prompts_id)
        key = press_key("optimize", "current_job", [kind, model_id, calibration_id, validation_id, prompts_id,
                                                    seconds, remeasure, base, grid, target])
        with lab.routed_to(target):
            job = (lab.submit_sweep(sweep=plan, model_id=model_id, dataset_id=calibration_id, measure=measure,
                                    idempotency_key=key) if plan else
                   lab.submit_optimization(kind=kind, model_id=model_id, dataset_id=calibration_id,
                                           options=ALGORITHM_OPTIONS[kind].from_dict(base), measure=measure,
                                           idempotency_key=key))
        st.session_state.current_job = job.id
        st.session_state.pop("recovering", None)
except AppError as error:
    st.error(plain(error))

current_job_panel("current_job")


def _propose(found) -> None:
    """Fills the form with the QAT that may win back what a PTQ job lost (before the next run draws it)."""
    st.session_state.update({"model_id": found.model_id, "calibration_id": found.dataset_id, "sweep": False,
                             "validation_id": found.validation_id, "algorithm": JobKind.QAT, "_kept_sweep": False,
                             "_kept_algorithm": JobKind.QAT, **form_state(found.options),
                             "recovering": f"QAT proposed to recover the accuracy job #{found.job_id} lost: "
                                           f"{found.sizing}."})
    st.session_state.pop("current_job", None)


found = lab.recovery_for(st.session_state.current_job) if "current_job" in st.session_state else None
if found:  # an INT8 result that lost more than its max drop
    points = " points" if is_percent(found.metric) else ""
    st.warning(f"Job #{found.job_id}'s INT8 model lost {metric_text(found.metric, found.drop)}{points} of "
               f"{METRICS[found.metric].title}, more than the {metric_text(found.metric, found.max_drop)}{points} "
               "accepted.", icon=":material/trending_down:")
    if found.blocker:
        st.info(plain(found.blocker))
    else:
        st.button("Recover accuracy", icon=":material/healing:", on_click=_propose, args=(found,),
                  help=f"Fills this form with a QAT of the FP32 parent: {found.sizing}.")
