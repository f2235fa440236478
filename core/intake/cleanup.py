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


def remove_abandoned_folders(live_job_ids: set[int]) -> list[str]:
    """Removes folders claimed by a job that is neither pending nor running and named by no row.

    Returns their paths below the data dir.
    """
    data_dir = get_settings().data_dir
    removed = []
    for kind, stored in _stored_folders().items():
        root = data_dir / kind
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            marker = folder / JOB_MARKER
            if folder.name in stored or folder.is_symlink() or not marker.is_file():
                continue
            job_id = marker.read_text().strip()
            if job_id.isdigit() and int(job_id) not in live_job_ids and remove_tree(folder, within=root):
                removed.append(f"{kind}/{folder.name}")
    return removed
