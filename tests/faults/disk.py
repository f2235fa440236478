"""Filling a (small) disk for the disk-full faults."""

from __future__ import annotations

import shutil
from pathlib import Path


def fill(folder: Path, keep_free: int = 0) -> None:
    """Writes a filler file into folder until its disk has at most keep_free bytes left."""
    with (folder / "filler").open("wb") as filler:
        try:
            while shutil.disk_usage(folder).free > keep_free:
                filler.write(b"\0" * min(64 * 1024, max(4096, shutil.disk_usage(folder).free - keep_free)))
                filler.flush()
        except OSError:
            pass  # the disk is full
