"""Export: per model, one click each (IR zip, OVMS repository, DL Streamer, benchmark_app, NNCF
script); and the whole lab as a backup, with restore."""

import streamlit as st

from core import lab
from core.deploy import backup, export
from core.deploy import script as export_script
from core.errors import AppError
from db import repository as repo
from pages import route_through_app
from pages.llm_export import llm_export
from pages.widgets import plain

route_through_app()

ZIP = "application/zip"
st.title("Export")
models = repo.list_models()
if not models:
    st.info("No models yet. Add one on the Models page or run the demo from the Overview page.")
    st.stop()
default = next((i for i, m in reversed(list(enumerate(models))) if m.parent_id), len(models) - 1)
model = st.selectbox("Model", models, index=default, format_func=lambda m: f"#{m.id} {m.name}")
if lab.is_language_model(model):
    llm_export(model)
else:
    try:
        export.ir_files(model)
        ir, ovms, script = st.columns(3)
        ir.download_button("Download IR (.zip)", data=lambda: export.ir_zip(model),
                           file_name=export.ir_zip_name(model), mime=ZIP, type="primary", on_click="ignore",
                           help="model.xml + model.bin + README with the recipe and the measured numbers")
        ovms.download_button("Download OVMS repository (.zip)", data=lambda: export.ovms_zip(model),
                             file_name=export.ovms_zip_name(model), mime=ZIP, on_click="ignore",
                             help="<name>/1/model.xml|bin + config.json (batch size from the batch sweep)")
        if model.parent_id:
            script.download_button("Download NNCF script (.py)", data=export_script.nncf_script(model),
                                   file_name=export_script.script_name(model), mime="text/x-python",
                                   on_click="ignore", help="re-runs this optimization from the parent model")
        st.subheader("DL Streamer")
        st.caption(f"The commands below run in the folder where {export.ir_zip_name(model)} is unzipped "
                   "(they name its model.xml).")
        st.code(export.dlstreamer_snippet(model), language="bash")
        benchmarks = repo.list_benchmarks(model.id)
        if benchmarks:
            st.subheader("benchmark_app")
            chosen = st.selectbox("Measurement", benchmarks, index=len(benchmarks) - 1, format_func=lambda b: (
                f"#{b.id} {b.hint} hint, batch {b.batch}, {b.precision}: {b.latency_median_ms:.3f} ms, "
                f"{b.throughput_fps:.1f} FPS"))
            st.code(export.benchmark_app_command(chosen), language="bash", wrap_lines=True)
    except AppError as error:
        st.error(plain(error))

st.subheader("The whole lab")
st.download_button("Download backup (.zip)", data=backup.backup_bytes, file_name=backup.backup_name(),
                   mime=ZIP, on_click="ignore", help="the database and every model, dataset and job log")
with st.form("restore", clear_on_submit=True):
    upload = st.file_uploader("Restore from a backup zip (replaces everything; the current state is kept "
                              "under backups/ in the data dir)", type=["zip"])
    if st.form_submit_button("Restore"):
        try:
            if upload is None:
                raise AppError("Choose a backup zip first.")
            result = backup.restore((upload.name, upload))
            st.success(f"Restored {result.models} models, {result.datasets} datasets and {result.jobs} jobs. "
                       f"The previous state is in {result.previous_state}.")
        except AppError as error:
            st.error(plain(error))
