"""The app's pages (run by app.py's st.navigation)."""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

_checked = False


def route_through_app() -> None:
    """Hands a page run that bypassed app.py back to app.py; app.py and every page call this first.

    Streamlit treats a folder called pages/ beside the entry script as a legacy multipage app
    until app.py has called st.navigation once in the server process, so a deep link (e.g.
    /compare) as the first request of a fresh server would run the page without app.py: no
    worker, the wrong sidebar. Switching that process-wide mode off and rerunning sends it
    through app.py. In that mode even "/" runs app.py as a legacy page, where its st.navigation would
    flip the mode too late for the page links of that first run: so app.py checks before it. Checked
    once per process, like the mode itself.
    """
    global _checked
    if _checked:
        return
    _checked = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
