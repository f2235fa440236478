"""Models: upload one, see what is stored and its inputs / outputs."""

import pandas as pd
import streamlit as st

from core import lab
from core.errors import AppError
from core.intake import model_intake, preprocess_bake
from core.measure.accuracy_tables import model_accuracy
from core.optimize.obtained import layers_text
from db import repository as repo
from pages import route_through_app
from pages.sensitivity_view import sensitivity_view
from pages.task_form import task_form
from pages.tables import table
from pages.widgets import job_panel, plain

route_through_app()

st.title("Models")
with st.form("add-model", clear_on_submit=True):
    files = st.file_uploader("Model file(s): .onnx, .tflite, an IR .xml with its .bin, a .pdmodel with its "
                             ".pdiparams, a .pt2, or a .zip (also of a TensorFlow SavedModel folder, of a Hugging "
                             "Face checkpoint folder — converted for openvino.genai — or of an exported "
                             "openvino_model.xml folder with its tokenizer IRs)",
                             type=["onnx", "xml", "bin", "tflite", "zip", "pdmodel", "pdiparams", "pt2", "pb"],
                             accept_multiple_files=True)
    name = st.text_input("Name (optional)")
    if st.form_submit_button("Add model", type="primary"):
        try:
            uploads = [(f.name, f) for f in files or []]
            if any(f.name.lower().endswith(".zip") for f in files or []):  # may be a checkpoint: minutes, in a job
                st.session_state["model-import-job"] = lab.submit_model_import(uploads, name=name.strip() or None).id
            else:
                model = lab.add_model(uploads, name=name.strip() or None)
                st.success(f"Added model #{model.id} '{plain(model.name)}'.")
        except AppError as error:
            st.error(plain(error))


def _imported(job) -> None:
    if job.result_model_id is None:  # set to NULL when the model is deleted
        st.info(f"Job #{job.id} imported a model that has since been deleted.")
        return
    model = repo.get_model(job.result_model_id)
    st.success(f"Added model #{model.id} '{plain(model.name)}' ({model.format}).")


if "model-import-job" in st.session_state:  # a zip is read (a checkpoint converted) in a job process
    job_panel(st.session_state["model-import-job"], outcome=_imported)

if model_intake.default_import_root():
    with st.form("import-model", clear_on_submit=True):
        relative = st.text_input(f"Or import from the server, below {model_intake.default_import_root()}",
                                 placeholder="llm/openvino_model.xml")
        if st.form_submit_button("Import"):
            try:
                model = model_intake.import_model_from_server(relative.strip())
                st.success(f"Imported model #{model.id} '{plain(model.name)}'.")
            except AppError as error:
                st.error(plain(error))

models = repo.list_models()
if not models:
    st.info("No models yet. Upload one above, or press **Try the demo** on the Overview page.")
    st.stop()
names = {m.id: m.name for m in models}
st.dataframe(pd.DataFrame([{
    "id": m.id, "name": m.name, "format": m.format, "size (MB)": round(m.size_bytes / 1e6, 3),
    "parent": names.get(m.parent_id, ""), "algorithm": m.recipe.get("algorithm", ""),
    "inputs": "; ".join(f"{p['name']} {p['shape']} {p['element_type']}" for p in m.inputs),
    "created": m.created_at} for m in models]), hide_index=True)

chosen = st.selectbox("Details of", models, index=len(models) - 1,  # the newest: the one just uploaded
                      format_func=lambda m: f"#{m.id} {m.name}")
left, right = st.columns(2)
left.write("Inputs")
with left:  # a layout the model does not state is the lab's guess, and says so
    table([{**{k: v for k, v in port.items() if k != "layout_guess"},
            "layout": port["layout"] or (f"{port['layout_guess']} (guessed)" if port.get("layout_guess") else "")}
           for port in chosen.inputs])
right.write("Outputs")
with right:
    table(chosen.outputs)
language = lab.is_language_model(chosen)
if language:
    found = chosen.recipe.get("llm", {})
    kind = ", ".join(found.get("architectures") or []) or found.get("model_type") or "an openvino.genai folder"
    if lab.is_text_encoder(chosen):
        st.info(f"Text encoder ({plain(kind)}): its optimization jobs time it at batch 1 × 128 tokens and judge the "
                "child by the cosine of its embeddings of the texts with its parent's.")
    else:
        st.info(f"Language model ({plain(kind)}): judged by openvino.genai generation (tokens/s, time to first "
                "token), word perplexity on texts and the similarity of its answers with its parent's — on the "
                "Measure page.")
else:
    task_form(chosen)
try:
    details = model_intake.describe_model(chosen.id)
    a, b, c = st.columns(3)
    a.metric("Parameters", f"{details.parameters:,}")
    b.metric("Size on disk", f"{details.size_bytes / 1e6:.3f} MB")
    c.metric("Operations", sum(details.op_counts.values()))
    left, right = st.columns(2)
    left.write("Operations by type")
    left.dataframe(pd.DataFrame(details.op_counts.items(), columns=["type", "count"]), hide_index=True)
    for warning in chosen.recipe.get("warnings", []):
        st.warning(plain(warning))
    if "weight_layers" in chosen.recipe:
        st.caption(f"Obtained: {plain(layers_text(chosen.recipe['weight_layers']))}; FakeQuantize "
                   f"{chosen.recipe.get('obtained', {}).get('fake_quantize', 0)}")
    right.write("Constants by element type (weights; i32 / i64 are shapes and indices)")
    total = sum(details.weight_bytes.values()) or 1
    with right:
        table([{"element_type": kind, "size (KB)": size / 1e3, "size_share": size / total}
               for kind, size in details.weight_bytes.items()], titles={"size (KB)": ("size (KB)", "%.1f")})
    st.write("Lineage (this model first, then its parents)")
    table(details.lineage)
except AppError as error:
    st.error(plain(error))
st.write("Accuracy (newest per dataset, metric and precision; agreement metrics compare with the reference model)")
accuracy = model_accuracy(chosen.id)
if accuracy:
    table(accuracy, titles={"value": ("value (% for accuracy and agreement)", "%.4g")})
else:
    st.caption("No accuracy stored yet: optimization jobs with validation data measure it.")
sensitivity_view(chosen)
if (not language or lab.is_text_encoder(chosen)) and any(d < 0 for p in chosen.inputs for d in p["shape"]):
    with st.form("reshape"):
        text = st.text_input("Dynamic dimensions (?): set the shape used for calibration and benchmarks "
                             "(stored as a child model)", placeholder="input=1,3,224,224")
        if st.form_submit_button("Set shape"):
            try:
                reshaped = model_intake.set_static_shapes(chosen.id, model_intake.parse_shapes(text))
                st.success(f"Added model #{reshaped.id} '{plain(reshaped.name)}'.")
            except AppError as error:
                st.error(plain(error))
images = [] if language else [d for d in repo.list_datasets() if d.format == "image-folder"]
if images:
    left, right = st.columns([3, 1])
    source = left.selectbox("Bake an image dataset's preprocessing into a copy of this model (raw uint8 "
                            "images in, resize / colour / mean-scale / layout in the graph)", [d.id for d in images],
                            format_func=lambda i: f"#{i} {repo.get_dataset(i).name}")
    if right.button("Bake preprocessing"):
        try:
            baked = preprocess_bake.bake_preprocessing(chosen.id, source)
            st.success(f"Added model #{baked.id} '{plain(baked.name)}'.")
        except AppError as error:
            st.error(plain(error))
st.write("Recipe")
st.json(chosen.recipe)
