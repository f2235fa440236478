"""Models: upload one, see what is stored and its inputs / outputs."""

import pandas as pd
import streamlit as st

from core import lab
from core.errors import AppError
from db import repository as repo
from pages import route_through_app

route_through_app()

st.title("Models")
with st.form("add-model", clear_on_submit=True):
    files = st.file_uploader("Model file(s): .onnx, .tflite, an IR .xml together with its .bin, or a .zip",
                             type=["onnx", "xml", "bin", "tflite", "zip"], accept_multiple_files=True)
    name = st.text_input("Name (optional)")
    if st.form_submit_button("Add model", type="primary"):
        try:
            model = lab.add_model([(f.name, f) for f in files or []], name=name.strip() or None)
            st.success(f"Added model #{model.id} '{model.name}'.")
        except AppError as error:
            st.error(str(error))

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

chosen = st.selectbox("Details of", models, format_func=lambda m: f"#{m.id} {m.name}")
left, right = st.columns(2)
left.write("Inputs")
left.dataframe(pd.DataFrame(chosen.inputs), hide_index=True)
right.write("Outputs")
right.dataframe(pd.DataFrame(chosen.outputs), hide_index=True)
st.write("Recipe")
st.json(chosen.recipe)
