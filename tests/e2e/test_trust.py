"""Issue 12 in a real browser: a typo is marked at its field (no traceback), a run after a finished
job is a new job, and an INT4 request that NNCF kept in INT8 says so on the job panel."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from core import lab
from tests.e2e.test_demo_flow import APP_TIMEOUT_MS, JOB_TIMEOUT_MS, wait_idle
from tests.models_in_code import make_outlier_classifier


def test_typo_run_again_and_fallback_warning(app_server, browser_page, tmp_path):
    from db.session import upgrade_schema

    page = browser_page
    upgrade_schema()  # the app migrates on its first page run; this test stores models before that
    lab.ensure_demo()
    page.goto(f"{app_server.url}/optimize")
    expect(page.get_by_role("heading", name="Optimize", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)

    page.get_by_text("Options", exact=True).click()
    alpha = page.get_by_role("textbox", name="smooth quant alpha")
    alpha.fill("abc")
    alpha.press("Enter")
    expect(page.get_by_text("smooth_quant_alpha takes a float, got 'abc'")).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Run INT8 quantization")).to_be_disabled()
    assert page.get_by_text("Traceback").count() == 0
    alpha.fill("")
    alpha.press("Enter")
    expect(page.get_by_role("button", name="Run INT8 quantization")).to_be_enabled(timeout=APP_TIMEOUT_MS)

    page.get_by_text("FP16 compression").click()
    seconds = page.get_by_label("Seconds per benchmark run")
    seconds.fill("1")
    seconds.press("Enter")
    wait_idle(page)
    run = page.get_by_role("button", name="Run FP16 compression")
    for number in (1, 2):  # the second press, after the first job ended, is job #2
        run.click()
        expect(page.get_by_text(re.compile(rf"Job #{number} FP16 compression — succeeded"))).to_be_visible(timeout=JOB_TIMEOUT_MS)
        wait_idle(page)

    model = lab.add_model_from_path(make_outlier_classifier(tmp_path / "mlp" / "model.xml", features=100),
                                    name="mlp")  # NNCF keeps both of its layers out of INT4
    page.reload()
    wait_idle(page)
    for box, choice in (("Model", f"#{model.id} mlp"), ("Calibration data", "none"),
                        ("Validation data (accuracy)", "none")):  # the demo's images do not fit it
        page.get_by_role("combobox", name=box).click()
        page.get_by_role("option", name=choice, exact=True).click()
        wait_idle(page)
    page.get_by_text("weight compression", exact=True).click()
    wait_idle(page)
    for label, value in (("mode", "int4_asym"), ("group size fallback", "ignore")):
        page.get_by_role("combobox", name=label, exact=True).click()
        page.get_by_role("option", name=value, exact=True).click()
        wait_idle(page)
    group = page.get_by_role("textbox", name="group size", exact=True)
    group.fill("128")
    group.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Run weight compression").click()
    expect(page.get_by_text(re.compile(r"succeeded with a warning: Asked for int4_asym, but no layer's weights "
                                       r"are u4"))).to_be_visible(timeout=JOB_TIMEOUT_MS)
