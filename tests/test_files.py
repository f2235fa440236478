"""Tests of core.intake.files: every bad input gets a clear error and leaves nothing behind."""

from __future__ import annotations

import io
import re
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.errors import BadInputError, DatasetError, UnsafeArchiveError
from core.intake.files import extract_zip, load_npy, load_npz, save_upload
from core.storage import sanitize_filename, unique_dir

MB = 1024 * 1024
SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


# ---------------------------------------------------------------- helpers


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def patch_headers(data: bytes, *, local_off: int, central_off: int, fmt: str, value) -> bytes:
    """Overwrites one field in every local and central header (to forge sizes or flags)."""
    out = bytearray(data)
    for sig, off in ((b"PK\x03\x04", local_off), (b"PK\x01\x02", central_off)):
        pos = out.find(sig)
        while pos != -1:
            struct.pack_into(fmt, out, pos + off, value)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def symlink_zip(tmp: Path) -> bytes:
    link = zipfile.ZipInfo("link")
    link.create_system = 3  # unix, so the mode bits in external_attr count
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    return zip_bytes([(link, str(tmp / "decoy.txt").encode()), ("link2/ok.txt", b"x")])


def lying_zip(tmp: Path) -> bytes:
    # 5 MB of zeros compress to ~5 KB; the headers are forged to declare 100 bytes.
    data = zip_bytes([("big.bin", b"\0" * (5 * MB))])
    return patch_headers(data, local_off=22, central_off=24, fmt="<I", value=100)


def corrupt_data_zip(tmp: Path) -> bytes:
    data = bytearray(zip_bytes([("a.txt", bytes(range(256)) * 64)]))
    start = data.find(b"a.txt") + len("a.txt")  # compressed data follows the local header name
    data[start + 10 : start + 60] = b"\xff" * 50
    return bytes(data)


def encrypted_zip(tmp: Path) -> bytes:
    data = zip_bytes([("a.txt", b"secret")])
    return patch_headers(data, local_off=6, central_off=8, fmt="<H", value=0x1)


def duplicate_zip(tmp: Path) -> bytes:
    with pytest.warns(UserWarning):  # zipfile itself warns about the duplicate
        return zip_bytes([("a/x.txt", b"1"), ("a/x.txt", b"2")])


def snapshot(tmp: Path) -> tuple[set[str], set[str]]:
    """Everything under tmp, plus the names one level up (where '../' escapes would land)."""
    inside = {p.relative_to(tmp).as_posix() for p in tmp.rglob("*")}
    return inside, {p.name for p in tmp.parent.iterdir()}


# ---------------------------------------------------------------- extract_zip: bad inputs

BAD_ZIPS = [
    # id, build(tmp) -> zip bytes, extract kwargs, error type, message fragment
    ("zip-slip", lambda t: zip_bytes([("ok.txt", b"x"), ("../decoy.txt", b"evil")]),
     {}, UnsafeArchiveError, "'../decoy.txt', a path outside its folder"),
    ("absolute", lambda t: zip_bytes([(str(t / "decoy.txt"), b"evil")]),
     {}, UnsafeArchiveError, "an absolute path"),
    ("absolute-tmp", lambda t: zip_bytes([("/tmp/optlab-decoy-x", b"evil")]),
     {}, UnsafeArchiveError, "an absolute path"),
    ("drive-letter", lambda t: zip_bytes([("C:/decoy.txt", b"evil")]),
     {}, UnsafeArchiveError, "an absolute path"),
    ("nested-dotdot", lambda t: zip_bytes([("a/ok.txt", b"x"), ("a/../../decoy.txt", b"evil")]),
     {}, UnsafeArchiveError, "a path outside its folder"),
    ("backslash-dotdot", lambda t: zip_bytes([("..\\decoy.txt", b"evil")]),
     {}, UnsafeArchiveError, "a path outside its folder"),
    ("symlink", symlink_zip, {}, UnsafeArchiveError, "'link', a symbolic link"),
    ("too-many-files", lambda t: zip_bytes([(f"f{i}.txt", b"x") for i in range(6)]),
     {"max_files": 5}, UnsafeArchiveError, "6 entries, more than the limit of 5"),
    ("declared-size-bomb", lambda t: zip_bytes([("big.bin", b"\0" * (5 * MB))]),
     {"max_bytes": MB}, UnsafeArchiveError, "unpacks to 5 MB, more than the 1 MB limit"),
    ("lying-header-bomb", lying_zip,
     {"max_bytes": MB}, BadInputError, "'big.bin' does not match its recorded size"),
    ("not-a-zip", lambda t: b"this is plain text, not a zip file" * 10,
     {}, BadInputError, "is not a zip file or is damaged"),
    ("truncated", lambda t: zip_bytes([("a.txt", b"hello" * 1000)])[:-30],
     {}, BadInputError, "is not a zip file or is damaged"),
    ("corrupt-entry-data", corrupt_data_zip, {}, BadInputError, "'a.txt' does not match"),
    ("empty-file", lambda t: b"", {}, BadInputError, "is not a zip file or is damaged"),
    ("encrypted", encrypted_zip, {}, BadInputError, "password-protected"),
    ("duplicate-name", duplicate_zip, {}, BadInputError, "holds 'a/x.txt' twice"),
]


@pytest.mark.parametrize(("build", "kwargs", "error", "fragment"),
                         [c[1:] for c in BAD_ZIPS], ids=[c[0] for c in BAD_ZIPS])
def test_extract_zip_refuses_bad_input(tmp_path, build, kwargs, error, fragment):
    zip_path = tmp_path / "upload.zip"
    zip_path.write_bytes(build(tmp_path))
    dest = tmp_path / "dest"
    before = snapshot(tmp_path)

    with pytest.raises(error) as excinfo:
        extract_zip(zip_path, dest, **{"max_bytes": 100 * MB, **kwargs})

    assert type(excinfo.value) is error
    message = str(excinfo.value)
    assert fragment in message
    assert ";" in message  # the problem, then the fix
    assert snapshot(tmp_path) == before  # no partial folder, no escaped file
    assert not dest.exists()
    assert not (tmp_path / "decoy.txt").exists()
    assert not Path("/tmp/optlab-decoy-x").exists()


@pytest.mark.parametrize("max_bytes", [MB, 100 * MB], ids=["past-limit", "past-header"])
def test_extract_zip_counts_real_bytes_when_headers_lie(tmp_path, monkeypatch, max_bytes):
    """The streaming counter stops a reader that yields more than the header declares."""
    zip_path = tmp_path / "upload.zip"
    zip_path.write_bytes(zip_bytes([("big.bin", b"0123456789")]))
    # Stand in for a reader that trusts the data rather than the header (stock zipfile truncates).
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: io.BytesIO(b"\0" * 3 * MB))
    dest = tmp_path / "dest"
    before = snapshot(tmp_path)

    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        extract_zip(zip_path, dest, max_bytes=max_bytes)

    assert snapshot(tmp_path) == before
    assert not dest.exists()


def test_extract_zip_refuses_existing_dest_and_leaves_it_alone(tmp_path):
    zip_path = tmp_path / "upload.zip"
    zip_path.write_bytes(zip_bytes([("a.txt", b"new")]))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("old")

    with pytest.raises(BadInputError, match="already exists"):
        extract_zip(zip_path, dest, max_bytes=MB)

    assert [p.name for p in dest.iterdir()] == ["keep.txt"]


def test_extract_zip_happy_path_class_folders(tmp_path):
    files = {"cats/1.png": b"cat one", "cats/2.png": b"cat two", "dogs/1.png": b"dog" * 1000}
    junk = [("__MACOSX/cats/._1.png", b"meta"), ("cats/.DS_Store", b"meta"),
            ("__MACOSX/../../decoy.txt", b"skipped, never written")]
    zip_path = tmp_path / "upload.zip"
    zip_path.write_bytes(zip_bytes([("cats/", b""), ("dogs/", b""), *files.items(), *junk]))
    dest = tmp_path / "nested" / "dest"

    assert extract_zip(zip_path, dest, max_bytes=MB) == dest

    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert got == files
    assert sorted(p.name for p in dest.iterdir()) == ["cats", "dogs"]
    assert [p.name for p in dest.parent.iterdir()] == ["dest"]  # the temporary folder is gone
    assert not (tmp_path / "decoy.txt").exists()


# ---------------------------------------------------------------- save_upload


BAD_UPLOADS = [
    # id, data factory, max_bytes, message fragments
    ("empty-bytes", lambda: b"", MB, ["is empty"]),
    ("empty-stream", lambda: io.BytesIO(b""), MB, ["is empty"]),
    ("oversized-bytes", lambda: b"x" * (2 * MB), MB, ["1 MB upload limit", "OPTLAB_MAX_UPLOAD_MB"]),
    ("oversized-stream", lambda: io.BytesIO(b"x" * (3 * MB)), 2 * MB,
     ["2 MB upload limit", "OPTLAB_MAX_UPLOAD_MB"]),
]


@pytest.mark.parametrize(("make", "max_bytes", "fragments"),
                         [c[1:] for c in BAD_UPLOADS], ids=[c[0] for c in BAD_UPLOADS])
def test_save_upload_refuses_bad_input(tmp_path, make, max_bytes, fragments):
    dest_dir = tmp_path / "uploads"
    dest_dir.mkdir()
    before = snapshot(tmp_path)

    with pytest.raises(BadInputError) as excinfo:
        save_upload(make(), dest_dir, "data.bin", max_bytes=max_bytes)

    assert all(f in str(excinfo.value) for f in fragments)
    assert snapshot(tmp_path) == before  # no .part file left behind
    assert list(dest_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["<script>ñ.png", "../../evil.png", "C:\\Users\\me\\x<>.png"])
def test_save_upload_makes_names_harmless(tmp_path, name):
    saved = save_upload(b"\x89PNG data", tmp_path / "up", name, max_bytes=MB)

    assert SAFE_NAME.match(saved.name) and saved.name.endswith(".png")
    assert saved.parent == (tmp_path / "up").resolve()
    assert saved.read_bytes() == b"\x89PNG data"
    assert [p.name for p in (tmp_path / "up").iterdir()] == [saved.name]


def test_save_upload_streams_in_chunks_up_to_the_limit(tmp_path):
    data = bytes(range(256)) * (12 * 1024)  # 3 MB, more than one chunk
    saved = save_upload(io.BytesIO(data), tmp_path, "model.onnx", max_bytes=len(data))
    assert saved.read_bytes() == data


# ---------------------------------------------------------------- names and folders


@pytest.mark.parametrize(("name", "expected"), [
    ("<script>ñ.png", "_script__.png"),
    ("<img src=x onerror=alert(1)>.jpg", "_img_src_x_onerror_alert_1__.jpg"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\win.ini", "win.ini"),
    ("a b&c.txt", "a_b_c.txt"),
    ("img\x00.png", "img_.png"),
    (".bashrc", "bashrc"),
    ("model-v1.2_final.xml", "model-v1.2_final.xml"),
    ("", "file"), (".", "file"), ("..", "file"), ("/", "file"), ("dir/", "file"),
])
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


@pytest.mark.parametrize(("name", "suffix"), [("x" * 300 + ".onnx", ".onnx"), ("y" * 300, "y")])
def test_sanitize_filename_caps_length_keeping_extension(name, suffix):
    safe = sanitize_filename(name)
    assert len(safe) == 100 and safe.endswith(suffix)


def test_unique_dir_never_reuses_a_folder(tmp_path):
    made = [unique_dir(tmp_path / "models", "my model") for _ in range(3)]
    assert [p.name for p in made] == ["my_model", "my_model-1", "my_model-2"]
    assert all(p.is_dir() and p.parent == tmp_path / "models" for p in made)
    assert unique_dir(tmp_path, "../evil").parent == tmp_path


# ---------------------------------------------------------------- load_npy / load_npz


def _object_npy(path: Path) -> None:
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)


def _truncated_npy(path: Path) -> None:
    np.save(path, np.arange(1000, dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-100])


BAD_ARRAYS = [
    # id, file name, writer, message fragments
    ("object-npy", "obj.npy", _object_npy, ["'obj.npy' is an object array", "numeric dtype"]),
    ("object-npz", "obj.npz",
     lambda p: np.savez(p, ok=np.zeros(2), bad=np.array([None], dtype=object)),
     ["'bad' is an object array", "numeric dtype"]),
    ("nan-npy", "nan.npy", lambda p: np.save(p, np.array([1.0, np.nan, np.nan, 2.0])),
     ["'nan.npy' holds 2 NaN or infinite values"]),
    ("inf-npz", "inf.npz",
     lambda p: np.savez(p, x=np.ones(3), y=np.array([[np.inf, 0], [0, -np.inf]])),
     ["'y' holds 2 NaN or infinite values"]),
    ("corrupt-npy", "bad.npy", lambda p: p.write_bytes(b"not numpy at all" * 8),
     ["cannot be read"]),
    ("truncated-npy", "cut.npy", _truncated_npy, ["cannot be read"]),
    ("pickle-as-npy", "pick.npy", lambda p: p.write_bytes(b"\x80\x04\x95cos\nsystem\n."),
     ["cannot be read"]),
    ("corrupt-npz", "bad.npz", lambda p: p.write_bytes(b"PK\x03\x04 garbage"),
     ["not a valid .npz"]),
    ("empty-npz", "empty.npz", lambda p: np.savez(p), ["holds no arrays"]),
]


@pytest.mark.parametrize(("filename", "write", "fragments"),
                         [c[1:] for c in BAD_ARRAYS], ids=[c[0] for c in BAD_ARRAYS])
def test_loaders_refuse_bad_arrays(tmp_path, filename, write, fragments):
    path = tmp_path / filename
    write(path)
    load = load_npz if filename.endswith(".npz") else load_npy

    with pytest.raises(DatasetError) as excinfo:
        load(path)

    assert all(f in str(excinfo.value) for f in fragments), str(excinfo.value)


def test_load_npy_and_npz_happy_path(tmp_path):
    images = np.random.default_rng(0).random((4, 3, 8, 8), dtype=np.float32)
    labels = np.arange(4, dtype=np.int64)
    np.save(tmp_path / "x.npy", images)
    np.savez_compressed(tmp_path / "data.npz", images=images, labels=labels)

    np.testing.assert_array_equal(load_npy(tmp_path / "x.npy"), images)
    loaded = load_npz(tmp_path / "data.npz")
    assert sorted(loaded) == ["images", "labels"]
    np.testing.assert_array_equal(loaded["images"], images)
    assert loaded["labels"].dtype == np.int64
