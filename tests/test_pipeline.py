"""Real NNCF and OpenVINO on the demo: quantize, evaluate, export, and the CLI contracts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import openvino as ov
import pytest

from core import lab, storage
from core.config import REPO_ROOT
from core.deploy.export import ir_zip
from core.intake.datasets import iter_samples, load_image, load_index, resolve_preprocessing
from core.intake.models import PortInfo
from core.measure.evaluate import top1_accuracy
from core.optimize.algorithms import quantize_model
from core.optimize.recipes import QuantizeOptions, SweepOptions
from core.options import ImagePreprocessing, Precision


@pytest.fixture
def demo(lab_env):
    model, calibration, validation = lab.ensure_demo()
    spec = resolve_preprocessing(ImagePreprocessing(), PortInfo(**model.inputs[0]))
    return model, calibration, validation, spec


def test_demo_model_is_accurate_at_forced_f32(demo):
    model, _, validation, spec = demo
    index = load_index(storage.resolve(validation.path))
    result = top1_accuracy(storage.resolve(model.path), iter_samples(index, spec), precision=Precision.F32)
    assert result.precision == "f32"
    assert result.samples == 500
    assert result.value > 0.85


def test_int8_quantization_inserts_fake_quantize_and_keeps_accuracy(demo, tmp_path):
    model, calibration, validation, spec = demo
    index = load_index(storage.resolve(calibration.path))
    samples = [load_image(index.root / path, spec) for path, _ in index.samples[:100]]
    seen = []
    result = quantize_model(storage.resolve(model.path), samples, options=QuantizeOptions(subset_size=100),
                            output_path=tmp_path / "int8" / "model.xml", on_sample=seen.append)
    assert result.details["obtained"]["fake_quantize"] > 0
    assert "i8" in result.details["obtained"]
    assert result.size_bytes < model.size_bytes / 2
    assert seen and seen[-1] >= 100, "progress must count the calibration samples NNCF consumed"
    val = load_index(storage.resolve(validation.path))
    fp32 = top1_accuracy(storage.resolve(model.path), iter_samples(val, spec), precision=Precision.F32)
    int8 = top1_accuracy(result.path, iter_samples(val, spec), precision=Precision.F32)
    assert abs(fp32.value - int8.value) < 0.03


def test_ir_zip_loads_in_openvino(demo, tmp_path):
    model = demo[0]
    with zipfile.ZipFile(io.BytesIO(ir_zip(model))) as archive:
        assert sorted(archive.namelist()) == ["README.md", "model.bin", "model.xml"]
        archive.extractall(tmp_path / "unzipped")
    compiled = ov.Core().compile_model(str(tmp_path / "unzipped" / "model.xml"), "CPU")
    assert compiled.output(0).get_partial_shape()[1].get_length() == 10


def test_cli_benchmark_prints_the_json_contract(classifier_ir):
    out = subprocess.run([sys.executable, "-m", "core", "benchmark", str(classifier_ir), "--hint", "latency",
                          "--batch", "1", "--precision", "f32", "--seconds", "1", "--json"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=True)
    record = json.loads(out.stdout)
    assert {"model", "device", "hint", "batch", "streams", "infer_requests", "precision", "latency_ms",
            "throughput_fps", "iterations", "duration_s", "first_inference_ms"} <= record.keys()
    assert set(record["latency_ms"]) == {"median", "mean", "min", "max", "p90", "p99"}
    assert record["precision"] == "f32" and record["hint"] == "latency" and record["batch"] == 1


def test_cli_reports_bad_input_without_a_traceback(lab_env, tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"garbage" * 10)
    out = subprocess.run([sys.executable, "-m", "core", "add-model", str(bad)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "error: OpenVINO could not read 'broken.onnx'" in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_has_one_validation_flag_that_accuracy_control_uses_too(demo, capsys):
    from core.cli import main
    from db import repository as repo

    model, calibration, validation, _ = demo
    base = ["quantize-with-accuracy-control", str(model.id), "--data", str(calibration.id)]
    assert main(base) == 2
    assert "--validate DATASET_ID" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # the second flag is gone
        main([*base, "--validation-dataset-id", str(validation.id)])
    assert main([*base, "--validate", str(validation.id), "--max-drop", "0.02", "--json"]) == 0
    job = repo.get_job(json.loads(capsys.readouterr().out)["job_id"])
    assert job.options["recipe"]["validation_dataset_id"] == validation.id
    assert job.options["measure"]["dataset_id"] == validation.id
    assert main(["sweep", str(model.id), "--algorithm", "quantize-with-accuracy-control", "--data",
                 str(calibration.id), "--validate", str(validation.id), "--grid", "max_drop=0.01,0.02"]) == 0
    sweep = SweepOptions.from_dict(repo.list_jobs()[0].options["sweep"])
    assert sorted(p["max_drop"] for p in sweep.points()) == [0.01, 0.02]
    assert {p["validation_dataset_id"] for p in sweep.points()} == {validation.id}
