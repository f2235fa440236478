"""Retakes the README screenshots: `.venv/bin/python scripts/screenshots.py [--out docs/screenshots]`.

Starts the app on a fresh data dir, drives it with the system Chromium (Playwright) the way a user
does — Try the demo → INT8 quantization → a batch sweep of the original and the INT8 model — and
saves, at a 1400×900 viewport with no toast or spinner showing:

  overview.png  the Overview page with the counts and the latest results
  compare.png   Compare: top-1 against latency with the Pareto front
  batch.png     Compare: throughput and latency against batch size, one line per model
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.app_process import CHROMIUM, CHROMIUM_ARGS, start_app, stop_app, wait_healthy  # noqa: E402
VIEWPORT = {"width": 1400, "height": 900}
TIMEOUT_MS = 120_000
DEMO = "fashion-cnn (demo)"


def fresh_lab(prefix: str) -> tuple[Path, Path]:
    """A new temporary folder and the data dir inside it; OPTLAB_DATA_DIR points there (for
    core.jobs.worker.worker_running in stop) and no other OPTLAB_* setting is inherited."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["OPTLAB_DATA_DIR"] = str(work / "data")
    for name in [k for k in os.environ if k.startswith("OPTLAB_") and k != "OPTLAB_DATA_DIR"]:
        del os.environ[name]
    return work, work / "data"


def start(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    process, url = start_app(data_dir, log_path)
    problem = wait_healthy(process, url)
    if problem:
        stop(process)
        sys.exit(f"{problem}; see {log_path}")
    return process, url


def stop(process: subprocess.Popen) -> None:
    """Stops the app; its worker exits by itself once orphaned and idle (waited for here)."""
    stop_app(process)
    from core.jobs.worker import worker_running  # OPTLAB_DATA_DIR points at the app's data dir

    deadline = time.monotonic() + 20
    while worker_running() and time.monotonic() < deadline:
        time.sleep(0.2)
    if worker_running():
        print("warning: the app's worker still holds its lock; it exits once its queue is empty", file=sys.stderr)


def settle(page) -> None:
    """No script run, no toast, no spinner, the mouse off every chart."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stToast")).to_have_count(0, timeout=TIMEOUT_MS)
    page.mouse.move(0, VIEWPORT["height"] - 1)
    page.wait_for_timeout(500)  # plotly's and the dataframe's first paint


def nav(page, title: str, heading: str | None = None) -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=heading or title, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    settle(page)


def fill(page, label: str, value: str) -> None:
    from playwright.sync_api import expect

    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT_MS)


def wait_job(page, job_id: int) -> None:
    from playwright.sync_api import expect

    finished = page.get_by_text(f"Job #{job_id} finished.")
    failed = page.get_by_text(re.compile(rf"Job #{job_id} (failed|cancelled|interrupted)"))
    expect(finished.or_(failed)).to_be_visible(timeout=TIMEOUT_MS * 2)
    if failed.count():
        sys.exit(f"Job #{job_id} did not succeed: {failed.first.text_content()}")


def sweep(page, model: str, job_id: int) -> None:
    from playwright.sync_api import expect

    nav(page, "Measure")
    if page.get_by_role("button", name="Set up another run").count():
        page.get_by_role("button", name="Set up another run").click()
        settle(page)
    page.get_by_role("combobox", name="Model", exact=True).click()
    page.get_by_role("option", name=model, exact=True).click()
    expect(page.get_by_role("combobox", name="Model", exact=True)).to_have_value(model, timeout=TIMEOUT_MS)
    fill(page, "Batch sizes", "1,2,4,8")
    fill(page, "Seconds per point", "1")
    page.get_by_role("button", name="Run sweep").click()
    wait_job(page, job_id)


def take(out: Path, data_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    process, url = start(data_dir, data_dir.parent / "app.log")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            expect(page.get_by_role("button", name="Try the demo")).to_be_visible(timeout=TIMEOUT_MS)
            settle(page)
            page.get_by_role("button", name="Try the demo").click()
            expect(page.get_by_role("heading", name="Optimize", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
            fill(page, "Seconds per benchmark run", "2")
            page.get_by_role("button", name="Run INT8 quantization").click()
            wait_job(page, 1)
            sweep(page, f"#1 {DEMO}", 2)
            sweep(page, f"#2 {DEMO} INT8", 3)

            nav(page, "Overview", "Optimization Lab")
            expect(page.get_by_role("heading", name="Latest results")).to_be_visible(timeout=TIMEOUT_MS)
            page.screenshot(path=out / "overview.png")

            nav(page, "Compare")
            charts = page.locator(".js-plotly-plot")
            expect(charts).to_have_count(2, timeout=TIMEOUT_MS)
            expect(charts.first.locator(".legendtext", has_text="Pareto front")).to_be_visible()
            page.screenshot(path=out / "compare.png")

            batch = page.get_by_role("heading", name="Batch size")
            batch.evaluate("e => e.scrollIntoView({block: 'start'})")
            settle(page)
            heading, chart = batch.bounding_box(), charts.nth(1).bounding_box()
            left, top = heading["x"] - 24, heading["y"] - 16
            page.screenshot(path=out / "batch.png", clip={
                "x": left, "y": top, "width": chart["x"] + chart["width"] + 24 - left,
                "height": chart["y"] + chart["height"] + 16 - top})
            browser.close()
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir (its path is printed)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work, data_dir = fresh_lab("optlab-screenshots-")
    started = time.monotonic()
    try:
        take(args.out, data_dir)
    finally:
        if args.keep:
            print(f"data dir kept: {data_dir}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"overview.png, compare.png, batch.png written to {args.out} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
