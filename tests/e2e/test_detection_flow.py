"""A detector in a real browser, from upload to the mAP-vs-latency chart (issue 13): the trained
shapes detector (assets/tasks) on Models, judged as a detector; on Data its unlabelled calibration
zip, then its validation images as a zip with the COCO instances.json beside it (for the detection
task); INT8 on Optimize; mAP@0.5 of parent and child on Compare."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.test_demo_flow import APP_TIMEOUT_MS, ARTIFACTS, JOB_TIMEOUT_MS, choose, nav, wait_idle

TASKS = Path(__file__).resolve().parents[2] / "assets" / "tasks"


def _add_data(page, path: Path, expected: str, annotations: Path | None = None) -> None:
    uploaders = page.get_by_test_id("stFileUploaderDropzoneInput")
    for index, upload in enumerate([path, annotations]):
        if upload:
            uploaders.nth(index).set_input_files(upload)
            # uploaded before the click (the shown name is shortened; its remove button has it whole)
            expect(page.get_by_role("button", name=f"Remove {upload.name}")).to_be_visible(timeout=APP_TIMEOUT_MS)
    if annotations:
        choose(page, page.get_by_role("combobox", name=re.compile("Refuse it unless")), "object detection")
    wait_idle(page)
    page.get_by_role("button", name="Add data").click()
    expect(page.get_by_text(re.compile(expected))).to_be_visible(timeout=JOB_TIMEOUT_MS)
    wait_idle(page)


@pytest.mark.timeout(400)
def test_detector_upload_to_map_chart(app_server, browser_page, tmp_path):
    page = browser_page
    with zipfile.ZipFile(TASKS / "shapes_detection_coco.zip") as archive:  # the images, the boxes beside them
        (tmp_path / "instances.json").write_bytes(archive.read("annotations/instances.json"))
        with zipfile.ZipFile(tmp_path / "shapes_validation.zip", "w") as images:
            for name in archive.namelist():
                if name.startswith("images/"):
                    images.writestr(name, archive.read(name))
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(f"{app_server.url}/models")
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(TASKS / "shapes_detector.onnx")
    page.get_by_role("button", name="Add model").click()
    expect(page.get_by_text(re.compile(r"Added model #1 'shapes_detector'"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_text("Judged as object detection (proposed from its outputs)", exact=False)).to_be_visible(
        timeout=APP_TIMEOUT_MS)

    nav(page, "Data", "data")
    wait_idle(page)
    _add_data(page, TASKS / "shapes_calibration.zip", r"Added dataset #1 'shapes_calibration': 100 samples, no labels")
    _add_data(page, tmp_path / "shapes_validation.zip",
              r"Added dataset #2 'shapes_validation': 200 samples, boxes of 3 classes", tmp_path / "instances.json")

    nav(page, "Optimize", "optimize")
    wait_idle(page)
    for box, choice in (("Calibration data", "#1 shapes_calibration (100)"),
                        ("Validation data (accuracy)", "#2 shapes_validation (200)")):
        if page.get_by_role("combobox", name=box).input_value() != choice:
            choose(page, page.get_by_role("combobox", name=box), choice)
    seconds = page.get_by_label("Seconds per benchmark run")
    seconds.fill("1")
    seconds.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Run INT8 quantization").click()
    finished = page.get_by_text(re.compile(r"Job #\d+ finished: "))
    failed = page.get_by_text(re.compile(r"Job #\d+ (failed|cancelled|interrupted)"))
    expect(finished.or_(failed)).to_be_visible(timeout=JOB_TIMEOUT_MS)
    assert failed.count() == 0, f"The job did not succeed: {failed.first.text_content()}"

    nav(page, "Compare", "compare")
    metric = page.get_by_role("combobox", name="Accuracy metric")
    expect(metric).to_have_value("mAP@0.5 (%)", timeout=APP_TIMEOUT_MS)  # the task's metric comes first
    plot = page.locator(".js-plotly-plot")
    expect(plot).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(plot.locator(".ytitle")).to_have_text("mAP@0.5 (%)", timeout=APP_TIMEOUT_MS)
    points = page.evaluate("() => document.querySelector('.js-plotly-plot').data"
                           ".filter(t => t.mode === 'markers').map(t => ({text: t.text, y: t.y}))")
    values = {text: y for trace in points for text, y in zip(trace["text"], trace["y"])}
    parent = [y for text, y in values.items() if text.startswith("shapes_detector @ f32")]
    child = [y for text, y in values.items() if text.startswith("shapes_detector INT8 @ ")]
    assert parent and child, values
    assert parent[0] > 50, f"the trained detector finds the shapes (mAP@0.5 {parent[0]:.1f} %)"
    assert child[0] > parent[0] - 15, (parent, child)  # INT8 keeps most of it
    wait_idle(page)
    page.screenshot(path=ARTIFACTS / "compare-detection.png", full_page=True)
