"""Job handlers of optimizations (quantize, compress, FP16), evaluation and plain benchmarks.

`measure` (evaluate + benchmark a model at each precision, storing every row) is shared with the
sweep handler.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

from core.errors import DatasetError
from core.intake.datasets import calibration_indices
from core.intake import sources
from core.intake.llm import MODEL_XML, calibration_feeds, companion_files, is_llm
from core.jobs.handlers.inputs import class_count, load_samples, targets
from core.jobs.handlers.training import run_training
from core.jobs.handlers.llm import llm_parent_measured, measurer, run_llm_evaluate
from core.intake.model_intake import delete_model
from core.intake.models import inspect_model, port_dicts
from core.intake.sources import label_kind, open_part, part_read
from core.measure.agreement import store_agreement, store_comparison, store_precision_drift
from core.measure.benchmark import run_benchmark
from core.measure.evaluate import task_metrics
from core.measure.machine import device_default_precision
from core.optimize.algorithms import (
    OptimizeResult,
    compress_weights_model,
    fp16_model,
    quantize_model,
    quantize_with_accuracy_control_model,
    samples_digest,
)
from core.optimize import obtained
from core.optimize.recipes import ALGORITHM_OPTIONS, AccuracyControlOptions, SensitivityOptions
from core.optimize.sensitivity import layer_sensitivity
from core.options import BenchmarkOptions, EvaluateOptions, JobKind, MeasureOptions, PerformanceHint, Precision
from core.storage import checkpoint_folder, new_folder, relative, remove_tree, resolve, statistics_folder
from core.tasks.registry import model_task
from db import repository as repo
from db.records import JobRecord, ModelRecord

# Short names for the child model ("<parent> INT8") per algorithm.
SUFFIX = {JobKind.QUANTIZE: "INT8", JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: "INT8-AC",
          JobKind.COMPRESS_WEIGHTS: "WC", JobKind.FP16: "FP16", JobKind.QAT: "QAT", JobKind.PRUNE: "pruned"}
TRAINING = (JobKind.QAT, JobKind.PRUNE)


def _suffix(kind: JobKind, options) -> str:
    """'INT8', or the recipe where children differ by it: 'WC int4_sym g32 r0.8', 'pruned 50% + QAT'."""
    if kind == JobKind.PRUNE:
        return f"pruned {options.ratio:.0%}" + (" + QAT" if options.then_qat else "")
    if kind == JobKind.QAT:
        return f"QAT {options.epochs} ep"
    if kind != JobKind.COMPRESS_WEIGHTS:
        return SUFFIX[kind]
    return " ".join([SUFFIX[kind], str(options.mode)] + ([f"g{options.group_size}"] if options.group_size else [])
                    + ([f"r{options.ratio:g}"] if options.ratio not in (None, 1, 1.0) else []))


def measure(model: ModelRecord, precisions: list[Precision], options: MeasureOptions, reporter,
            job_id: int, start: float, end: float) -> None:
    """Evaluates (when the dataset has labels its task scores) and benchmarks a model at each precision.

    Timing runs once with the latency hint (batch 1) and once with the throughput hint.
    """
    dataset = repo.get_dataset(options.dataset_id) if options.dataset_id else None
    task, settings = model_task(model)
    scored = dataset is not None and label_kind(dataset) in task.label_kinds
    steps = len(precisions) * (3 if scored else 2)
    # Agreement with the parent (issue 5); for a parent at the device default, its drift from f32.
    steps += sum(1 for p in precisions if dataset and (model.parent_id or p == Precision.DEFAULT))
    step = 0
    path = resolve(model.path)

    def next_stage(name: str) -> None:
        nonlocal step
        reporter.stage(name, start + (end - start) * step / steps, start + (end - start) * (step + 1) / steps)
        step += 1

    for precision in precisions:
        if scored:
            next_stage(f"evaluating {model.name} ({precision}, {task.title})")
            source = open_part(dataset, model, "validation")
            total = len(source)
            for result in task_metrics(path, source.samples(), task=task, settings=settings,
                                       classes=class_count(model), device=options.device, precision=precision,
                                       on_progress=lambda n: reporter.fraction(n / total, f"{n}/{total} samples")):
                repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric=result.metric,
                                  value=result.value, samples=result.samples, precision=result.precision,
                                  job_id=job_id, split=part_read(dataset, "validation"))
        count = dataset.samples if dataset else 0
        if dataset and model.parent_id:
            next_stage(f"agreement of {model.name} with its parent ({precision})")
            store_agreement(model, dataset, precision=precision, device=options.device, job_id=job_id,
                            on_progress=lambda n: reporter.fraction(n / count, f"{n}/{count} samples"))
        elif dataset and precision == Precision.DEFAULT:
            next_stage(f"{model.name} at the device default against itself at f32")
            store_precision_drift(model, dataset, device=options.device, job_id=job_id,
                                  on_progress=lambda n: reporter.fraction(n / count, f"{n}/{count} samples"))
        for hint in (PerformanceHint.LATENCY, PerformanceHint.THROUGHPUT):
            next_stage(f"benchmarking {model.name} ({precision}, {hint} hint)")
            bench = run_benchmark(path, BenchmarkOptions(device=options.device, hint=hint, batch=1,
                                                         precision=precision, seconds=options.seconds),
                                  progress=lambda f, m: reporter.fraction(f, m))
            repo.add_benchmark(model.id, bench.to_dict(), job_id=job_id)


def _optimize(kind: JobKind, options, parent: ModelRecord, job: JobRecord, output, reporter) -> tuple[
        OptimizeResult, int]:
    """Runs one algorithm on the parent; loads the data it needs first. Returns the result and how
    many calibration samples it used."""
    path = resolve(parent.path)
    if kind in TRAINING:
        return run_training(options, parent, job, output, reporter)
    if kind == JobKind.FP16:
        reporter.stage("compressing weights to FP16", 0.0, 0.45)
        return fp16_model(path, output_path=output), 0
    needs_data = kind != JobKind.COMPRESS_WEIGHTS or options.use_data
    if needs_data and job.dataset_id is None:
        raise DatasetError(f"{kind} needs calibration data; choose a dataset.")
    inputs = []
    if needs_data:
        reporter.stage("loading calibration data", 0.0, 0.05)
        dataset = repo.get_dataset(job.dataset_id)
        if is_llm(path):  # texts: one forward pass over each text's first tokens
            texts = sources.texts(dataset)
            inputs = calibration_feeds(path, [texts[i] for i in calibration_indices(
                len(texts), min(options.subset_size, len(texts)), 0)])
        else:
            inputs = [x for x, _ in load_samples(parent, dataset, options.subset_size, reporter)]
    on_sample = (lambda n: reporter.fraction(n / len(inputs), f"{n}/{len(inputs)} samples")) if inputs else None
    if kind == JobKind.QUANTIZE:
        reporter.stage("quantizing (collecting statistics)", 0.05, 0.45)
        return quantize_model(path, inputs, options=options, output_path=output, on_sample=on_sample), len(inputs)
    if kind == JobKind.COMPRESS_WEIGHTS:
        reporter.stage(f"compressing weights ({options.mode})", 0.05, 0.45)
        cache = statistics_folder(parent.id, samples_digest(inputs)) if options.use_data and \
            options.cache_statistics else None
        return compress_weights_model(path, options=options, output_path=output, samples=inputs,
                                      on_sample=on_sample, statistics=cache), len(inputs)
    assert isinstance(options, AccuracyControlOptions)
    reporter.stage("loading validation data", 0.05, 0.1)
    dataset = repo.get_dataset(options.validation_dataset_id)
    validation, validate = targets(parent, dataset, load_samples(parent, dataset, options.max_validation_samples,
                                                                  reporter, seed=1, part="validation"), options.metric)
    reporter.stage(f"quantizing with accuracy control on {options.metric or 'the task metric'} (statistics, then "
                   "validation rounds)", 0.1, 0.45)
    result = quantize_with_accuracy_control_model(path, inputs, validation, options=options, output_path=output,
                                                  validate=validate, on_sample=on_sample)
    return dataclasses.replace(result, details={**result.details, "metric": validate.metric}), len(inputs)


def run_optimize(job: JobRecord, reporter) -> int:
    """Optimizes job.model_id with the job's algorithm, stores the child, then measures both."""
    kind = JobKind(job.kind)
    options = ALGORITHM_OPTIONS[kind].from_dict(job.options["recipe"])
    measure_options = MeasureOptions.from_dict(job.options.get("measure", {}))
    parent = repo.get_model(job.model_id)
    if job.result_model_id:
        # An earlier attempt was interrupted after storing its child: that child was never measured.
        delete_model(job.result_model_id)
    label = job.options.get("sweep_label")
    name = f"{parent.name} {_suffix(kind, options)}" + (f" [{label}]" if label else "")
    language_model = is_llm(resolve(parent.path))
    with new_folder("models", f"{parent.name}-{SUFFIX[kind]}") as folder:
        started = time.time()
        if language_model:  # the child is an openvino.genai folder too: the tokenizer IRs and configs come along
            for companion in companion_files(resolve(parent.path)):
                shutil.copy2(companion, folder / companion.name)
        result, used = _optimize(kind, options, parent, job, folder / (MODEL_XML if language_model else "model.xml"),
                                 reporter)
        if used and getattr(options, "subset_size", 0) > used:  # the recipe says what was used
            options = dataclasses.replace(options, subset_size=used)
        found = obtained.warnings(kind, options, result.details, parent_bytes=parent.size_bytes,
                                  size_bytes=result.size_bytes)
        for sentence in found:
            reporter.warn(sentence)
        info = inspect_model(result.path)
        child = repo.add_model(
            name=name, format="openvino-ir", path=relative(result.path),
            size_bytes=result.size_bytes, inputs=port_dicts(info.inputs), outputs=port_dicts(info.outputs),
            parent_id=parent.id,
            recipe={"algorithm": str(kind), "options": options.to_dict(), "dataset_id": job.dataset_id,
                    "job_id": job.id, "seconds": round(result.seconds, 2), "started_at": started,
                    "labels": parent.recipe.get("labels", []), **result.details, "warnings": found,
                    **({"llm": parent.recipe["llm"]} if "llm" in parent.recipe else {})})
    repo.set_result_model(job.id, child.id)
    parent_too = measure_options.measure_parent
    if parent_too:
        repo.delete_measurements(job.id, parent.id)  # an interrupted attempt's: measured again below
        parent_too = measure_options.remeasure_parent or not (
            llm_parent_measured if language_model else parent_measured)(parent, measure_options)
    if language_model:
        # A text generator is measured by generation, perplexity and similarity; a text encoder by
        # latency at a fixed token count and the cosine of its embeddings with the parent's.
        measure_model = measurer(parent)
        if parent_too:
            measure_model(parent, measure_options, reporter, job.id, 0.45, 0.7)
        elif measure_options.measure_parent:
            print(f"parent #{parent.id} was measured before with these settings: reused", flush=True)
        measure_model(child, measure_options, reporter, job.id, 0.7 if parent_too else 0.45, 1.0)
        return child.id
    if parent_too:
        measure(parent, parent_precisions(measure_options.device), measure_options, reporter, job.id, 0.45, 0.8)
    elif measure_options.measure_parent:
        print(f"parent #{parent.id} has comparable quiet measurements: reused, not measured again", flush=True)
    measure(child, [Precision.DEFAULT], measure_options, reporter, job.id, 0.8 if parent_too else 0.45, 1.0)
    if kind in TRAINING:  # done: a later run of this job trains from zero
        remove_tree(checkpoint_folder(job.id), within=checkpoint_folder(job.id).parent)
    return child.id


def parent_precisions(device: str) -> list[Precision]:
    """The parent is measured as a true FP32 baseline (f32 forced) and at the device default when
    that differs (bf16 on AMX CPUs), so the optimization's gain is not confused with the free bf16
    gain; where the default is f32 one run of each hint is enough (a second would time the same thing)."""
    return [Precision.F32] + ([Precision.DEFAULT] if device_default_precision(device) != Precision.F32.value else [])


def parent_measured(parent: ModelRecord, options: MeasureOptions) -> bool:
    """Whether the parent already has what measure() would store, from quiet runs of the same settings.

    That is: latency- and throughput-hint runs at batch 1 on the device, at least as long as asked,
    not noisy, at forced f32 and at the device default; and its task's metrics against the labels of
    the dataset at both precisions when one with labels is given.
    """
    wanted = {Precision.F32.value, device_default_precision(options.device)}
    runs = {(b.precision, b.hint) for b in repo.list_benchmarks(parent.id)
            if b.batch == 1 and b.device == options.device and not (b.noisy or b.sweep_point or b.auto_batch)
            and b.duration_s >= 0.9 * options.seconds}
    if not all((precision, hint) in runs for precision in wanted for hint in ("latency", "throughput")):
        return False
    dataset = repo.get_dataset(options.dataset_id) if options.dataset_id else None
    if dataset is None or label_kind(dataset) not in model_task(parent)[0].label_kinds:
        return True
    measured = {a.precision for a in repo.list_accuracy(parent.id)
                if a.dataset_id == dataset.id and a.reference_model_id is None}
    return wanted <= measured


def run_evaluate(job: JobRecord, reporter) -> None:
    """A model's task metrics against the dataset's labels, or against a reference model's outputs."""
    options = EvaluateOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    if is_llm(resolve(model.path)):
        return run_llm_evaluate(job.id, reporter, model, options)
    dataset = repo.get_dataset(options.dataset_id)
    task, settings = model_task(model)
    reporter.stage(f"evaluating {model.name} ({task.title})", 0.0, 1.0)
    if options.reference_model_id is not None:
        total = min(dataset.samples, options.max_samples or dataset.samples)
        store_comparison(model, repo.get_model(options.reference_model_id), dataset, device=options.device,
                         precision=options.precision, job_id=job.id, max_samples=options.max_samples,
                         on_progress=lambda n: reporter.fraction(n / total, f"{n}/{total} samples"))
        return
    if label_kind(dataset) not in task.label_kinds:
        raise DatasetError(f"'{dataset.name}' has {label_kind(dataset) or 'no'} labels and {task.title} is scored "
                           f"against {' or '.join(task.label_kinds) or 'a reference model only'}; choose a "
                           "dataset with fitting labels, or compare with a reference model (--reference).")
    source = open_part(dataset, model, "validation")
    total = min(len(source), options.max_samples or len(source))
    for result in task_metrics(resolve(model.path), source.samples(range(total)), task=task, settings=settings,
                               classes=class_count(model), device=options.device, precision=options.precision,
                               on_progress=lambda n: reporter.fraction(n / total, f"{n}/{total} samples")):
        repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric=result.metric, value=result.value,
                          samples=result.samples, precision=result.precision, job_id=job.id,
                          split=part_read(dataset, "validation"))


def run_sensitivity(job: JobRecord, reporter) -> None:
    """Ranks the INT8 layers of job.model_id by the task metric each recovers when kept in float."""
    options = SensitivityOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    reporter.stage("loading calibration data", 0.0, 0.05)
    calibration = [x for x, _ in load_samples(model, repo.get_dataset(job.dataset_id), options.subset_size, reporter)]
    reporter.stage("loading validation data", 0.05, 0.1)
    dataset = repo.get_dataset(options.validation_dataset_id)
    validation, validate = targets(model, dataset, load_samples(model, dataset, options.max_validation_samples,
                                                                 reporter, seed=1, part="validation"), options.metric)
    reporter.stage("quantizing, then each layer in float", 0.1, 1.0)
    result = layer_sensitivity(resolve(model.path), calibration, validation, validate=validate, options=options,
                               on_layer=lambda done, total: reporter.fraction(done / total, f"{done}/{total} layers"))
    repo.add_sensitivity(model_id=model.id, dataset_id=dataset.id, job_id=job.id, metric=result.metric,
                         float_value=result.float_value, int8_value=result.int8_value, layers=result.layers,
                         seconds=result.seconds)


def run_benchmark_job(job: JobRecord, reporter) -> None:
    options = BenchmarkOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    reporter.stage(f"benchmarking {model.name} ({options.hint} hint)", 0.0, 1.0)
    result = run_benchmark(resolve(model.path), options, progress=lambda f, m: reporter.fraction(f, m))
    repo.add_benchmark(model.id, result.to_dict(), job_id=job.id)
