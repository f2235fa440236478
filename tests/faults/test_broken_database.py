"""A damaged or emptied database (issue 11, finding 6) and small CLI faults (finding 8): a clear
message naming the file and the way out, exit code 2, no traceback, nothing reset or half-written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core import lab
from core.config import REPO_ROOT
from core.errors import ModelFormatError
from tests.faults.helpers import fill


def run(*argv: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *argv], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def checkpointed(data_dir: Path) -> Path:
    """The lab's database file with everything in it (WAL checkpointed, this process's pool closed)."""
    from db.session import get_engine

    get_engine().dispose()
    database = data_dir / "lab.db"
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    assert database.stat().st_size > 8192
    return database


@pytest.fixture
def stored_lab(lab_env, classifier_ir):
    lab.add_model_from_path(classifier_ir, name="kept")
    return lab_env, {**os.environ, "OPTLAB_DATA_DIR": str(lab_env), "OPTLAB_LOCAL_WORKER": "0"}


def test_a_truncated_database_is_named_with_the_way_out_and_left_as_it_is(stored_lab):
    data_dir, env = stored_lab
    database = checkpointed(data_dir)
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])  # a copy cut short
    damaged = database.read_bytes()
    for argv in (("core", "models"), ("core.jobs.worker", "--queue", "faults")):
        result = run(*argv, env=env)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr, result.stderr
        assert f"database {database} is damaged" in result.stderr and "restore a backup" in result.stderr
    assert database.read_bytes() == damaged, "a damaged database must not be reset"


def test_an_empty_database_beside_stored_models_is_not_silently_a_new_lab(stored_lab):
    data_dir, env = stored_lab
    database = checkpointed(data_dir)
    database.write_bytes(b"")
    result = run("core", "models", env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result
    assert "is empty (0 bytes)" in result.stderr and "restore a backup" in result.stderr
    assert database.stat().st_size == 0 and any((data_dir / "models").iterdir())


def test_openvino_reason_is_kept_and_server_paths_are_not(lab_env, tmp_path):
    garbage = tmp_path / "secret-server-folder" / "broken.onnx"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not an onnx model at all" * 40)
    with pytest.raises(ModelFormatError) as caught:
        lab.add_model_from_path(garbage)
    message = str(caught.value)
    assert "Unable to read the model" in message, message
    assert "Exception from src" not in message and "secret-server-folder" not in message and str(lab_env) not in message


def test_a_failed_backup_leaves_no_file(stored_lab, small_disk):
    _, env = stored_lab
    out = small_disk / "lab.zip"
    fill(small_disk)
    result = run("core", "backup", "--out", str(out), env=env)
    assert result.returncode != 0, result
    assert not out.exists(), "a failed backup must not leave a partial zip"


def test_wait_does_not_start_a_local_worker_when_workers_run_elsewhere(stored_lab):
    from core.jobs import runner as jobs
    from core.jobs.worker import worker_running
    from core.options import JobKind

    data_dir, env = stored_lab
    job = jobs.submit(JobKind.BENCHMARK, {"seconds": 0.1}, model_id=1, queue="elsewhere")
    process = subprocess.Popen([sys.executable, "-m", "core", "wait", str(job.id)], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=4)  # the job stays pending: nobody here may run it
        assert not worker_running("local") and not worker_running("elsewhere")
    finally:
        process.kill()
        process.wait()
