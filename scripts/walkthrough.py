"""The closing walkthrough of issue 12 in a real browser, with a screenshot of each fixed item:
`.venv/bin/python scripts/walkthrough.py [--out docs/walkthrough]`.

A new user's path on a fresh data dir: Try the demo → a typo in an option → INT8 → their own model
and data → INT4 weight compression that NNCF kept in INT8, measured while other processes keep the
CPU busy → Compare's noisy headline and "Pick for me" → the interleaved re-measurement → A/B →
Export. Screenshots (1400×900, no toast or spinner) go to --out; docs/walkthrough.md describes them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.screenshots import TIMEOUT_MS, VIEWPORT, fill, fresh_lab, nav, settle, start, stop  # noqa: E402
from tests.e2e.app_process import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.models_in_code import make_outlier_classifier  # noqa: E402


def own_model_and_data(folder: Path) -> tuple[Path, Path]:
    """A small MLP (its two MatMuls are too narrow for INT4 groups of 128) zipped as IR, and 200
    samples labelled by its own FP32 predictions as a .npz (what a user brings from their project)."""
    import openvino as ov

    xml = make_outlier_classifier(folder / "mlp" / "model.xml", features=100)
    archive = folder / "my-mlp.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(xml, "model.xml")
        bundle.write(xml.with_suffix(".bin"), "model.bin")
    inputs = np.random.default_rng(0).normal(size=(200, 100)).astype(np.float32)
    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    labels = np.argmax(compiled(inputs)[compiled.output(0)], axis=1).astype(np.int64)
    data = folder / "my-mlp-data.npz"
    np.savez(data, **{compiled.input(0).get_any_name(): inputs}, labels=labels)
    return archive, data


def shot(page, out: Path, name: str, locator=None) -> None:
    """A screenshot of the page (scrolled to locator first, when given), every element drawn."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=TIMEOUT_MS)
    if locator is not None:
        locator.first.evaluate("e => e.scrollIntoView({block: 'start'})")
    settle(page)
    page.screenshot(path=out / name)
    print(f"  {name}", flush=True)


def choose(page, box: str, option: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("combobox", name=box, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT_MS)


def wait_done(page, job_id: int) -> None:
    """Until the job panel says job_id ended; exits when it failed."""
    from playwright.sync_api import expect

    ended = page.get_by_text(re.compile(rf"Job #{job_id} (succeeded|finished|failed|was cancelled|interrupted)"))
    expect(ended.first).to_be_visible(timeout=TIMEOUT_MS * 3)
    if "failed" in ended.first.text_content():
        sys.exit(f"Job #{job_id} failed: {ended.first.text_content()}")


def walk(out: Path, data_dir: Path, work: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    archive, data = own_model_and_data(work)
    process, url = start(data_dir, work / "app.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.get_by_role("button", name="Try the demo").click()
            expect(page.get_by_role("heading", name="Optimize", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
            settle(page)

            page.get_by_text("Options", exact=True).click()
            fill(page, "smooth quant alpha", "abc")
            shot(page, out, "01-typo-marked-at-its-field.png", page.get_by_text("Algorithm", exact=True))
            fill(page, "smooth quant alpha", "")
            page.get_by_text("Options", exact=True).click()
            fill(page, "Seconds per benchmark run", "2")
            page.get_by_role("button", name="Run INT8 quantization").click()
            wait_done(page, 1)
            shot(page, out, "02-int8-outcome-where-the-user-is.png", page.get_by_text(re.compile(r"^Job #1 ")))

            nav(page, "Models")
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(archive))
            expect(page.get_by_text(archive.name)).to_be_visible(timeout=TIMEOUT_MS)  # uploaded before the click
            page.get_by_label("Name (optional)", exact=True).fill("my-mlp")  # Enter would submit the form
            page.get_by_role("button", name="Add model").click()
            expect(page.get_by_text(re.compile(r"Added model #\d+ 'my-mlp'"))).to_be_visible(timeout=TIMEOUT_MS)
            shot(page, out, "03-own-model-details-show-it.png", page.get_by_text("Details of", exact=True))

            nav(page, "Data")
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(data))
            expect(page.get_by_text(data.name)).to_be_visible(timeout=TIMEOUT_MS)
            page.get_by_role("button", name="Add data").click()
            expect(page.get_by_text(re.compile(r"Added dataset #\d+"))).to_be_visible(timeout=TIMEOUT_MS * 2)
            page.reload()
            settle(page)
            shot(page, out, "04-own-data-checked-against-the-newest-model.png",
                 page.get_by_role("heading", name="Check data against a model"))

            nav(page, "Optimize")
            choose(page, "Model", "#3 my-mlp")
            choose(page, "Calibration data", "#3 my-mlp-data (200)")
            choose(page, "Validation data (accuracy)", "#3 my-mlp-data (200)")
            shot(page, out, "05-same-samples-warned-of.png", page.get_by_role("heading", name="Optimize"))
            choose(page, "Calibration data", "none")
            page.get_by_text("weight compression", exact=True).click()
            settle(page)
            choose(page, "mode", "int4_asym")
            choose(page, "group size fallback", "ignore")
            fill(page, "group size", "128")
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
            try:
                page.get_by_role("button", name="Run weight compression").click()
                wait_done(page, 3)  # job #2 was the data import
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            shot(page, out, "06-int4-that-stayed-int8-says-so.png", page.get_by_text(re.compile(r"^Job #3 ")))

            nav(page, "Compare")
            shot(page, out, "07-compare-noisy-headline-and-family-front.png")
            pick = page.get_by_role("heading", name="Pick for me")
            shot(page, out, "08-pick-for-me-offers-interleaved.png", pick)
            page.get_by_role("button", name="Re-measure them interleaved (A B A B)").click()
            wait_done(page, 4)
            page.reload()
            settle(page)
            shot(page, out, "09-decision-on-interleaved-evidence.png", pick)
            shot(page, out, "10-ab-parent-vs-newest-child.png", page.get_by_role("heading", name="A/B"))

            nav(page, "Export")
            shot(page, out, "11-export-snippets-name-the-zip-files.png", page.get_by_role("heading", name="DL Streamer"))
            browser.close()
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "walkthrough")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work, data_dir = fresh_lab("optlab-walkthrough-")
    started = time.monotonic()
    try:
        walk(args.out, data_dir, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"walkthrough written to {args.out} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
