"""Shared fixtures: every test gets its own data dir (SQLite file, queue file, artifacts)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# One job at a time per host (core.jobs.queue.host_slot): this test session is a host of its own, so
# that it does not wait for (or hold up) the jobs of a lab or another test run on the same machine.
os.environ.setdefault("OPTLAB_HOST", f"test-session-{os.getpid()}")


@pytest.fixture
def lab_env(tmp_path, tmp_path_factory, monkeypatch):
    """A fresh, migrated lab in tmp_path; returns the data dir."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("OPTLAB_DATA_DIR", str(data_dir))
    # NNCF compiles its torch extension once per folder (~40 s): once per test session, not per test.
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path_factory.getbasetemp() / "torch-extensions"))
    monkeypatch.delenv("OPTLAB_DATABASE_URL", raising=False)
    for name in ("OPTLAB_QUEUE_PATH", "OPTLAB_QUEUE_URL", "OPTLAB_ARTIFACTS_URL"):
        monkeypatch.delenv(name, raising=False)
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


@pytest.fixture(scope="session")
def redis_server():
    """A real redis-server on loopback for the whole session (tests may kill and restart it)."""
    from tests.servers import start_redis

    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL cluster on loopback for the whole session (tests may restart it)."""
    from tests.servers import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible endpoint (moto's server) on loopback for the whole session."""
    from tests.servers import start_s3

    server = start_s3()
    yield server
    server.stop()


def use_shared_backend(request, monkeypatch) -> None:
    """Points this test's lab at a fresh Postgres database and a queue on Redis (a queue name of its
    own), as a team's lab runs: the session's real servers."""
    import uuid

    from db.session import upgrade_schema

    postgres, redis = request.getfixturevalue("postgres_server"), request.getfixturevalue("redis_server")
    name = f"lab_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("OPTLAB_DATABASE_URL", postgres.create_database(name))
    monkeypatch.setenv("OPTLAB_QUEUE_URL", redis.url)
    monkeypatch.setenv("OPTLAB_QUEUE", name)
    upgrade_schema()


@pytest.fixture
def shared_lab(lab_env, request, monkeypatch):
    """lab_env on Postgres + Redis (use_shared_backend); returns the data dir."""
    use_shared_backend(request, monkeypatch)
    return lab_env
