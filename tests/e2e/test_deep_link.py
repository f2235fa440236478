"""A bookmark opened as the first request of a freshly started lab shows the right page, in the
lab's navigation, with the worker running (Streamlit would otherwise treat pages/ as a legacy
multipage folder and run the page without app.py)."""

import pytest
from playwright.sync_api import expect


@pytest.mark.timeout(120)
def test_deep_link_on_a_fresh_server(app_server, browser_page, monkeypatch):
    page = browser_page
    page.goto(f"{app_server.url}/compare")
    expect(page.get_by_role("heading", name="Compare")).to_be_visible(timeout=30_000)
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_role("link", name="Overview")).to_be_visible()
    expect(nav.get_by_text("widgets", exact=True)).to_have_count(0)

    from core.jobs.worker import worker_running

    monkeypatch.setenv("OPTLAB_DATA_DIR", str(app_server.data_dir))
    assert worker_running(), "app.py did not run, so the local worker was never started"
