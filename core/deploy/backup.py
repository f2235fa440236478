"""Backup of the whole lab (database + artifacts) as one zip, and restore from such a zip.

The database is copied with SQLite's online backup API, so a backup taken while the app and a
worker run is still consistent. A restore validates everything before it changes anything, then
keeps the previous state under backups/before-restore-<time>/ in the data dir.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from core.config import get_settings
from core.errors import BadInputError, JobError, UnsafePathError
from core.intake.files import extract_zip, save_upload
from core.storage import inside
from db import repository as repo
from db.session import get_engine, upgrade_schema

MANIFEST = "optlab-backup.json"
FORMAT = "optimization-lab-backup"
DATABASE = "lab.db"
ARTIFACT_DIRS = ("models", "datasets", "jobs")
_TABLES = {"models", "datasets", "jobs", "benchmark_results", "accuracy_results", "alembic_version"}


@dataclass(frozen=True)
class RestoreResult:
    """What a restore brought back and where the previous state was kept."""

    models: int
    datasets: int
    jobs: int
    previous_state: Path


def _database_path() -> Path:
    url = get_settings().database_url
    if not url.startswith("sqlite:///"):
        raise BadInputError("Backup and restore cover a SQLite database only; back up "
                            f"{url.split(':', 1)[0]} with its own tools (e.g. pg_dump) and copy the "
                            "data dir's models/ and datasets/ folders.")
    return Path(url.removeprefix("sqlite:///"))


def _copy_database(source: Path, target: Path) -> None:
    """Copies one SQLite database into another through the backup API (consistent while in use)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _tables(database: Path) -> tuple[set[str], dict[str, int]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        names = {r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts = {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                  for t in ("models", "datasets", "jobs") if t in names}
        return names, counts
    finally:
        connection.close()


def write_backup(out: BinaryIO | Path) -> dict:
    """Writes a zip of the lab (database, models/, datasets/, jobs/ and a manifest) to out.

    Returns:
        The manifest: format, created_at and row counts.
    """
    data_dir, database = get_settings().data_dir, _database_path()
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".backup-") as scratch:
        copy = Path(scratch) / DATABASE
        _copy_database(database, copy)
        _, counts = _tables(copy)
        manifest = {"format": FORMAT, "version": 1,
                    "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "counts": counts}
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=2))
            archive.write(copy, DATABASE)
            for name in ARTIFACT_DIRS:
                for path in sorted((data_dir / name).rglob("*")) if (data_dir / name).is_dir() else []:
                    if path.is_file() and not path.is_symlink():
                        archive.write(path, path.relative_to(data_dir).as_posix())
    return manifest


def backup_bytes() -> bytes:
    """The backup zip in memory (for a browser download)."""
    import io

    buffer = io.BytesIO()
    write_backup(buffer)
    return buffer.getvalue()


def backup_name() -> str:
    return f"optlab-backup-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.zip"


def _validate(unpacked: Path) -> None:
    """Raises BadInputError unless unpacked is a complete lab backup whose files all exist."""
    manifest = unpacked / MANIFEST
    not_backup = ("This zip is not an Optimization Lab backup (it has no {} ); choose a file made by "
                  "'Download backup' or `python -m core backup`.")
    if not manifest.is_file():
        raise BadInputError(not_backup.format(MANIFEST))
    try:
        info = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadInputError(f"The backup's {MANIFEST} is damaged ({error}); make a new backup.") from error
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise BadInputError(not_backup.format(f"valid {MANIFEST}"))
    if info.get("version") != 1:
        raise BadInputError(f"This backup has format version {info.get('version')}; this lab reads "
                            "version 1. Restore it with the lab version that made it.")
    database = unpacked / DATABASE
    try:
        names, _ = _tables(database)
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            check = connection.execute("PRAGMA integrity_check").fetchone()[0]
            rows = [r for r in connection.execute("SELECT 'models', id, path FROM models UNION ALL "
                                                  "SELECT 'datasets', id, path FROM datasets")] if _TABLES <= names else []
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise BadInputError(f"The backup's database cannot be read ({error}); make a new backup.") from error
    if not _TABLES <= names or check != "ok":
        raise BadInputError("The backup's database is not a complete lab database "
                            f"(missing tables {sorted(_TABLES - names)}, integrity '{check}'); make a new backup.")
    missing = []
    for table, row_id, path in rows:
        try:
            if not inside(unpacked, str(path or "")).exists():
                missing.append(path)
        except UnsafePathError as error:
            raise BadInputError(f"Restore refused, nothing was changed: the backup's {table} row #{row_id} has the "
                                f"path '{path}', which is not inside the lab's data folder. The backup was edited "
                                "or not made by the lab; restore one made by 'Download backup' or "
                                "`python -m core backup`.") from error
    if missing:
        raise BadInputError(f"The backup lacks {len(missing)} stored file(s), e.g. '{missing[0]}'; "
                            "make a new backup (the zip was cut short or edited).")


def _retire_live_jobs(database: Path) -> int:
    """Marks the backup's pending / running jobs interrupted, so none comes back as live work.

    Their processes belong to the lab the backup was made from; a restored 'running' row would
    otherwise go stale and be requeued. Returns how many rows changed.
    """
    connection = sqlite3.connect(database)
    try:
        with connection:
            return connection.execute(
                "UPDATE jobs SET status = 'interrupted', pid = NULL, message = 'Was queued or running when the "
                "backup was made; it was not resumed after the restore. Run it again from the Jobs page.' "
                "WHERE status IN ('pending', 'running')").rowcount
    finally:
        connection.close()


def restore(upload: tuple[str, bytes | BinaryIO]) -> RestoreResult:
    """Replaces the lab's database and artifacts with a backup zip, after validating all of it.

    The current database and artifact folders are kept under backups/before-restore-<time>/.

    Raises:
        BadInputError: The zip is not a lab backup, is damaged, or is unsafe.
        JobError: A job is running or queued (it would write into the state being replaced).
    """
    settings, database = get_settings(), _database_path()
    busy = [j for j in repo.list_jobs(1000) if j.status in ("pending", "running")]
    if busy:
        raise JobError(f"Job #{busy[0].id} is {busy[0].status}; wait for it to finish or cancel it on the "
                       "Jobs page, then restore.")
    data_dir = settings.data_dir
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as scratch:
        name, data = upload
        saved = save_upload(data, Path(scratch), name, max_bytes=settings.max_upload_bytes)
        unpacked = extract_zip(saved, Path(scratch) / "unpacked", max_bytes=settings.max_upload_bytes)
        _validate(unpacked)
        _retire_live_jobs(unpacked / DATABASE)
        previous = data_dir / "backups" / f"before-restore-{datetime.now(timezone.utc):%Y%m%d-%H%M%S-%f}"
        previous.mkdir(parents=True)
        _copy_database(database, previous / DATABASE)
        for folder in ARTIFACT_DIRS:
            if (data_dir / folder).exists():
                shutil.move(data_dir / folder, previous / folder)
            if (unpacked / folder).exists():
                shutil.move(unpacked / folder, data_dir / folder)
        get_engine().dispose()  # pooled connections must not keep pages of the replaced database
        _copy_database(unpacked / DATABASE, database)
    upgrade_schema()  # an older backup is brought to the current schema
    return RestoreResult(models=len(repo.list_models()), datasets=len(repo.list_datasets()),
                         jobs=len(repo.list_jobs(100_000)), previous_state=previous)
