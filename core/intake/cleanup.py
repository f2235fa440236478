"""Folders a killed job left behind: removed by the worker's recovery round.

A folder made inside a job is marked with the job's id (core.storage.claimed_by). When a kill -9
ends the job before it stored the row that names the folder (a model, a dataset), or an upload
waits for an import job that is over, nothing else would ever remove it.
"""

from __future__ import annotations

from pathlib import Path

from core.config import get_settings
from core.storage import JOB_MARKER, remove_tree
from db import repository as repo

UPLOADS = "uploads"  # uploads waiting for their import job (core.jobs.handlers.data)


def _stored_folders() -> dict[str, set[str]]:
    """Kind -> the folder names below it that a row names."""
    def names(paths) -> set[str]:
        return {Path(p).parts[1] for p in paths if len(Path(p).parts) > 2}

    return {"models": names(m.path for m in repo.list_models()),
            "datasets": names(d.path for d in repo.list_datasets()), UPLOADS: set()}


def remove_abandoned_folders() -> list[str]:
    """Removes folders claimed by a job that is neither pending nor running and named by no row.

    The order matters, as jobs run meanwhile: the marked folders are listed first, then the live
    jobs are read, then the rows naming folders. A folder made after the listing is not looked at; a
    job live when read keeps its folder; one that ended before has stored the row naming what it
    made before it ended, so only what a killed job left goes. (Reading the live jobs first removed
    the folder of a job started while a slow recovery round was listing.)

    Returns their paths below the data dir.
    """
    data_dir = get_settings().data_dir
    marked = []
    for kind in ("models", "datasets", UPLOADS):
        root = data_dir / kind
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            marker = folder / JOB_MARKER
            if not folder.is_symlink() and marker.is_file():
                marked.append((kind, folder, marker.read_text().strip()))
    live = repo.live_job_ids()
    stored = _stored_folders()
    removed = []
    for kind, folder, job_id in marked:
        if folder.name in stored[kind] or not job_id.isdigit() or int(job_id) in live:
            continue
        if remove_tree(folder, within=data_dir / kind):
            removed.append(f"{kind}/{folder.name}")
    return removed
