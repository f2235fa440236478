"""Real TensorFlow SavedModel, PaddlePaddle and PyTorch ExportedProgram models through the lab's intake.

The SavedModel and Paddle fixtures were made with the real frameworks by tests/assets/make_fixtures.py
(each with an .npz of a sample input and the framework's own output); the .pt2 is exported here.
Each goes through lab.add_model, the function the Models page calls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core import lab, storage
from core.errors import ModelFormatError
from db import repository as repo

ASSETS = Path(__file__).parent / "assets"


def _check_stored(model, *, fmt: str, input_shape: list[int], output_shape: list[int], original: str,
                  sample: np.ndarray, expected: np.ndarray) -> None:
    """The row is an IR with the inspected ports, the original is kept, and OpenVINO matches the framework."""
    from core.measure.evaluate import compile_model
    from core.options import Precision

    assert model.format == fmt and model.path.endswith("model.xml")
    assert storage.resolve(model.path).with_suffix(".bin").exists()
    assert [p["shape"] for p in model.inputs] == [input_shape]
    assert [p["shape"] for p in model.outputs] == [output_shape]
    assert model.inputs[0]["element_type"] == "f32"
    assert (storage.resolve(model.path).parent / "original" / original).is_file()  # kept for download
    actual = compile_model(storage.resolve(model.path), precision=Precision.F32)(sample)[0]
    np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
    assert repo.get_model(model.id) == model


def test_tensorflow_savedmodel_zip_is_stored_as_ir_matching_tensorflow(lab_env):
    zipped, reference = ASSETS / "tiny_savedmodel.zip", np.load(ASSETS / "tiny_savedmodel.npz")
    model = lab.add_model([(zipped.name, zipped.read_bytes())])
    _check_stored(model, fmt="tensorflow", input_shape=[1, 8, 8, 3], output_shape=[1, 5],
                  original="tiny_savedmodel.zip", sample=reference["input"], expected=reference["output"])
    assert model.inputs[0]["name"] == "x" and model.recipe["source_file"] == "saved_model.pb"


def test_paddle_inference_model_pair_is_stored_as_ir_matching_paddle(lab_env):
    pair = [ASSETS / "tiny_paddle.pdmodel", ASSETS / "tiny_paddle.pdiparams"]
    reference = np.load(ASSETS / "tiny_paddle.npz")
    model = lab.add_model([(p.name, p.read_bytes()) for p in pair])
    _check_stored(model, fmt="paddle", input_shape=[1, 3, 8, 8], output_shape=[1, 5],
                  original="tiny_paddle.pdmodel", sample=reference["input"], expected=reference["output"])
    assert (storage.resolve(model.path).parent / "original" / "tiny_paddle.pdiparams").is_file()


def test_paddle3_json_program_gets_a_next_step(lab_env):
    """Paddle 3 writes a PIR .json program by default, which OpenVINO's paddle frontend cannot read."""
    params = ASSETS / "tiny_paddle.pdiparams"
    with pytest.raises(ModelFormatError) as caught:
        lab.add_model([("m.json", b'{"program": {}}'), ("m.pdiparams", params.read_bytes())])
    assert "FLAGS_enable_pir_api=0" in str(caught.value) and repo.list_models() == []


def test_pytorch_exported_program_is_stored_as_ir_matching_torch(lab_env, tmp_path):
    torch = pytest.importorskip("torch", reason="install torch==2.13.0 (requirements-dev.txt)")

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(4 * 8 * 8, 5), torch.nn.Softmax(dim=1)).eval()
    sample = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        expected = module(sample).numpy()
    path = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(module, (sample,)), str(path))
    model = lab.add_model([(path.name, path.read_bytes())])
    _check_stored(model, fmt="pytorch-exported-program", input_shape=[1, 3, 8, 8], output_shape=[1, 5],
                  original="tiny.pt2", sample=sample.numpy(), expected=expected)


def test_pt2_keeps_dimensions_exported_as_dynamic(lab_env, tmp_path):
    torch = pytest.importorskip("torch", reason="install torch==2.13.0 (requirements-dev.txt)")

    module = torch.nn.Linear(16, 4).eval()
    program = torch.export.export(module, (torch.rand(2, 16),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, str(tmp_path / "dyn.pt2"))
    model = lab.add_model([("dyn.pt2", (tmp_path / "dyn.pt2").read_bytes())])
    assert model.inputs[0]["shape"] == [-1, 16] and model.outputs[0]["shape"] == [-1, 4]


def test_corrupt_pt2_fails_with_a_next_step(lab_env):
    pytest.importorskip("torch", reason="install torch==2.13.0 (requirements-dev.txt)")
    with pytest.raises(ModelFormatError) as caught:
        lab.add_model([("m.pt2", b"PK not really an exported program")])
    assert "could not read 'm.pt2'" in str(caught.value) and repo.list_models() == []


def test_pt2_without_torch_says_how_to_enable_it(lab_env, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ModelFormatError) as caught:
        lab.add_model([("m.pt2", b"PK not really an exported program")])
    assert "pip install torch==2.13.0" in str(caught.value) and "CPU" in str(caught.value)
    assert repo.list_models() == []
