"""Layer sensitivity (core.optimize.sensitivity): a deliberately fragile layer ranks first, through
a real job and the CLI; the ranking's worst k become an ignored scope; the Models page draws it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from core.config import REPO_ROOT
from core.measure.evaluate import compile_model
from core.optimize.recipes import QuantizeOptions
from core.optimize.sensitivity import keep_float, layer_sensitivity
from core.tasks.base import TaskSettings
from core.tasks.registry import TASKS
from core.tasks.run import Validation
from tests.models_in_code import make_outlier_classifier

FRAGILE = "head"  # make_outlier_classifier: the MatMul after the hidden layer with a 10^4 outlier channel


@pytest.fixture
def fragile(tmp_path):
    path = make_outlier_classifier(tmp_path / "fp32" / "model.xml")
    xs = np.random.default_rng(1).uniform(0, 1, (200, 16)).astype(np.float32)
    reference = compile_model(path, precision="f32")
    values = np.concatenate([reference(xs[i:i + 1])[0] for i in range(len(xs))]).astype(np.float64)
    return path, xs, values


def test_the_fragile_layer_ranks_first_and_keeping_it_float_recovers_most(fragile):
    path, xs, values = fragile
    validate = Validation(TASKS["regression"], TaskSettings(), metric="mae", vs_parent=True, classes=0)
    ranking = layer_sensitivity(path, [xs[i:i + 1] for i in range(100)], [(xs[i:i + 1], values[i]) for i in range(200)],
                                validate=validate, options=QuantizeOptions(subset_size=100))
    assert ranking.metric == "mae_vs_parent" and ranking.float_value == pytest.approx(0.0, abs=1e-6)
    assert [layer["name"] for layer in ranking.layers] == [FRAGILE, "hidden"]
    first, second = ranking.layers
    assert first["recovered"] > 0.5 * ranking.int8_value  # most of the INT8 error goes with it
    assert first["value"] == pytest.approx(ranking.int8_value - first["recovered"])  # an error: less is better
    assert second["recovered"] < first["recovered"]


def test_keeping_every_layer_float_gives_back_the_float_model(fragile):
    import nncf
    import openvino as ov

    path, xs, _ = fragile
    parent = ov.Core().read_model(path)
    quantized = nncf.quantize(parent.clone(), nncf.Dataset([xs[i:i + 1] for i in range(50)]), subset_size=50)
    restored = keep_float(keep_float(quantized, parent, "hidden"), parent, FRAGILE)
    core = ov.Core()
    f32 = {"INFERENCE_PRECISION_HINT": "f32"}
    expected = core.compile_model(parent, "CPU", f32)(xs[:1])[0]
    assert np.allclose(core.compile_model(restored, "CPU", f32)(xs[:1])[0], expected, atol=1e-5)
    assert not np.allclose(core.compile_model(quantized, "CPU", f32)(xs[:1])[0], expected, atol=1e-2)


def test_cli_ranks_layers_through_a_job_and_ignore_worst_queues_the_ignored_scope(lab_env, fragile, tmp_path, capsys):
    from core import lab
    from core.cli import main
    from core.options import JobKind, MeasureOptions
    from core.optimize.recipes import SweepOptions
    from db import repository as repo

    path, xs, values = fragile
    np.savez(tmp_path / "values.npz", features=xs, labels=values)
    assert main(["add-model", str(path), "--name", "outliers"]) == 0
    assert main(["add-data", str(tmp_path / "values.npz"), "--task", "regression"]) == 0
    out = subprocess.run([sys.executable, "-m", "core", "sensitivity", "1", "--data", "1", "--validate", "1",
                          "--task", "regression", "--metric", "mae", "--subset-size", "100", "--wait"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["rank"], r["layer"], r["metric"]) for r in rows] == [(1, FRAGILE, "mae"), (2, "hidden", "mae")]
    assert rows[0]["value"] < rows[0]["int8_value"]  # with the labels: MAE against them
    (ranking,) = repo.list_sensitivities(1)

    one = repo.get_job(lab.submit_ignoring_worst(ranking.id, 1, [1], measure=MeasureOptions(dataset_id=1)).id)
    assert one.kind == JobKind.QUANTIZE and one.options["recipe"]["ignored_names"] == [FRAGILE]
    assert one.options["recipe"]["subset_size"] == 100  # the ranking's calibration options are kept
    sweep = repo.get_job(lab.submit_ignoring_worst(ranking.id, 1, [1, 2], measure=MeasureOptions(dataset_id=1)).id)
    points = SweepOptions.from_dict(sweep.options["sweep"]).points()
    assert [list(p["ignored_names"]) for p in points] == [[FRAGILE], [FRAGILE, "hidden"]]
    assert main(["ignore-worst", "1", "--k", "9"]) == 2
    assert "keep between 1 and 2" in capsys.readouterr().err

    # auto: k = 1, 2 with a max drop of 0.2 in MAE; k = 1 (the fragile layer in float) meets it, k = 2 never runs
    from core.jobs.queue import supervise_job

    auto = lab.submit_ignoring_worst(ranking.id, 1, [1, 2], max_drop=0.2,
                                     measure=dataclasses.replace(MeasureOptions(dataset_id=1), seconds=0.2))
    supervise_job(auto.id)
    assert repo.get_job(auto.id).status == "succeeded", repo.get_job(auto.id).message
    assert [p.status for p in repo.list_sweep_points(auto.id)] == ["succeeded", "cancelled"]


def test_models_page_draws_the_ranking_and_sets_a_task(lab_env, classifier_ir):
    from streamlit.testing.v1 import AppTest

    from core import lab
    from db import repository as repo

    model = lab.add_model_from_path(classifier_ir)
    repo.add_sensitivity(model_id=model.id, dataset_id=None, metric="top1_agreement", float_value=1.0, int8_value=0.9,
                         layers=[{"name": "<b>conv</b>", "type": "Convolution", "value": 0.98, "recovered": 0.08}],
                         seconds=1.5)
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "models.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert chart["data"][0]["y"] == ["&lt;b&gt;conv&lt;/b&gt; (Convolution)"]  # a layer name is text, not markup
    assert chart["data"][0]["x"] == [pytest.approx(8.0)]  # top-1 agreement recovered, in points
    assert "Judged as **classification** (proposed from its outputs)" in " ".join(m.value for m in at.markdown)
    task = next(s for s in at.selectbox if s.label == "Task")
    task.set_value("regression")
    next(b for b in at.button if b.label == "Set task").click().run()
    assert not at.exception, at.exception
    assert repo.get_model(model.id).task == "regression"
    assert "judged as regression from now on" in " ".join(m.value for m in at.success)
