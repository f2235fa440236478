"""Running a compiled OpenVINO model over samples for a task: outputs by name, one scoring loop,
and the validation function accuracy control calls (nncf.quantize_with_accuracy_control)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from core.errors import DatasetError
from core.tasks.base import Scorer, Task, TaskSettings
from core.tasks.classification import Classification
from core.tasks.metrics import METRICS, VS_PARENT


def output_names(compiled) -> list[str]:
    """One name per output of a compiled model: its first tensor name, or 'outputN'."""
    return [sorted(port.get_names())[0] if port.get_names() else f"output{i}" for i, port in enumerate(compiled.outputs)]


def infer(request, names: list[str], inputs: Any) -> dict[str, np.ndarray]:
    """One synchronous inference: output name -> array (a dict of inputs feeds a multi-input model)."""
    results = request.infer(inputs if isinstance(inputs, dict) else [inputs])
    return {name: results[port] for name, port in zip(names, request.model_outputs)}


def score(compiled, items: Iterable[tuple[Any, Any]], task: Task, settings: TaskSettings, scorer: Scorer,
          on_progress: Callable[[int], None] | None = None) -> int:
    """Feeds scorer each item's decoded prediction and its target ((inputs, target) pairs, targets
    already decoded); returns how many items there were."""
    request, names = compiled.create_infer_request(), output_names(compiled)
    count = 0
    for inputs, target in items:
        scorer.add(task.decode(infer(request, names, inputs), inputs, settings), target)
        count += 1
        if on_progress:
            on_progress(count)
    return count


def stored_name(metric: str, results: dict[str, float]) -> str:
    """The name metric has among a scorer's results: itself against labels, '_vs_parent' (or, for
    top-1, top1_agreement) against the parent's outputs."""
    for name in (metric, metric + VS_PARENT, "top1_agreement" if metric == "top1" else None):
        if name in results:
            return name
    raise DatasetError(f"'{metric}' is not a metric of this task; it gives {', '.join(results)}.")


class Validation:
    """The validation function of accuracy control on a task metric (larger is better, so error
    metrics such as CER are negated); metric None takes the task's first. After a call, metric is
    the stored name that was used (e.g. map50_vs_parent)."""

    def __init__(self, task: Task, settings: TaskSettings, *, metric: str | None, vs_parent: bool,
                 classes: int) -> None:
        self.task, self.settings, self.vs_parent, self.classes = task, settings, vs_parent, classes
        self.asked, self.metric = metric, metric

    def __call__(self, compiled, items) -> float | tuple[float, list[float]]:
        items = list(items)
        scorer = self.task.scorer(self.settings, classes=self.classes, vs_parent=self.vs_parent)
        score(compiled, items, self.task, self.settings, scorer)
        results = scorer.result()
        self.metric = stored_name(self.asked, results) if self.asked else next(iter(results))
        sign = 1.0 if METRICS[self.metric].higher_is_better else -1.0
        if isinstance(self.task, Classification) and self.metric in ("top1", "top1_agreement"):
            # per-sample hits let NNCF rank the quantizers by the samples they flip
            request, names = compiled.create_infer_request(), output_names(compiled)
            hits = [float(int(np.argmax(self.task.decode(infer(request, names, x), x, self.settings))) == target)
                    for x, target in items]
            return results[self.metric], hits
        return sign * results[self.metric]
