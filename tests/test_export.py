"""Every export a user downloads: IR zip, OVMS repository, DL Streamer line, benchmark_app
command, NNCF script, and the lab backup with restore. Checked by loading / running them for real."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import lab, storage
from core.cli import main as cli
from core.config import REPO_ROOT, get_settings
from core.deploy import backup, export
from core.deploy import script as export_script
from core.errors import BadInputError, JobError
from core.measure.benchmark import run_benchmark
from core.optimize.recipes import CompressWeightsOptions, QuantizeOptions
from core.options import BenchmarkOptions
from db import repository as repo
from tests.stored_results import store_benchmark

VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def model(lab_env, classifier_ir):
    return lab.add_model_from_path(classifier_ir, name="tiny classifier")


def unzip(data: bytes, where: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(where)
    return where


def test_ir_zip_loads_in_openvino_and_its_readme_has_recipe_and_numbers(model, tmp_path):
    import openvino as ov

    store_benchmark(model.id)
    repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=0.875, samples=8, precision="f32")
    folder = unzip(export.ir_zip(model), tmp_path / "ir")
    assert ov.Core().read_model(folder / "model.xml").inputs[0].get_any_name() == "input"
    readme = (folder / "README.md").read_text()
    assert '"algorithm": "original"' in readme
    assert "1.250 (0.900–2.000)" in readme and "87.50 %" in readme and "| latency | 1 |" in readme


def test_the_readme_shows_errors_and_similarities_as_numbers_not_percentages(model):
    # Issue 12 friction: an MSE of 0.002 read "0.20 %".
    from core.deploy.export import measurements_markdown

    for metric, value in (("mse", 0.002), ("cosine", 0.9991), ("top1_agreement", 0.95)):
        repo.add_accuracy(model_id=model.id, dataset_id=None, metric=metric, value=value, samples=8, precision="f32")
    table = measurements_markdown(model.id)
    assert "| MSE vs parent | 0.002 |" in table and "0.20 %" not in table
    assert "| 0.9991 |" in table and "| 95.00 % |" in table


def test_ovms_repository_uses_the_sweeps_best_batch_else_auto(model, tmp_path):
    import openvino as ov

    folder = unzip(export.ovms_zip(model), tmp_path / "auto")
    config = json.loads((folder / "config.json").read_text())["model_config_list"][0]["config"]
    assert config["batch_size"] == "auto" and config["base_path"] == "/models/tiny_classifier"
    assert "no batch sweep" in (folder / "README.md").read_text()
    ov.Core().read_model(folder / "tiny_classifier" / "1" / "model.xml")

    for batch, fps in ((1, 100.0), (4, 310.0), (8, 290.0)):
        store_benchmark(model.id, hint="throughput", batch=batch, fps=fps, sweep_point=f"batch {batch}")
    folder = unzip(export.ovms_zip(model), tmp_path / "swept")
    config = json.loads((folder / "config.json").read_text())["model_config_list"][0]["config"]
    assert config["batch_size"] == 4
    assert sorted(p.name for p in (folder / "tiny_classifier" / "1").iterdir()) == ["model.bin", "model.xml"]


def test_dlstreamer_snippet_picks_classify_and_shares_the_model_across_two_streams(model):
    for batch, fps in ((1, 100.0), (8, 400.0)):
        store_benchmark(model.id, hint="throughput", batch=batch, fps=fps, sweep_point=f"batch {batch}")
    text = export.dlstreamer_snippet(model)
    commands = [line for line in text.splitlines() if line.startswith("gst-launch-1.0")]
    assert len(commands) == 2
    assert "gvaclassify model=model.xml device=CPU batch-size=8" in commands[0]
    assert f"where {export.ir_zip_name(model)}" in text and str(get_settings().data_dir) not in text
    two_streams = text.split("# Two streams", 1)[1]
    assert two_streams.count("model-instance-id=inf0") == 2 and two_streams.count("filesrc") == 2


def test_benchmark_app_command_reruns_the_stored_measurement_from_the_unzipped_ir(model, tmp_path):
    result = run_benchmark(storage.resolve(model.path), BenchmarkOptions(hint="throughput", seconds=0.3, precision="f32"))
    stored = repo.add_benchmark(model.id, result.to_dict())
    command = export.benchmark_app_command(stored)
    args = shlex.split(command)
    assert args[args.index("-m") + 1] == "model.xml", "the file inside the IR zip, not a server path"
    assert args[args.index("-shape") + 1] == "input[1,1,28,28]"
    assert args[args.index("-infer_precision") + 1] == "f32" and args[args.index("-hint") + 1] == "throughput"
    run = _run_command(command, tmp_path, model)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Throughput" in run.stdout
    assert f"NUM_STREAMS: {stored.streams}" in run.stdout


def test_nncf_script_reproduces_int8_on_the_demo(lab_env, tmp_path):
    import openvino as ov

    parent, calibration, _ = lab.ensure_demo()
    child = repo.add_model(name="demo INT8", format="openvino-ir", path=parent.path, size_bytes=1,
                           inputs=parent.inputs, outputs=parent.outputs, parent_id=parent.id,
                           recipe={"algorithm": "quantize", "dataset_id": calibration.id,
                                   "options": QuantizeOptions(subset_size=16).to_dict()})
    source = export_script.nncf_script(child)
    compile(source, "reproduce.py", "exec")
    script = tmp_path / export_script.script_name(child)
    script.write_text(source)
    out = tmp_path / "out" / "model.xml"
    run = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    ops = {op.get_type_name() for op in ov.Core().read_model(out).get_ops()}
    assert "FakeQuantize" in ops
    with pytest.raises(BadInputError, match="not made by an optimization job"):
        export_script.nncf_script(parent)


def test_cli_exports_each_format(model, tmp_path, capsys):
    store_benchmark(model.id)
    assert cli(["export", str(model.id), "--format", "ovms", "--out", str(tmp_path / "o.zip")]) == 0
    assert "config.json" in zipfile.ZipFile(tmp_path / "o.zip").namelist()
    capsys.readouterr()
    assert cli(["export", str(model.id), "--format", "benchmark-app"]) == 0
    assert capsys.readouterr().out.startswith("benchmark_app -m ")
    assert cli(["export", str(model.id), "--format", "ir"]) == 2
    assert "give --out" in capsys.readouterr().err


def test_backup_then_restore_brings_the_lab_back_and_keeps_the_previous_state(model, tmp_path, classifier_ir):
    store_benchmark(model.id)
    archive = tmp_path / "lab.zip"
    assert cli(["backup", "--out", str(archive)]) == 0
    extra = lab.add_model_from_path(classifier_ir, name="added after the backup")
    with pytest.raises(BadInputError, match="not an Optimization Lab backup"):
        backup.restore(("other.zip", export.ir_zip(model)))
    assert len(repo.list_models()) == 2, "a refused restore must change nothing"

    result = backup.restore(("lab.zip", archive.read_bytes()))
    assert [m.name for m in repo.list_models()] == ["tiny classifier"]
    assert len(repo.list_benchmarks(model.id)) == 1
    assert storage.resolve(model.path).is_file() and not storage.resolve(extra.path).exists()
    assert (result.previous_state / extra.path).is_file()
    assert (result.previous_state / "lab.db").is_file()

    repo.create_job(kind="benchmark", options={}, queue="test", model_id=model.id)
    with pytest.raises(JobError, match="wait for it to finish or cancel it"):
        backup.restore(("lab.zip", archive.read_bytes()))


def test_export_page_offers_every_download(model):
    store_benchmark(model.id)
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "export.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert [c.language for c in at.code] == ["bash", "bash"]
    assert at.code[1].value.startswith("benchmark_app -m ")
    assert "gst-launch-1.0" in at.code[0].value


@pytest.mark.parametrize("algorithm, options", [
    ("compress_weights", CompressWeightsOptions(mode="int8_sym").to_dict()), ("fp16", {})])
def test_nncf_script_of_weight_only_algorithms_runs(model, tmp_path, algorithm, options):
    import openvino as ov

    child = repo.add_model(name=f"tiny {algorithm}", format="openvino-ir", path=model.path, size_bytes=1,
                           inputs=model.inputs, outputs=model.outputs, parent_id=model.id,
                           recipe={"algorithm": algorithm, "options": options, "dataset_id": None})
    script = tmp_path / "reproduce.py"
    script.write_text(export_script.nncf_script(child))
    out = tmp_path / "out" / "model.xml"
    run = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    weights = {op.get_output_element_type(0).get_type_name() for op in ov.Core().read_model(out).get_ops()
               if op.get_type_name() == "Constant"}
    assert ("i8" if algorithm == "compress_weights" else "f16") in weights


def test_accuracy_control_script_compiles_and_reads_the_validation_images(lab_env):
    from core.intake.datasets import load_index
    from core.optimize.recipes import AccuracyControlOptions

    parent, calibration, validation = lab.ensure_demo()
    options = AccuracyControlOptions(validation_dataset_id=validation.id, max_drop=0.02).to_dict()
    child = repo.add_model(name="demo INT8-AC", format="openvino-ir", path=parent.path, size_bytes=1,
                           inputs=parent.inputs, outputs=parent.outputs, parent_id=parent.id,
                           recipe={"algorithm": "quantize_with_accuracy_control", "options": options,
                                   "dataset_id": calibration.id})
    source = export_script.nncf_script(child)
    compile(source, "reproduce.py", "exec")
    assert f"VALIDATION = {str(load_index(storage.resolve(validation.path)).root)!r}" in source
    assert "nncf.quantize_with_accuracy_control(" in source and "'max_drop': 0.02" in source


def _run_command(command: str, cwd: Path, model) -> subprocess.CompletedProcess:
    """Runs an exported command line (maybe 'echo ... > config && benchmark_app ...') in a shell, in
    the folder the model's IR zip is unzipped to, as the Export page tells the user."""
    zipfile.ZipFile(io.BytesIO(export.ir_zip(model))).extractall(cwd)
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=180, env=env, cwd=cwd)


def test_benchmark_app_command_of_an_auto_batch_row_runs_on_the_batch_device(model, tmp_path):
    result = run_benchmark(storage.resolve(model.path), BenchmarkOptions(hint="throughput", batch=4, auto_batch=True,
                                                                     seconds=0.3, precision="f32"))
    stored = repo.add_benchmark(model.id, result.to_dict())
    command = export.benchmark_app_command(stored)
    config_line, run_line = command.split(" && ")
    args = shlex.split(run_line)
    assert args[args.index("-d") + 1] == "BATCH" and "-hint" not in args  # the BATCH device takes no -hint
    assert args[args.index("-shape") + 1] == "input[1,1,28,28]", "the model stays at batch 1"
    config = json.loads(shlex.split(config_line.split(" > ")[0])[1])
    assert config == {"BATCH": {"MULTI_DEVICE_PRIORITIES": "CPU(4)", "AUTO_BATCH_TIMEOUT": "50",
                                "PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}}
    run = _run_command(command, tmp_path, model)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "AUTO_BATCH_TIMEOUT: 50" in run.stdout and "Throughput" in run.stdout


def test_a_thread_count_is_stored_and_becomes_nthreads(model, tmp_path):
    result = run_benchmark(storage.resolve(model.path), BenchmarkOptions(hint="none", streams=1, threads=1, seconds=0.3))
    stored = repo.add_benchmark(model.id, result.to_dict())
    assert stored.environment["threads"] == 1 and stored.environment["inference_num_threads"] == 1
    args = shlex.split(export.benchmark_app_command(stored))
    assert args[args.index("-nthreads") + 1] == "1" and args[args.index("-hint") + 1] == "none"
    run = _run_command(export.benchmark_app_command(stored), tmp_path, model)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "INFERENCE_NUM_THREADS: 1" in run.stdout
    # With a hint benchmark_app refuses -nthreads, so the thread count goes to its config file.
    latency = repo.add_benchmark(model.id, run_benchmark(storage.resolve(model.path),
                                                         BenchmarkOptions(threads=1, iterations=5)).to_dict())
    command = export.benchmark_app_command(latency)
    assert "-nthreads" not in command and '"INFERENCE_NUM_THREADS": "1"' in command
