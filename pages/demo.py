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
    if demo not in ("vision", "llm"):
        return
    try:  # before the page draws anything, so that the form below already shows the demo chosen
        with st.spinner("Registering the demo model and data..."):
            model, *data = lab.ensure_llm_demo() if demo == "llm" else lab.ensure_demo()
        if demo == "llm":
            chosen = dict(model_id=model.id, texts_id=data[0].id, prompts_id=data[1].id,
                          algorithm="compress_weights", _kept_algorithm="compress_weights")
        else:
            chosen = dict(model_id=model.id, calibration_id=data[0].id, validation_id=data[1].id)
    except AppError as error:
        st.error(plain(error))
    else:
        st.session_state.update(chosen)
    finally:
        del st.query_params[DEMO_PARAM]
