"""The demo flow in a real browser against the real app: demo → quantize → compare → export.

Starts `streamlit run app.py` (which starts its own local worker) on a fresh data dir, drives it
with the system Chromium through Playwright, and loads the downloaded IR with OpenVINO.
Screenshots of Overview, Compare and Export land in test-artifacts/.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # gitignored

APP_TIMEOUT_MS = 60_000  # a page run (demo import, page switch) on a loaded CI machine
JOB_TIMEOUT_MS = 120_000  # quantization + evaluation + four 1 s benchmark runs
DEMO = "fashion-cnn (demo)"
INT8 = "fashion-cnn (demo) INT8"
DEMO_ONNX = Path(__file__).resolve().parents[2] / "assets" / "demo" / "fashion_cnn.onnx"


def parent_precisions() -> set[str]:
    """The precisions the demo parent is measured at: forced f32, and this CPU's default (bf16 on
    AMX / AVX512_BF16 CPUs, f32 elsewhere; one row then)."""
    import openvino as ov

    from core.measure.machine import describe_precision

    core = ov.Core()
    return {"f32", describe_precision(core.compile_model(core.read_model(DEMO_ONNX), "CPU"))}


def wait_idle(page: Page) -> None:
    """Waits until Streamlit is not running the script (the 'Running...' status widget is gone)."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=APP_TIMEOUT_MS)


def choose(page: Page, box, option: str) -> None:
    """Picks option in a selectbox (box: its name, or a locator). A click that lands while the page
    reruns opens no list; it is tried again (up to three times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    combo = page.get_by_role("combobox", name=box, exact=True) if isinstance(box, str) else box
    for attempt in range(3):
        combo.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            wait_idle(page)
    wait_idle(page)


def nav(page: Page, title: str, path: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page).to_have_url(re.compile(rf"/{path}$"), timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)


@pytest.mark.timeout(300)
def test_demo_flow(app_server, browser_page, tmp_path):
    page = browser_page
    ARTIFACTS.mkdir(exist_ok=True)

    # Overview
    page.goto(app_server.url)
    expect(page.get_by_role("heading", name="Optimization Lab")).to_be_visible(timeout=APP_TIMEOUT_MS)
    try_demo = page.get_by_role("link", name="Try the demo")
    expect(try_demo).to_be_visible()
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "overview.png", full_page=True)
    from core.jobs.worker import worker_running  # the fixture pointed OPTLAB_DATA_DIR at the app's data

    assert worker_running(), "the app did not start its local worker"

    # Try the demo → Optimize with the demo model and data preselected
    try_demo.click()
    expect(page).to_have_url(re.compile(r"/optimize$"), timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Optimize", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(f"#1 {DEMO}", timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("combobox", name="Calibration data")).to_have_value(
        re.compile(r"calibration \(demo\)"))
    expect(page.get_by_role("combobox", name="Validation data (accuracy)")).to_have_value(
        re.compile(r"validation \(demo\)"))

    seconds = page.get_by_label("Seconds per benchmark run")
    seconds.fill("1")
    seconds.press("Enter")
    expect(seconds).to_have_value("1.00")
    wait_idle(page)

    # Run INT8 quantization and follow the job panel until it reports success
    page.get_by_role("button", name="Run INT8 quantization").click()
    expect(page.get_by_text(re.compile(r"Job #\d+ INT8 quantization"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    finished = page.get_by_text(re.compile(r"Job #\d+ finished: "))
    failed = page.get_by_text(re.compile(r"Job #\d+ (failed|cancelled|interrupted)"))
    expect(finished.or_(failed)).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert failed.count() == 0, f"The job did not succeed: {failed.first.text_content()}"

    # Compare: the chart has both algorithms and the Pareto front; the table has every row
    nav(page, "Compare", "compare")
    plot = page.locator(".js-plotly-plot")
    expect(plot).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(plot.locator(".legendtext")).to_have_count(3, timeout=APP_TIMEOUT_MS)
    assert [t.text_content() for t in plot.locator(".legendtext").all()] == [
        "original", "quantize", f"Pareto front: {DEMO} on fashion-mnist validation (demo)"]
    traces = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                           ".map(t => ({name: t.name, text: t.text || []}))")
    points = {text for trace in traces for text in trace["text"]}
    parent = parent_precisions()
    assert {f"{DEMO} @ {precision}" for precision in parent} <= points, points
    assert any(p.startswith(f"{INT8} @ ") for p in points), points

    # The dataframe is a canvas; its accessible fallback <table> holds the visible cells.
    # The first dataframe is the results table (the A/B table comes later on the page).
    grid = page.locator('[data-testid="stDataFrame"] table[role="grid"]').first
    expect(grid.locator("td", has_text=INT8)).to_have_count(1, timeout=APP_TIMEOUT_MS)
    rows = [[c.text_content() for c in row.locator("td").all()] for row in grid.locator("tbody tr").all()]
    header = [c.text_content() for c in grid.locator("thead th").all()]
    model_col, precision_col = header.index("model"), header.index("precision")
    assert sorted((r[model_col], r[precision_col]) for r in rows) == sorted(
        [(DEMO, precision) for precision in parent] + [(INT8, points_precision(points, INT8))]), rows
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "compare.png", full_page=True)

    # Export: the INT8 model is preselected; download its IR
    nav(page, "Export", "export")
    expect(page.get_by_role("combobox", name="Model")).to_have_value(f"#2 {INT8}", timeout=APP_TIMEOUT_MS)
    download_button = page.get_by_role("button", name="Download IR (.zip)")
    expect(download_button).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"gst-launch-1\.0 filesrc")).first).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"^benchmark_app -m "))).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Download backup (.zip)")).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "export.png", full_page=True)
    with page.expect_download(timeout=APP_TIMEOUT_MS) as download_info:
        download_button.click()
    download = download_info.value
    assert download.suggested_filename.endswith("-ir.zip")
    archive = tmp_path / download.suggested_filename
    download.save_as(archive)

    # The download is a loadable INT8 IR
    unpacked = tmp_path / "ir"
    with zipfile.ZipFile(archive) as zf:
        assert {"model.xml", "model.bin", "README.md"} <= set(zf.namelist())
        zf.extractall(unpacked)
    import openvino as ov

    core = ov.Core()
    model = core.read_model(unpacked / "model.xml")
    assert any(op.get_type_name() == "FakeQuantize" for op in model.get_ops()), "not an INT8 model"
    compiled = core.compile_model(model, "CPU")
    output = compiled(np.zeros((1, 1, 28, 28), dtype=np.float32))[compiled.output(0)]
    assert output.shape == (1, 10)
    assert np.isfinite(output).all()

    # The OVMS repository: <name>/1/model.xml|bin that OpenVINO loads, config.json with the sweep's batch
    with page.expect_download(timeout=APP_TIMEOUT_MS) as download_info:
        page.get_by_role("button", name="Download OVMS repository (.zip)").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-ovms.zip")
    ovms = tmp_path / "ovms"
    download.save_as(tmp_path / download.suggested_filename)
    with zipfile.ZipFile(tmp_path / download.suggested_filename) as zf:
        zf.extractall(ovms)
    config = json.loads((ovms / "config.json").read_text())["model_config_list"][0]["config"]
    from core.measure.batching import best_batch
    from db import repository as repo

    int8 = next(m for m in repo.list_models() if m.name == INT8)
    assert config["batch_size"] == (best_batch(int8.id) or "auto")
    served = core.read_model(ovms / config["name"] / "1" / "model.xml")
    assert any(op.get_type_name() == "FakeQuantize" for op in served.get_ops())


def points_precision(points: set[str], model: str) -> str:
    """The precision the chart reports for a model (the INT8 model runs at the device default)."""
    (precision,) = [p.rsplit(" @ ", 1)[1] for p in points if p.rsplit(" @ ", 1)[0] == model]
    return precision
