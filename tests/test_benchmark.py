"""core.measure.benchmark on tiny real OpenVINO models (no downloads; whole file runs in a few seconds)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from core.errors import BadInputError, ModelFormatError
from core.measure.benchmark import BenchmarkResult, run_benchmark
from core.measure.machine import describe_precision
from core.options import BenchmarkOptions, PerformanceHint, Precision
from tests.models_in_code import make_classifier

CONTRACT_KEYS = {"model", "device", "hint", "batch", "streams", "infer_requests", "precision", "latency_ms",
                 "throughput_fps", "iterations", "duration_s", "first_inference_ms", "compile_ms", "environment"}
# Added by issue 5 (the #2 contract keys stay as they were).
MEASURE_KEYS = {"auto_batch", "peak_memory_mb", "sweep_point", "repeat", "noisy"}
LATENCY_KEYS = {"median", "mean", "min", "max", "p90", "p99"}


@pytest.fixture(scope="module")
def model_xml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_classifier(tmp_path_factory.mktemp("bench") / "model.xml")


@pytest.fixture(scope="module")
def latency_result(model_xml: Path) -> BenchmarkResult:
    options = BenchmarkOptions(hint=PerformanceHint.LATENCY, infer_requests=1, seconds=0.5)
    return run_benchmark(model_xml, options)


def test_stats_are_internally_consistent(latency_result: BenchmarkResult) -> None:
    r, lat = latency_result, latency_result.latency_ms
    assert r.iterations > 0
    assert 0 < lat.min <= lat.median <= lat.max
    assert lat.min <= lat.p90 <= lat.p99 <= lat.max
    assert lat.min <= lat.mean <= lat.max
    assert r.duration_s >= 0.5 and r.first_inference_ms > 0 and r.compile_ms > 0
    assert r.infer_requests == 1 and r.streams >= 1 and r.batch == 1
    assert r.environment["logical_cores"] >= 1 and r.environment["inference_num_threads"] >= 1


def test_latency_hint_throughput_matches_latency(latency_result: BenchmarkResult) -> None:
    # One request in flight: fps ~ batch * 1000 / mean latency, minus Python loop overhead
    # between requests (large relative to a ~0.05 ms model), hence the loose factor.
    expected = latency_result.batch * 1000.0 / latency_result.latency_ms.mean
    assert expected / 4 <= latency_result.throughput_fps <= expected * 1.1


def test_f32_precision_is_reported(model_xml: Path) -> None:
    result = run_benchmark(model_xml, BenchmarkOptions(precision=Precision.F32, iterations=5))
    assert result.precision == "f32"


def test_default_precision_is_what_the_device_chose(model_xml: Path, latency_result: BenchmarkResult) -> None:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(model_xml)
    model.reshape({model.inputs[0]: [1, 1, 28, 28]})
    compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    own = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
    assert latency_result.precision == {"bf16": "bf16", "f32": "f32", "f16": "f16"}.get(own, own)
    assert describe_precision(compiled) == latency_result.precision


def test_batch_reshape_and_exact_iterations(model_xml: Path) -> None:
    options = BenchmarkOptions(hint=PerformanceHint.THROUGHPUT, batch=4, iterations=7)
    result = run_benchmark(model_xml, options)
    assert result.batch == 4 and result.iterations == 7
    assert result.throughput_fps == pytest.approx(7 * 4 / result.duration_s)


def test_static_batch_model_is_reshaped(tmp_path: Path) -> None:
    path = make_classifier(tmp_path / "static.xml", dynamic_batch=False)
    result = run_benchmark(path, BenchmarkOptions(batch=2, iterations=3))
    assert result.batch == 2 and result.iterations == 3


def test_hint_none_uses_streams_and_requests_as_given(model_xml: Path) -> None:
    options = BenchmarkOptions(hint=PerformanceHint.NONE, streams=2, infer_requests=3, iterations=6)
    result = run_benchmark(model_xml, options)
    assert (result.hint, result.streams, result.infer_requests, result.iterations) == ("none", 2, 3, 6)


def test_to_dict_contract(latency_result: BenchmarkResult) -> None:
    data = latency_result.to_dict()
    assert set(data) == CONTRACT_KEYS | MEASURE_KEYS
    assert set(data["latency_ms"]) == LATENCY_KEYS
    assert json.loads(json.dumps(data)) == data


def test_dynamic_non_batch_dim_is_rejected(tmp_path: Path) -> None:
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 3, -1, 8], ov.Type.f32, name="pixels")
    model = ov.Model([ops.relu(x)], [x], "dynamic_hw")
    path = tmp_path / "dynamic.xml"
    ov.save_model(model, str(path))
    with pytest.raises(BadInputError, match="pixels.*static shape"):
        run_benchmark(path, BenchmarkOptions(iterations=1))


def test_corrupt_file_is_a_model_format_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<net><this is not IR")
    with pytest.raises(ModelFormatError, match="broken.xml"):
        run_benchmark(path, BenchmarkOptions(iterations=1))
    onnx = tmp_path / "broken.onnx"
    onnx.write_bytes(b"\x00garbage")
    with pytest.raises(ModelFormatError):
        run_benchmark(onnx, BenchmarkOptions(iterations=1))


def test_should_stop_ends_early_with_a_valid_result(model_xml: Path) -> None:
    calls: list[float] = []
    stops = iter([False, True])
    options = BenchmarkOptions(seconds=30.0)
    result = run_benchmark(model_xml, options, progress=lambda f, m: calls.append(f),
                           should_stop=lambda: next(stops, True))
    assert result.duration_s < 5 and result.iterations > 0
    assert result.latency_ms.min <= result.latency_ms.max
    assert calls and calls[-1] == 1.0


def test_progress_is_rate_limited(model_xml: Path) -> None:
    calls: list[tuple[float, str]] = []
    run_benchmark(model_xml, BenchmarkOptions(seconds=1.2), progress=lambda f, m: calls.append((f, m)))
    fractions = [f for f, _ in calls]
    assert 2 <= len(calls) <= 5
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)


def test_threads_are_validated_offered_in_forms_and_passed_to_the_cli(model_xml: Path, capsys) -> None:
    from core.cli import main
    from core.options import option_fields

    with pytest.raises(BadInputError, match="threads must be a positive"):
        BenchmarkOptions(threads=0)
    field = next(f for f in option_fields(BenchmarkOptions) if f.name == "threads")
    assert (field.kind, field.optional, field.default) == ("int", True, None)
    assert main(["benchmark", str(model_xml), "--hint", "none", "--threads", "1", "--iterations", "5", "--json"]) == 0
    environment = json.loads(capsys.readouterr().out)["environment"]
    assert environment["threads"] == 1 and environment["inference_num_threads"] == 1


def test_a_run_beside_busy_processes_is_flagged_noisy(model_xml: Path) -> None:
    # Issue 12, finding 2: measurements record how busy the rest of the machine was while they ran.
    import os
    import subprocess
    import sys

    quiet = run_benchmark(model_xml, BenchmarkOptions(seconds=0.5, threads=1))
    assert quiet.environment["other_cpu"] >= 0 and len(quiet.environment["load_average_end"]) == 3
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * (os.cpu_count() or 1))]
    try:
        time.sleep(0.5)
        loaded = run_benchmark(model_xml, BenchmarkOptions(seconds=1.0, threads=1))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert loaded.noisy and loaded.environment["other_cpu"] > (os.cpu_count() or 1) / 2, loaded.environment
