"""Accuracy without labels: agreement of a model's outputs with a reference model's, raw and by task."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, DatasetError
from core.intake.sources import open_dataset
from core.measure.machine import describe_precision
from core.measure.evaluate import compile_model
from core.options import Precision
from core.storage import resolve
from core.tasks.base import Task, TaskSettings
from core.tasks.metrics import RAW_AGREEMENT
from core.tasks.registry import model_task
from core.tasks.run import Runner, chunks, output_names
from db import repository as repo
from db.records import AccuracyRecord, DatasetRecord, ModelRecord


@dataclass(frozen=True)
class AgreementMetric:
    """One agreement metric of one output of a model against the reference model."""

    output: str
    metric: str  # top1_agreement, cosine, mse, max_abs_error, or a task's (map50_vs_parent, ...)
    value: float
    samples: int
    precision: str  # what the compared model actually ran at


def agreement_metrics(reference_path: Path, model_path: Path, inputs: Iterable[Any], *,
                      device: str = "CPU", precision: Precision = Precision.F32,
                      reference_precision: Precision | None = None, task: Task | None = None,
                      settings: TaskSettings | None = None,
                      on_progress: Callable[[int], None] | None = None) -> list[AgreementMetric]:
    """Compares a model's outputs with a reference's on the same inputs: raw, per output, and by task.

    Args:
        reference_path: The reference (usually the parent).
        model_path: The model compared with it (same inputs and outputs).
        inputs: Input tensors (a dict of them for multi-input models) fed to both.
        device: OpenVINO device.
        precision: Inference precision asked of the compared model.
        reference_precision: Asked of the reference; None: the same as precision, so a child is
            compared like with like (its optimization's effect, not the device's bf16 on top).
        task: Decodes both models' outputs and scores the model's against the reference's (e.g.
            map50_vs_parent, cer_vs_parent); only the raw metrics meaningful for it are kept. None:
            every raw metric, no task metric.
        settings: How the task reads the outputs.
        on_progress: Called with the number of inputs done.

    Returns:
        The raw metrics per output, in output order: top1_agreement (argmax over the last axis
        equal), cosine (mean over samples), mse, max_abs_error; then the task's metrics (output '').

    Raises:
        DatasetError: No inputs, or the two models have different outputs.
    """
    settings = settings or TaskSettings()
    reference = compile_model(reference_path, device=device, precision=reference_precision or precision)
    model = compile_model(model_path, device=device, precision=precision)
    if len(reference.outputs) != len(model.outputs):
        raise DatasetError(f"The models have {len(reference.outputs)} and {len(model.outputs)} outputs; "
                           "agreement compares a model with its parent, which have the same outputs.")
    names = output_names(reference)
    sums = {name: {"agree": 0.0, "cosine": 0.0, "sq": 0.0, "count": 0, "max": 0.0} for name in names}
    scorer = task.scorer(settings, classes=0, vs_parent=True) if task else None
    ref_runner, runner = Runner(reference), Runner(model)

    def outputs():  # (inputs, the reference's outputs, the model's), batched where both allow it
        for chunk in chunks(inputs, min(ref_runner.size, runner.size)):
            yield from zip(chunk, ref_runner.outputs(chunk), runner.outputs(chunk))

    samples = 0
    for tensor, expected, actual in outputs():
        for name in names:
            x = np.asarray(expected[name], dtype=np.float64)
            y = np.asarray(actual[name], dtype=np.float64)
            if x.shape != y.shape:
                raise DatasetError(f"Output '{name}' has shape {x.shape} in the reference and {y.shape} in "
                                   "the model; compare models with the same output shapes.")
            acc = sums[name]
            acc["agree"] += float(np.argmax(x.reshape(-1, x.shape[-1]), -1).tolist()
                                  == np.argmax(y.reshape(-1, y.shape[-1]), -1).tolist()) if x.ndim else 0.0
            denominator = np.linalg.norm(x) * np.linalg.norm(y)
            acc["cosine"] += float(x.ravel() @ y.ravel() / denominator) if denominator else float(
                np.array_equal(x, y))
            acc["sq"] += float(((x - y) ** 2).sum())
            acc["count"] += x.size
            acc["max"] = max(acc["max"], float(np.abs(x - y).max()) if x.size else 0.0)
        if scorer:
            scorer.add(task.decode(actual, tensor, settings),
                       task.reference_target(task.decode(expected, tensor, settings)))
        samples += 1
        if on_progress:
            on_progress(samples)
    if samples == 0:
        raise DatasetError("No inputs to compare on; choose a dataset with at least one sample.")
    ran, metrics = describe_precision(model), []
    kept = task.raw_agreement if task else RAW_AGREEMENT
    for name in names:
        acc = sums[name]
        values = {"top1_agreement": acc["agree"] / samples, "cosine": acc["cosine"] / samples,
                  "mse": acc["sq"] / max(acc["count"], 1), "max_abs_error": acc["max"]}
        metrics += [AgreementMetric(name, metric, values[metric], samples, ran) for metric in RAW_AGREEMENT
                    if metric in kept]
    return metrics + [AgreementMetric("", metric, value, samples, ran)
                      for metric, value in (scorer.result() if scorer else {}).items()]


def store_agreement(model: ModelRecord, dataset: DatasetRecord, *, precision: Precision, device: str = "CPU",
                    job_id: int | None = None, max_samples: int | None = None,
                    on_progress: Callable[[int], None] | None = None) -> list[AccuracyRecord]:
    """Agreement of a model with its parent on a dataset (no labels needed), stored per output.

    Metrics are the model's task's (core.tasks): its raw-output ones (top1_agreement, cosine, mse,
    max_abs_error, suffixed ':OUTPUT' for multi-output models) and its decoded ones (map50_vs_parent,
    cer_vs_parent, ...), stored with the parent as reference_model_id; the parent runs at the same
    precision as the model. Every sample is used unless max_samples caps it (the rows say how many).

    Raises:
        BadInputError: The model has no parent to agree with.
    """
    if model.parent_id is None:
        raise BadInputError(f"'{model.name}' has no parent model; agreement compares an optimized model "
                            "with the model it came from.")
    return store_comparison(model, repo.get_model(model.parent_id), dataset, precision=precision, device=device,
                            job_id=job_id, max_samples=max_samples, on_progress=on_progress)


def store_comparison(model: ModelRecord, reference: ModelRecord, dataset: DatasetRecord, *,
                     precision: Precision, device: str = "CPU", job_id: int | None = None,
                     max_samples: int | None = None,
                     on_progress: Callable[[int], None] | None = None) -> list[AccuracyRecord]:
    """Agreement of a model with any reference model (same inputs and outputs), stored like
    store_agreement's rows with that reference."""
    return _store(model, reference, dataset, device=device, precision=precision, reference_precision=None,
                  job_id=job_id, max_samples=max_samples, on_progress=on_progress)


def store_precision_drift(model: ModelRecord, dataset: DatasetRecord, *, device: str = "CPU",
                          job_id: int | None = None,
                          on_progress: Callable[[int], None] | None = None) -> list[AccuracyRecord]:
    """The model at the device's default precision (bf16 on AMX CPUs) against itself at forced f32:
    the drift the device adds on its own, stored as agreement rows whose reference is the model itself."""
    return _store(model, model, dataset, device=device, precision=Precision.DEFAULT,
                  reference_precision=Precision.F32, job_id=job_id, max_samples=None, on_progress=on_progress)


def _store(model: ModelRecord, reference: ModelRecord, dataset: DatasetRecord, *, device: str, precision: Precision,
           reference_precision: Precision | None, job_id: int | None, max_samples: int | None,
           on_progress: Callable[[int], None] | None) -> list[AccuracyRecord]:
    source = open_dataset(dataset, reference)
    inputs = (x for x, _ in source.samples(range(min(len(source), max_samples or len(source)))))
    task, settings = model_task(model)
    metrics = agreement_metrics(resolve(reference.path), resolve(model.path), inputs, device=device,
                                precision=precision, reference_precision=reference_precision, task=task,
                                settings=settings, on_progress=on_progress)
    several = len({m.output for m in metrics if m.output}) > 1
    return [repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, job_id=job_id, value=m.value,
                              metric=(f"{m.metric}:{m.output}" if several and m.output else m.metric)[:40],
                              samples=m.samples,
                              precision=m.precision, reference_model_id=reference.id, split="all") for m in metrics]
