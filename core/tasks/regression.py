"""Regression: the first output's values; MAE and RMSE against numeric labels or the parent's values."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import DatasetError
from core.tasks.base import TaskSettings, first_output, suffixed


class Errors:
    def __init__(self, vs_parent: bool) -> None:
        self.vs_parent, self.absolute, self.squared, self.count = vs_parent, 0.0, 0.0, 0

    def add(self, prediction: np.ndarray, target: np.ndarray) -> None:
        if prediction.size != target.size:
            raise DatasetError(f"The model gives {prediction.size} values per sample and the target has "
                               f"{target.size}; give one label value per model output value.")
        difference = prediction.reshape(-1) - target.reshape(-1)
        self.absolute += float(np.abs(difference).sum())
        self.squared += float((difference ** 2).sum())
        self.count += difference.size

    def result(self) -> dict[str, float]:
        if not self.count:
            return {}
        return suffixed({"mae": self.absolute / self.count, "rmse": float(np.sqrt(self.squared / self.count))},
                        self.vs_parent)


class Regression:
    name = "regression"
    title = "regression"
    label_kinds = ("value", "class")
    raw_agreement = ("max_abs_error",)

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> np.ndarray:
        return first_output(outputs).reshape(-1)

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> Errors:
        return Errors(vs_parent)

    def label_target(self, label: Any, settings: TaskSettings) -> np.ndarray:
        try:
            return np.asarray(label, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as error:
            raise DatasetError(f"Regression needs numeric labels; got {label!r} ({error}).") from error

    def reference_target(self, prediction: np.ndarray) -> np.ndarray:
        return prediction
