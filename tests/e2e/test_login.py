"""The login in a real browser (issue 11): no page without logging in, a wrong password is refused,
the right one lets the user in and out; a page reached through a foreign host name is refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core import auth

APP_TIMEOUT_MS = 60_000
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def password_hash() -> str:
    return auth.hash_password(PASSWORD)


@pytest.fixture
def app_settings(password_hash):
    return {"OPTLAB_PASSWORD_HASH": password_hash}


@pytest.fixture
def browser_args():
    # What DNS rebinding does: another name that resolves to this server.
    return ["--host-resolver-rules=MAP rebind.attacker.example 127.0.0.1"]


@pytest.mark.timeout(150)
def test_login_is_required_refuses_a_wrong_password_and_lets_the_right_one_in(app_server, browser_page):
    page = browser_page
    page.goto(f"{app_server.url}/compare")  # a deep link: no page without the login
    password = page.get_by_label("Password", exact=True)
    expect(password).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Compare")).to_have_count(0)
    expect(page.get_by_role("link", name="Try the demo")).to_have_count(0)

    password.fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Wrong password.")).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Compare")).to_have_count(0)

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Compare")).to_be_visible(timeout=APP_TIMEOUT_MS)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Password", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)


@pytest.mark.timeout(120)
def test_a_foreign_host_name_is_refused(app_server, browser_page):
    port = app_server.url.rsplit(":", 1)[1]
    browser_page.goto(f"http://rebind.attacker.example:{port}/")
    expect(browser_page.get_by_text(re.compile(r"does not answer to the host name 'rebind\.attacker\.example'"))
           ).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(browser_page.get_by_label("Password", exact=True)).to_have_count(0)
