"""Bringing a model and data in through a real browser: an IR (.xml + .bin together) on Models,
then a .npz with a labels array on Data, checked against that model (preview and fit message)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from playwright.sync_api import expect

from tests.e2e.test_demo_flow import APP_TIMEOUT_MS, nav, wait_idle


@pytest.mark.timeout(240)
def test_ir_and_npz_upload(app_server, browser_page, tmp_path):
    from tests.models_in_code import make_classifier

    page = browser_page
    xml = make_classifier(tmp_path / "ir" / "tiny.xml")
    arrays = tmp_path / "digits.npz"
    np.savez(arrays, input=np.random.default_rng(0).normal(size=(6, 1, 28, 28)).astype(np.float32),
             labels=np.arange(6) % 3)

    page.goto(f"{app_server.url}/models")
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files([xml, xml.with_suffix(".bin")])
    page.get_by_role("button", name="Add model").click()
    expect(page.get_by_text(re.compile(r"Added model #1 'tiny'"))).to_be_visible(timeout=APP_TIMEOUT_MS)
    expect(page.get_by_text("Parameters")).to_be_visible(timeout=APP_TIMEOUT_MS)

    nav(page, "Data", "data")
    wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(arrays)
    expect(page.get_by_text("digits.npz")).to_be_visible(timeout=APP_TIMEOUT_MS)  # uploaded before the click
    wait_idle(page)
    page.get_by_role("button", name="Add data").click()
    expect(page.get_by_text(re.compile(r"Added dataset #1 'digits': 6 samples, 3 classes"))).to_be_visible(
        timeout=APP_TIMEOUT_MS)
    expect(page.get_by_text("'digits' fits every input of 'tiny'.")).to_be_visible(timeout=APP_TIMEOUT_MS)
    wait_idle(page)
