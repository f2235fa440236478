"""Issue 15 in a real browser: the demo's INT8 PTQ, QAT and pruning + QAT, each run from the Optimize
page with its live training curve, then side by side on the Compare chart."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_batch_sweep import start_demo
from tests.e2e.test_demo_flow import APP_TIMEOUT_MS, ARTIFACTS, DEMO, nav, wait_idle

pytest.importorskip("torchao")
pytestmark = pytest.mark.slow

TRAIN_TIMEOUT_MS = 300_000  # PTQ start + epochs + conversion + measuring, on a loaded 2-core machine


@pytest.fixture
def app_settings(tmp_path_factory) -> dict[str, str]:
    # NNCF's compiled torch extension, shared with the other training tests of this run (~40 s to build).
    return {"TORCH_EXTENSIONS_DIR": str(tmp_path_factory.getbasetemp() / "torch-extensions")}


def run_job(page: Page, button: str, label: str) -> None:
    """Presses the Run button and follows the job panel until the job succeeded."""
    page.get_by_role("button", name=button).click()
    expect(page.get_by_text(re.compile(rf"Job #\d+ {re.escape(label)}"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    finished = page.get_by_text(re.compile(r"Job #\d+ finished"))
    failed = page.get_by_text(re.compile(r"Job #\d+ (failed|cancelled|interrupted)"))
    expect(finished.or_(failed)).to_be_visible(timeout=TRAIN_TIMEOUT_MS)
    assert failed.count() == 0, f"The job did not succeed: {failed.first.text_content()}"


def set_number(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    wait_idle(page)


def pick_algorithm(page: Page, label: str) -> None:
    page.get_by_text(label, exact=True).click()
    wait_idle(page)


@pytest.mark.timeout(900)
def test_ptq_qat_and_pruning_of_the_demo_side_by_side_on_compare(app_server, browser_page):
    page = browser_page
    start_demo(page, app_server.url)
    set_number(page, "Seconds per benchmark run", "1")
    run_job(page, "Run INT8 quantization", "INT8 quantization")
    page.get_by_role("button", name="Set up another run").click()
    wait_idle(page)

    pick_algorithm(page, "quantization-aware training (QAT)")
    expect(page.get_by_text(re.compile(r"Trains the model's PyTorch form \(\.pt2\)"))).to_be_visible()
    set_number(page, "epochs", "1")
    run_job(page, "Run quantization-aware training (QAT)", "quantization-aware training (QAT)")
    # The job panel drew the training curve: the loss and the validation top-1 per epoch.
    curve = page.locator(".js-plotly-plot")
    expect(curve.locator(".legendtext", has_text="training loss")).to_have_count(1, timeout=APP_TIMEOUT_MS)
    expect(curve.locator(".legendtext", has_text="top-1 (%)")).to_have_count(1)
    page.get_by_role("button", name="Set up another run").click()
    wait_idle(page)

    pick_algorithm(page, "pruning + fine-tuning")
    set_number(page, "epochs", "1")
    page.get_by_text("then qat", exact=True).click()
    wait_idle(page)
    set_number(page, "qat epochs", "1")
    run_job(page, "Run pruning + fine-tuning", "pruning + fine-tuning")

    nav(page, "Compare", "compare")
    plot = page.locator(".js-plotly-plot")
    expect(plot.locator(".legendtext", has_text="prune")).to_have_count(1, timeout=APP_TIMEOUT_MS)
    legend = [t.text_content() for t in plot.locator(".legendtext").all()]
    assert {"original", "quantize", "qat", "prune"} <= set(legend), legend
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => t.text || [])")
    points = {text.rsplit(" @ ", 1)[0] for trace in traces for text in trace}
    assert {DEMO, f"{DEMO} INT8", f"{DEMO} QAT 1 ep", f"{DEMO} pruned 50% + QAT"} <= points, points
    wait_idle(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "compare-training.png", full_page=True)
