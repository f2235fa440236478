"""A full disk (issue 11, finding 5) on a real small tmpfs as the data dir: uploads and jobs end with
'the data folder's disk is full (N MB free)', leave no partial folder, and change nothing stored."""

from __future__ import annotations

import os

import pytest

from core import lab
from core.errors import DiskFullError
from core.jobs import runner as jobs
from core.optimize.recipes import Fp16Options
from core.options import JobKind, JobStatus, MeasureOptions
from db import repository as repo
from tests.faults.helpers import fill, tree_digest
from tests.models_in_code import make_transformer_block

FULL = r"The data folder's disk is full \(\d+\.\d MB free\)"


@pytest.fixture
def full_lab(small_disk, monkeypatch, tmp_path):
    """A lab on a 16 MB disk holding a 4 MB model, then filled up to 1 MB free."""
    monkeypatch.setenv("OPTLAB_DATA_DIR", str(small_disk / "data"))
    monkeypatch.delenv("OPTLAB_DATABASE_URL", raising=False)
    monkeypatch.delenv("OPTLAB_QUEUE_PATH", raising=False)
    monkeypatch.setenv("OPTLAB_QUEUE", "test")
    from db.session import upgrade_schema

    upgrade_schema()
    source = make_transformer_block(tmp_path / "big" / "model.xml")
    from core.intake.model_intake import set_static_shapes

    model = set_static_shapes(lab.add_model_from_path(source, name="big").id, {"input_ids": [1, 16]})
    fill(small_disk, keep_free=1024 * 1024)
    return small_disk / "data", model, source


def test_an_upload_to_a_full_disk_fails_clearly_and_leaves_nothing(full_lab):
    data_dir, model, source = full_lab
    before = tree_digest(data_dir / "models")
    with pytest.raises(DiskFullError, match=FULL):
        lab.add_model_from_path(source, name="again")
    assert tree_digest(data_dir / "models") == before
    assert [m.name for m in repo.list_models()] == ["big", model.name]


def test_a_job_on_a_full_disk_fails_with_the_reason_and_keeps_its_parent(full_lab):
    data_dir, model, _ = full_lab
    before = tree_digest(data_dir / "models")
    job = lab.submit_optimization(kind=JobKind.FP16, model_id=model.id, dataset_id=None, options=Fp16Options(),
                                  measure=MeasureOptions(seconds=0.1))
    assert repo.claim_job(job.id, os.getpid())
    assert not jobs.execute(job.id, jobs.Reporter(job.id))
    failed = repo.get_job(job.id)
    assert failed.status == JobStatus.FAILED
    assert "disk is full" in failed.message and "Traceback" not in failed.message, failed.message
    assert tree_digest(data_dir / "models") == before, "no partial child folder, the parent untouched"
