"""Hostile stored paths (issue 11, finding 1): a backup or a database row whose path leaves the data
dir is refused, nothing outside the data dir is read, written or deleted, and nothing stored is lost."""

from __future__ import annotations

import io
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from core import lab, storage
from core.deploy import backup, export
from core.errors import AppError, BadInputError, UnsafePathError
from core.jobs import runner as jobs
from core.options import JobStatus
from db import repository as repo
from tests.faults.helpers import tree_digest


def edited_backup(tmp_path: Path, sql: str, *params) -> bytes:
    """A real backup of the current lab whose database had `sql` run on it (an attacker's edit)."""
    original = backup.backup_bytes()
    work = tmp_path / "edit"
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        archive.extractall(work)
    connection = sqlite3.connect(work / backup.DATABASE)
    with connection:
        connection.execute(sql, params)
    connection.close()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(work.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(work).as_posix())
    return out.getvalue()


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the data dir holding a model-looking pair and a precious file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "model.xml").write_text("<net/>")
    (folder / "model.bin").write_bytes(b"\0" * 8)
    (folder / "precious.txt").write_text("not the lab's")
    return folder


@pytest.fixture
def model(lab_env, classifier_ir):
    return lab.add_model_from_path(classifier_ir, name="tiny classifier")


@pytest.mark.parametrize("stored", ["absolute", "dotdot", "windows"])
def test_restore_refuses_a_backup_whose_rows_point_outside_and_changes_nothing(model, lab_env, tmp_path, outside,
                                                                             stored):
    path = {"absolute": str(outside / "model.xml"), "dotdot": "models/../../outside/model.xml",
            "windows": "C:\\outside\\model.xml"}[stored]
    hostile = edited_backup(tmp_path, "UPDATE models SET path = ? WHERE id = ?", path, model.id)
    before, outside_before = tree_digest(lab_env), tree_digest(outside)

    with pytest.raises(BadInputError, match=rf"models row #{model.id} has the path .* not inside the lab's data"):
        backup.restore(("lab.zip", hostile))

    assert tree_digest(outside) == outside_before
    after = tree_digest(lab_env)
    assert {k: v for k, v in after.items() if not k.startswith((".restore-", "backups/"))} == before
    assert [m.path for m in repo.list_models()] == [model.path]


def test_a_row_pointing_outside_is_never_exported_split_or_deleted_outside(model, lab_env, outside, tmp_path):
    # The row itself is edited (a hostile database, or one restored before this fix).
    from sqlalchemy import text

    from db.session import get_engine

    with get_engine().begin() as connection:
        connection.execute(text("UPDATE models SET path = :p WHERE id = :i"), {"p": str(outside / "model.xml"),
                                                                               "i": model.id})
    outside_before = tree_digest(outside)
    with pytest.raises(UnsafePathError, match="not a plain path inside the lab's data folder"):
        export.export_model(model.id, format="ir")
    lab.delete_model(model.id)  # the row goes; the folder it named is not touched
    assert repo.find_model("tiny classifier") is None
    assert tree_digest(outside) == outside_before


def test_a_link_inside_the_data_dir_that_leads_outside_is_refused_and_not_followed_by_delete(model, lab_env,
                                                                                          outside):
    folder = storage.resolve(model.path).parent
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)
    outside_before = tree_digest(outside)
    with pytest.raises(UnsafePathError, match="leads outside the lab's data folder"):
        export.export_model(model.id, format="ir")
    lab.delete_model(model.id)
    assert tree_digest(outside) == outside_before


def test_a_restored_backup_brings_no_live_jobs_back(model, lab_env, tmp_path):
    hostile = edited_backup(tmp_path, "INSERT INTO jobs (kind, status, options, queue, progress, stage, attempts, "
                                      "cancel_requested, message, created_at, model_id, result_model_id) VALUES "
                                      "('fp16', 'running', '{}', 'test', 0.5, 'x', 1, 0, '', '2026-01-01', ?, ?)",
                            model.id, model.id)
    backup.restore(("lab.zip", hostile))
    (job,) = repo.list_jobs(10)
    assert job.status == JobStatus.INTERRUPTED and "not resumed after the restore" in job.message
    assert jobs.recover_stale() == [], "a restored job must not be requeued"
    assert storage.resolve(repo.get_model(model.id).path).is_file(), "its result model must stay"


def test_resolve_refuses_absolute_and_empty_paths():
    with pytest.raises(AppError):
        storage.resolve("/etc/passwd")
    with pytest.raises(UnsafePathError):
        storage.resolve("")
