"""Helpers of the fault tests: filling a (small) disk, fingerprinting a folder, a worker for one job."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from core.options import JobStatus
from tests.test_jobs import start_worker, wait_for


def fill(folder: Path, keep_free: int = 0) -> None:
    """Writes a filler file into folder until its disk has at most keep_free bytes left."""
    with (folder / "filler").open("wb") as filler:
        try:
            while shutil.disk_usage(folder).free > keep_free:
                filler.write(b"\0" * min(64 * 1024, max(4096, shutil.disk_usage(folder).free - keep_free)))
                filler.flush()
        except OSError:
            pass  # the disk is full


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file below root, by relative path (what 'byte-identical' compares)."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run_to_the_end(job_id: int, timeout: float = 120.0):
    """Starts a worker, waits until job_id has finished, stops the worker; returns the job."""
    process = start_worker()
    try:
        return wait_for(job_id, lambda j: JobStatus(j.status).finished, timeout=timeout)
    finally:
        process.kill()
        process.wait()
