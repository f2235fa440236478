"""The app's pages. Imported by every page, so this runs before any page renders.

Streamlit treats a folder called pages/ beside the entry script as an old-style multipage app
until app.py has called st.navigation once in the server process; a deep link (e.g. /compare)
as the first request of a fresh server would then run the page without app.py (no worker, the
wrong sidebar). Switching the flag off and rerunning hands the request to app.py.
"""

from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()
