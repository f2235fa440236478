"""Image preprocessing: the tensor dtype, its check against the model input, and tensors shown as images."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import lab, storage
from core.errors import BadInputError, DatasetError
from core.intake import sources
from core.intake.datasets import load_image, tensor_to_image
from core.options import ImagePreprocessing, TensorType
from db import repository as repo
from tests.test_intake import _zip

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)  # H=6, W=5: layouts cannot be confused
GRAY = RNG.integers(0, 256, (6, 5), dtype=np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _saved(tmp_path, pixels: np.ndarray):
    path = tmp_path / "image.png"
    path.write_bytes(_png(pixels))
    return path


@pytest.mark.parametrize("pixels,spec", [
    (RGB, ImagePreprocessing(width=5, height=6, layout="NCHW", color="RGB", mean=(123.7, 116.3, 103.5),
                             scale=(58.4, 57.1, 57.4))),
    (RGB, ImagePreprocessing(width=5, height=6, layout="NHWC", color="BGR", mean=(10, 20, 30), scale=(2, 4, 8))),
    (GRAY, ImagePreprocessing(width=5, height=6, layout="NCHW", color="GRAY", mean=(127.5,), scale=(127.5,))),
    (GRAY, ImagePreprocessing(width=5, height=6, layout="NHWC", color="GRAY", dtype="uint8")),
    (RGB, ImagePreprocessing(width=5, height=6, layout="NCHW", color="RGB", mean=(128,), dtype="int8")),
    (RGB, ImagePreprocessing(width=5, height=6, layout="NHWC", color="RGB", mean=(0.5,), scale=(255,),
                             dtype="float16")),
])
def test_tensor_to_image_undoes_the_preprocessing(tmp_path, pixels, spec):
    tensor = load_image(_saved(tmp_path, pixels), spec)
    assert tensor.dtype == np.dtype(spec.dtype.value)
    image = tensor_to_image(tensor, spec)
    assert image.dtype == np.uint8 and image.shape == pixels.shape  # H×W×3 RGB, or H×W for gray
    tolerance = 1 if spec.dtype == TensorType.FLOAT16 else 0  # float16 keeps ~3 significant digits
    assert np.abs(image.astype(int) - pixels).max() <= tolerance
    assert np.array_equal(tensor_to_image(tensor[0], spec), image)  # without the batch axis too


def test_tensor_to_image_clips_and_refuses_what_is_not_one_image():
    spec = ImagePreprocessing(layout="NCHW", color="GRAY", mean=(0,), scale=(1,))
    assert tensor_to_image(np.array([[[[-40.0, 300.0, 99.6]]]]), spec).tolist() == [[0, 255, 100]]
    with pytest.raises(DatasetError) as caught:
        tensor_to_image(np.zeros((2, 1, 4, 4, 1)), spec)
    assert "[2, 1, 4, 4, 1] is not one image" in str(caught.value)


def test_integer_dtypes_round_and_clip_instead_of_wrapping(tmp_path):
    pixels = np.array([[0, 100, 255]], np.uint8)
    spec = ImagePreprocessing(width=3, height=1, layout="NHWC", color="GRAY", mean=(100,), scale=(0.5,),
                              dtype="int8")
    assert load_image(_saved(tmp_path, pixels), spec).ravel().tolist() == [-128, 0, 127]


def test_dtype_option_validates_and_old_records_without_it_load_as_float32(lab_env, classifier_ir):
    assert sources.image_spec(dtype="uint8").dtype == TensorType.UINT8
    with pytest.raises(BadInputError) as caught:
        sources.image_spec(dtype="float64")
    assert "float32, float16, uint8, int8" in str(caught.value)
    model = lab.add_model_from_path(classifier_ir)
    new = lab.add_image_dataset(("g.zip", _zip({"a/1.png": _png(GRAY)})), preprocessing=ImagePreprocessing(
        width=28, height=28))
    assert new.preprocessing["dtype"] == "float32"
    before = {k: v for k, v in new.preprocessing.items() if k != "dtype"}  # as stored before dtype existed
    old = repo.add_dataset(name="old", format=new.format, path=new.path, samples=new.samples,
                           has_labels=new.has_labels, classes=new.classes, preprocessing=before)
    assert ImagePreprocessing.from_dict(repo.get_dataset(old.id).preprocessing).dtype == TensorType.FLOAT32
    tensor, label = sources.open_dataset(repo.get_dataset(old.id), model).load(0)
    assert tensor.dtype == np.float32 and tensor.shape == (1, 1, 28, 28) and label == 0


def _u8_image_model(path):
    """Raw u8 NHWC pixels in ('image' [1,6,5,3]), their mean per image out: a deployment-style input."""
    import openvino as ov
    import openvino.opset13 as ops

    image = ops.parameter([1, 6, 5, 3], np.uint8, name="image")
    mean = ops.reduce_mean(ops.convert(image, "f32"), ops.constant(np.array([1, 2, 3], np.int64)), False)
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Model([mean], [image], "u8_model"), str(path))
    return path


def test_data_of_another_type_than_the_model_input_is_refused_by_name(lab_env):
    from core.measure.evaluate import compile_model
    from core.optimize.recipes import QuantizeOptions
    from core.options import JobKind, MeasureOptions

    model = lab.add_model_from_path(_u8_image_model(lab_env.parent / "u8" / "model.xml"))
    as_float = lab.add_image_dataset(("f.zip", _zip({"a/1.png": _png(RGB)})))
    with pytest.raises(DatasetError) as caught:
        lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=as_float.id,
                                options=QuantizeOptions(), measure=MeasureOptions())
    message = str(caught.value)
    assert "'image'" in message and "uint8 (u8)" in message and "makes float32" in message
    assert "set the preprocessing dtype to uint8" in message and repo.list_jobs() == []

    as_u8 = lab.add_image_dataset(("u.zip", _zip({"a/1.png": _png(RGB)})), preprocessing=ImagePreprocessing(
        dtype="uint8"))
    assert [row["dtype"] for row in sources.preview(as_u8, model)] == ["uint8"]
    tensor, _ = sources.open_dataset(as_u8, model).load(0)
    assert np.array_equal(tensor[0], RGB)
    result = compile_model(storage.resolve(model.path))(tensor)[0]
    assert result.ravel()[0] == pytest.approx(RGB.mean(), rel=1e-4)


def test_data_page_shows_preprocessed_samples_as_images_with_labels(lab_env, classifier_ir):
    from streamlit.testing.v1 import AppTest

    from core.config import REPO_ROOT

    lab.add_model_from_path(classifier_ir)
    images = {f"{label}/{i}.png": _png(np.full((28, 28), 40 * i, np.uint8)) for i, label in
              enumerate(["cat", "cat", "dog"])}
    lab.add_image_dataset(("pets.zip", _zip(images)), preprocessing=ImagePreprocessing(mean=(127.5,),
                                                                                       scale=(127.5,)))
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "data.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    shown = at.get("image")
    assert [image.proto.imgs[0].caption for image in shown] == ["sample 0: cat", "sample 1: cat",
                                                                 "sample 2: dog"]
    assert at.dataframe[1].value["label"].tolist() == ["cat", "cat", "dog"]  # the table stays
    assert next(box for box in at.selectbox if box.label == "Tensor type").value == "float32"


def test_preview_images_are_the_tensors_the_model_gets(lab_env, classifier_ir):
    model = lab.add_model_from_path(classifier_ir)
    dataset = lab.add_image_dataset(("g.zip", _zip({"x.png": _png(np.full((40, 40), 200, np.uint8))})),
                                    preprocessing=ImagePreprocessing(mean=(100,), scale=(50,)))
    ((image, caption),) = sources.preview_images(dataset, model)
    assert caption == "sample 0: unlabelled" and image.shape == (28, 28) and (image == 200).all()


def test_cli_add_data_takes_the_image_preprocessing(lab_env, classifier_ir, tmp_path, capsys):
    from core.cli import main as cli

    model = lab.add_model_from_path(classifier_ir)
    archive = tmp_path / "digits.zip"
    archive.write_bytes(_zip({"a/1.png": _png(np.full((40, 40), 200, np.uint8))}))
    assert cli(["add-data", str(archive), "--width", "28", "--height", "28", "--color", "GRAY",
                "--mean", "100", "--scale", "50", "--json"]) == 0
    (dataset,) = repo.list_datasets()
    assert ImagePreprocessing.from_dict(dataset.preprocessing) == ImagePreprocessing(
        width=28, height=28, color="GRAY", mean=(100.0,), scale=(50.0,))
    tensor, label = sources.open_dataset(dataset, model).load(0)
    assert tensor.shape == (1, 1, 28, 28) and np.allclose(tensor, 2.0) and label == 0

    assert cli(["add-data", str(archive), "--mean", "1,x"]) == 2  # bad input: exit code 2
    assert "Mean and scale are numbers" in capsys.readouterr().err
    assert len(repo.list_datasets()) == 1


def test_the_data_check_warns_of_class_counts_and_raw_pixels_a_model_does_not_scale(lab_env, tmp_path):
    # Issue 12 friction: a dataset whose classes are not the model's, and 0-255 pixels fed to a model
    # whose first layer is a convolution, fit — and mislead. The demo scales its own input: no warning.
    from core.intake.sources import fit_warnings
    from tests.models_in_code import make_classifier

    model, calibration, _ = lab.ensure_demo()
    assert fit_warnings(calibration, model) == []
    raw = lab.add_model_from_path(make_classifier(tmp_path / "raw" / "model.xml", classes=4), name="raw")
    found = fit_warnings(calibration, raw)
    assert len(found) == 2
    assert "has 10 classes but the model's output" in found[0] and "has 4" in found[0]
    assert "pixel values up to 255" in found[1] and "set mean / scale" in found[1]
