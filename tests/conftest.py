"""Shared fixtures: every test gets its own data dir (SQLite file, queue file, artifacts)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def lab_env(tmp_path, tmp_path_factory, monkeypatch):
    """A fresh, migrated lab in tmp_path; returns the data dir."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("OPTLAB_DATA_DIR", str(data_dir))
    # NNCF compiles its torch extension once per folder (~40 s): once per test session, not per test.
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path_factory.getbasetemp() / "torch-extensions"))
    monkeypatch.delenv("OPTLAB_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPTLAB_QUEUE_PATH", raising=False)
    monkeypatch.setenv("OPTLAB_QUEUE", "test")
    from db.session import upgrade_schema

    upgrade_schema()
    yield data_dir
    # A job process this test's in-process supervisor started ahead belongs to this data dir.
    from core.jobs import queue

    if queue._standby is not None:
        queue._standby.kill()
        queue._standby.wait()
        queue._standby = None


@pytest.fixture
def classifier_ir(tmp_path):
    from tests.models_in_code import make_classifier

    return make_classifier(tmp_path / "src" / "model.xml")
