"""Accuracy of a model on its task (core/tasks) against a dataset's labels; compile_model."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DatasetError
from core.intake.models import read_model
from core.measure.machine import describe_precision
from core.options import Precision
from core.tasks.base import Scorer, Task, TaskSettings
from core.tasks.classification import TopK
from core.tasks.registry import get_task
from core.tasks.run import score


@dataclass(frozen=True)
class AccuracyMeasurement:
    """One metric over a dataset and the inference precision it ran at."""

    metric: str
    value: float
    samples: int
    precision: str


def compile_model(model_path: Path, *, device: str = "CPU", precision: Precision = Precision.DEFAULT,
                  extra: dict | None = None):
    """Compiles a model with an optional INFERENCE_PRECISION_HINT (f32 forces a true FP32 baseline).

    model_path may also be an already read (e.g. reshaped) ``ov.Model``.
    """
    import openvino as ov

    config = dict(extra or {})
    if Precision(precision) != Precision.DEFAULT:
        config["INFERENCE_PRECISION_HINT"] = Precision(precision).value
    model = read_model(model_path) if isinstance(model_path, (str, Path)) else model_path
    return ov.Core().compile_model(model, device, config)


def task_metrics(model_path: Path, samples: Iterable[tuple[Any, Any]], *, task: Task | str | None = None,
                 settings: TaskSettings | None = None, classes: int = 0, device: str = "CPU",
                 precision: Precision = Precision.F32, scorer: Scorer | None = None,
                 on_progress: Callable[[int], None] | None = None) -> list[AccuracyMeasurement]:
    """A model's task metrics against the labels of samples, in one pass.

    Args:
        model_path: The model to evaluate.
        samples: (inputs, label) pairs; every label must be set.
        task: The task (or its name; None = classification) that decodes the outputs and scores them.
        settings: How the task reads the outputs (charset, thresholds).
        classes: The model's class count (classification: top-5 only with more than 5).
        device: OpenVINO device.
        precision: Inference precision to ask for; the one that ran is returned.
        scorer: Scores the predictions instead of the task's own scorer (e.g. chosen top-k).
        on_progress: Called with the number of samples done.

    Returns:
        One AccuracyMeasurement per metric of the task (top1 / top5, map50 / map50_95, cer, ...).

    Raises:
        DatasetError: No samples, a sample without a label, or labels that do not fit the task.
    """
    task = get_task(task) if task is None or isinstance(task, str) else task
    settings = settings or TaskSettings()
    compiled = compile_model(model_path, device=device, precision=precision)
    scorer = scorer or task.scorer(settings, classes=classes, vs_parent=False)

    def targets():
        for inputs, label in samples:
            if label is None:
                raise DatasetError(f"{task.title.capitalize()} metrics need labels, and this dataset has none; "
                                   "upload labelled data, or measure an optimized child against its parent.")
            yield inputs, task.label_target(label, settings)

    count = score(compiled, targets(), task, settings, scorer, on_progress)
    if count == 0:
        raise DatasetError("The dataset yielded no samples to evaluate.")
    ran = describe_precision(compiled)
    return [AccuracyMeasurement(metric=m, value=v, samples=count, precision=ran) for m, v in scorer.result().items()]


def topk_accuracies(model_path: Path, samples: Iterable[tuple[np.ndarray, int | None]], *,
                    ks: tuple[int, ...] = (1,), device: str = "CPU", precision: Precision = Precision.F32,
                    on_progress: Callable[[int], None] | None = None) -> list[AccuracyMeasurement]:
    """Top-k accuracies of a classifier in one pass ('top1', 'top5', ... in the order of ks): per k,
    the share of samples whose label is among the k largest scores, ties ranked as argmax does."""
    return task_metrics(model_path, samples, device=device, precision=precision, on_progress=on_progress,
                        scorer=TopK(ks, tuple(f"top{k}" for k in ks)))


def top1_accuracy(model_path: Path, samples: Iterable[tuple[np.ndarray, int | None]], *,
                  device: str = "CPU", precision: Precision = Precision.F32,
                  on_progress: Callable[[int], None] | None = None) -> AccuracyMeasurement:
    """Top-1 accuracy: the share of samples whose largest logit is the label (see topk_accuracies)."""
    (result,) = topk_accuracies(model_path, samples, device=device, precision=precision, on_progress=on_progress)
    return result
