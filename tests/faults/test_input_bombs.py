"""Memory and disk bombs from small uploads (issue 11, finding 3): sizes declared by an .npz or a
.npy header and a table's width are checked before anything is inflated or parsed; a refused
upload leaves no folder behind."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from core.config import REPO_ROOT
from core.errors import DatasetError
from core.intake import sources
from core.intake.data_tables import MAX_COLUMNS

MB = 1024 * 1024


def zero_bomb(path, megabytes: int) -> None:
    """An .npz whose one float32 array of zeros inflates to `megabytes` (the file stays tiny)."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (megabytes * MB // 4,)}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            chunk = bytes(MB)
            for _ in range(megabytes):
                member.write(chunk)


@pytest.mark.timeout(240)
def test_an_npz_that_inflates_past_the_limit_is_refused_before_inflating(lab_env, tmp_path):
    bomb = tmp_path / "bomb.npz"
    zero_bomb(bomb, 250)
    assert bomb.stat().st_size < 2 * MB
    # Peak RSS from VmHWM: ru_maxrss would carry over the forking pytest process's size across exec.
    probe = ("import sys\nfrom core.intake import sources\nfrom core.errors import AppError\n"
             "try:\n    sources.add_data_from_path(sys.argv[1])\nexcept AppError as e:\n    print('refused:', e)\n"
             "hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM'))\n"
             "print('peak_mb', int(hwm.split()[1]) // 1024)\n")
    result = subprocess.run([sys.executable, "-c", probe, str(bomb)], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=150, env={**__import__("os").environ, "OPTLAB_MAX_UPLOAD_MB": "50"})
    assert "refused: 'bomb.npz' unpacks to 250 MB, more than the 50 MB upload limit" in result.stdout, result
    peak = int(result.stdout.rsplit("peak_mb", 1)[1])
    assert peak < 250, f"peak RSS {peak} MB: the array was inflated"
    assert not any((lab_env / "datasets").iterdir())


def test_an_npy_whose_header_claims_a_huge_array_is_refused_unread(lab_env, tmp_path):
    liar = tmp_path / "liar.npy"
    with liar.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**9,)})
        f.write(bytes(100))
    with pytest.raises(DatasetError, match="declares a larger array than its data holds"):
        sources.add_data_from_path(liar)
    assert not any((lab_env / "datasets").iterdir())


@pytest.mark.timeout(60)
def test_a_csv_with_a_million_columns_is_refused_from_its_header(lab_env, tmp_path):
    wide = tmp_path / "wide.csv"
    columns = 1_000_000
    wide.write_text(",".join(f"c{i}" for i in range(columns)) + "\n" + ",".join("0" * columns) + "\n")
    with pytest.raises(DatasetError, match=rf"has {columns} columns; the lab reads tables of at most {MAX_COLUMNS}"):
        sources.add_data_from_path(wide)
    assert not any((lab_env / "datasets").iterdir())
