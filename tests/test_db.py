"""The database: migrations match the ORM, records come back, job transitions are atomic."""

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core.errors import JobError, NotFoundError
from core.options import JobStatus
from db import repository as repo
from db.models import Base
from db.session import get_engine


def test_migrations_match_orm(lab_env):
    with get_engine().connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"ORM and migrations differ; write an Alembic revision: {diff}"


def test_sqlite_pragmas(lab_env):
    with get_engine().connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def _model(name="m", parent_id=None):
    return repo.add_model(name=name, format="onnx", path="models/m/model.xml", size_bytes=10,
                          inputs=[{"name": "x", "shape": [-1, 3]}], outputs=[], parent_id=parent_id)


def test_records_are_frozen_copies(lab_env):
    parent = _model("parent")
    child = _model("child", parent.id)
    assert repo.get_model(child.id).parent_id == parent.id
    assert repo.get_model(parent.id).inputs == [{"name": "x", "shape": [-1, 3]}]
    with pytest.raises(Exception):
        child.name = "other"
    with pytest.raises(NotFoundError):
        repo.get_model(999)


def test_claim_happens_once_and_idempotency_key_dedupes(lab_env):
    job, created = repo.create_job(kind="quantize", options={}, queue="q", idempotency_key="k1")
    again, created_again = repo.create_job(kind="quantize", options={}, queue="q", idempotency_key="k1")
    assert created and not created_again and again.id == job.id
    assert repo.claim_job(job.id, pid=1)
    assert not repo.claim_job(job.id, pid=2)
    assert repo.get_job(job.id).attempts == 1


def test_stale_running_job_becomes_interrupted_and_can_rerun(lab_env):
    job, _ = repo.create_job(kind="quantize", options={}, queue="q")
    repo.claim_job(job.id, pid=1)
    assert repo.interrupt_stale_jobs(timedelta(seconds=60)) == []
    interrupted = repo.interrupt_stale_jobs(timedelta(seconds=-1))
    assert [j.status for j in interrupted] == [JobStatus.INTERRUPTED]
    assert repo.reset_for_rerun(job.id).status == JobStatus.PENDING
    with pytest.raises(JobError):
        repo.reset_for_rerun(job.id)


def test_cancel_pending_job_is_immediate(lab_env):
    job, _ = repo.create_job(kind="benchmark", options={}, queue="q")
    assert repo.request_cancel(job.id).status == JobStatus.CANCELLED
    with pytest.raises(JobError):
        repo.request_cancel(job.id)


def test_benchmark_rows_round_trip(lab_env):
    model = _model()
    result = {"device": "CPU", "hint": "latency", "batch": 1, "streams": 1, "infer_requests": 1,
              "precision": "f32", "throughput_fps": 100.0, "first_inference_ms": 3.0,
              "compile_ms": 50.0, "iterations": 10, "duration_s": 0.1, "environment": {"cpu": "x"},
              "latency_ms": {"median": 1.0, "mean": 1.1, "min": 0.9, "max": 2.0, "p90": 1.5, "p99": 1.9}}
    stored = repo.add_benchmark(model.id, result)
    assert repo.list_benchmarks(model.id) == [stored]
    assert stored.latency_p99_ms == 1.9 and stored.precision == "f32"


def test_ids_of_deleted_rows_are_never_given_again(lab_env):
    first, second = _model("first"), _model("second")
    repo.delete_model(second.id)
    assert _model("third").id == second.id + 1


def test_upgrading_a_populated_database_keeps_every_row_and_link(tmp_path, monkeypatch):
    """A lab at revision 0002 (ids reusable) upgraded to head: rows, links and cascades survive."""
    from alembic import command
    from alembic.config import Config

    from db.session import MIGRATIONS_DIR, upgrade_schema

    monkeypatch.setenv("OPTLAB_DATA_DIR", str(tmp_path / "data"))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with get_engine().begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with get_engine().begin() as connection:
        for statement in (
                "INSERT INTO models (id, name, format, path, size_bytes, inputs, outputs, parent_id, recipe, created_at)"
                " VALUES (1, 'parent', 'onnx', 'p', 1, '[]', '[]', NULL, '{}', '2026-01-01'),"
                " (2, 'child', 'openvino-ir', 'c', 1, '[]', '[]', 1, '{}', '2026-01-01')",
                "INSERT INTO jobs (id, kind, options, status, progress, stage, message, queue, attempts,"
                " model_id, result_model_id, cancel_requested, created_at)"
                " VALUES (1, 'quantize', '{}', 'succeeded', 1, 'done', '', 'local', 1, 1, 2, 0, '2026-01-01')",
                "INSERT INTO accuracy_results (model_id, job_id, metric, value, samples, precision, created_at)"
                " VALUES (2, 1, 'top1', 0.9, 10, 'bf16', '2026-01-01')",
                "INSERT INTO profiles (model_id, job_id, device, precision, total_ms, layers, created_at)"
                " VALUES (2, 1, 'CPU', 'bf16', 1.0, '[]', '2026-01-01')",
                # The columns 0002 has (the ORM's are head's: later ones would not exist yet).
                "INSERT INTO benchmark_results (model_id, device, hint, batch, streams, infer_requests, precision,"
                " latency_median_ms, latency_mean_ms, latency_min_ms, latency_max_ms, latency_p90_ms, latency_p99_ms,"
                " throughput_fps, first_inference_ms, compile_ms, iterations, duration_s, environment, created_at,"
                " auto_batch, repeat) VALUES"
                " (1, 'CPU', 'latency', 1, 1, 1, 'bf16', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, '{}', '2026-01-01', 0, 0),"
                " (2, 'CPU', 'latency', 1, 1, 1, 'bf16', 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, '{}', '2026-01-01', 0, 0)"):
            connection.execute(text(statement))

    upgrade_schema()

    assert [(m.id, m.parent_id) for m in repo.list_models()] == [(1, None), (2, 1)]
    assert repo.get_job(1).result_model_id == 2
    assert len(repo.list_benchmarks()) == 2 and len(repo.list_accuracy()) == 1
    assert len(repo.list_profiles(2)) == 1
    with get_engine().connect() as connection:
        assert connection.execute(text("PRAGMA foreign_key_check")).first() is None
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert "AUTOINCREMENT" in connection.execute(text(
            "SELECT sql FROM sqlite_master WHERE name = 'models'")).scalar()
    repo.delete_model(2)  # cascades still work after the rebuild; its id is not given again
    assert [b.model_id for b in repo.list_benchmarks()] == [1] and repo.list_accuracy() == []
    assert _model("new").id == 3
