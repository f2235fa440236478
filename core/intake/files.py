"""The one place the lab touches user-supplied files: names, uploads, zips and NumPy arrays.

Each failure raises a core.errors class whose message names the problem and the fix. Nothing is
written outside the destination, and a failed call leaves nothing half-written: data goes to a
temporary sibling first and is renamed into place only once complete.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from functools import partial
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np

from core.config import get_settings
from core.errors import BadInputError, DatasetError, UnsafeArchiveError
from core.storage import disk_full, sanitize_filename

CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
# A damaged zip raises these while being read, besides BadZipFile: bad deflate data, cut-off
# streams, unsupported methods such as Deflate64.
_ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)
_ZIP_OPEN_ERRORS = (zipfile.BadZipFile, EOFError, ValueError, OSError)
_RAISE_LIMIT = "raise the limit with the OPTLAB_MAX_UPLOAD_MB environment variable"
_RECREATE = "re-create the zip from inside the folder"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


def _too_large(name: str, limit: int) -> BadInputError:
    return BadInputError(f"The file '{name}' is larger than the {_mb(limit)} upload limit; "
                         f"upload a smaller file or {_RAISE_LIMIT}.")


def save_upload(data: bytes | BinaryIO, dest_dir: Path, name: str, *, max_bytes: int) -> Path:
    """Streams an upload in 1 MB chunks to dest_dir/<sanitized name>, replacing a namesake.

    Args:
        data: The content, or a binary stream (never read all at once).
        dest_dir: Folder to write into; created if missing.
        name: The name the user gave; only its sanitized final component is used.
        max_bytes: Largest accepted size (Settings.max_upload_bytes).

    Returns:
        The written file, directly inside dest_dir.

    Raises:
        BadInputError: The file is empty or larger than max_bytes.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) > max_bytes:  # known up front: fail before touching the disk
            raise _too_large(name, max_bytes)
        data = io.BytesIO(data)
    dest_dir.mkdir(parents=True, exist_ok=True)
    root = dest_dir.resolve()
    target = root / sanitize_filename(name)
    if target.resolve().parent != root:  # an existing link of that name pointing elsewhere
        raise BadInputError(f"'{target.name}' is a link in the upload folder; rename the file.")
    fd, part = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=root)
    try:
        written = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := data.read(CHUNK):
                written += len(chunk)
                if written > max_bytes:  # checked before writing: the disk never holds more
                    raise _too_large(name, max_bytes)
                out.write(chunk)
        if written == 0:
            raise BadInputError(f"The file '{name}' is empty; choose it again or re-export it.")
        os.replace(part, target)  # atomic: readers see the old file or the whole new one
    except BaseException as error:
        Path(part).unlink(missing_ok=True)
        full = disk_full(error)
        if full is not None:
            raise full from error
        raise
    return target


def _checked_entries(zf: zipfile.ZipFile, root: Path, max_bytes: int, max_files: int) -> list:
    """Validates every entry before anything is written; returns [(info, name, is_dir)]."""
    infos = zf.infolist()
    if len(infos) > max_files:
        raise UnsafeArchiveError(f"The zip holds {len(infos)} entries, more than the limit of "
                                 f"{max_files}; split the data into smaller zips.")
    entries, seen, declared = [], set(), 0
    for info in infos:
        name, rel = info.filename, info.filename.replace("\\", "/")  # Windows tools write '\'
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if parts and (parts[0] == "__MACOSX" or parts[-1] == ".DS_Store"):
            continue  # macOS metadata: skipped, so never written
        if rel.startswith("/") or _DRIVE.match(rel):
            raise UnsafeArchiveError(f"The zip holds '{name}', an absolute path; {_RECREATE}.")
        if ".." in parts or not (root / rel).resolve().is_relative_to(root):
            raise UnsafeArchiveError(f"The zip holds '{name}', a path outside its folder; "
                                     f"{_RECREATE}.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchiveError(f"The zip holds '{name}', a symbolic link, refused for "
                                     "safety; zip the real files instead (no 'zip --symlinks').")
        if info.flag_bits & 0x1:  # zipfile would fail later with a bare RuntimeError
            raise BadInputError(f"The zip entry '{name}' is password-protected; "
                                "re-create the zip without a password.")
        key = "/".join(parts)
        if key in seen:  # a later copy would silently replace or clash with the first
            raise BadInputError(f"The zip holds '{key}' twice; re-create it with unique names.")
        if key:  # an empty key is the root folder itself
            seen.add(key)
            declared += info.file_size
            entries.append((info, key, rel.endswith("/")))
    if declared > max_bytes:
        raise UnsafeArchiveError(f"The zip unpacks to {_mb(declared)}, more than the "
                                 f"{_mb(max_bytes)} limit; upload less data or {_RAISE_LIMIT}.")
    return entries


def _unpack(zf: zipfile.ZipFile, entries: list, tmp: Path, max_bytes: int) -> None:
    written = 0
    for info, key, is_dir in entries:
        (tmp / key if is_dir else (tmp / key).parent).mkdir(parents=True, exist_ok=True)
        if is_dir:
            continue
        try:  # zip permission bits are deliberately not applied: no executables from uploads
            with zf.open(info) as src, open(tmp / key, "xb") as dst:
                entry_written = 0
                while chunk := src.read(CHUNK):
                    written += len(chunk)  # headers can lie: count real bytes before writing
                    entry_written += len(chunk)
                    if written > max_bytes or entry_written > info.file_size:
                        raise UnsafeArchiveError(
                            f"The zip entry '{info.filename}' unpacks to more than its header "
                            f"says or past the {_mb(max_bytes)} limit (a zip bomb); "
                            "re-create the zip with a standard tool.")
                    dst.write(chunk)
        except _ZIP_READ_ERRORS as exc:
            raise BadInputError(f"The zip entry '{info.filename}' does not match its recorded "
                                f"size or checksum ({exc}), so the zip is damaged or forged; "
                                "re-create it with a standard tool.") from exc
        except OSError as exc:
            reason = exc.strerror or exc
            raise BadInputError(f"Could not unpack '{info.filename}' ({reason}); check no file "
                                "and folder share a name and the disk has space.") from exc


def extract_zip(zip_path: Path, dest: Path, *, max_bytes: int, max_files: int = 100_000) -> Path:
    """Safely unpacks a user zip into the new folder dest.

    All entries are checked before the first byte is written; content goes to a temporary
    sibling folder renamed to dest once complete and removed on any error. There is no
    per-entry compression-ratio limit: real data (zero-filled .npy, flat images) compresses far
    past 200x, and disk use is already bounded by max_bytes counted on the bytes written.

    Args:
        zip_path: The uploaded zip.
        dest: Folder to create; must not exist yet.
        max_bytes: Cap on the unpacked total, both declared and actually written.
        max_files: Cap on the number of entries.

    Returns:
        dest.

    Raises:
        BadInputError: Not a zip, damaged, encrypted, or dest already exists.
        UnsafeArchiveError: Absolute or escaping paths, symlinks, too many entries, too large.
    """
    if dest.exists():
        raise BadInputError(f"The folder '{dest.name}' already exists; unpack into a new one.")
    try:
        zf = zipfile.ZipFile(zip_path)
    except _ZIP_OPEN_ERRORS as exc:
        raise BadInputError(f"'{zip_path.name}' is not a zip file or is damaged ({exc}); "
                            "upload a complete .zip file.") from exc
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zf:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
        try:
            _unpack(zf, _checked_entries(zf, tmp.resolve(), max_bytes, max_files), tmp, max_bytes)
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return dest


def _declared_bytes(f: BinaryIO) -> int:
    """The size the array's .npy header declares (shape x item size), read before any data."""
    version = np.lib.format.read_magic(f)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read_header:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    shape, _, dtype = read_header[version](f)
    return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


def _read_array(opener: Callable[[], BinaryIO], label: str, stored_bytes: int) -> np.ndarray:
    """Reads one .npy stream whose data takes stored_bytes once uncompressed.

    The header is checked first: an array that declares more bytes than the data holds (a small
    file posing as a huge array, which NumPy would allocate up front) is refused unread.
    """
    unreadable = f"'{label}' cannot be read as a NumPy array"
    try:
        with opener() as f:
            if _declared_bytes(f) > stored_bytes:
                raise DatasetError(f"'{label}' declares a larger array than its data holds (a damaged or "
                                   "hostile file); save it again with np.save.")
        with opener() as f:
            array = np.lib.format.read_array(f, allow_pickle=False)
    except ValueError as exc:
        # read_array never unpickles a whole file, so only object arrays mention allow_pickle.
        if "allow_pickle" in str(exc):
            raise DatasetError(f"'{label}' is an object array, refused for safety (loading it "
                               "could run code); save it with a numeric dtype, e.g. "
                               "np.save(path, arr.astype(np.float32)).") from exc
        raise DatasetError(f"{unreadable} ({exc}); save it again with np.save.") from exc
    except (OSError, EOFError, MemoryError, *_ZIP_READ_ERRORS) as exc:
        raise DatasetError(f"{unreadable} ({exc}); save it again with np.save.") from exc
    fields = [array[f] for f in array.dtype.names] if array.dtype.names else [array]
    bad = sum(int(f.size - np.count_nonzero(np.isfinite(f)))
              for f in fields if np.issubdtype(f.dtype, np.inexact))
    if bad:
        raise DatasetError(f"Array '{label}' holds {bad} NaN or infinite values; "
                           "clean or replace them, then save it again.")
    return array


def load_npy(path: Path) -> np.ndarray:
    """Loads a .npy file without pickle; refuses object arrays, damaged files, NaN and inf."""
    return _read_array(partial(open, path, "rb"), path.name, path.stat().st_size)


def map_npy(path: Path) -> np.ndarray:
    """A read-only memory map of a .npy already checked by load_npy (no pickle; rows read on demand)."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # changed or damaged since it was checked
        raise DatasetError(f"'{path.name}' cannot be read as a NumPy array ({exc}); upload it again.") from exc


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """Loads every array of a .npz file without pickle, keyed by name; checks as load_npy."""
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_OPEN_ERRORS as exc:
        raise DatasetError(f"'{path.name}' is not a valid .npz file ({exc}); "
                           "save it again with np.savez.") from exc
    with zf:
        members = zf.infolist()
        if not members or not all(m.filename.endswith(".npy") for m in members):
            raise DatasetError(f"'{path.name}' holds no arrays or non-array files; "
                               "save it with np.savez.")
        limit = get_settings().max_upload_bytes
        unpacked = sum(m.file_size for m in members)  # declared sizes, checked before inflating anything
        if unpacked > limit:
            raise DatasetError(f"'{path.name}' unpacks to {_mb(unpacked)}, more than the {_mb(limit)} upload "
                               f"limit; split the arrays into smaller files or {_RAISE_LIMIT}.")
        return {m.filename[:-4]: _read_array(partial(zf.open, m), m.filename[:-4], m.file_size) for m in members}


def save_all(files: list[tuple[str, bytes | BinaryIO]], folder: Path) -> list[Path]:
    """Saves uploads into folder within the size limit; a single zip is unpacked safely."""
    limit = get_settings().max_upload_bytes
    if not files:
        raise BadInputError("No file was given; choose a file to upload.")
    saved = [save_upload(data, folder, name, max_bytes=limit) for name, data in files]
    if len(saved) == 1 and saved[0].suffix.lower() == ".zip":
        return [extract_zip(saved[0], folder / "unpacked", max_bytes=limit)]
    return saved
