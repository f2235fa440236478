"""NumPy datasets (.npy / .npz) feeding single- and multi-input models through the real job path."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from core import lab, storage
from core.errors import BadInputError, DatasetError
from core.intake.data_arrays import add_array_dataset
from core.intake.sources import open_dataset
from core.jobs import runner as jobs
from core.measure.evaluate import top1_accuracy
from core.optimize.recipes import ALGORITHM_OPTIONS, QuantizeOptions
from core.options import JobKind, MeasureOptions, Precision
from db import repository as repo


def make_two_input_model(path: Path, *, seed: int = 0) -> Path:
    """A real two-input IR: image [?,1,8,8] and features [?,4] -> 3 logits."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    image = ops.parameter([-1, 1, 8, 8], np.float32, name="image")
    features = ops.parameter([-1, 4], np.float32, name="features")
    conv = ops.relu(ops.convolution(image, ops.constant(rng.normal(0, .3, (4, 1, 3, 3)).astype(np.float32)),
                                    [1, 1], [1, 1], [1, 1], [1, 1]))
    pooled = ops.reduce_mean(conv, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    joined = ops.concat([pooled, features], 1)
    logits = ops.matmul(joined, ops.constant(rng.normal(0, .5, (8, 3)).astype(np.float32)), False, False)
    logits.output(0).get_tensor().set_names({"logits"})
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([logits], [image, features], "two_inputs"), str(path), compress_to_fp16=False)
    return path


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _self_labelled(model_path: Path, image: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Labels = the FP32 model's own predictions, so its FP32 accuracy is exactly 1."""
    from core.measure.evaluate import compile_model

    compiled = compile_model(model_path, precision=Precision.F32)
    return compiled({"image": image, "features": features})[0].argmax(1).astype(np.int64)


def test_npz_feeds_a_two_input_model_by_name_through_a_quantize_job(lab_env):
    path = make_two_input_model(lab_env.parent / "two" / "model.xml")
    rng = np.random.default_rng(1)
    image, features = rng.normal(size=(40, 1, 8, 8)).astype(np.float32), rng.normal(size=(40, 4))
    labels = _self_labelled(path, image, features.astype(np.float32))
    model = lab.add_model_from_path(path)
    dataset = add_array_dataset(("pairs.npz", _npz(features=features, image=image, labels=labels)))
    assert (dataset.format, dataset.samples, dataset.has_labels) == ("numpy", 40, True)

    accuracy = top1_accuracy(storage.resolve(model.path), open_dataset(dataset, model).samples(),
                             precision=Precision.F32)
    assert accuracy.value == 1.0 and accuracy.samples == 40

    job = lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=dataset.id,
                                  options=QuantizeOptions(subset_size=20),
                                  measure=MeasureOptions(dataset_id=dataset.id, seconds=0.2,
                                                         measure_parent=False))
    assert jobs.run(job.id) == 0, repo.get_job(job.id).message
    child = repo.get_model(repo.get_job(job.id).result_model_id)
    assert [p["name"] for p in child.inputs] == ["image", "features"]
    assert {a.samples for a in repo.list_accuracy(child.id)} == {40}  # evaluated on all 40 samples
    from core.deploy.script import nncf_script

    assert f"DATA = {str(storage.resolve(dataset.path))!r}" in nncf_script(child)  # the script reads the .npz


def test_single_npy_feeds_a_single_input_model_by_order(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    dataset = add_array_dataset(("x.npy", _npy(np.zeros((5, 1, 28, 28), np.float32))))
    assert not dataset.has_labels
    inputs, label = next(open_dataset(dataset, model).samples([3]))
    assert inputs.shape == (1, 1, 28, 28) and label is None


def test_stored_npy_is_memory_mapped_and_rows_are_cast_one_at_a_time(lab_env, classifier_ir, monkeypatch):
    from core.intake import data_arrays

    model = lab.add_model_from_path(classifier_ir)
    rows = np.arange(4 * 28 * 28, dtype=np.float64).reshape(4, 1, 28, 28)
    dataset = add_array_dataset(("x.npy", _npy(rows)))
    mapped, real_map = [], data_arrays.map_npy

    def spy(path):
        mapped.append(real_map(path))
        return mapped[-1]

    monkeypatch.setattr(data_arrays, "map_npy", spy)
    inputs, _ = open_dataset(dataset, model).load(2)
    assert len(mapped) == 1 and isinstance(mapped[0], np.memmap) and mapped[0].dtype == np.float64
    assert inputs.dtype == np.float32 and inputs.flags.writeable and inputs.flags.c_contiguous
    np.testing.assert_array_equal(inputs, rows[2:3])


def test_shape_mismatch_names_the_input_expected_and_actual_shape(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    dataset = add_array_dataset(("small.npz", _npz(input=np.zeros((3, 1, 32, 32), np.float32))))
    with pytest.raises(DatasetError) as caught:
        lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=dataset.id,
                                options=QuantizeOptions(), measure=MeasureOptions())
    message = str(caught.value)
    assert "'input'" in message and "[?,1,28,28]" in message and "[1, 1, 32, 32]" in message
    assert repo.list_jobs() == []


def test_missing_input_array_names_the_input_and_the_arrays_present(lab_env):
    model = lab.add_model_from_path(make_two_input_model(lab_env.parent / "two" / "model.xml"))
    dataset = add_array_dataset(("wrong.npz", _npz(image=np.zeros((2, 1, 8, 8)), extra=np.zeros((2, 4)))))
    with pytest.raises(DatasetError) as caught:
        open_dataset(dataset, model)
    assert "'features'" in str(caught.value) and "image, extra" in str(caught.value)


@pytest.mark.parametrize("name,data,error_type,phrase", [
    ("nan.npz", _npz(x=np.array([[1.0, np.nan]])), DatasetError, "NaN or infinite"),
    ("inf.npy", _npy(np.array([[np.inf, 1.0]])), DatasetError, "NaN or infinite"),
    ("objects.npy", _npy(np.array([{"a": 1}, None], dtype=object)), DatasetError, "object array"),
    ("text.npz", _npz(x=np.array(["a", "b"])), DatasetError, "not numeric"),
    ("counts.npz", _npz(x=np.zeros((3, 2)), labels=np.zeros(4, np.int64)), DatasetError, "disagree"),
    ("tablelabels.npz", _npz(x=np.zeros((3, 2)), labels=np.zeros((3, 2), np.int64)), DatasetError,
     "not labels the lab reads"),
    ("nanlabels.npz", _npz(x=np.zeros((3, 2)), labels=np.array([0.5, np.nan, 1])), DatasetError, "NaN"),
    ("onlylabels.npz", _npz(labels=np.zeros(3, np.int64)), DatasetError, "only labels"),
    ("truncated.npy", _npy(np.zeros((10, 10)))[:100], DatasetError, "cannot be read"),
    ("empty.npy", b"", BadInputError, "empty"),
    ("data.csv", b"a,b\n1,2\n", BadInputError, "not a .npy or .npz"),
    ("<b>x</b>.npz", _npz(x=np.array([[np.nan]])), DatasetError, "NaN"),
])
def test_bad_arrays_fail_clearly_and_keep_what_was_stored(lab_env, name, data, error_type, phrase):
    kept = add_array_dataset(("ok.npy", _npy(np.ones((2, 3), np.float32))))
    before = {p for p in (lab_env / "datasets").rglob("*")}
    with pytest.raises(error_type) as caught:
        add_array_dataset((name, data))
    assert phrase in str(caught.value)
    assert {p for p in (lab_env / "datasets").rglob("*")} == before
    assert [d.id for d in repo.list_datasets()] == [kept.id]


def test_data_page_previews_an_npz_for_a_two_input_model_and_names_misfits(lab_env, classifier_ir):
    from streamlit.testing.v1 import AppTest

    from core.config import REPO_ROOT

    two = lab.add_model_from_path(make_two_input_model(lab_env.parent / "two" / "model.xml"), name="two")
    lab.add_model_from_path(classifier_ir, name="<b>one</b>")
    add_array_dataset(("pairs.npz", _npz(image=np.ones((3, 1, 8, 8)), features=np.zeros((3, 4)),
                                         labels=np.array([0, 2, 1]))))
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "data.py"), default_timeout=60).run()
    model_box = next(box for box in at.selectbox if box.label == "Model")
    assert model_box.value != two.id, "the newest model is checked first"
    assert "Model input 'input'" in at.error[0].value and "image, features" in at.error[0].value
    next(box for box in at.selectbox if box.label == "Model").set_value(two.id).run()
    assert not at.exception and not at.error
    table = at.dataframe[1].value
    assert table["input"].tolist()[:2] == ["image", "features"] and table["label"].tolist()[:2] == [0, 0]
    assert table["shape"].tolist()[:2] == ["[1, 1, 8, 8]", "[1, 4]"]


def test_synthetic_data_is_shaped_like_the_inputs_and_refused_for_calibration(lab_env):
    from core.intake.sources import add_synthetic_dataset

    model = lab.add_model_from_path(make_two_input_model(lab_env.parent / "two" / "model.xml"))
    synthetic = add_synthetic_dataset(model.id, samples=4)
    assert synthetic.format == "synthetic" and "benchmark only" in synthetic.name
    assert synthetic.preprocessing["arrays"] == {"image": [4, 1, 8, 8], "features": [4, 4]}
    with pytest.raises(DatasetError) as caught:
        lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=synthetic.id,
                                options=QuantizeOptions(), measure=MeasureOptions())
    assert "benchmarking only" in str(caught.value) and "calibration" in str(caught.value)
    with pytest.raises(DatasetError):
        lab.submit_optimization(kind=JobKind.FP16, model_id=model.id, dataset_id=None,
                                options=ALGORITHM_OPTIONS[JobKind.FP16](),
                                measure=MeasureOptions(dataset_id=synthetic.id))
    assert repo.list_jobs() == []


def test_split_gives_seeded_disjoint_parts_that_jobs_calibrate_and_measure_on(lab_env):
    from core.intake.sources import dataset_split, split_dataset
    from core.jobs.handlers.optimize import load_samples

    path = make_two_input_model(lab_env.parent / "two" / "model.xml")
    image = np.arange(40, dtype=np.float32)[:, None, None, None] * np.ones((40, 1, 8, 8), np.float32)
    features = np.zeros((40, 4), np.float32)
    model = lab.add_model_from_path(path)
    dataset = add_array_dataset(("split.npz", _npz(image=image, features=features,
                                                   labels=_self_labelled(path, image, features))))
    split = split_dataset(dataset.id, validation_fraction=0.25, seed=7)
    assert (len(split.calibration), len(split.validation)) == (30, 10)
    assert sorted(split.calibration + split.validation) == list(range(40))
    assert split_dataset(dataset.id, validation_fraction=0.25, seed=7) == dataset_split(dataset) == split

    class Progress:  # the job's progress sink; these tests only read the samples
        def fraction(self, *_):
            pass

    calibration = load_samples(model, dataset, None, Progress())
    assert sorted(int(x["image"][0, 0, 0, 0]) for x, _ in calibration) == split.calibration
    job = lab.submit_optimization(kind=JobKind.FP16, model_id=model.id, dataset_id=None,
                                  options=ALGORITHM_OPTIONS[JobKind.FP16](),
                                  measure=MeasureOptions(dataset_id=dataset.id, seconds=0.2, measure_parent=False))
    assert jobs.run(job.id) == 0, repo.get_job(job.id).message
    child = repo.get_job(job.id).result_model_id
    assert {a.samples for a in repo.list_accuracy(child) if a.metric == "top1"} == {10}
    with pytest.raises(DatasetError):
        split_dataset(dataset.id, validation_fraction=0.001)


def test_reproduce_script_calibrates_on_the_same_npz_samples_as_the_lab(lab_env, tmp_path):
    """export --format script on .npz data: the script's calibration inputs (two named inputs, the
    calibration part of a split, a seeded subset) are the lab's, and the script quantizes."""
    import subprocess
    import sys

    import openvino as ov

    from core.deploy.script import nncf_script
    from core.intake.sources import split_dataset
    from core.jobs.handlers.optimize import load_samples
    from core.optimize.recipes import QuantizeOptions

    path = make_two_input_model(lab_env.parent / "two" / "model.xml")
    image = np.arange(40, dtype=np.float32)[:, None, None, None] * np.ones((40, 1, 8, 8), np.float32)
    features = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    model = lab.add_model_from_path(path)
    dataset = add_array_dataset(("split.npz", _npz(image=image, features=features,
                                                   labels=_self_labelled(path, image, features))))
    split_dataset(dataset.id, validation_fraction=0.25, seed=7)
    child = repo.add_model(name="two INT8", format="openvino-ir", path=model.path, size_bytes=1,
                           inputs=model.inputs, outputs=model.outputs, parent_id=model.id,
                           recipe={"algorithm": "quantize", "dataset_id": dataset.id,
                                   "options": QuantizeOptions(subset_size=8).to_dict()})
    source = nncf_script(child)
    namespace = {"__name__": "reproduce"}
    exec(compile(source, "reproduce.py", "exec"), namespace)  # defines the functions; main() does not run
    theirs = namespace["samples"](namespace["DATA"], 8, part=namespace["PART"])

    class Progress:
        def fraction(self, *_):
            pass

    ours = load_samples(model, dataset, 8, Progress())
    assert len(theirs) == len(ours) == 8
    for (x, label), (y, expected) in zip(theirs, ours):
        assert label == expected and x.keys() == y.keys()
        assert all(x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]) for k in x)
    script = tmp_path / "reproduce.py"
    script.write_text(source)
    out = tmp_path / "out" / "model.xml"
    run = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "FakeQuantize" in {op.get_type_name() for op in ov.Core().read_model(out).get_ops()}


def test_data_page_splits_a_dataset_and_shows_the_sizes(lab_env):
    from streamlit.testing.v1 import AppTest

    from core.config import REPO_ROOT

    add_array_dataset(("x.npy", _npy(np.ones((20, 3), np.float32))))
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "data.py"), default_timeout=60).run()
    next(n for n in at.number_input if n.label == "Validation share").set_value(0.25)
    next(b for b in at.button if b.label == "Split").click().run()
    assert "15 calibration and 5 validation samples" in at.success[0].value
    assert at.dataframe[0].value["split (calibration / validation)"].tolist() == ["15 / 5"]
