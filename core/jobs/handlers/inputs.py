"""Inputs of the optimization and training handlers: a dataset's samples preprocessed for a model,
and the targets and validation function of a model's task metric on them."""

from __future__ import annotations

from typing import Any

from core.intake.datasets import calibration_indices
from core.intake.sources import label_kind, open_part
from core.measure.evaluate import compile_model
from core.options import Precision
from core.storage import resolve
from core.tasks.registry import model_task
from core.tasks.run import Runner, Validation
from db.records import DatasetRecord, ModelRecord


def load_samples(model: ModelRecord, dataset: DatasetRecord, count: int | None, reporter,
                 seed: int = 0, part: str = "calibration") -> list[tuple[Any, int | None]]:
    """A seeded sample of count (input, label) pairs of dataset, preprocessed for model.

    part picks the calibration or validation part when the dataset was split (core.intake.sources).
    """
    source = open_part(dataset, model, part)
    chosen = calibration_indices(len(source), count or len(source), seed)
    samples = []
    for n, sample in enumerate(source.samples(chosen), 1):
        samples.append(sample)
        reporter.fraction(n / len(chosen), f"{n}/{len(chosen)} samples")
    return samples


def class_count(model: ModelRecord) -> int:
    """The last dimension of the model's first output (its classes, for a classifier); 0 if unknown."""
    shape = model.outputs[0].get("shape", []) if model.outputs else []
    return shape[-1] if shape and shape[-1] > 0 else 0


def targets(parent: ModelRecord, dataset: DatasetRecord, samples: list[tuple[Any, Any]],
             metric: str | None) -> tuple[list[tuple[Any, Any]], Validation]:
    """(input, target) pairs and the validation function of accuracy control on the parent's task:
    the decoded label when the data has labels of the task's kind, else the parent's own decoded
    prediction (the metric is then against the parent)."""
    task, settings = model_task(parent)
    vs_parent = label_kind(dataset) not in task.label_kinds
    if vs_parent:
        runner = Runner(compile_model(resolve(parent.path), precision=Precision.F32))
        pairs = [(x, task.reference_target(task.decode(outputs, x, settings))) for x, _, outputs in runner.over(samples)]
    else:
        pairs = [(x, task.label_target(label, settings)) for x, label in samples]
    return pairs, Validation(task, settings, metric=metric, vs_parent=vs_parent, classes=class_count(parent))
