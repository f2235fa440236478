"""The demos, registered on the Optimize page when the Overview's links open it with ?demo=..."""

import streamlit as st

from core import lab
from core.errors import AppError
from pages.widgets import plain

DEMO_PARAM = "demo"


def register_requested_demo() -> None:
    """Registers the demo the URL asks for (once: the parameter is then dropped) and preselects it.

    Idempotent like lab.ensure_demo, so a reload or a second click adds nothing.
    """
    demo = st.query_params.get(DEMO_PARAM)
    if demo is None:
        return
    del st.query_params[DEMO_PARAM]
    try:
        if demo == "llm":
            model, texts, prompts = lab.ensure_llm_demo()
            st.session_state.update(model_id=model.id, texts_id=texts.id, prompts_id=prompts.id,
                                    algorithm="compress_weights", _kept_algorithm="compress_weights")
        elif demo == "vision":
            model, calibration, validation = lab.ensure_demo()
            st.session_state.update(model_id=model.id, calibration_id=calibration.id,
                                    validation_id=validation.id)
    except AppError as error:
        st.error(plain(error))
