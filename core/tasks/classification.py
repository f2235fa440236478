"""Classification: the first output's scores; top-1 / top-5 against class labels, top-1 agreement
against the parent's argmax (with the raw-output cosine, MSE and max abs error beside it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import DatasetError
from core.tasks.base import TaskSettings, first_output


class TopK:
    """Top-k hits: the target's place when the scores are sorted, ties going to the lower index."""

    def __init__(self, ks: tuple[int, ...], names: tuple[str, ...]) -> None:
        self.ks, self.names, self.hits, self.count = ks, names, [0] * len(ks), 0

    def add(self, prediction: np.ndarray, target: int) -> None:
        if not 0 <= target < prediction.size:
            raise DatasetError(f"Label {target} is not a class of this model ({prediction.size} classes); "
                               "check that the dataset's labels number the model's classes from 0.")
        rank = int(np.sum(prediction > prediction[target]) + np.sum(prediction[:target] == prediction[target]))
        self.hits = [h + int(rank < k) for h, k in zip(self.hits, self.ks)]
        self.count += 1

    def result(self) -> dict[str, float]:
        return {name: hits / self.count for name, hits in zip(self.names, self.hits)} if self.count else {}


class Classification:
    name = "classification"
    title = "classification"
    label_kinds = ("class",)
    raw_agreement = ("top1_agreement", "cosine", "mse", "max_abs_error")

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> np.ndarray:
        return first_output(outputs).reshape(-1)

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> TopK:
        if vs_parent:
            return TopK((1,), ("top1_agreement",))
        # top-5 says something only with more than 5 classes
        return TopK((1, 5), ("top1", "top5")) if classes > 5 else TopK((1,), ("top1",))

    def label_target(self, label: Any, settings: TaskSettings) -> int:
        if isinstance(label, str) or np.ndim(label) != 0 or not float(label).is_integer():
            raise DatasetError("Classification needs one class number per sample; this dataset's labels are "
                               "not class numbers (pick the task that fits them on the Models page).")
        return int(label)

    def reference_target(self, prediction: np.ndarray) -> int:
        return int(np.argmax(prediction))
