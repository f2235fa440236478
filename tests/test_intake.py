"""Bringing models and data in: good files land as IR / indexed images, bad ones get clear errors
and leave everything stored before untouched."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from core import lab, storage
from core.errors import BadInputError, DatasetError, ModelFormatError, UnsafeArchiveError
from core.intake.models import read_model
from db import repository as repo


def _files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")} if folder.exists() else set()


def _png(value: int = 128, size: int = 28) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (size, size), value).save(buffer, "PNG")
    return buffer.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_ir_pair_and_onnx_import_as_fp32_ir(lab_env, classifier_ir):
    xml, bin_ = classifier_ir, classifier_ir.with_suffix(".bin")
    model = lab.add_model([(xml.name, xml.read_bytes()), (bin_.name, bin_.read_bytes())], name="pair")
    assert model.format == "openvino-ir"
    assert model.inputs[0]["shape"] == [-1, 1, 28, 28]
    stored = storage.resolve(model.path)
    assert stored.is_relative_to(lab_env)
    assert read_model(stored).inputs[0].get_element_type().get_type_name() == "f32"
    demo = lab.add_model_from_path(Path(lab.ASSETS_DIR) / "demo" / "fashion_cnn.onnx")
    assert demo.format == "onnx" and len(demo.recipe["labels"]) == 10


def test_ir_in_a_zip_is_found_in_its_folder_and_kept(lab_env, classifier_ir):
    archive = _zip({"export/net.xml": classifier_ir.read_bytes(),
                    "export/net.bin": classifier_ir.with_suffix(".bin").read_bytes(),
                    "export/README.txt": b"exported by hand"})
    model = lab.add_model([("export.zip", archive)])
    assert model.name == "net" and model.format == "openvino-ir"  # named after the model file
    assert model.inputs[0]["shape"] == [-1, 1, 28, 28] and model.outputs[0]["name"] == "logits"
    assert (storage.resolve(model.path).parent / "original" / "export.zip").exists()


def _bad_models(classifier_ir: Path) -> list[tuple[str, list, type, str]]:
    xml, bin_ = classifier_ir.read_bytes(), classifier_ir.with_suffix(".bin").read_bytes()
    return [
        ("not a model", [("notes.txt", b"hello")], ModelFormatError, "No model file"),
        ("xml without bin", [("model.xml", xml)], ModelFormatError, "needs its weights file"),
        ("corrupt onnx", [("broken.onnx", b"\x08\x07garbage" * 50)], ModelFormatError, "could not read"),
        ("truncated bin", [("model.xml", xml), ("model.bin", bin_[: len(bin_) // 2])], ModelFormatError,
         "could not read"),
        ("empty file", [("model.onnx", b"")], BadInputError, "empty"),
        ("zip slip", [("m.zip", _zip({"../evil.onnx": b"x"}))], UnsafeArchiveError, ".."),
        ("two models", [("a.onnx", b"x"), ("b.onnx", b"y")], ModelFormatError, "More than one"),
        ("xml with the wrong bin", [("model.xml", xml), ("model.bin", _other_bin(classifier_ir))],
         ModelFormatError, "not the one saved with this .xml"),
    ]


def _other_bin(classifier_ir: Path) -> bytes:
    """The weights of a different (3-channel) model: OpenVINO alone would load them as garbage."""
    from tests.models_in_code import make_classifier

    return make_classifier(classifier_ir.parent.parent / "other" / "model.xml", channels=3) \
        .with_suffix(".bin").read_bytes()


@pytest.mark.parametrize("case", range(8))
def test_bad_model_uploads_fail_clearly_and_keep_what_was_stored(lab_env, classifier_ir, case):
    label, files, error_type, phrase = _bad_models(classifier_ir)[case]
    kept = lab.add_model_from_path(classifier_ir, name="kept")
    before = _files_under(lab_env / "models")
    with pytest.raises(error_type) as caught:
        lab.add_model(files)
    assert phrase in str(caught.value), f"{label}: {caught.value}"
    assert _files_under(lab_env / "models") == before, f"{label} left files behind"
    assert [m.id for m in repo.list_models()] == [kept.id]
    assert not (lab_env.parent / "evil.onnx").exists()


def test_image_zip_with_classes_counts_undecodable_images(lab_env):
    data = _zip({"set/cat/1.png": _png(10), "set/cat/2.png": _png(20), "set/dog/1.png": _png(200),
                 "set/dog/broken.png": b"not an image", "set/dog/readme.txt": b"ignored"})
    dataset = lab.add_image_dataset(("pets.zip", data))
    assert dataset.classes == ["cat", "dog"] and dataset.has_labels
    assert dataset.samples == 3 and dataset.skipped == 1


def test_flat_image_zip_is_unlabelled(lab_env):
    dataset = lab.add_image_dataset(("flat.zip", _zip({"a.png": _png(), "b.png": _png()})))
    assert not dataset.has_labels and dataset.samples == 2


@pytest.mark.parametrize("name,data,error_type,phrase", [
    ("data.zip", _zip({"/etc/evil.png": b"x"}), UnsafeArchiveError, "absolute"),
    ("data.zip", b"PK\x03\x04 not really a zip", BadInputError, "zip"),
    ("data.zip", _zip({"cat/broken.png": b"garbage"}), DatasetError, "failed to decode"),
    ("images.tar", b"whatever", BadInputError, "not a zip"),
])
def test_bad_data_uploads_fail_clearly(lab_env, name, data, error_type, phrase):
    kept = lab.add_image_dataset(("ok.zip", _zip({"a/1.png": _png()})))
    before = _files_under(lab_env / "datasets")
    with pytest.raises(error_type) as caught:
        lab.add_image_dataset((name, data))
    assert phrase in str(caught.value)
    assert _files_under(lab_env / "datasets") == before
    assert [d.id for d in repo.list_datasets()] == [kept.id]


def test_oversized_upload_is_refused(lab_env, monkeypatch, classifier_ir):
    monkeypatch.setenv("OPTLAB_MAX_UPLOAD_MB", "0")
    with pytest.raises(BadInputError) as caught:
        lab.add_model_from_path(classifier_ir)
    assert "OPTLAB_MAX_UPLOAD_MB" in str(caught.value)


def test_submit_refuses_data_that_does_not_fit_the_model(lab_env):
    from core.optimize.recipes import QuantizeOptions
    from core.options import ImagePreprocessing, JobKind, MeasureOptions
    from tests.models_in_code import make_classifier

    rgb = lab.add_model_from_path(make_classifier(lab_env.parent / "rgb" / "model.xml", channels=3))
    gray = lab.add_image_dataset(("gray.zip", _zip({"a/1.png": _png()})),
                                 preprocessing=ImagePreprocessing(color="GRAY"))
    with pytest.raises(DatasetError) as caught:
        lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=rgb.id, dataset_id=gray.id,
                                options=QuantizeOptions(), measure=MeasureOptions())
    assert "channel" in str(caught.value) and "input" in str(caught.value)
    assert repo.list_jobs() == []


def test_image_preprocessing_from_the_form_shapes_the_preview(lab_env, classifier_ir):
    from core.intake import sources

    model = lab.add_model_from_path(classifier_ir)
    spec = sources.image_spec(width=28, height=28, color="GRAY", mean="127.5", scale="127.5")
    dataset = sources.add_data(("big.zip", _zip({"a/1.png": _png(255, size=40), "b/2.png": _png(0, size=40)})),
                               preprocessing=spec)
    rows = sources.preview(dataset, model)
    assert [(r["shape"], r["min"], r["label"]) for r in rows] == [("[1, 1, 28, 28]", 1.0, "a"),
                                                                  ("[1, 1, 28, 28]", -1.0, "b")]
    with pytest.raises(BadInputError) as caught:
        sources.image_spec(mean="0.5;0.5")
    assert "separated by commas" in str(caught.value)
