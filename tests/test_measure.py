"""The measurement engine (issue 5) on real OpenVINO / NNCF models built in code and a real SQLite lab:
batch sweeps and grids, precision as run, agreement and top-5, per-layer profiles and their diff."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import lab
from core.jobs import runner as jobs
from core.measure.agreement import agreement_metrics
from core.measure.batching import best_batch
from core.measure.evaluate import topk_accuracies
from core.measure.options import BatchSweepOptions, ProfileOptions
from core.measure.profile import by_layer_type, profile_diff, profile_model
from core.measure.sweeps import estimate_seconds, sweep_points
from core.options import JobKind, Precision
from db import repository as repo
from tests.models_in_code import make_classifier


@pytest.fixture(scope="module")
def int8_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An FP32 classifier and its INT8 version quantized with NNCF on random inputs."""
    from core.optimize.algorithms import quantize_model
    from core.optimize.recipes import QuantizeOptions

    folder = tmp_path_factory.mktemp("int8")
    fp32 = make_classifier(folder / "fp32" / "model.xml", channels=3, size=32)
    rng = np.random.default_rng(0)
    samples = [rng.uniform(0, 1, (1, 3, 32, 32)).astype(np.float32) for _ in range(8)]
    result = quantize_model(fp32, samples, options=QuantizeOptions(subset_size=8),
                            output_path=folder / "int8" / "model.xml")
    return fp32, result.path


def _run_job(kind: JobKind, model_id: int, options: dict) -> list[str]:
    """Runs one job in this process through the real handler table; returns the progress labels."""
    job, _ = repo.create_job(kind=kind, options=options, queue="test", model_id=model_id)
    assert repo.claim_job(job.id, pid=1)
    labels: list[str] = []
    reporter = jobs.Reporter(job.id, on_overall=lambda done, label: labels.append(label))
    assert jobs.execute(job.id, reporter), repo.get_job(job.id).message
    return labels


def test_sweep_job_stores_one_row_per_point_with_its_batch(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    options = BatchSweepOptions(batches=(1, 2, 4), seconds=0.2, precision=Precision.F32)
    labels = _run_job(JobKind.BATCH_SWEEP, model.id, options.to_dict())
    rows = repo.sweep_benchmarks(model.id)
    assert [(r.batch, r.sweep_point) for r in rows] == [(1, "batch 1"), (2, "batch 2"), (4, "batch 4")]
    # The precision stored is the one OpenVINO reports for the compiled model (f32 asked, f32 ran).
    assert {r.precision for r in rows} == {"f32"}
    assert all(r.peak_memory_mb and r.peak_memory_mb > 0 for r in rows)
    assert best_batch(model.id) in (1, 2, 4)
    assert best_batch(model.id, latency_budget_ms=1e-6) is None  # nothing runs in a nanosecond
    assert [label for label in labels if label.startswith("point")] == [
        "point 1/3: batch 1", "point 2/3: batch 2", "point 3/3: batch 4"]  # per-point progress


def test_grid_with_auto_batching_has_every_combination_and_an_estimate():
    options = BatchSweepOptions(batches=(1, 2, 4), streams=(1, 2), auto_batch=(False, True), seconds=2, repeats=2)
    points = sweep_points(options)
    assert len(points) == 12
    assert points[3].label == "batch 1, 2 streams" and points[-1].label == "batch 4, 2 streams, auto-batching"
    assert estimate_seconds(options) == pytest.approx(12 * 2 * 3.0)


def test_cli_batch_sweep_prints_one_json_record_per_point(classifier_ir, capsys):
    from core.cli import main

    assert main(["batch-sweep", str(classifier_ir), "--batches", "1,2", "--auto-batch",
                 "--seconds", "0.2", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["batch"], r["auto_batch"]) for r in records] == [(1, False), (2, False), (1, True), (2, True)]
    assert all(r["sweep_point"] and 0 < r["latency_ms"]["min"] <= r["latency_ms"]["median"] for r in records)


def test_cli_sweep_with_batches_is_a_batch_sweep_of_a_file_or_a_stored_model(lab_env, classifier_ir, capsys):
    from core import lab
    from core.cli import main

    for model in (str(classifier_ir), str(lab.add_model_from_path(classifier_ir).id)):
        assert main(["sweep", model, "--batches", "1,4", "--streams", "1,2", "--seconds", "0.2", "--threads", "2",
                     "--json"]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert {r["environment"]["threads"] for r in records} == {2}
        assert sorted((r["batch"], r["streams"]) for r in records) == [(1, 1), (1, 2), (4, 1), (4, 2)]
    assert main(["sweep", "1"]) == 2
    assert "--algorithm (a recipe sweep) or --batches" in capsys.readouterr().err
    assert main(["sweep", str(classifier_ir), "--algorithm", "fp16"]) == 2
    assert "give its id" in capsys.readouterr().err


def test_agreement_of_a_model_with_itself_is_exact(classifier_ir):
    rng = np.random.default_rng(1)
    inputs = [rng.normal(0, 1, (1, 1, 28, 28)).astype(np.float32) for _ in range(5)]
    metrics = {m.metric: m.value for m in agreement_metrics(classifier_ir, classifier_ir, inputs)}
    assert metrics == {"top1_agreement": 1.0, "cosine": pytest.approx(1.0, abs=1e-12), "mse": 0.0,
                       "max_abs_error": 0.0}


def test_top1_and_top5_in_one_pass_count_the_labels_rank(classifier_ir):
    from core.measure.evaluate import compile_model

    compiled = compile_model(classifier_ir, precision=Precision.F32)
    rng = np.random.default_rng(2)
    inputs = [rng.normal(0, 1, (1, 1, 28, 28)).astype(np.float32) for _ in range(6)]
    ranked = [np.argsort(compiled(x)[0].reshape(-1))[::-1] for x in inputs]

    def accuracies(rank: int) -> list[float]:
        labelled = [(x, int(r[rank])) for x, r in zip(inputs, ranked)]
        return [m.value for m in topk_accuracies(classifier_ir, labelled, ks=(1, 5), precision=Precision.F32)]

    assert accuracies(0) == [1.0, 1.0]  # the label scores highest
    assert accuracies(4) == [0.0, 1.0]  # fifth
    assert accuracies(-1) == [0.0, 0.0]  # last


def test_tied_scores_count_like_argmax(tmp_path):
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 4], np.float32, name="x")
    zero = ops.reduce_sum(ops.multiply(x, ops.constant(np.zeros((1, 4), np.float32))),
                          ops.constant(np.array([1], np.int64)), keep_dims=True)  # [1, 1] of 0
    scores = ops.add(zero, ops.constant(np.zeros((1, 8), np.float32)))  # 8 classes, all scoring 0
    ov.save_model(ov.Model([scores], [x]), str(tmp_path / "ties.xml"))
    sample = np.ones((1, 4), np.float32)
    hits = [[m.value for m in topk_accuracies(tmp_path / "ties.xml", [(sample, label)], ks=(1, 5))]
            for label in (0, 4, 5)]
    assert hits == [[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]  # argmax picks class 0; ties rank by index


def test_profile_diff_shows_which_layers_int8_moved_off_float(int8_pair):
    fp32, int8 = int8_pair
    options = ProfileOptions(precision=Precision.F32, iterations=3)
    a, b = profile_model(fp32, options), profile_model(int8, options)
    assert all(layer.precision for layer in a.layers if layer.layer_type == "Convolution")
    conv_a = next(r for r in by_layer_type(a.layer_dicts()) if r["layer_type"] == "Convolution")
    assert conv_a["precisions"] == "f32"
    diff = {row["layer_type"]: row for row in profile_diff(a.layer_dicts(), b.layer_dicts())}
    assert diff["Convolution"]["precision_changed"]
    assert set(diff["Convolution"]["precisions_b"].split(", ")) & {"i8", "u8"}


def test_profile_job_stores_layers_with_exec_precision(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    _run_job(JobKind.PROFILE, model.id, ProfileOptions(iterations=2).to_dict())
    [profile] = repo.list_profiles(model.id)
    assert profile.total_ms > 0 and profile.layers
    assert {"Convolution", "FullyConnected"} <= {layer["layer_type"] for layer in profile.layers}
    assert all(layer["precision"] for layer in profile.layers if layer["layer_type"] == "Convolution")


def test_agreement_with_the_parent_is_stored_per_metric_with_the_reference(lab_env):
    from core.measure.agreement import store_agreement

    demo, calibration, _ = lab.ensure_demo()
    # A "child" that is the parent's own IR: every agreement metric must be exact.
    child = repo.add_model(name="demo copy", format=demo.format, path=demo.path, size_bytes=demo.size_bytes,
                           inputs=demo.inputs, outputs=demo.outputs, parent_id=demo.id)
    store_agreement(child, calibration, precision=Precision.F32, max_samples=8)
    stored = {a.metric: a for a in repo.list_accuracy(child.id)}
    assert {m: a.value for m, a in stored.items()} == {
        "top1_agreement": 1.0, "cosine": pytest.approx(1.0, abs=1e-9), "mse": 0.0, "max_abs_error": 0.0}
    assert {(a.reference_model_id, a.samples, a.precision) for a in stored.values()} == {(demo.id, 8, "f32")}


def test_agreement_compares_like_with_like_on_every_sample_and_the_drift_is_the_parent_s_own(lab_env):
    """Issue 13: the child against the parent at the same precision (a child that is the parent's own
    IR agrees exactly at the device default too, where bf16 used to meet an f32 parent), every sample
    (not the first 200), and the parent's default-vs-f32 drift stored on the parent, kept off Compare."""
    from core.compare.table import results_rows
    from core.measure.accuracy_tables import model_accuracy
    from core.measure.agreement import store_agreement, store_precision_drift
    from core.measure.machine import device_default_precision
    from tests.stored_results import store_benchmark

    demo, calibration, validation = lab.ensure_demo()
    child = repo.add_model(name="demo copy", format=demo.format, path=demo.path, size_bytes=demo.size_bytes,
                           inputs=demo.inputs, outputs=demo.outputs, parent_id=demo.id)
    stored = {a.metric: a for a in store_agreement(child, validation, precision=Precision.DEFAULT)}
    assert stored["mse"].value == 0.0 and stored["top1_agreement"].value == 1.0
    assert {a.samples for a in stored.values()} == {validation.samples} == {500}
    assert {a.precision for a in stored.values()} == {device_default_precision("CPU")}

    drift = {a.metric: a for a in store_precision_drift(demo, calibration)}
    assert {a.reference_model_id for a in drift.values()} == {demo.id}
    assert drift["top1_agreement"].samples == calibration.samples
    assert drift["mse"].value >= 0.0 and (drift["mse"].value > 0) == (device_default_precision("CPU") != "f32")
    assert {r["reference"] for r in model_accuracy(demo.id)} == {"itself at f32 (the device's precision drift)"}
    store_benchmark(demo.id, precision=device_default_precision("CPU"))
    [row] = results_rows()
    assert row["reference"] == "" and row.get("top1_agreement") is None, "drift is no agreement with a parent"


def test_a_rerun_sweep_keeps_its_stored_points_and_measures_the_rest(lab_env, classifier_ir):
    from core.jobs.handlers.measure import run_batch_sweep_job

    model = lab.add_model_from_path(classifier_ir)
    options = BatchSweepOptions(batches=(1, 2), seconds=0.2)
    job, _ = repo.create_job(kind=JobKind.BATCH_SWEEP, options=options.to_dict(), queue="test", model_id=model.id)
    first = {"device": "CPU", "hint": "throughput", "batch": 1, "streams": 1, "infer_requests": 1,
             "precision": "bf16", "latency_ms": dict.fromkeys(("median", "mean", "min", "max", "p90", "p99"), 1.0),
             "throughput_fps": 1.0, "first_inference_ms": 1.0, "compile_ms": 1.0, "iterations": 1,
             "duration_s": 1.0, "environment": {}, "sweep_point": "batch 1"}
    repo.add_benchmark(model.id, first, job_id=job.id)  # what the interrupted attempt stored
    run_batch_sweep_job(job, jobs.Reporter(job.id))
    rows = repo.sweep_benchmarks(model.id)
    assert [(r.sweep_point, r.throughput_fps == 1.0) for r in rows] == [("batch 1", True), ("batch 2", False)]


def test_profile_diff_pairs_an_op_with_its_quantized_variant():
    layer = {"name": "fc", "exec_type": "jit", "time_ms": 1.0}
    fp32 = [{**layer, "layer_type": "FullyConnected", "precision": "f32"}]
    int8 = [{**layer, "layer_type": "FullyConnectedQuantizedLegacy", "precision": "i8", "time_ms": 0.4}]
    (row,) = profile_diff(fp32, int8)
    assert (row["layer_type"], row["time_a_ms"], row["time_b_ms"]) == ("FullyConnected", 1.0, 0.4)
    assert (row["precisions_a"], row["precisions_b"], row["precision_changed"]) == ("f32", "i8", True)


def test_agreement_pairs_each_output_of_each_sample(tmp_path):
    """Two outputs, 100 samples: a copy that differs in one output's weights agrees exactly on the
    other output, and is off on that one."""
    import openvino as ov
    import openvino.opset13 as ops

    def two_outputs(path: Path, scale: float) -> Path:
        x = ops.parameter([-1, 4], np.float32, name="x")
        weights = np.arange(12, dtype=np.float32).reshape(4, 3) / 10
        kept = ops.matmul(x, ops.constant(weights), False, False)
        changed = ops.matmul(x, ops.constant(weights * scale), False, False)
        kept.output(0).get_tensor().set_names({"kept"})
        changed.output(0).get_tensor().set_names({"changed"})
        path.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(ov.Model([kept, changed], [x], "two"), str(path))
        return path

    reference, other = two_outputs(tmp_path / "a" / "m.xml", 1.0), two_outputs(tmp_path / "b" / "m.xml", 1.5)
    inputs = [np.random.default_rng(i).normal(size=(1, 4)).astype(np.float32) for i in range(100)]
    metrics = {(m.output, m.metric): m for m in agreement_metrics(reference, other, inputs, precision=Precision.F32)}
    assert metrics[("kept", "mse")].value == 0.0 and metrics[("kept", "top1_agreement")].value == 1.0
    assert metrics[("changed", "mse")].value > 0.01 and metrics[("changed", "cosine")].value > 0.99  # scaled: same direction
    assert {m.samples for m in metrics.values()} == {100}
