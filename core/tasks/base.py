"""The one interface of a task: decode one sample's outputs, then score predictions against targets.

A Scorer is fed (prediction, target) pairs one sample at a time and aggregates them at the end, so
a pass over a dataset keeps only what the metric needs. The target is a decoded label, or the
reference (parent) model's decoded prediction for the same sample (metrics suffixed '_vs_parent').
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.errors import BadInputError
from core.tasks.metrics import VS_PARENT


@dataclass(frozen=True)
class TaskSettings:
    """How a task reads a model's outputs (kept on the model; a child inherits its parent's).

    Attributes:
        charset: Text recognition: the characters of CTC classes 1..N (class 0 is the blank); a class
            past the charset's end is a space, as in PaddleOCR's use_space_char models.
        confidence: Detection: the lowest score a box is kept with.
        iou: Detection: the IoU above which non-maximum suppression drops the weaker box of a class.
        neighbours: Embeddings: how many nearest neighbours the overlap metric compares.
    """

    charset: tuple[str, ...] = ()
    confidence: float = 0.25
    iou: float = 0.5
    neighbours: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "charset", tuple(str(c) for c in self.charset))
        for name in ("confidence", "iou"):
            if not 0 <= getattr(self, name) <= 1:
                raise BadInputError(f"The detection {name} threshold must be between 0 and 1 "
                                    f"(got {getattr(self, name)}); 0.25 and 0.5 are usual.")
        if self.neighbours < 1:
            raise BadInputError(f"The neighbour count must be at least 1 (got {self.neighbours}).")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TaskSettings":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "charset": list(self.charset)}


class Scorer(Protocol):
    def add(self, prediction: Any, target: Any) -> None:
        """Takes one sample's prediction and its target."""

    def result(self) -> dict[str, float]:
        """Metric name -> value over every sample added."""


class Task(Protocol):
    """One task (see core/tasks/registry.py).

    Attributes:
        name: As stored and typed (--task).
        title: For the pages.
        label_kinds: The dataset labels it scores against ('class', 'text', 'value', 'mask', 'boxes');
            none when it only compares with a reference model.
        raw_agreement: Which raw-output agreement metrics mean something for it (core.tasks.metrics).
    """

    name: str
    title: str
    label_kinds: tuple[str, ...]
    raw_agreement: tuple[str, ...]

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> Any:
        """One sample's prediction from the model's outputs (name -> batch-1 array, in output order) and
        the inputs it got (an array, or name -> array)."""

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> Scorer:
        """A fresh Scorer; vs_parent: the targets are the reference's predictions, not labels."""

    def label_target(self, label: Any, settings: TaskSettings) -> Any:
        """A dataset label as a target (raises DatasetError when it does not fit the task)."""

    def reference_target(self, prediction: Any) -> Any:
        """The reference model's prediction as the target a child is scored against."""


def suffixed(values: dict[str, float], vs_parent: bool) -> dict[str, float]:
    """Names a scorer's results: '_vs_parent' appended when it compared with the reference."""
    return {(name + VS_PARENT if vs_parent else name): value for name, value in values.items()}


def first_output(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """The first output as float64, without its batch axis when that is 1."""
    array = np.asarray(next(iter(outputs.values())), dtype=np.float64)
    return array[0] if array.ndim > 1 and array.shape[0] == 1 else array
