"""Accuracy of a model: top-1 against labels."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import DatasetError
from core.models import read_model
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


def top1_accuracy(model_path: Path, samples: Iterable[tuple[np.ndarray, int | None]], *,
                  device: str = "CPU", precision: Precision = Precision.F32,
                  on_progress: Callable[[int], None] | None = None) -> AccuracyMeasurement:
    """Top-1 accuracy: the share of samples whose largest logit is the label.

    Args:
        model_path: The model to evaluate (first output = class scores).
        samples: (tensor, label) pairs; every label must be set.
        device: OpenVINO device.
        precision: Inference precision to ask for; the one that ran is returned.
        on_progress: Called with the number of samples done.
    """
    from core.benchmark import describe_precision

    compiled = compile_model(model_path, device=device, precision=precision)
    request = compiled.create_infer_request()
    correct = count = 0
    for tensor, label in samples:
        if label is None:
            raise DatasetError("Top-1 accuracy needs labels, and this dataset has none; upload images "
                               "in one subfolder per class.")
        # A dict (input name -> array) feeds a multi-input model; a bare array the single input.
        scores = request.infer(tensor if isinstance(tensor, dict) else [tensor])[compiled.output(0)]
        correct += int(np.argmax(scores.reshape(scores.shape[0], -1)[0]) == label)
        count += 1
        if on_progress:
            on_progress(count)
    if count == 0:
        raise DatasetError("The dataset yielded no samples to evaluate.")
    return AccuracyMeasurement(metric="top1", value=correct / count, samples=count,
                               precision=describe_precision(compiled))
