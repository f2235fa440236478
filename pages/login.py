"""The gate app.py runs before any page: refuse a server open beyond loopback without a login or a
request for a foreign host name, then ask for the password (or the identity provider's login)."""

import streamlit as st

from core import auth
from core.config import get_settings
from pages.widgets import plain


def login_gate() -> None:
    """Stops this run unless the visitor may use the lab; offers Log out in the sidebar once in."""
    reason = auth.refusal(server_address=st.get_option("server.address") or "",
                          host_header=st.context.headers.get("Host", ""))
    if reason:
        st.error(plain(reason))
        st.stop()
    mode = get_settings().auth_mode
    if mode == "oidc":
        if not st.user.is_logged_in:
            st.title("Optimization Lab")
            st.button("Log in with your identity provider", on_click=st.login, type="primary")
            st.stop()
        st.sidebar.button("Log out", on_click=st.logout)
    elif mode == "password":
        if not st.session_state.get("signed_in"):
            _password_form()
            st.stop()
        if st.sidebar.button("Log out"):
            st.session_state.signed_in = False
            st.rerun()


def _password_form() -> None:
    st.title("Optimization Lab")
    with st.form("login"):
        password = st.text_input("Password", type="password")
        if st.form_submit_button("Log in", type="primary"):
            result = auth.check_password(password, client=st.context.ip_address or "")
            if result.ok:
                st.session_state.signed_in = True
                st.rerun()
            st.error(plain(result.message))
