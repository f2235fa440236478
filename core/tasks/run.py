"""Running a compiled OpenVINO model over samples for a task: outputs by name, batched where the
model allows, one scoring loop, and the validation function accuracy control calls
(nncf.quantize_with_accuracy_control)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
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


BATCH = 16  # samples stacked per inference where the model allows it


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """items in lists of size (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _dynamic_first(port) -> bool:
    shape = port.get_partial_shape()
    return shape.rank.is_static and shape.rank.get_length() > 0 and shape[0].is_dynamic


class Runner:
    """Runs a compiled model over samples (batch-1 arrays, or dicts of them), up to size samples in
    one inference when every input and output has a dynamic first (batch) dimension and the samples
    have the same shapes; else one inference per sample. Outputs come back per sample, batch axis 1."""

    def __init__(self, compiled, size: int = BATCH) -> None:
        self.request, self.names = compiled.create_infer_request(), output_names(compiled)
        self.size = size if all(_dynamic_first(p) for p in [*compiled.inputs, *compiled.outputs]) else 1

    def outputs(self, feeds: list[Any]) -> list[dict[str, np.ndarray]]:
        """The outputs of each of feeds, in order."""
        arrays = [f if isinstance(f, dict) else {"": f} for f in feeds]
        shapes = {tuple((k, np.shape(v)) for k, v in a.items()) for a in arrays}
        if len(feeds) == 1 or len(shapes) > 1:
            return [infer(self.request, self.names, f) for f in feeds]
        stacked = {k: np.concatenate([a[k] for a in arrays]) for k in arrays[0]}
        found = infer(self.request, self.names, stacked if isinstance(feeds[0], dict) else stacked[""])
        if any(np.shape(value)[:1] != (len(feeds),) for value in found.values()):
            self.size = 1  # a dynamic first output axis that is not the batch (e.g. a box count)
            return [infer(self.request, self.names, f) for f in feeds]
        return [{name: value[i:i + 1] for name, value in found.items()} for i in range(len(feeds))]

    def over(self, items: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any, dict[str, np.ndarray]]]:
        """(inputs, target, outputs) for each (inputs, target) of items, in order."""
        for chunk in chunks(items, self.size):
            yield from ((inputs, target, outputs) for (inputs, target), outputs
                        in zip(chunk, self.outputs([inputs for inputs, _ in chunk])))


def score(compiled, items: Iterable[tuple[Any, Any]], task: Task, settings: TaskSettings, scorer: Scorer,
          on_progress: Callable[[int], None] | None = None) -> int:
    """Feeds scorer each item's decoded prediction and its target ((inputs, target) pairs, targets
    already decoded); returns how many items there were."""
    count = 0
    for inputs, target, outputs in Runner(compiled).over(items):
        scorer.add(task.decode(outputs, inputs, settings), target)
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
        return self.of(Runner(compiled).over(items))

    def value(self, triples: Iterable[tuple[Any, Any, dict[str, np.ndarray]]]) -> float:
        """The metric's own value (an error unsigned) over (inputs, target, outputs) triples: what a
        training curve shows after each epoch."""
        found = self.of(triples)
        found = found[0] if isinstance(found, tuple) else found
        return found if METRICS[self.metric].higher_is_better else -found

    def of(self, triples: Iterable[tuple[Any, Any, dict[str, np.ndarray]]]) -> float | tuple[float, list[float]]:
        """The validation function's value over outputs already computed (see __call__)."""
        scorer = self.task.scorer(self.settings, classes=self.classes, vs_parent=self.vs_parent)
        hits = []  # per-sample top-1 hits of a classifier: NNCF ranks the quantizers by the samples they flip
        for inputs, target, outputs in triples:
            prediction = self.task.decode(outputs, inputs, self.settings)
            scorer.add(prediction, target)
            if isinstance(self.task, Classification):
                hits.append(float(int(np.argmax(prediction)) == target))
        results = scorer.result()
        self.metric = stored_name(self.asked, results) if self.asked else next(iter(results))
        if hits and self.metric in ("top1", "top1_agreement"):
            return results[self.metric], hits
        return (1.0 if METRICS[self.metric].higher_is_better else -1.0) * results[self.metric]
