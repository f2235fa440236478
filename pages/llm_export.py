"""The Export page of a language model: the openvino.genai folder, the OVMS LLM deployment with its
continuous-batching settings, the NNCF script of its compression and the llm_bench command."""

import streamlit as st

from core.deploy import llm
from core.deploy import script as export_script
from core.errors import AppError
from db import generations
from pages.forms import invalid, options_form
from pages.widgets import plain

ZIP = "application/zip"


def llm_export(model) -> None:
    """Draws the downloads of language model `model`."""
    try:
        llm.model_folder(model)
        genai, script = st.columns(2)
        genai.download_button("Download openvino.genai folder (.zip)", data=lambda: llm.genai_zip(model),
                              file_name=llm.genai_zip_name(model), mime=ZIP, type="primary", on_click="ignore",
                              help="openvino_model.xml|bin, tokenizer IRs and configs: LLMPipeline opens the folder")
        if model.parent_id:
            script.download_button("Download NNCF script (.py)", data=export_script.nncf_script(model),
                                   file_name=export_script.script_name(model), mime="text/x-python",
                                   on_click="ignore", help="re-runs this compression from the parent model")
        st.subheader("OpenVINO Model Server")
        st.caption("An LLM servable: config.json, the MediaPipe graph.pbtxt with these continuous-batching settings "
                   "and the model folder; served on the OpenAI-compatible /v3/completions and /v3/chat/completions.")
        values = options_form(llm.OvmsLlmOptions, key="ovms-llm")
        if not invalid(values):
            options = llm.OvmsLlmOptions.from_dict(values)
            st.code(llm.graph_pbtxt(options), language="protobuf")
            st.download_button("Download OVMS LLM repository (.zip)", data=lambda: llm.ovms_llm_zip(model, options),
                               file_name=llm.ovms_llm_zip_name(model), mime=ZIP, on_click="ignore")
        points = generations.list_generations(model.id)
        if points:
            st.subheader("llm_bench")
            chosen = st.selectbox("Generation point", points, index=len(points) - 1, format_func=lambda g: (
                f"#{g.id}: {g.input_tokens} prompt × {g.new_tokens} new tokens, {g.tokens_per_s:.1f} tokens/s"))
            st.code(llm.llm_bench_command(model, chosen.id), language="bash", wrap_lines=True)
    except AppError as error:
        st.error(plain(error))
