"""Data: upload a zip of images (one subfolder per class = labels)."""

import pandas as pd
import streamlit as st

from core import lab
from core.errors import AppError
from db import repository as repo
from pages import route_through_app

route_through_app()

st.title("Data")
with st.form("add-data", clear_on_submit=True):
    upload = st.file_uploader("Zip of images: one subfolder per class (labelled) or a flat folder",
                              type=["zip"])
    name = st.text_input("Name (optional)")
    if st.form_submit_button("Add data", type="primary"):
        try:
            if upload is None:
                raise AppError("Choose a zip file first.")
            dataset = lab.add_image_dataset((upload.name, upload), name=name.strip() or None)
            st.success(f"Added dataset #{dataset.id} '{dataset.name}': {dataset.samples} images, "
                       f"{len(dataset.classes)} classes.")
            if dataset.skipped:
                st.warning(f"{dataset.skipped} file(s) could not be decoded as images and were skipped.")
        except AppError as error:
            st.error(str(error))

datasets = repo.list_datasets()
if not datasets:
    st.info("No data yet. Upload a zip above, or press **Try the demo** on the Overview page.")
    st.stop()
st.dataframe(pd.DataFrame([{
    "id": d.id, "name": d.name, "format": d.format, "images": d.samples, "labelled": d.has_labels,
    "classes": ", ".join(d.classes[:10]) + (" …" if len(d.classes) > 10 else ""),
    "skipped": d.skipped, "created": d.created_at} for d in datasets]), hide_index=True)
