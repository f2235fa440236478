"""Accuracy of a model: top-1 against labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import DatasetError
from core.intake.models import read_model
from core.measure.machine import describe_precision
from core.options import Precision


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


def topk_accuracies(model_path: Path, samples: Iterable[tuple[np.ndarray, int | None]], *,
                    ks: tuple[int, ...] = (1,), device: str = "CPU", precision: Precision = Precision.F32,
                    on_progress: Callable[[int], None] | None = None) -> list[AccuracyMeasurement]:
    """Top-k accuracies in one pass: per k, the share of samples whose label is among the k largest logits.

    Args:
        model_path: The model to evaluate (first output = class scores).
        samples: (tensor, label) pairs; every label must be set.
        ks: Which top-k to count (1 = top-1, 5 = top-5).
        device: OpenVINO device.
        precision: Inference precision to ask for; the one that ran is returned.
        on_progress: Called with the number of samples done.

    Returns:
        One AccuracyMeasurement per k ('top1', 'top5', ...), in the order of ks.
    """
    compiled = compile_model(model_path, device=device, precision=precision)
    request = compiled.create_infer_request()
    hits, count = dict.fromkeys(ks, 0), 0
    for tensor, label in samples:
        if label is None:
            raise DatasetError("Top-k accuracy needs labels, and this dataset has none; upload images in one "
                               "subfolder per class, or use the agreement metrics against the parent.")
        # A dict (input name -> array) feeds a multi-input model; a bare array the single input.
        scores = request.infer(tensor if isinstance(tensor, dict) else [tensor])[compiled.output(0)]
        scores = scores.reshape(scores.shape[0], -1)[0]
        # The label's place when sorted by score, ties going to the lower index (as argmax does).
        rank = int(np.sum(scores > scores[label]) + np.sum(scores[:label] == scores[label]))
        for k in ks:
            hits[k] += int(rank < k)
        count += 1
        if on_progress:
            on_progress(count)
    if count == 0:
        raise DatasetError("The dataset yielded no samples to evaluate.")
    ran = describe_precision(compiled)
    return [AccuracyMeasurement(metric=f"top{k}", value=hits[k] / count, samples=count, precision=ran) for k in ks]


def top1_accuracy(model_path: Path, samples: Iterable[tuple[np.ndarray, int | None]], *,
                  device: str = "CPU", precision: Precision = Precision.F32,
                  on_progress: Callable[[int], None] | None = None) -> AccuracyMeasurement:
    """Top-1 accuracy: the share of samples whose largest logit is the label (see topk_accuracies)."""
    (result,) = topk_accuracies(model_path, samples, device=device, precision=precision, on_progress=on_progress)
    return result
