"""Downloads of one model: IR zip, OVMS model repository, DL Streamer line, benchmark_app command.

Every function reads the model's stored rows and returns bytes or text; nothing is written to disk.
The NNCF reproduction script lives in core.deploy.script.
"""

from __future__ import annotations

import io
import json
import math
import shlex
import zipfile
from pathlib import Path

from core.deploy import llm
from core.deploy.script import nncf_script, safe_name
from core.errors import BadInputError, NotFoundError
from core.measure.batching import best_batch
from core.measure.accuracy_tables import is_percent, metric_title
from core.measure.benchmark import AUTO_BATCH_TIMEOUT_MS
from core.intake.llm import is_llm
from core.optimize.obtained import layers_text
from core.options import ExportFormat
from core.storage import resolve
from core.tasks.registry import model_task
from db import repository as repo
from db.records import BenchmarkRecord, ModelRecord

_LOAD_HINT = "Load it with:\n\n    import openvino as ov\n    ov.Core().read_model('model.xml')\n"


def ir_files(model: ModelRecord) -> tuple[Path, Path]:
    """The model.xml and model.bin of a model; raises NotFoundError when either is gone."""
    xml = resolve(model.path)
    if not xml.is_file() or not xml.with_suffix(".bin").is_file():
        raise NotFoundError(f"The IR files of model #{model.id} are missing from the data dir "
                            f"({model.path}); restore a backup or run its job again.")
    return xml, xml.with_suffix(".bin")


def measurements_markdown(model_id: int) -> str:
    """The model's stored benchmark and accuracy rows as Markdown tables (for READMEs)."""
    benchmarks, accuracy = repo.list_benchmarks(model_id), repo.list_accuracy(model_id)
    if not benchmarks and not accuracy:
        return "No measurements stored for this model yet.\n"
    lines = []
    if benchmarks:
        lines += ["| device | hint | batch | streams | requests | precision | latency median (min–max) ms "
                  "| throughput FPS | duration s | load average | measured (UTC) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for b in benchmarks:
            load = (b.environment.get("load_average") or ["?"])[0]
            lines.append(f"| {b.device} | {b.hint} | {b.batch} | {b.streams} | {b.infer_requests} | "
                         f"{b.precision} | {b.latency_median_ms:.3f} ({b.latency_min_ms:.3f}–"
                         f"{b.latency_max_ms:.3f}) | {b.throughput_fps:.1f} | {b.duration_s:.1f} | {load} | "
                         f"{b.created_at:%Y-%m-%d %H:%M} |")
        lines.append("")
    if accuracy:
        lines += ["| metric | value | samples | precision | dataset |", "| --- | --- | --- | --- | --- |"]
        # Accuracy and agreement in %, errors (MSE, max abs error) and cosine as the numbers they are.
        lines += [f"| {metric_title(a.metric)} | "
                  + (f"{a.value * 100:.2f} %" if is_percent(a.metric) else f"{a.value:.4g}")
                  + f" | {a.samples} | {a.precision} | #{a.dataset_id} |" for a in accuracy]
        lines.append("")
    return "\n".join(lines)


def obtained_markdown(model: ModelRecord) -> str:
    """What the optimization obtained (read back from the IR) and how it differs from the recipe."""
    if "weight_layers" not in model.recipe:
        return ""
    lines = ["## Obtained", "", f"Layers by weight type: {layers_text(model.recipe['weight_layers'])}; "
             f"FakeQuantize: {model.recipe.get('obtained', {}).get('fake_quantize', 0)}.", ""]
    lines += [f"> **Warning:** {text}" for text in model.recipe.get("warnings", [])]
    return "\n".join(lines) + "\n\n"


def ir_zip(model: ModelRecord) -> bytes:
    """The model's IR as zip bytes: model.xml, model.bin and a README (recipe + measured numbers)."""
    xml, weights = ir_files(model)
    readme = (f"# {model.name}\n\nOpenVINO IR exported by Optimization Lab (model #{model.id}).\n\n"
              f"{_LOAD_HINT}\n{obtained_markdown(model)}## Recipe\n\n```json\n{json.dumps(model.recipe, indent=2, default=str)}\n```\n\n"
              f"## Measured\n\n{measurements_markdown(model.id)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(xml, "model.xml")
        archive.write(weights, "model.bin")
        archive.writestr("README.md", readme)
    return buffer.getvalue()


def ir_zip_name(model: ModelRecord) -> str:
    return f"{safe_name(model)}-ir.zip"


def ovms_config(model: ModelRecord, batch: int | None) -> dict:
    """The OVMS config.json of a repository holding this one model."""
    name = safe_name(model)
    return {"model_config_list": [{"config": {
        "name": name, "base_path": f"/models/{name}", "batch_size": "auto" if batch is None else batch,
        "target_device": "CPU", "plugin_config": {"PERFORMANCE_HINT": "THROUGHPUT"}}}]}


def ovms_zip(model: ModelRecord) -> bytes:
    """An OVMS model repository: <name>/1/model.xml|bin, config.json and a README."""
    xml, weights = ir_files(model)
    name, batch = safe_name(model), best_batch(model.id)
    origin = (f"`batch_size` is {batch}: the batch with the highest throughput in this model's batch sweep."
              if batch else "`batch_size` is \"auto\": no batch sweep is stored for this model, so OVMS "
              "reshapes the model to the batch of each request. Run a batch sweep in the lab to get a "
              "fixed, measured batch size.")
    readme = (f"# OVMS model repository: {name}\n\nExported by Optimization Lab (model #{model.id}).\n\n"
              f"Serve it with:\n\n    docker run --rm -p 9000:9000 -p 8000:8000 -v $PWD:/models "
              f"openvino/model_server:latest \\\n        --config_path /models/config.json --port 9000 "
              f"--rest_port 8000\n\n## Batching\n\n{origin}\n\nDynamic batching: a fixed `batch_size` "
              "makes OVMS reshape the model once; requests must then carry exactly that batch. "
              "`\"auto\"` accepts any batch but reloads the model whenever the batch changes, which "
              "costs a compile each time. To batch many single-image clients together, keep a fixed "
              "batch size on the server and batch on the client side, or set `\"batch_size\": \"-1\"` "
              "(dynamic shape) if the model and device support it.\n\n"
              f"## Measured in the lab\n\n{measurements_markdown(model.id)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(xml, f"{name}/1/model.xml")
        archive.write(weights, f"{name}/1/model.bin")
        archive.writestr("config.json", json.dumps(ovms_config(model, batch), indent=2))
        archive.writestr("README.md", readme)
    return buffer.getvalue()


def ovms_zip_name(model: ModelRecord) -> str:
    return f"{safe_name(model)}-ovms.zip"


def _gst_element(model: ModelRecord) -> str:
    """By the model's task (core/tasks): gvaclassify for a classifier, gvadetect for a detector,
    else gvainference (raw outputs as metadata)."""
    return {"classification": "gvaclassify", "detection": "gvadetect"}.get(model_task(model)[0].name, "gvainference")


def dlstreamer_snippet(model: ModelRecord, *, model_path: str = "model.xml") -> str:
    """gst-launch-1.0 lines running the model in DL Streamer: one stream, then two sharing one model.

    Args:
        model: The model to run.
        model_path: Path of model.xml on the target machine (default: model.xml of the IR zip,
            run in the folder it was unzipped to).
    """
    path = model_path
    element, swept = _gst_element(model), best_batch(model.id)
    batch = swept or 1
    region = " inference-region=full-frame" if element == "gvaclassify" else ""
    infer = (f"{element} model={shlex.quote(path)} device=CPU batch-size={batch}{region} "
             f"model-instance-id=inf0")
    source = "filesrc location={} ! decodebin3 ! videoconvert"
    one = f"gst-launch-1.0 {source.format('input.mp4')} ! {infer} ! gvafpscounter ! fakesink sync=false"
    two = (f"gst-launch-1.0 \\\n  {source.format('input1.mp4')} ! {infer} ! gvafpscounter ! fakesink "
           f"sync=false \\\n  {source.format('input2.mp4')} ! {infer} ! gvafpscounter ! fakesink sync=false")
    batch_note = ("batch-size from this model's batch sweep" if swept
                  else "batch-size 1: no batch sweep stored for this model")
    return (f"# Run where {ir_zip_name(model)} (the Download IR button) is unzipped: it holds model.xml\n"
            f"# One stream ({element}; {batch_note})\n{one}\n\n"
            "# Two streams batched together: the same model-instance-id shares one model instance,\n"
            f"# so frames of both streams fill the same batch\n{two}\n")


def _shape_argument(model: ModelRecord, batch: int) -> str | None:
    """-shape for benchmark_app with the batch dimension set; None when a non-batch dim is dynamic."""
    parts = []
    for port in model.inputs:
        dims = list(port.get("shape", []))
        if not dims or any(d < 0 for d in dims[1:]):
            return None
        parts.append(f"{port['name']}[{','.join(str(d) for d in [batch, *dims[1:]])}]")
    return ",".join(parts)


# benchmark_app has no flag for these properties; the command writes them to this file (-load_config).
BENCHMARK_APP_CONFIG = "benchmark_app_config.json"


def _load_config(benchmark: BenchmarkRecord) -> dict[str, dict[str, str]]:
    """Properties the run was compiled with that benchmark_app can only take from -load_config.

    Automatic batching: benchmark_app 2026.4 cannot parse ``-d BATCH:CPU(4)`` (it looks for a
    device "CPU(4)"), so the command uses ``-d BATCH`` with the same device list, hint, precision
    and timeout core.measure.benchmark compiled with. Threads with a hint: benchmark_app takes -nthreads
    only with ``-hint none``, so INFERENCE_NUM_THREADS goes to the file instead.
    """
    threads = benchmark.environment.get("threads")
    if benchmark.auto_batch:
        config = {"MULTI_DEVICE_PRIORITIES": f"{benchmark.device}({benchmark.batch})",
                  "AUTO_BATCH_TIMEOUT": str(AUTO_BATCH_TIMEOUT_MS)}
        if benchmark.hint != "none":
            config["PERFORMANCE_HINT"] = benchmark.hint.upper()
        elif benchmark.streams:
            config["NUM_STREAMS"] = str(benchmark.streams)
        if benchmark.precision in ("f32", "bf16", "f16"):
            config["INFERENCE_PRECISION_HINT"] = benchmark.precision
        return {"BATCH": config | ({"INFERENCE_NUM_THREADS": str(threads)} if threads else {})}
    if threads and benchmark.hint != "none":
        return {benchmark.device: {"INFERENCE_NUM_THREADS": str(threads)}}
    return {}


def benchmark_app_command(benchmark: BenchmarkRecord, *, model_path: str = "model.xml") -> str:
    """The benchmark_app command line that repeats one stored measurement.

    Automatic-batching rows run on the BATCH device and a set thread count becomes -nthreads;
    properties benchmark_app has no flag for are written to a -load_config file first
    (``echo '{...}' > benchmark_app_config.json && benchmark_app ...``).

    Args:
        benchmark: A stored measurement (repo.list_benchmarks).
        model_path: Path of model.xml to put in the command (default: model.xml of the IR zip, run
            in the folder it was unzipped to).
    """
    model = repo.get_model(benchmark.model_id)
    config = _load_config(benchmark)
    args = ["benchmark_app", "-m", model_path,
            "-d", "BATCH" if benchmark.auto_batch else benchmark.device]
    if not benchmark.auto_batch:  # the BATCH device takes no -hint; the hint is in the config file
        args += ["-hint", benchmark.hint]
    args += ["-api", "async"]
    # Automatic batching keeps the model at batch 1; OpenVINO groups the requests.
    batch = 1 if benchmark.auto_batch else benchmark.batch
    shape = _shape_argument(model, batch)
    args += ["-shape", shape] if shape else ["-b", str(batch)]
    if benchmark.hint == "none" and benchmark.streams and not benchmark.auto_batch:
        # benchmark_app takes -nstreams only without a hint; with one, the hint picks the same streams.
        args += ["-nstreams", str(benchmark.streams)]
    if benchmark.hint == "none" and benchmark.environment.get("threads") and not benchmark.auto_batch:
        args += ["-nthreads", str(benchmark.environment["threads"])]
    args += ["-nireq", str(benchmark.infer_requests)]
    if benchmark.precision in ("f32", "bf16", "f16") and not benchmark.auto_batch:
        args += ["-infer_precision", benchmark.precision]
    args += ["-t", str(max(1, math.ceil(benchmark.duration_s)))]
    if not config:
        return shlex.join(args)
    write = shlex.join(["echo", json.dumps(config)]) + f" > {BENCHMARK_APP_CONFIG} && "
    return write + shlex.join([*args, "-load_config", BENCHMARK_APP_CONFIG])


def model_benchmark(model_id: int, benchmark_id: int | None = None) -> BenchmarkRecord:
    """One stored measurement of a model: benchmark_id, or the newest when None."""
    rows = repo.list_benchmarks(model_id)
    if not rows:
        raise BadInputError(f"Model #{model_id} has no stored measurement; benchmark it first "
                            "(every optimization job measures its parent and child).")
    if benchmark_id is None:
        return rows[-1]
    for row in rows:
        if row.id == benchmark_id:
            return row
    raise NotFoundError(f"Measurement #{benchmark_id} is not one of model #{model_id}'s; "
                        f"pick one of {', '.join(f'#{r.id}' for r in rows)}.")


def export_model(model_id: int, *, format: ExportFormat, benchmark_id: int | None = None,
                 ovms: dict | None = None) -> bytes | str:
    """One export of a model by format (the CLI's `export --format`): zip bytes or text.

    A language model's IR is its openvino.genai folder, its OVMS repository an LLM graph (ovms: the
    OvmsLlmOptions values), its measurement command llm_bench's (benchmark_id: a generation point).
    """
    model = repo.get_model(model_id)
    if is_llm(resolve(model.path)):
        wrong = {ExportFormat.DLSTREAMER: "DL Streamer runs vision models", ExportFormat.BENCHMARK_APP:
                 "benchmark_app times one forward pass; use --format llm-bench for generation"}
        if format in wrong:
            raise BadInputError(f"'{model.name}' is a language model: {wrong[ExportFormat(format)]}.")
        makers = {ExportFormat.IR: llm.genai_zip, ExportFormat.OVMS: lambda m: llm.ovms_llm_zip(
                      m, llm.OvmsLlmOptions.from_dict(ovms or {})), ExportFormat.SCRIPT: nncf_script,
                  ExportFormat.LLM_BENCH: lambda m: llm.llm_bench_command(m, benchmark_id)}
        return makers[ExportFormat(format)](model)
    if format == ExportFormat.LLM_BENCH:
        raise BadInputError(f"'{model.name}' is not a language model; its measurement command is --format "
                            "benchmark-app.")
    makers = {ExportFormat.IR: ir_zip, ExportFormat.OVMS: ovms_zip, ExportFormat.DLSTREAMER: dlstreamer_snippet,
              ExportFormat.SCRIPT: nncf_script,
              ExportFormat.BENCHMARK_APP: lambda m: benchmark_app_command(model_benchmark(m.id, benchmark_id)) + "\n"}
    return makers[ExportFormat(format)](model)
