"""Job handlers: what a job process does for each job kind (run by core.jobs.run)."""

from __future__ import annotations

import shutil
import time

from core import lab
from core.benchmark import run_benchmark
from core.config import get_settings
from core.datasets import calibration_indices, load_image, load_index, resolve_preprocessing, iter_samples
from core.errors import DatasetError
from core.evaluate import top1_accuracy
from core.files import unique_dir
from core.models import PortInfo, inspect_model, port_dicts
from core.optimize import quantize_model
from core.options import (BenchmarkOptions, EvaluateOptions, ImagePreprocessing, MeasureOptions,
                          PerformanceHint, Precision, QuantizeOptions)
from db import repository as repo
from db.records import DatasetRecord, JobRecord, ModelRecord


def _first_input(model: ModelRecord) -> PortInfo:
    if len(model.inputs) != 1:
        raise DatasetError(f"'{model.name}' has {len(model.inputs)} inputs; image folders feed "
                           "single-input models.")
    return PortInfo(**model.inputs[0])


def _spec(model: ModelRecord, dataset: DatasetRecord) -> ImagePreprocessing:
    return resolve_preprocessing(ImagePreprocessing.from_dict(dataset.preprocessing), _first_input(model))


def measure(model: ModelRecord, precisions: list[Precision], options: MeasureOptions, reporter,
            job_id: int, start: float, end: float) -> None:
    """Evaluates (when the dataset has labels) and benchmarks a model at each precision.

    Timing runs once with the latency hint (batch 1) and once with the throughput hint.
    """
    dataset = repo.get_dataset(options.dataset_id) if options.dataset_id else None
    steps = len(precisions) * (3 if dataset and dataset.has_labels else 2)
    step = 0
    path = lab.resolve(model.path)

    def next_stage(name: str) -> None:
        nonlocal step
        reporter.stage(name, start + (end - start) * step / steps, start + (end - start) * (step + 1) / steps)
        step += 1

    for precision in precisions:
        if dataset and dataset.has_labels:
            next_stage(f"evaluating {model.name} ({precision})")
            index = load_index(lab.resolve(dataset.path))
            total = len(index.samples)
            result = top1_accuracy(path, iter_samples(index, _spec(model, dataset)), device=options.device,
                                   precision=precision,
                                   on_progress=lambda n: reporter.fraction(n / total, f"{n}/{total} images"))
            repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric=result.metric,
                              value=result.value, samples=result.samples, precision=result.precision,
                              job_id=job_id)
        for hint in (PerformanceHint.LATENCY, PerformanceHint.THROUGHPUT):
            next_stage(f"benchmarking {model.name} ({precision}, {hint} hint)")
            bench = run_benchmark(path, BenchmarkOptions(device=options.device, hint=hint, batch=1,
                                                         precision=precision, seconds=options.seconds),
                                  progress=lambda f, m: reporter.fraction(f, m))
            repo.add_benchmark(model.id, bench.to_dict(), job_id=job_id)


def run_quantize(job: JobRecord, reporter) -> int:
    """INT8 post-training quantization of job.model_id on job.dataset_id, then measurement."""
    options = QuantizeOptions.from_dict(job.options["quantize"])
    measure_options = MeasureOptions.from_dict(job.options.get("measure", {}))
    parent = repo.get_model(job.model_id)
    calibration = repo.get_dataset(job.dataset_id)
    spec = _spec(parent, calibration)
    index = load_index(lab.resolve(calibration.path))
    chosen = calibration_indices(len(index.samples), options.subset_size)

    reporter.stage("loading calibration data", 0.0, 0.05)
    tensors = []
    for n, i in enumerate(chosen, 1):
        tensors.append(load_image(index.root / index.samples[i][0], spec))
        reporter.fraction(n / len(chosen), f"{n}/{len(chosen)} images")

    reporter.stage("quantizing (collecting statistics)", 0.05, 0.45)
    folder = unique_dir(get_settings().data_dir / "models", f"{parent.name}-int8")
    try:
        started = time.time()
        result = quantize_model(lab.resolve(parent.path), tensors, options=options,
                                output_path=folder / "model.xml",
                                on_sample=lambda n: reporter.fraction(n / len(tensors),
                                                                      f"{n}/{len(tensors)} samples"))
        info = inspect_model(result.path)
        child = repo.add_model(
            name=f"{parent.name} INT8", format="openvino-ir",
            path=result.path.relative_to(get_settings().data_dir).as_posix(),
            size_bytes=result.size_bytes, inputs=port_dicts(info.inputs), outputs=port_dicts(info.outputs),
            parent_id=parent.id,
            recipe={"algorithm": "quantize", "options": options.to_dict(),
                    "calibration_dataset_id": calibration.id, "calibration_samples": len(tensors),
                    "preprocessing": spec.to_dict(), "seconds": round(result.seconds, 2),
                    "started_at": started, "fake_quantize_ops": result.fake_quantize_ops,
                    "nncf": result.nncf_version, "openvino": result.openvino_version,
                    "labels": parent.recipe.get("labels", [])})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    repo.set_result_model(job.id, child.id)
    # The parent is measured as a true FP32 baseline (f32 forced) and at the device default
    # (bf16 on AMX CPUs), so the INT8 gain is not confused with the free bf16 gain.
    measure(parent, [Precision.F32, Precision.DEFAULT], measure_options, reporter, job.id, 0.45, 0.8)
    measure(child, [Precision.DEFAULT], measure_options, reporter, job.id, 0.8, 1.0)
    return child.id


def run_evaluate(job: JobRecord, reporter) -> None:
    options = EvaluateOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    dataset = repo.get_dataset(options.dataset_id)
    reporter.stage(f"evaluating {model.name}", 0.0, 1.0)
    index = load_index(lab.resolve(dataset.path))
    total = len(index.samples[:options.max_samples])
    result = top1_accuracy(lab.resolve(model.path),
                           iter_samples(index, _spec(model, dataset), options.max_samples),
                           device=options.device, precision=options.precision,
                           on_progress=lambda n: reporter.fraction(n / total, f"{n}/{total} images"))
    repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric=result.metric, value=result.value,
                      samples=result.samples, precision=result.precision, job_id=job.id)


def run_benchmark_job(job: JobRecord, reporter) -> None:
    options = BenchmarkOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    reporter.stage(f"benchmarking {model.name} ({options.hint} hint)", 0.0, 1.0)
    result = run_benchmark(lab.resolve(model.path), options, progress=lambda f, m: reporter.fraction(f, m))
    repo.add_benchmark(model.id, result.to_dict(), job_id=job.id)
