"""Tasks (core/tasks): decoding known outputs, metrics on hand-made cases whose value is known, a
model against itself scoring perfect, and the CLI's evaluate contract through a real job."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import DatasetError
from core.tasks.base import TaskSettings
from core.tasks.detection import Detections, MeanAveragePrecision, decode_detections, nms
from core.tasks.embedding import Similarity, pooled
from core.tasks.registry import TASKS, propose_task
from core.tasks.regression import Errors
from core.tasks.segmentation import Confusion, to_mask
from core.tasks.text_recognition import TextErrors, ctc_greedy, to_text

REPO_ROOT = Path(__file__).resolve().parent.parent


def _one_hot(classes: list[int], count: int) -> np.ndarray:
    return np.eye(count)[classes]


def test_ctc_greedy_collapses_repeats_drops_blanks_and_maps_the_charset():
    # steps: a a _ a b b _ (space)  ->  "aab " ; a blank between two a's keeps both
    scores = _one_hot([1, 1, 0, 1, 2, 2, 0, 4], 5)
    assert ctc_greedy(scores) == [1, 1, 2, 4]
    assert to_text(ctc_greedy(scores), ("a", "b", "c")) == "aab "  # class 4 is past the charset: a space
    assert to_text([3, 1], ()) == (3, 1)  # no charset: the class sequence, still comparable


def test_exact_match_and_corpus_cer_on_known_strings():
    errors = TextErrors(vs_parent=False)
    for prediction, target in (("kitten", "sitting"), ("abc", "abc")):
        errors.add(prediction, target)
    assert errors.result() == {"exact_match": 0.5, "cer": pytest.approx(3 / 10)}  # 3 edits over 7 + 3 characters
    against = TextErrors(vs_parent=True)
    against.add("ab", "ab")
    assert against.result() == {"exact_match_vs_parent": 1.0, "cer_vs_parent": 0.0}


def test_text_labels_need_a_charset():
    with pytest.raises(DatasetError, match="--charset"):
        TASKS["text-recognition"].label_target("abc", TaskSettings())


def test_segmentation_miou_and_pixel_accuracy_on_a_known_mask():
    target = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [2, 2, 2, 255]])
    prediction = target.copy()
    prediction[0, 2] = 0  # one class-1 pixel called background
    prediction[3, 3] = 1  # an ignored pixel: not counted
    confusion = Confusion(vs_parent=False)
    confusion.add(prediction, target)
    # IoU: class 0 = 4/5, class 1 = 3/4, class 2 = 7/7; pixels: 14 of 15 counted ones right
    assert confusion.result() == {"miou": pytest.approx((4 / 5 + 3 / 4 + 1) / 3), "pixel_accuracy": pytest.approx(14 / 15)}
    assert to_mask(np.stack([target == c for c in range(3)]).astype(float)).tolist() == np.where(
        target == 255, 0, target).tolist()
    assert to_mask(np.array([[[-1.0, 2.0]]])).tolist() == [[0, 1]]  # one channel: > 0 is foreground


def test_label_masks_at_image_size_are_scored_at_the_output_size():
    target = np.kron(np.array([[0, 1], [2, 3]]), np.ones((4, 4), np.int64))  # 8 x 8, four 4 x 4 blocks
    confusion = Confusion(vs_parent=False)
    confusion.add(np.array([[0, 1], [2, 3]]), target)  # a 2 x 2 output: one pixel per block
    assert confusion.result() == {"miou": 1.0, "pixel_accuracy": 1.0}


def test_regression_mae_and_rmse():
    errors = Errors(vs_parent=False)
    errors.add(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert errors.result() == {"mae": pytest.approx(2 / 3), "rmse": pytest.approx(np.sqrt(4 / 3))}


def test_embeddings_cosine_and_neighbour_overlap():
    rng = np.random.default_rng(0)
    parent = rng.normal(size=(20, 8))
    same = Similarity(neighbours=3)
    for row in parent:
        same.add(row, row)
    assert same.result() == {"cosine": pytest.approx(1.0), "knn_overlap": 1.0}
    shuffled = Similarity(neighbours=3)
    for row, other in zip(parent, rng.permutation(parent)):
        shuffled.add(other, row)
    assert shuffled.result()["knn_overlap"] < 0.5


def test_token_outputs_pool_over_the_attention_mask_only():
    tokens = np.array([[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]])  # the last position is padding
    mask = {"input_ids": np.array([[5, 6, 0]]), "attention_mask": np.array([[1, 1, 0]])}
    assert pooled(tokens, mask).tolist() == [2.0, 0.0]
    assert pooled(tokens, {"input_ids": np.array([[5, 6, 0]])}).tolist() == pytest.approx([104 / 3, 100 / 3])


def _image(height=100, width=200):
    return np.zeros((1, 3, height, width), np.float32)


def test_ssd_detection_output_keeps_real_rows_above_the_threshold():
    rows = np.array([[[[0, 1, 0.9, 0.1, 0.2, 0.5, 0.6], [0, 2, 0.1, 0, 0, 1, 1], [-1, 0, 0, 0, 0, 0, 0]]]])
    found = decode_detections({"detection_out": rows}, _image(), TaskSettings(confidence=0.25))
    assert found.labels.tolist() == [1] and found.scores.tolist() == [0.9]
    assert found.boxes.tolist() == [[0.1, 0.2, 0.5, 0.6]]


def test_yolo_heads_with_and_without_objectness_decode_to_fractions_after_nms():
    # anchors (cx, cy, w, h) in pixels of a 200 x 100 input; two overlapping class-0 boxes, one class-1,
    # and five scoring nothing (a real head has far more anchors than values per anchor)
    boxes = np.array([[50, 50, 40, 20], [52, 50, 40, 20], [150, 50, 20, 20]] + [[10, 10, 5, 5]] * 5, dtype=float)
    classes = np.array([[0.9, 0.0], [0.8, 0.1], [0.0, 0.7]] + [[0.0, 0.0]] * 5)
    v8 = decode_detections({"output0": np.concatenate([boxes, classes], 1).T[None]}, _image(), TaskSettings())
    assert v8.labels.tolist() == [0, 1] and v8.scores.tolist() == [0.9, 0.7]
    assert v8.boxes[0].tolist() == pytest.approx([30 / 200, 40 / 100, 70 / 200, 60 / 100])
    objectness = np.array([[1.0], [1.0], [0.5]] + [[0.0]] * 5)
    v5 = decode_detections({"output": np.concatenate([boxes, objectness, classes], 1)[None]}, _image(), TaskSettings())
    assert v5.labels.tolist() == [0, 1] and v5.scores.tolist() == pytest.approx([0.9, 0.35])


def test_boxes_scores_labels_outputs_in_pixels_are_read_as_fractions():
    outputs = {"boxes": np.array([[[20, 10, 100, 50]]]), "scores": np.array([[0.8]]), "labels": np.array([[3]])}
    found = decode_detections(outputs, _image(), TaskSettings())
    assert found.boxes.tolist() == [[0.1, 0.1, 0.5, 0.5]] and found.labels.tolist() == [3]


def test_nms_keeps_the_best_of_overlapping_boxes_per_class():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10]], dtype=float)
    kept = nms(Detections(boxes, np.array([0.5, 0.9, 0.4]), np.array([0, 0, 1])), iou=0.5)
    assert kept.scores.tolist() == [0.9, 0.4]  # class 0's weaker overlapping box goes, class 1's stays


def _boxes(*rows) -> Detections:
    array = np.array(rows, dtype=float).reshape(-1, 6)
    return Detections(array[:, 2:], array[:, 1], array[:, 0].astype(np.int64))


def test_map_of_detections_against_themselves_is_perfect_and_a_missed_box_costs_half():
    truth = [_boxes([0, 1, 0.1, 0.1, 0.3, 0.3], [1, 1, 0.5, 0.5, 0.9, 0.9]), _boxes([0, 1, 0.2, 0.2, 0.6, 0.4])]
    perfect = MeanAveragePrecision(vs_parent=True)
    for image in truth:
        perfect.add(image, image)
    assert perfect.result() == {"map50_vs_parent": pytest.approx(1.0), "map50_95_vs_parent": pytest.approx(1.0)}
    missed = MeanAveragePrecision(vs_parent=False)
    missed.add(_boxes([0, 0.9, 0.1, 0.1, 0.3, 0.3]), _boxes([0, 1, 0.1, 0.1, 0.3, 0.3], [0, 1, 0.6, 0.6, 0.8, 0.8]))
    # one of two class-0 boxes found at precision 1: COCO's 101-point AP = 51/101
    assert missed.result()["map50"] == pytest.approx(51 / 101, abs=1e-6)


@pytest.mark.parametrize("inputs,outputs,task", [
    ([{"name": "x", "shape": [1, 3, 48, -1]}], [{"name": "y", "shape": [1, 40, 97]}], "text-recognition"),
    ([{"name": "x", "shape": [1, 3, 32, 320]}], [{"name": "y", "shape": [1, 80, 6625]}], "text-recognition"),
    ([{"name": "images", "shape": [1, 3, 640, 640]}], [{"name": "output0", "shape": [1, 84, 8400]}], "detection"),
    ([{"name": "image", "shape": [1, 3, 300, 300]}], [{"name": "detection_out", "shape": [1, 1, 200, 7]}], "detection"),
    ([{"name": "x", "shape": [1, 3, 64, 64]}], [{"name": "boxes", "shape": [-1, 5]}, {"name": "labels", "shape": [-1]}],
     "detection"),
    ([{"name": "x", "shape": [1, 3, 64, 64]}], [{"name": "y", "shape": [1, 21, 64, 64]}], "segmentation"),
    ([{"name": "input_ids", "shape": [1, -1]}, {"name": "attention_mask", "shape": [1, -1]}],
     [{"name": "last_hidden_state", "shape": [1, -1, 384]}], "embedding"),
    ([{"name": "input_ids", "shape": [1, -1]}], [{"name": "logits", "shape": [1, -1, 1000]}], "classification"),
    ([{"name": "x", "shape": [1, 8]}], [{"name": "y", "shape": [1, 1]}], "regression"),
    ([{"name": "x", "shape": [1, 1, 28, 28]}], [{"name": "y", "shape": [1, 10]}], "classification"),
])
def test_the_proposed_task_follows_the_ports(inputs, outputs, task):
    assert propose_task(inputs, outputs) == task


def test_a_charset_in_the_metadata_makes_a_text_recognizer():
    assert propose_task([{"name": "x", "shape": [1, 3, 64, 64]}], [{"name": "y", "shape": [1, 16, 40]}],
                        charset=True) == "text-recognition"


def _ctc_model(path: Path, steps: int = 8, classes: int = 5) -> Path:
    """x [1, T, C] -> softmax over C: the one-hot rows of x are the greedy path."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, steps, classes], np.float32, name="x")
    probs = ops.softmax(ops.multiply(x, ops.constant(np.float32(10))), -1)
    probs.output(0).get_tensor().set_names({"probs"})
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([probs], [x], "ctc"), str(path))
    return path


def test_cli_evaluate_prints_text_metrics_of_a_ctc_model_against_labels_and_against_itself(lab_env, tmp_path):
    from core.cli import main

    paths = [[1, 0, 2, 0, 0, 0, 0, 0], [3, 3, 0, 0, 0, 0, 0, 0], [1, 1, 0, 1, 4, 2, 0, 0], [2, 0, 0, 0, 0, 0, 0, 0]]
    x = np.stack([_one_hot(p, 5) for p in paths]).astype(np.float32)
    labels = np.array(["ab", "c", "aa b", "x"])  # the last is wrong: 1 edit over 1 + 1 + 4 + 1 characters
    np.savez(tmp_path / "lines.npz", x=x, labels=labels)
    (tmp_path / "charset.txt").write_text("a\nb\nc\n", encoding="utf-8")
    assert main(["add-model", str(_ctc_model(tmp_path / "ctc" / "model.xml")), "--name", "ctc"]) == 0
    assert main(["add-data", str(tmp_path / "lines.npz")]) == 0

    def evaluate(*extra) -> dict:
        out = subprocess.run([sys.executable, "-m", "core", "evaluate", "1", "--data", "1", *extra, "--json"],
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return {r["metric"]: r for r in map(json.loads, out.stdout.splitlines())}

    scored = evaluate("--task", "text-recognition", "--charset", str(tmp_path / "charset.txt"))
    assert {m: r["value"] for m, r in scored.items()} == {"exact_match": 0.75, "cer": pytest.approx(1 / 8)}
    assert {(r["samples"], r["task"]) for r in scored.values()} == {(4, "text-recognition")}
    itself = evaluate("--reference", "1")  # the task and charset were kept with the model
    assert {m: r["value"] for m, r in itself.items()} == {"exact_match_vs_parent": 1.0, "cer_vs_parent": 0.0}


def _encoder(path: Path, table: np.ndarray) -> Path:
    """input_ids, attention_mask [1, T] -> last_hidden_state [1, T, H] (an embedding lookup)."""
    import openvino as ov
    import openvino.opset13 as ops

    ids = ops.parameter([1, -1], np.int64, name="input_ids")
    mask = ops.parameter([1, -1], np.int64, name="attention_mask")
    hidden = ops.gather(ops.constant(table.astype(np.float32)), ids, ops.constant(np.array(0, np.int64)))
    hidden.output(0).get_tensor().set_names({"last_hidden_state"})
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([hidden], [ids, mask], "encoder"), str(path))
    return path


def test_an_encoder_that_differs_only_on_padding_agrees_fully_and_gets_no_argmax_metric(lab_env, tmp_path):
    from core import storage
    from core.intake.sources import add_data
    from core.measure.agreement import agreement_metrics, store_agreement
    from db import repository as repo

    rng = np.random.default_rng(0)
    table = rng.normal(size=(50, 16))
    noisy = table.copy()
    noisy[0] = rng.normal(size=16) * 10  # the pad token's row: only padded positions change
    ids = rng.integers(1, 50, size=(12, 10))
    mask = np.ones_like(ids)
    ids[:, 3:], mask[:, 3:] = 0, 0  # 70 % padding
    inputs = [{"input_ids": ids[i:i + 1], "attention_mask": mask[i:i + 1]} for i in range(len(ids))]
    parent_path = _encoder(lab_env / "models" / "enc" / "model.xml", table)
    child_path = _encoder(lab_env / "models" / "enc-int8" / "model.xml", noisy)
    raw = {m.metric: m.value for m in agreement_metrics(parent_path, child_path, inputs)}
    assert raw["cosine"] < 0.9  # the raw output, padding included, looks broken

    ports = [{"name": n, "shape": [1, -1], "element_type": "i64", "layout": ""} for n in ("input_ids", "attention_mask")]
    outputs = [{"name": "last_hidden_state", "shape": [1, -1, 16], "element_type": "f32", "layout": ""}]
    parent = repo.add_model(name="enc", format="openvino-ir", path=storage.relative(parent_path), size_bytes=1,
                            inputs=ports, outputs=outputs)
    child = repo.add_model(name="enc INT8", format="openvino-ir", path=storage.relative(child_path), size_bytes=1,
                           inputs=ports, outputs=outputs, parent_id=parent.id)
    buffer = tmp_path / "tokens.npz"
    np.savez(buffer, input_ids=ids, attention_mask=mask)
    dataset = add_data(("tokens.npz", buffer.read_bytes()))
    rows = {r.metric: r for r in store_agreement(child, dataset, precision="f32")}
    assert set(rows) == {"cosine", "knn_overlap"}  # argmax agreement of an embedding is not stored
    assert rows["cosine"].value == pytest.approx(1.0, abs=1e-9) and rows["knn_overlap"].value == 1.0
    assert rows["cosine"].samples == 12 and rows["cosine"].reference_model_id == parent.id


def test_accuracy_control_keeps_a_regression_error_within_its_max_drop_through_a_job(lab_env, tmp_path):
    """A model INT8 breaks, judged as regression: accuracy control on MAE (an error, in output units)
    keeps the child's MAE within max_drop, and the child's recipe says which metric it used."""
    import dataclasses

    from core import lab, storage
    from core.intake.model_intake import add_model_from_path
    from core.intake.sources import add_data
    from core.jobs.queue import supervise_job
    from core.measure.evaluate import compile_model, task_metrics
    from core.optimize.algorithms import quantize_model
    from core.optimize.recipes import AccuracyControlOptions, QuantizeOptions
    from core.options import JobKind, MeasureOptions
    from db import repository as repo
    from tests.models_in_code import make_outlier_classifier

    path = make_outlier_classifier(tmp_path / "fp32" / "model.xml")
    model = lab.set_task(add_model_from_path(path, name="outliers").id, "regression")
    xs = np.random.default_rng(1).uniform(0, 1, (300, 16)).astype(np.float32)
    reference = compile_model(path)
    values = np.concatenate([reference(xs[i:i + 1])[0] for i in range(len(xs))])  # the parent's own outputs
    np.savez(tmp_path / "values.npz", features=xs, labels=values.astype(np.float64))
    data = add_data(("values.npz", (tmp_path / "values.npz").read_bytes()))
    plain = quantize_model(path, [xs[i:i + 1] for i in range(100)], options=QuantizeOptions(),
                           output_path=tmp_path / "int8" / "model.xml")
    samples = [(xs[i:i + 1], values[i]) for i in range(len(xs))]
    plain_mae = {m.metric: m.value for m in task_metrics(plain.path, samples, task="regression")}["mae"]
    assert plain_mae > 0.2, "the model was built so that plain INT8 loses accuracy"

    options = AccuracyControlOptions(validation_dataset_id=data.id, metric="mae", max_drop=0.2, subset_size=100)
    job = lab.submit_optimization(kind=JobKind.QUANTIZE_WITH_ACCURACY_CONTROL, model_id=model.id, dataset_id=data.id,
                                  options=options, measure=dataclasses.replace(MeasureOptions(dataset_id=data.id),
                                                                               seconds=0.2))
    supervise_job(job.id)
    job = repo.get_job(job.id)
    assert job.status == "succeeded", job.message
    child = repo.get_model(job.result_model_id)
    assert child.recipe["metric"] == "mae" and child.recipe["options"]["metric"] == "mae"
    assert child.recipe["obtained"]["fake_quantize"] >= 1, "only the fragile layer goes back to float"
    stored = {(r.model_id, r.metric, r.precision): r.value for r in repo.list_accuracy() if r.reference_model_id is None}
    ((ran, child_mae),) = [(p, v) for (m, metric, p), v in stored.items() if m == child.id and metric == "mae"]
    parent_mae = stored[(model.id, "mae", ran)]  # at the precision the child ran at (the device default)
    assert parent_mae < 0.01  # the labels are its own outputs
    assert child_mae <= parent_mae + 0.2 < plain_mae
    assert storage.resolve(child.path).exists()


def test_runner_stacks_samples_where_the_model_allows_and_matches_one_by_one(classifier_ir, tmp_path):
    import openvino as ov
    import openvino.opset13 as ops

    from core.measure.evaluate import compile_model
    from core.tasks.run import Runner, infer, output_names

    compiled = compile_model(classifier_ir, precision="f32")
    feeds = [np.random.default_rng(i).normal(size=(1, 1, 28, 28)).astype(np.float32) for i in range(20)]
    runner = Runner(compiled)
    assert runner.size == 16  # a dynamic batch axis on every input and output
    batched = [outputs for _, _, outputs in runner.over((x, None) for x in feeds)]
    request, names = compiled.create_infer_request(), output_names(compiled)
    single = [infer(request, names, x) for x in feeds]
    assert len(batched) == 20
    for a, b in zip(batched, single):
        (name,) = a
        assert a[name].shape == b[name].shape == (1, 10) and np.allclose(a[name], b[name], atol=1e-5)

    x = ops.parameter([-1, 4], np.float32, name="x")  # flattened: the output's first axis is 4 x batch
    flat = ops.reshape(x, ops.constant(np.array([-1], np.int64)), False)
    ov.save_model(ov.Model([flat], [x], "flat"), str(tmp_path / "flat.xml"))
    flat_runner = Runner(compile_model(tmp_path / "flat.xml", precision="f32"))
    rows = [np.full((1, 4), i, np.float32) for i in range(3)]
    found = flat_runner.outputs(rows)
    assert flat_runner.size == 1 and [next(iter(f.values())).tolist() for f in found] == [[i] * 4 for i in range(3)]
