"""The LLM demo in a real browser against the real app (issue 14): Try the LLM demo → INT4 weight
compression → the job's outcome → Compare's language-model view with the Pareto front. Screenshots
of the Optimize outcome and Compare land in test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_demo_flow import APP_TIMEOUT_MS, ARTIFACTS, choose, nav, wait_idle

DEMO = "fortune-llama (LLM demo)"
INT4 = "fortune-llama (LLM demo) WC int4_sym g64"
JOB_TIMEOUT_MS = 400_000  # both models: generation point, perplexity on 300 texts; answers to 48 prompts


def compress_to_int4_g64(page) -> None:
    """On the Optimize page: INT4 sym, group size 64, run, and wait for the job's outcome."""
    choose(page, "mode", "int4_sym")
    group = page.get_by_role("textbox", name="group size", exact=True)
    group.fill("64")
    group.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Run weight compression").click()
    finished = page.get_by_text(re.compile(r"Job #\d+ finished: "))
    failed = page.get_by_text(re.compile(r"Job #\d+ (failed|cancelled|interrupted)"))
    expect(finished.or_(failed)).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert failed.count() == 0, f"The job did not succeed: {failed.first.text_content()}"


@pytest.mark.timeout(600)
def test_llm_demo_flow(app_server, browser_page):
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(app_server.url)
    try_demo = page.get_by_role("link", name="Try the LLM demo")
    expect(try_demo).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    try_demo.click()
    expect(page).to_have_url(re.compile(r"/optimize$"), timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(f"#1 {DEMO}", timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Texts (word perplexity)")).to_have_value(
        re.compile(r"fortunes texts \(LLM demo\)"))
    expect(page.get_by_role("combobox", name="Prompts (answer similarity with the parent)")).to_have_value(
        re.compile(r"fortunes prompts \(LLM demo\)"))
    wait_idle(page)
    compress_to_int4_g64(page)
    expect(page.get_by_text("Answer similarity", exact=True)).to_be_visible()
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "llm-optimize.png", full_page=True)

    nav(page, "Compare", "compare")
    plot = page.locator(".js-plotly-plot").first
    expect(plot).to_be_visible(timeout=APP_TIMEOUT_MS)
    legend = [t.text_content() for t in plot.locator(".legendtext").all()]
    assert legend[:2] == ["compress_weights", "original"] and legend[2].startswith(f"Pareto front: {DEMO}"), legend
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => ({name: t.name, "
                           "text: t.text || [], x: t.x}))")
    points = {text for trace in traces for text in trace["text"]}
    assert {f"{DEMO} @ default", f"{INT4} @ default"} <= points, points
    grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]').first
    expect(grid.locator("td", has_text=INT4)).to_have_count(1, timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Worst answers")).to_be_visible()
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "llm-compare.png", full_page=True)


@pytest.mark.timeout(600)
def test_a_zipped_hugging_face_checkpoint_to_int4_on_the_compare_chart(app_server, browser_page, tmp_path):
    """The issue's path: upload a zipped checkpoint (converted in a job), texts, INT4, the chart."""
    import zipfile

    from tests.models_in_code import TEXT, make_causal_lm_checkpoint

    folder = make_causal_lm_checkpoint(tmp_path / "tiny-llama")
    upload = tmp_path / "tiny-llama.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"tiny-llama/{path.name}")
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(s.strip() + "." for s in TEXT.split(".") if s.strip()))
    page = browser_page
    page.goto(f"{app_server.url}/models")
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(upload)
    expect(page.get_by_text("tiny-llama.zip")).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_role("button", name="Add model").click()
    added = page.get_by_text(re.compile(r"Added model #1 'tiny-llama' \(hf-checkpoint\)"))
    failed = page.get_by_text(re.compile(r"Job #\d+ (failed|interrupted)"))
    expect(added.or_(failed)).to_be_visible(timeout=JOB_TIMEOUT_MS)  # converted by optimum-intel in a job
    assert failed.count() == 0, failed.first.text_content()

    nav(page, "Data", "data")
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(texts)
    expect(page.get_by_text("texts.txt")).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_role("button", name="Add data").click()
    expect(page.get_by_text(re.compile(r"Added dataset #1 'texts'"))).to_be_visible(timeout=APP_TIMEOUT_MS)

    nav(page, "Optimize", "optimize")
    wait_idle(page)
    expect(page.get_by_role("combobox", name="Texts (word perplexity)")).to_have_value(re.compile(r"#1 texts"))
    compress_to_int4_g64(page)

    nav(page, "Compare", "compare")
    plot = page.locator(".js-plotly-plot").first
    expect(plot).to_be_visible(timeout=APP_TIMEOUT_MS)
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => t.text || [])")
    assert {"tiny-llama @ default", "tiny-llama WC int4_sym g64 @ default"} <= {t for trace in traces for t in trace}
