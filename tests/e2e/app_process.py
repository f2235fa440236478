"""Starting and stopping the real app (`streamlit run app.py`) in its own process group, on a free
port with its own data dir: shared by the e2e fixtures and scripts/screenshots.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Settings the app must not inherit from the shell running it: the app gets a fresh lab.
INHERITED_SETTINGS = ("OPTLAB_DATABASE_URL", "OPTLAB_QUEUE_PATH", "OPTLAB_QUEUE_URL", "OPTLAB_QUEUE",
                      "OPTLAB_ARTIFACTS_URL", "OPTLAB_LOCAL_WORKER", "OPTLAB_AUTH", "OPTLAB_PASSWORD_HASH",
                      "OPTLAB_PASSWORD_HASH_FILE", "OPTLAB_ALLOWED_HOSTS")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def start_app(data_dir: Path, log_path: Path, settings: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """Starts the app on a free port with data_dir (and OPTLAB_* settings), output to log_path;
    returns (process, url)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS}
    env.update(OPTLAB_DATA_DIR=str(data_dir), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
               PYTHONUNBUFFERED="1", **(settings or {}))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def wait_healthy(process: subprocess.Popen, url: str, timeout: float = 60.0) -> str | None:
    """Waits until the app answers its health check; returns None, or why it did not."""
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if process.poll() is not None:
            return f"The app exited with code {process.returncode}"
        if time.monotonic() > deadline:
            return f"The app did not answer {url}/_stcore/health within {timeout:.0f} s"
        time.sleep(0.5)
    return None


def stop_app(process: subprocess.Popen) -> None:
    """Stops the app's process group (SIGTERM, then SIGKILL after 15 s)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
