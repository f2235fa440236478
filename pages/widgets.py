"""Small widgets shared by pages (kept here so pages stay thin)."""

import hashlib
import json
import re
import uuid

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.errors import AppError
from core.jobs import runner as jobs
from core.options import JobKind, JobStatus
from db import repository as repo
from pages.training_curve import training_curve

# What Streamlit's Markdown acts on anywhere in a line: emphasis, links / images, HTML, code,
# tables, strikethrough, LaTeX ($), emoji / colour / icon directives (:...:), entities and escapes;
# and at the start of a line: headings, lists, quotes, rules.
_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()<>|~$:&"})
_LINE_START = re.compile(r"^(\s*\d*)([-+#=>]|(?<=\d)[.)])", re.MULTILINE)


# What each job kind is called where the user sees it (the Optimize page's algorithm names).
JOB_LABELS = {JobKind.QUANTIZE: "INT8 quantization", JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: "INT8 with accuracy control",
              JobKind.COMPRESS_WEIGHTS: "weight compression", JobKind.FP16: "FP16 compression", JobKind.SWEEP: "sweep",
              JobKind.BATCH_SWEEP: "batch sweep", JobKind.PROFILE: "per-layer profile",
              JobKind.INTERLEAVED: "interleaved A/B", JobKind.BENCHMARK: "benchmark", JobKind.EVALUATE: "evaluation",
              JobKind.IMPORT_DATA: "data import", JobKind.SENSITIVITY: "layer sensitivity",
              JobKind.GENERATE_BENCH: "generation benchmark", JobKind.IMPORT_MODEL: "model import",
              JobKind.QAT: "quantization-aware training (QAT)", JobKind.PRUNE: "pruning + fine-tuning"}


def kept(widget, label: str, *, key: str, default, **kwargs):
    """widget(label, key=key, **kwargs) whose value survives leaving the page and coming back.

    Streamlit drops a widget's state when a run of another page does not draw it; the value is
    kept under a second key and given back to the widget when it is drawn again, unless the
    widget's options no longer include it.
    """
    copy = f"_kept_{key}"
    options = kwargs.get("options")
    if key not in st.session_state or (options is not None and st.session_state[key] not in options):
        value = st.session_state.get(copy, default)
        # A kept choice the widget no longer offers (another model's algorithms): the default.
        st.session_state[key] = default if options is not None and value not in options else value
    value = widget(label, key=key, **kwargs)
    st.session_state[copy] = value
    return value


def plain(text: object) -> str:
    """text with every Markdown-active sign backslash-escaped, so that Markdown shows it as typed.

    Streamlit renders alerts, toasts, captions and progress text as Markdown: a model named
    '**x** ![](http://host/pixel)' would otherwise come out bold and fetch a remote image. Every
    user-supplied value (names, job messages, error messages quoting them) goes through this.
    """
    return _LINE_START.sub(r"\1\\\2", str(text).translate(_MARKUP))


def job_panel(job_id: int, outcome=None) -> None:
    """Live progress of one job with a cancel button; refreshes itself every second.

    outcome(job) draws what a succeeded job made (default: a pointer to the Compare page).
    """

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
        text = f"Job #{job.id} {JOB_LABELS.get(job.kind, job.kind)} — {job.status}: {plain(job.stage)}"
        st.progress(job.progress, text=text)
        if job.kind in (JobKind.QAT, JobKind.PRUNE):
            training_curve(job)
        if status == JobStatus.SUCCEEDED and job.message:  # obtained != asked (core.optimize.obtained)
            st.warning(f"Job #{job.id} succeeded with a warning: {plain(job.message)}")
        if status == JobStatus.SUCCEEDED:
            (outcome or _optimization_outcome)(job)
        elif status == JobStatus.CANCELLED:  # asked for: not an error
            st.info(f"Job #{job.id} was cancelled. {plain(job.message)}")
        elif status in (JobStatus.FAILED, JobStatus.INTERRUPTED):
            st.error(f"Job #{job.id} {job.status}. {plain(job.message)}")
        elif st.button("Cancel", key=f"cancel-{job.id}"):
            try:
                jobs.cancel(job.id)
            except AppError as error:
                st.error(plain(error))

    panel()


def _optimization_outcome(job) -> None:
    """A finished job's result where the user is: speed-up with its interval, accuracy change and
    size against the parent, what it obtained, and the way on to Compare and Export."""
    from core.compare.overview import job_outcome

    found = job_outcome(job)
    if found is None and _language_outcome(job):
        return
    st.success(f"Job #{job.id} finished" + (f": {plain(found['model'])} @ {found['precision']} against its parent "
                                            f"@ {found['parent_precision']}." if found else "."))
    if found:
        speed, accuracy, size = st.columns(3)
        speed.metric("Speed-up (median latency)", f"{found['speedup']:.2f}×",
                     help="interval from both models' lowest and highest runs")
        speed.caption(f"{found['speedup_low']:.2f}–{found['speedup_high']:.2f}×"
                      + (" · noisy: re-measure interleaved on Compare" if found["noisy"] else ""))
        accuracy.metric("Top-1 change", "—" if found["top1_delta_points"] is None
                        else f"{found['top1_delta_points']:+.2f} points")
        size.metric("Size", "—" if found["size_ratio"] is None else f"{found['size_ratio']:.2f}× the parent")
        _obtained(job)
    _links()


def _obtained(job) -> None:
    """What the optimization obtained, layer by layer (core.optimize.obtained), under its outcome."""
    from core.optimize.obtained import layers_text

    recipe = repo.get_model(job.result_model_id).recipe
    if "weight_layers" in recipe:
        st.caption(f"Obtained: {plain(layers_text(recipe['weight_layers']))}; FakeQuantize "
                   f"{recipe.get('obtained', {}).get('fake_quantize', 0)}")


def _links() -> None:
    """Links on to the Compare and Export pages."""
    for column, (page, label, icon) in zip(st.columns([1, 1, 4]), (
            ("pages/compare.py", "Compare", ":material/monitoring:"), ("pages/export.py", "Export", ":material/download:"))):
        try:
            column.page_link(page, label=label, icon=icon)
        except StreamlitAPIException:  # a page run outside app.py's navigation (AppTest) has no pages to link
            column.caption(f"{label} page")


def _language_outcome(job) -> bool:
    """The outcome of a language model's compression (tokens/s, perplexity, similarity, size); False
    when the job made none."""
    from core.compare.generation import llm_outcome

    found = llm_outcome(job)
    if found is None:
        return False
    st.success(f"Job #{job.id} finished: {plain(found['model'])} against its parent at {found['point']} tokens.")
    speed, perplexity, similar, size = st.columns(4)
    speed.metric("Tokens/s", f"{found['speedup']:.2f}× the parent", help="medians of the stored runs")
    speed.caption(f"{found['speedup_low']:.2f}–{found['speedup_high']:.2f}× (lowest–highest runs)")
    perplexity.metric("Word perplexity", "—" if found["perplexity_change"] is None
                      else f"{found['perplexity_change']:+.2%}")
    similar.metric("Answer similarity", "—" if found["similarity"] is None else f"{found['similarity']:.3f}",
                   help="1 = the parent's answers")
    size.metric("Size", "—" if found["size_ratio"] is None else f"{found['size_ratio']:.2f}× the parent")
    _obtained(job)
    _links()
    return True


def job_toasts() -> None:
    """Shows a toast on whichever page is open when a job ends; checks every 2 seconds."""
    from core.compare.overview import ended_jobs

    @st.fragment(run_every=2.0)
    def watch() -> None:
        statuses, ended = ended_jobs(st.session_state.get("job_statuses"), repo.list_jobs(50))
        st.session_state.job_statuses = statuses
        for job in ended:
            ok = job.status == JobStatus.SUCCEEDED and not job.message
            compare = "" if job.kind in (JobKind.IMPORT_DATA, JobKind.IMPORT_MODEL) else " See the Compare page."
            st.toast(f"Job #{job.id} {JOB_LABELS.get(job.kind, job.kind)} {job.status}." + (compare if ok else
                     f" {plain(job.message[:120])}"), icon=":material/check_circle:" if ok else ":material/error:")

    watch()


def press_key(scope: str, job_key: str, payload: object) -> str:
    """The idempotency key of one press of a page's Run button (its job id is kept in job_key).

    A double click — the same options while the job of the last press is still queued or running —
    returns the job already submitted. A press after that job ended, or with other options, is a
    new job.
    """
    nonce = st.session_state.setdefault(f"{scope}-nonce", uuid.uuid4().hex)
    presses = f"{scope}-presses"
    st.session_state.setdefault(presses, 0)
    last = st.session_state.get(job_key)
    if last is None or repo.get_job(last).status not in (JobStatus.PENDING, JobStatus.RUNNING):
        st.session_state[presses] += 1
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{scope}-{nonce}-{st.session_state[presses]}-{digest}"


def current_job_panel(job_key: str) -> None:
    """The live panel of the job a page submitted, and a button that clears it for the next run."""
    if job_key in st.session_state:
        job_panel(st.session_state[job_key])
        if st.button("Set up another run"):
            del st.session_state[job_key]
            st.rerun()
