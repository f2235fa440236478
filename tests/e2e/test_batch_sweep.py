"""A batch-size sweep launched from the Measure page in a real browser draws the throughput /
latency against batch size chart: one line for the demo model, one point per swept batch size."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_demo_flow import APP_TIMEOUT_MS, DEMO, nav, wait_idle

SWEEP_TIMEOUT_MS = 90_000  # three 0.5 s points, each with a compile and a first inference
BATCHES = [1, 2, 4]


def start_demo(page: Page, url: str) -> None:
    """Registers the demo model and data the way a user does: Overview → Try the demo."""
    page.goto(url)
    try_demo = page.get_by_role("link", name="Try the demo")
    expect(try_demo).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    try_demo.click()
    expect(page.get_by_role("heading", name="Optimize", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile(re.escape(DEMO)),
                                                                     timeout=APP_TIMEOUT_MS)
    wait_idle(page)


def fill(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def plotly_traces(page: Page, index: int = 0) -> list[dict]:
    """name, x, y and legend flag of every trace of the index-th plotly chart on the page."""
    return page.evaluate(
        "i => document.querySelectorAll('.js-plotly-plot')[i].data.map("
        "t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y), showlegend: t.showlegend}))", index)


def run_sweep(page: Page, url: str) -> None:
    """Demo → Measure → a 1,2,4 sweep of 0.5 s points; waits until the job panel says it finished."""
    start_demo(page, url)
    nav(page, "Measure", "measure")
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(f"#1 {DEMO}", timeout=APP_TIMEOUT_MS)
    expect(page.get_by_text("No sweep stored for these models yet")).to_be_visible()
    fill(page, "Batch sizes", ",".join(map(str, BATCHES)))
    fill(page, "Seconds per point", "0.5")
    expect(page.get_by_text(re.compile(r"^3 points × 1 repeats: about \d+ s$"))).to_be_visible()

    page.get_by_role("button", name="Run sweep").click()
    expect(page.get_by_text(re.compile(r"Job #1 batch sweep"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    finished = page.get_by_text("Job #1 finished.")
    failed = page.get_by_text(re.compile(r"Job #1 (failed|cancelled|interrupted)"))
    expect(finished.or_(failed)).to_be_visible(timeout=SWEEP_TIMEOUT_MS)
    assert failed.count() == 0, f"The sweep did not succeed: {failed.first.text_content()}"


@pytest.mark.timeout(180)
def test_batch_sweep_draws_the_batch_chart(app_server, browser_page):
    page = browser_page
    run_sweep(page, app_server.url)

    # The page's Results section shows the new sweep without the user reloading anything.
    plot = page.locator(".js-plotly-plot")
    expect(plot).to_have_count(1, timeout=APP_TIMEOUT_MS)
    expect(plot).to_be_visible()
    expect(page.get_by_text("No sweep stored for these models yet")).to_have_count(0)
    expect(plot.locator(".gtitle", has_text="throughput (FPS)").or_(
        plot.locator(".annotation-text", has_text="throughput (FPS)"))).to_be_visible()
    legend = [t.text_content() for t in plot.locator(".legendtext").all()]
    assert len(legend) == 1 and legend[0].startswith(f"{DEMO} @ "), legend

    traces = plotly_traces(page)
    assert len(traces) == 2, traces  # throughput (left) and latency (right) of the one line
    assert {t["name"] for t in traces} == {legend[0]}
    for trace in traces:
        assert trace["x"] == BATCHES, trace
        assert all(isinstance(v, (int, float)) and v > 0 for v in trace["y"]), trace
    # Drawn, not just in the data: one marker per batch size in each of the two subplots.
    expect(plot.locator(".scatterlayer .trace .points path")).to_have_count(2 * len(BATCHES))
    # A model's line has one colour in both panels (the legend entry names both).
    colours = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.map(t => t.line.color)")
    assert len(set(colours)) == 1, colours

    # The stored rows behind the chart: one per batch size, all from this job.
    from db import repository as repo

    rows = repo.sweep_benchmarks(1)
    assert sorted(r.batch for r in rows) == BATCHES
    assert {r.job_id for r in rows} == {1}
