"""Fault-injection fixtures: a real small disk (tmpfs) where the machine allows mounting one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a 16 MB tmpfs and yields its folder; skipped (with the reason) where mounting is not allowed."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs (CI runs as root)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield Path(folder)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)

