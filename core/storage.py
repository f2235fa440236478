"""Paths under the data dir: the one place that turns stored paths into files and back.

Rows store paths relative to the data dir (`OPTLAB_DATA_DIR`); `resolve` makes them absolute and
`relative` is its inverse. Every path that comes from the database or a backup goes through
`resolve` / `inside`, which refuse absolute paths, '..' and anything whose real path (links
followed) leaves the folder, so no stored row can make the lab read, write or delete elsewhere.
New folders get sanitized names and are never shared.

With an artifact store (OPTLAB_ARTIFACTS_URL: a shared folder, file://, or s3://bucket/prefix
through fsspec), the data dir is this process's cache of it: every folder new_folder makes is
published to the store when its block succeeds (a manifest of sha256 sums written last), and
resolve fetches a folder another machine published (checked against its manifest) the first time
this one needs it. Without one, the data dir is the only copy, as on a single machine.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Iterator

from core.config import get_settings
from core.errors import AppError, DiskFullError, UnsafePathError

MAX_NAME = 100
JOB_MARKER = ".job"  # in a folder a job is writing: its id (core.intake.cleanup removes what a kill left)
_claimant: int | None = None
# Below this much free space, a failed write (OpenVINO's 'basic_ios::clear: iostream error' says no
# more) is taken to be the disk being full.
NEARLY_FULL_BYTES = 8 * 1024 * 1024
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")  # explicit ASCII ranges: no Unicode look-alikes


def inside(root: Path, stored_path: str) -> Path:
    """root / stored_path, refused unless it stays inside root.

    Raises:
        UnsafePathError: stored_path is empty, absolute (also 'C:...'), has a '..' part or a
            backslash, or its real path (symlinks followed) is not inside root's real path.
    """
    pure = PurePosixPath(stored_path)
    if (not stored_path or pure.is_absolute() or PureWindowsPath(stored_path).drive or "\\" in stored_path
            or ".." in pure.parts):
        raise UnsafePathError(f"The stored path '{stored_path}' is not a plain path inside the lab's data "
                              "folder; the lab refuses to use it. Restore a backup made by the lab.")
    path = root / pure
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafePathError(f"The stored path '{stored_path}' leads outside the lab's data folder (through "
                              "a link); the lab refuses to use it. Remove the link or restore a backup.")
    return path


def resolve(stored_path: str) -> Path:
    """Absolute path of a path stored relative to the data dir (refused if it leaves it; see inside);
    with an artifact store, its folder is fetched into the data dir first when it is not here yet."""
    path = inside(get_settings().data_dir, stored_path)
    if get_settings().artifacts_url and not path.exists():
        fetch(stored_path)
    return path


MANIFEST = ".artifact.json"
MANIFEST_WAIT_SECONDS = 30.0  # a row may be read while its folder's upload finishes elsewhere


def _store():
    """(fsspec filesystem, root path) of OPTLAB_ARTIFACTS_URL."""
    import fsspec

    return fsspec.core.url_to_fs(get_settings().artifacts_url)


def _unit(stored_path: str) -> str:
    """The folder an artifact belongs to: the first two parts (models/<name>, datasets/<name>)."""
    return "/".join(PurePosixPath(stored_path).parts[:2])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(folder: Path) -> None:
    """Copies a folder just written under the data dir to the artifact store, its manifest last (a
    folder without one is not complete and is never fetched). A no-op without a store."""
    if not get_settings().artifacts_url:
        return
    fs, root = _store()
    unit = relative(folder)
    files = {p.relative_to(folder).as_posix(): _sha256(p) for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name not in (JOB_MARKER, MANIFEST)}
    for name in files:
        target = f"{root}/{unit}/{name}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(folder / name), target)
    fs.pipe_file(f"{root}/{unit}/{MANIFEST}", json.dumps(files, indent=0).encode())


def fetch(stored_path: str) -> None:
    """Brings the artifact folder holding stored_path from the store into the data dir: downloaded
    beside it, every file checked against the manifest, then moved in place in one rename.

    Raises:
        AppError: a file does not match its checksum (nothing is kept of the download).
    """
    fs, root = _store()
    unit = _unit(stored_path)
    manifest, deadline = f"{root}/{unit}/{MANIFEST}", time.monotonic() + MANIFEST_WAIT_SECONDS
    while True:
        fs.invalidate_cache()  # no listing cached from before another machine published it
        if fs.exists(manifest):
            break
        if not fs.exists(f"{root}/{unit}") or time.monotonic() > deadline:
            return  # not in the store (or never completed): the caller meets the missing file as without one
        time.sleep(0.5)  # its files are being uploaded: the manifest comes last
    files = json.loads(fs.cat_file(manifest))
    data_dir = get_settings().data_dir
    staging = data_dir / ".fetching" / uuid.uuid4().hex
    try:
        for name, digest in files.items():
            local = inside(staging, name)  # a manifest naming '../x' is refused like any stored path
            local.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(f"{root}/{unit}/{name}", str(local))
            if _sha256(local) != digest:
                raise AppError(f"The artifact store's copy of {unit}/{name} does not match its checksum; it was "
                               "not used. Publish the folder again from a machine that has it.")
        target = inside(data_dir, unit)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, target)
        except OSError:  # another process of this machine fetched it meanwhile: theirs is as good
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_tree(folder: Path, within: Path) -> bool:
    """Deletes folder (and what it holds) only when its real path lies strictly below within's.

    Returns:
        Whether it was removed; a folder elsewhere (or within itself) is left alone.
    """
    real, root = folder.resolve(), within.resolve()
    if real == root or not real.is_relative_to(root) or folder.is_symlink():
        return False
    shutil.rmtree(real, ignore_errors=True)
    return True


def statistics_folder(model_id: int, digest: str | None = None) -> Path:
    """Where NNCF's activation statistics of a model on one set of samples are kept (digest: of the
    samples' content), or with no digest the folder of all of them."""
    root = get_settings().data_dir / "statistics"
    return root / f"model{model_id}-{digest}" if digest else root


def checkpoint_folder(job_id: int) -> Path:
    """Where a training job keeps its per-epoch checkpoints between attempts (removed when it succeeds)."""
    return get_settings().data_dir / "checkpoints" / f"job{job_id}"


def relative(path: Path) -> str:
    """The form of a path under the data dir that rows store (the inverse of resolve)."""
    return path.relative_to(get_settings().data_dir).as_posix()


def sanitize_filename(name: str) -> str:
    """Turns any user-supplied name into one harmless path component.

    Args:
        name: A file name as sent by a browser or found in an archive; may hold folders.

    Returns:
        The final component with characters outside [A-Za-z0-9._-] replaced by '_' and leading
        dots removed (no hidden files, no '..'), at most 100 characters keeping the extension;
        'file' when nothing usable is left.
    """
    safe = _UNSAFE_CHARS.sub("_", re.split(r"[\\/]", name)[-1]).lstrip(".")  # '\': Windows
    if len(safe) > MAX_NAME:
        stem, dot, ext = safe.rpartition(".")
        keep_ext = dot and stem and len(ext) < 16
        safe = stem[: MAX_NAME - len(ext) - 1] + "." + ext if keep_ext else safe[:MAX_NAME]
    return safe or "file"  # '.' and '..' are already '' after lstrip


def unique_dir(parent: Path, stem: str) -> Path:
    """Creates and returns a new folder parent/<sanitized stem>, adding -1, -2, ... if taken."""
    parent.mkdir(parents=True, exist_ok=True)
    base, name, n = sanitize_filename(stem), sanitize_filename(stem), 0
    while True:
        try:  # mkdir itself is the test, so two racing callers never share a folder
            (parent / name).mkdir()
            return parent / name
        except FileExistsError:
            n += 1
            name = f"{base}-{n}"


@contextmanager
def new_folder(kind: str, stem: str) -> Iterator[Path]:
    """A fresh folder under the data dir that is removed again if the block fails.

    Inside a job (claimed_by) the folder is marked with the job's id, so that one a kill -9 cut
    short, with no row naming it, is removed by the worker's recovery round. When the block
    succeeds, the folder is published to the artifact store (if there is one).
    """
    folder = unique_dir(get_settings().data_dir / kind, stem)
    if _claimant is not None:
        claim_folder(folder, _claimant)
    try:
        yield folder
    except BaseException as error:
        shutil.rmtree(folder, ignore_errors=True)
        full = disk_full(error)
        if full is not None:
            raise full from error
        raise
    publish(folder)


def claim_folder(folder: Path, job_id: int) -> None:
    """Marks folder as being written for job job_id (see core.intake.cleanup)."""
    (folder / JOB_MARKER).write_text(str(job_id))


@contextmanager
def claimed_by(job_id: int) -> Iterator[None]:
    """Every folder new_folder makes in this block is claimed by job_id."""
    global _claimant
    previous, _claimant = _claimant, job_id
    try:
        yield
    finally:
        _claimant = previous


def disk_full(error: BaseException) -> DiskFullError | None:
    """The error to show when error came from the data folder's disk being full, else None."""
    if not isinstance(error, (OSError, RuntimeError)):
        return None
    folder = get_settings().data_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if not (isinstance(error, OSError) and error.errno == errno.ENOSPC) and free >= NEARLY_FULL_BYTES:
        return None
    return DiskFullError(f"The data folder's disk is full ({free / 2**20:.1f} MB free); nothing stored before was "
                         "changed. Free some space (delete models you no longer need) or set OPTLAB_DATA_DIR "
                         "to a bigger disk, then try again.")
