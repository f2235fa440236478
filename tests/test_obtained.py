"""What an optimization obtained beside what it asked (issue 12, finding 1): an INT4 request that NNCF
turned into INT8 ends "succeeded with a warning", and the model, the CLI, Compare and the export say so."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest

from core import lab
from core.config import REPO_ROOT
from core.errors import BadInputError
from core.jobs.queue import supervise_job
from core.optimize.algorithms import compress_weights_model
from core.optimize.recipes import CompressWeightsOptions
from core.options import JobKind, JobStatus, MeasureOptions
from db import repository as repo
from tests.models_in_code import make_outlier_classifier, make_transformer_block


@pytest.fixture
def small_mlp(lab_env):
    """Two MatMuls on 100 input features: NNCF keeps the last layer in INT8, 128 does not divide 100."""
    return lab.add_model_from_path(make_outlier_classifier(lab_env.parent / "mlp" / "model.xml", features=100),
                                   name="mlp")


def compress(model, **options):
    job = lab.submit_optimization(kind=JobKind.COMPRESS_WEIGHTS, model_id=model.id, dataset_id=None,
                                  options=CompressWeightsOptions(**options),
                                  measure=MeasureOptions(seconds=0.2, measure_parent=False))
    supervise_job(job.id)  # a real job process, as the worker runs it
    return repo.get_job(job.id)


def test_an_int4_request_that_came_out_int8_succeeds_with_a_warning_everywhere(small_mlp):
    done = compress(small_mlp, mode="int4_asym", group_size=128, group_size_fallback="ignore")
    assert done.status == JobStatus.SUCCEEDED
    assert "Asked for int4_asym, but no layer's weights are u4" in done.message
    child = repo.get_model(done.result_model_id)
    assert child.name == "mlp WC int4_asym g128"
    assert child.recipe["weight_layers"] == {"u8": 1, "f32": 1} and child.recipe["obtained"].get("u4", 0) == 0
    assert any("no layer's weights are u4" in w for w in child.recipe["warnings"])

    out = subprocess.run([sys.executable, "-m", "core", "models", "--json"], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=60, check=True)
    listed = {row["id"]: row for row in map(json.loads, out.stdout.splitlines())}
    assert listed[child.id]["obtained"]["u8"] > 0 and listed[child.id]["obtained"]["fake_quantize"] == 0
    assert listed[child.id]["warnings"] == child.recipe["warnings"]
    assert listed[small_mlp.id]["warnings"] == []

    from core.deploy.export import ir_zip

    readme = zipfile.ZipFile(io.BytesIO(ir_zip(child))).read("README.md").decode()
    assert "**Warning:** Asked for int4_asym" in readme and "u8 1 of 2 layers, f32 1 of 2" in readme


def test_a_request_obtained_as_asked_has_no_warning(lab_env):
    from core.intake.model_intake import set_static_shapes

    block = lab.add_model_from_path(make_transformer_block(lab_env.parent / "tb" / "model.xml"), name="block")
    model = set_static_shapes(block.id, {"input_ids": [1, 16]})
    done = compress(model, mode="int4_sym", group_size=64, all_layers=True)
    assert done.status == JobStatus.SUCCEEDED and done.message == "", done.message
    child = repo.get_model(done.result_model_id)
    assert child.recipe["warnings"] == [] and child.recipe["weight_layers"].get("i4", 0) > 0


def test_a_group_size_that_divides_no_layer_names_the_layers_and_the_fallback(small_mlp, tmp_path):
    from core.storage import resolve

    with pytest.raises(BadInputError, match=r"input channels of 1 layer\(s\): .*\(100\).*group size fallback"):
        compress_weights_model(resolve(small_mlp.path), options=CompressWeightsOptions(mode="int4_asym", group_size=128),
                               output_path=tmp_path / "out" / "model.xml")
    adjusted = compress_weights_model(resolve(small_mlp.path), output_path=tmp_path / "adj" / "model.xml",
                                      options=CompressWeightsOptions(mode="int4_asym", group_size=128, all_layers=True,
                                                                     group_size_fallback="adjust"))
    assert adjusted.details["weight_layers"].get("u4", 0) >= 1, adjusted.details["weight_layers"]
