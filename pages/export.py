"""Export: download a model's OpenVINO IR as a zip."""

import streamlit as st

from core.errors import AppError
from core.export import ir_zip, ir_zip_name
from db import repository as repo

st.title("Export")
models = repo.list_models()
if not models:
    st.info("No models yet. Add one on the Models page or run the demo from the Overview page.")
    st.stop()
default = next((i for i, m in reversed(list(enumerate(models))) if m.parent_id), len(models) - 1)
model = st.selectbox("Model", models, index=default, format_func=lambda m: f"#{m.id} {m.name}")
try:
    st.download_button("Download IR (.zip)", data=ir_zip(model), file_name=ir_zip_name(model),
                       mime="application/zip", type="primary")
except (AppError, OSError) as error:
    st.error(f"The IR of this model cannot be read: {error}")
st.caption("The zip holds model.xml and model.bin (load with `openvino.Core().read_model('model.xml')`) "
           "and a README with the recipe that made the model.")
