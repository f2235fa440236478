"""Semantic segmentation: per-pixel argmax of a [C, H, W] output (one channel: > 0 is foreground);
mIoU (mean over the classes present in the target or the prediction) and pixel accuracy, from one
confusion matrix accumulated over the samples."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import DatasetError
from core.tasks.base import TaskSettings, first_output, suffixed


def to_mask(scores: np.ndarray) -> np.ndarray:
    """The class of each pixel of [C, H, W] (or [H, W, C] when the last axis is the smallest) scores."""
    if scores.ndim == 2:
        return (scores > 0).astype(np.int64)
    if scores.ndim != 3:
        raise DatasetError(f"A segmenter gives [C, H, W] scores per image; this output has {scores.ndim + 1} "
                           "axes. Pick another task for this model.")
    if scores.shape[-1] < scores.shape[0]:  # NHWC heads
        scores = np.moveaxis(scores, -1, 0)
    return (scores[0] > 0).astype(np.int64) if scores.shape[0] == 1 else np.argmax(scores, axis=0)


def nearest(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """mask resized to shape [H, W] by nearest neighbour (a label mask at image size, scored at the
    model's output size; the image was resized the same way)."""
    if mask.shape == tuple(shape):
        return mask
    if mask.ndim != 2 or len(shape) != 2:
        raise DatasetError(f"The label mask is {list(mask.shape)} and the model's mask {list(shape)}; give one "
                           "class number per pixel of each image.")
    rows = (np.arange(shape[0]) * mask.shape[0] / shape[0]).astype(np.int64)
    columns = (np.arange(shape[1]) * mask.shape[1] / shape[1]).astype(np.int64)
    return mask[rows[:, None], columns[None, :]]


class Confusion:
    """A confusion matrix (target class x predicted class) that grows with the classes it meets."""

    IGNORE = 255  # the VOC convention for "not labelled" pixels

    def __init__(self, vs_parent: bool) -> None:
        self.vs_parent, self.matrix = vs_parent, np.zeros((2, 2), dtype=np.int64)

    def add(self, prediction: np.ndarray, target: np.ndarray) -> None:
        target, prediction = nearest(target, prediction.shape).reshape(-1), prediction.reshape(-1)
        valid = (target >= 0) & (target != self.IGNORE)
        target, prediction = target[valid], prediction[valid]
        size = max(len(self.matrix), int(target.max(initial=0)) + 1, int(prediction.max(initial=0)) + 1)
        if size > len(self.matrix):
            grown = np.zeros((size, size), dtype=np.int64)
            grown[:len(self.matrix), :len(self.matrix)] = self.matrix
            self.matrix = grown
        self.matrix += np.bincount(size * target + prediction, minlength=size * size).reshape(size, size)

    def result(self) -> dict[str, float]:
        total = self.matrix.sum()
        if not total:
            return {}
        hits = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - hits
        present = union > 0
        return suffixed({"miou": float(np.mean(hits[present] / union[present])),
                         "pixel_accuracy": float(hits.sum() / total)}, self.vs_parent)


class Segmentation:
    name = "segmentation"
    title = "semantic segmentation"
    label_kinds = ("mask",)
    raw_agreement = ()

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> np.ndarray:
        return to_mask(first_output(outputs))

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> Confusion:
        return Confusion(vs_parent)

    def label_target(self, label: Any, settings: TaskSettings) -> np.ndarray:
        mask = np.asarray(label)
        if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
            raise DatasetError(f"Segmentation labels are integer masks [H, W] (got shape {list(mask.shape)}, "
                               f"dtype {mask.dtype}); save one class number per pixel.")
        return mask.astype(np.int64)

    def reference_target(self, prediction: np.ndarray) -> np.ndarray:
        return prediction
