"""Fixtures of the browser end-to-end tests: the real app in a subprocess and a headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.app_process import CHROMIUM, CHROMIUM_ARGS, INHERITED_SETTINGS, ROOT, start_app, stop_app, wait_healthy

ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class RunningApp:
    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen

    def log_tail(self, lines: int = 80) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _worker_pid(data_dir: Path) -> int | None:
    """The pid the worker logged at start ('... started (pid N) ...'), if any."""
    log = data_dir / "worker.log"
    if not log.exists():
        return None
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if "started (pid " in line:
            return int(line.split("started (pid ", 1)[1].split(")", 1)[0])
    return None


@pytest.fixture
def app_settings() -> dict[str, str]:
    """OPTLAB_* settings of the app under test (a test module overrides this fixture to set some)."""
    return {}


@pytest.fixture
def browser_args() -> list[str]:
    """Extra Chromium flags (a test module overrides this fixture to add some)."""
    return []


@pytest.fixture
def app_server(tmp_path, monkeypatch, app_settings):
    """`streamlit run app.py` on a free port with a fresh data dir; stops it and its worker after."""
    data_dir = tmp_path / "data"
    log_path = tmp_path / "app.log"
    process, url = start_app(data_dir, log_path, app_settings)
    app = RunningApp(url=url, data_dir=data_dir, log_path=log_path, process=process)

    # The worker-lock check below runs in this process, so it must look at the app's data dir.
    for name in INHERITED_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPTLAB_DATA_DIR", str(data_dir))
    try:
        problem = wait_healthy(process, url)
        if problem:
            pytest.fail(f"{problem}:\n{app.log_tail()}")
        yield app
    finally:
        stop_app(process)
        _wait_worker_gone(data_dir)
        ARTIFACTS.mkdir(exist_ok=True)
        for source, name in ((log_path, "e2e-app.log"), (data_dir / "worker.log", "e2e-worker.log")):
            (ARTIFACTS / name).write_bytes(source.read_bytes() if source.exists() else b"")


def _wait_worker_gone(data_dir: Path) -> None:
    """The worker exits by itself once the app is gone; wait for it to release its lock."""
    from core.jobs.worker import worker_running

    deadline = time.monotonic() + 15
    while worker_running():
        if time.monotonic() > deadline:
            pid = _worker_pid(data_dir)
            if pid:  # do not leave it behind, but report the leak as a failure
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            pytest.fail(f"The local worker (pid {pid}) still held its lock 15 s after the app stopped.")
        time.sleep(0.2)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so a fixture can tell the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def browser_page(request, browser_args):
    """A Chromium page (1400x1000, downloads accepted) from the system Chromium; never downloads one.

    When the test fails, the page as it then was is saved as test-artifacts/failed-<test>.png.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + browser_args)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page = context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            yield page
            if getattr(request.node, "report_call", None) is not None and request.node.report_call.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}.png", full_page=True)
                (ARTIFACTS / f"failed-{request.node.name}.console.txt").write_text("\n".join(console))
            context.close()
        finally:
            browser.close()
