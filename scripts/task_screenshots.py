"""Retakes the task screenshots of the README (issue 13): `.venv/bin/python scripts/task_screenshots.py`.

On a fresh data dir: the shapes detector (assets/tasks) with its calibration and COCO validation
zips, INT8 by a real job, then Compare on mAP@0.5 (docs/screenshots/compare-detection.png); the
text recognizer with its lines, a layer-sensitivity job on CER, then its Models page
(docs/screenshots/sensitivity.png). Jobs run in real job processes before the app starts.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.screenshots import TIMEOUT_MS, VIEWPORT, fresh_lab, nav, settle, start, stop  # noqa: E402
from tests.e2e.app_process import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.test_demo_flow import choose  # noqa: E402

TASKS = ROOT / "assets" / "tasks"


def prepare() -> int:
    """The models, data and jobs the screenshots show, made through the lab's own functions; returns
    the text recognizer's model id."""
    from core import lab
    from core.intake.sources import add_data_from_path
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import QuantizeOptions, SensitivityOptions
    from core.options import JobKind, MeasureOptions
    from db.session import upgrade_schema

    upgrade_schema()
    detector = lab.add_model_from_path(TASKS / "shapes_detector.onnx")
    calibration = add_data_from_path(TASKS / "shapes_calibration.zip")
    validation = add_data_from_path(TASKS / "shapes_detection_coco.zip")
    supervise_job(lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=detector.id, dataset_id=calibration.id,
                                          options=QuantizeOptions(subset_size=100),
                                          measure=MeasureOptions(dataset_id=validation.id, seconds=2.0)).id)
    recognizer = lab.add_model_from_path(TASKS / "text_recognizer.onnx")
    lines = add_data_from_path(TASKS / "text_calibration.npz")
    labelled = add_data_from_path(TASKS / "text_validation.npz")
    supervise_job(lab.submit_sensitivity(model_id=recognizer.id, dataset_id=lines.id, options=SensitivityOptions(
        validation_dataset_id=labelled.id, metric="cer", subset_size=100)).id)
    return recognizer.id


def take(out: Path, data_dir: Path, recognizer_id: int) -> None:
    from playwright.sync_api import expect, sync_playwright

    process, url = start(data_dir, data_dir.parent / "app.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/compare")
            expect(page.get_by_role("heading", name="Compare", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.locator(".js-plotly-plot").first.locator(".ytitle")).to_have_text("mAP@0.5 (%)",
                                                                                          timeout=TIMEOUT_MS)
            settle(page)
            page.screenshot(path=out / "compare-detection.png")
            nav(page, "Models")
            choose(page, "Details of", f"#{recognizer_id} text_recognizer")
            heading = page.get_by_role("heading", name="Layer sensitivity")
            expect(heading).to_be_visible(timeout=TIMEOUT_MS)
            heading.evaluate("e => e.scrollIntoView({block: 'start'})")
            settle(page)
            page.screenshot(path=out / "sensitivity.png")
            browser.close()
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work, data_dir = fresh_lab("optlab-task-screenshots-")
    started = time.monotonic()
    try:
        take(args.out, data_dir, prepare())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"compare-detection.png, sensitivity.png written to {args.out} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
