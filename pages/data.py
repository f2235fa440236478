"""Data: upload an image zip, NumPy arrays or a table (imported by a job), then check a dataset against a model."""

import pandas as pd
import streamlit as st

from core import lab
from core.errors import AppError
from core.intake import sources
from core.intake.data_tables import parse_columns
from core.options import TensorType
from core.tasks.registry import TASKS
from db import repository as repo
from pages import route_through_app
from pages.tables import table
from pages.widgets import job_panel, plain

route_through_app()

st.title("Data")
with st.form("add-data", clear_on_submit=True):
    upload = st.file_uploader(
        "A zip of images (one subfolder per class = labelled; boxes as COCO JSON, YOLO labels/ or VOC "
        "Annotations/; masks/ PNGs for segmentation; a flat folder = unlabelled), or NumPy "
        "arrays: a .npy for one input, a .npz with one array per model input (named after it) and an "
        "optional 'labels' array; or a table: .csv, .parquet, .jsonl, a zipped save_to_disk folder; or "
        "texts / prompts: a .txt, one per line",
        type=["zip", "npy", "npz", "csv", "parquet", "jsonl", "txt"])
    left, right = st.columns(2)
    annotations = left.file_uploader("Images: an annotation file beside the zip (optional, e.g. COCO "
                                     "instances.json)", type=["json"])
    task = right.selectbox("Refuse it unless its labels fit this task (optional)", ["", *TASKS],
                           format_func=lambda n: TASKS[n].title if n else "any data")
    name = st.text_input("Name (optional)")
    left, middle, right = st.columns(3)
    label_column = left.text_input("Tables: label column (optional)")
    mapping = middle.text_input("Tables: columns per model input (optional)",
                                placeholder="image=pixels; features=a,b,c")
    text_column = right.text_input("Texts for language models: the text column (optional)",
                                   help="one text or prompt per row; a .txt (one per line) or a table whose columns "
                                        "are all text is taken as texts without it")
    with st.expander("Images: preprocessing (empty = taken from the model's input)"):
        a, b, c, d, e, f, g = st.columns(7)
        spec = dict(width=a.number_input("Width", 0, 8192, 0), height=b.number_input("Height", 0, 8192, 0),
                    layout=c.selectbox("Layout", ["", "NCHW", "NHWC"]),
                    color=d.selectbox("Colour", ["", "RGB", "BGR", "GRAY"]),
                    mean=e.text_input("Mean", "0"), scale=f.text_input("Scale", "1"),
                    dtype=g.selectbox("Tensor type", list(TensorType), help="must match the model input's type"))
    if st.form_submit_button("Add data", type="primary"):
        try:
            if upload is None:
                raise AppError("Choose a zip, .npy, .npz or table file first.")
            job = lab.submit_import((upload.name, upload), name=name.strip() or None,
                                    label_column=label_column.strip() or None,
                                    columns=parse_columns(mapping), preprocessing=sources.image_spec(**spec),
                                    annotations=(annotations.name, annotations) if annotations else None,
                                    task=task or None, text_column=text_column.strip() or None)
            st.session_state["data-import-job"] = job.id
        except AppError as error:
            st.error(plain(error))


def _imported(job) -> None:
    if job.dataset_id is None:  # set to NULL when the dataset is deleted
        st.info(f"Job #{job.id} imported a dataset that has since been deleted.")
        return
    dataset = repo.get_dataset(job.dataset_id)
    st.success(f"Added dataset #{dataset.id} '{plain(dataset.name)}': {dataset.samples} samples, "
               f"{sources.labels_summary(dataset)}.")
    if dataset.skipped:
        st.warning(f"{dataset.skipped} file(s) could not be decoded as images and were skipped.")


if "data-import-job" in st.session_state:  # read in a job process: a big table never stalls this page
    job_panel(st.session_state["data-import-job"], outcome=_imported)


def text_preview(dataset, model) -> None:
    """The first texts of a text dataset, and whether it can feed the model (texts feed language models)."""
    try:
        texts = sources.texts(dataset)
        table([{"text": t} for t in texts[:10]])
        if not lab.is_language_model(model):
            st.error(f"'{plain(dataset.name)}' holds texts: they score and prompt language models, not "
                     f"'{plain(model.name)}', whose inputs are tensors.")
        else:
            st.success(f"'{plain(dataset.name)}' ({len(texts)} texts) can score '{plain(model.name)}' (word perplexity) "
                       "or prompt it (answer similarity, generation).")
    except AppError as error:
        st.error(plain(error))


def _split_text(dataset) -> str:
    split = sources.dataset_split(dataset)
    return f"{len(split.calibration)} / {len(split.validation)}" if split else ""


datasets = repo.list_datasets()
if not datasets:
    st.info("No data yet. Upload a file above, or press **Try the demo** on the Overview page.")
    st.stop()
with st.form("split-data"):
    st.write("Split one dataset into calibration and validation parts (seeded, no overlap); a job given "
             "the same dataset for both then calibrates on one part and measures on the other.")
    left, middle, right = st.columns(3)
    to_split = left.selectbox("Dataset to split", [d.id for d in datasets],
                              format_func=lambda i: f"#{i} {repo.get_dataset(i).name}")
    fraction = middle.number_input("Validation share", 0.05, 0.95, 0.3, 0.05)
    seed = right.number_input("Seed", 0, 2**31 - 1, 0)
    if st.form_submit_button("Split"):
        try:
            split = sources.split_dataset(to_split, validation_fraction=fraction, seed=int(seed))
            st.success(f"Split: {len(split.calibration)} calibration and {len(split.validation)} "
                       "validation samples.")
        except AppError as error:
            st.error(plain(error))

st.dataframe(pd.DataFrame([{
    "id": d.id, "name": d.name, "format": d.format, "samples": d.samples, "labels": sources.labels_summary(d),
    "classes": ", ".join(d.classes[:10]) + (" …" if len(d.classes) > 10 else ""),
    "skipped": d.skipped, "split (calibration / validation)": _split_text(d),
    "created": d.created_at} for d in datasets]), hide_index=True)

st.subheader("Check data against a model")
models = repo.list_models()
if models:
    left, right = st.columns(2)
    # The newest of each by default: what the user just brought.
    dataset = {d.id: d for d in datasets}[left.selectbox(
        "Dataset", [d.id for d in datasets], index=len(datasets) - 1,
        format_func=lambda i: f"#{i} {repo.get_dataset(i).name}")]
    model = {m.id: m for m in models}[right.selectbox(
        "Model", [m.id for m in models], index=len(models) - 1,
        format_func=lambda i: f"#{i} {repo.get_model(i).name}")]
    if not lab.is_language_model(model) and right.button("Make synthetic data for this model (benchmark only)"):
        try:
            made = sources.add_synthetic_dataset(model.id)
            st.success(f"Added dataset #{made.id} '{plain(made.name)}'. It is random numbers: use it for "
                       "benchmarks only; accuracy and calibration on it are refused.")
        except AppError as error:
            st.error(plain(error))
    if lab.is_text(dataset) or lab.is_language_model(model):
        text_preview(dataset, model)
    else:
        try:
            images = sources.preview_images(dataset, model)
            for column, (image, caption) in zip(st.columns(len(images)) if images else [], images):
                column.image(image, caption=caption, width="stretch")
            rows = sources.preview(dataset, model)
            st.dataframe(pd.DataFrame(rows), hide_index=True)
            st.success(f"'{plain(dataset.name)}' fits every input of '{plain(model.name)}'.")
            for warning in sources.fit_warnings(dataset, model, rows):
                st.warning(plain(warning))
        except AppError as error:
            st.error(plain(error))
