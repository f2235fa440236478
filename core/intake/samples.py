"""What every dataset kind is opened as: a SampleSource of (inputs, label) pairs for one model."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from core.errors import DatasetError
from core.intake.models import PortInfo
from db.records import ModelRecord

Sample = tuple[Any, Any]  # (inputs, label or None)


@dataclass(frozen=True)
class SampleSource:
    """The samples of one dataset, preprocessed for one model.

    Attributes:
        name: The dataset's name, for messages.
        count: How many samples there are.
        has_labels: Whether every sample carries a label (a class, boxes, a mask, a text or values).
        load: Returns sample i as (inputs, label).
    """

    name: str
    count: int
    has_labels: bool
    load: Callable[[int], Sample]

    def __len__(self) -> int:
        return self.count

    def samples(self, indices: Iterable[int] | None = None) -> Iterator[Sample]:
        """Yields (inputs, label) for indices (all samples, in order, when None)."""
        for i in range(self.count) if indices is None else indices:
            yield self.load(i)


def model_inputs(model: ModelRecord) -> list[PortInfo]:
    return [PortInfo(**port) for port in model.inputs]


LABEL_HINTS = {
    "class": "class subfolders of images, or integer labels",
    "boxes": "box annotations in the image zip (COCO JSON, YOLO txt in labels/, VOC XML in Annotations/) or "
             "given beside it (--annotations)",
    "mask": "a masks/ folder with one PNG of class numbers per image",
    "text": "a string 'labels' array in the .npz, or a text label column",
    "value": "float labels ('labels' [N] or [N, K] in the .npz, or a numeric label column)",
}


def check_label_kind(source: str, found: str | None, wanted: tuple[str, ...] | None) -> None:
    """Refuses data whose labels are not of a wanted kind (before it is stored); None wants any."""
    if wanted is None or found in wanted:
        return
    raise DatasetError(f"'{source}' has {found or 'no'} labels, and the task asked for needs "
                       + " or ".join(LABEL_HINTS[k] for k in wanted) + ".")
