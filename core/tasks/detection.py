"""Object detection: boxes from SSD DetectionOutput, YOLO raw heads or boxes/scores/labels outputs;
COCO mAP@0.5 and mAP@0.5:0.95 by faster-coco-eval.

Output layouts read (batch 1):
- SSD DetectionOutput [1, 1, N, 7]: image id, label, score, x1, y1, x2, y2 (0..1).
- YOLO heads without objectness [1, 4+C, N] (YOLOv8 and later: cx, cy, w, h, C class scores) and
  with it [1, N, 5+C] (YOLOv5: cx, cy, w, h, objectness, C class scores), in input pixels; boxes
  below the confidence threshold are dropped, then class-wise non-maximum suppression at the IoU
  threshold.
- Separate outputs named boxes ([N, 4], or [N, 5] with the score last), scores and labels.
Boxes are kept as fractions of the input image (x1, y1, x2, y2), so annotations in pixels of any
image size compare with them once divided by that image's size.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import DatasetError
from core.tasks.base import TaskSettings, suffixed

CANVAS = 1000.0  # fractions are scaled to a 1000 x 1000 image for COCO (its area ranges are in pixels)


@dataclass(frozen=True)
class Detections:
    """One image's boxes: [N, 4] x1, y1, x2, y2 as fractions of the image, scores [N], labels [N]."""

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))

    def above(self, confidence: float) -> "Detections":
        keep = self.scores >= confidence
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep])


def input_size(inputs: Any) -> tuple[int, int]:
    """(height, width) of the image input (NCHW when axis 1 has 1 or 3 channels, else NHWC)."""
    arrays = inputs.values() if isinstance(inputs, dict) else [inputs]
    image = next((np.asarray(a) for a in arrays if np.ndim(a) == 4), None)
    if image is None:
        raise DatasetError("A detector's boxes are read relative to its image input, and this model has no "
                           "4-D image input; pick another task for this model.")
    return (image.shape[2], image.shape[3]) if image.shape[1] in (1, 3) else (image.shape[1], image.shape[2])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of a [N, 4] with every box of b [M, 4] (x1, y1, x2, y2)."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area = lambda boxes: np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(found: Detections, iou: float) -> Detections:
    """Class-wise non-maximum suppression: per class, the best box, then the next not overlapping it."""
    keep = []
    for label in np.unique(found.labels):
        index = np.flatnonzero(found.labels == label)
        index = index[np.argsort(-found.scores[index], kind="stable")]
        while index.size:
            keep.append(index[0])
            index = index[1:][iou_matrix(found.boxes[index[:1]], found.boxes[index[1:]])[0] <= iou]
    keep = np.array(sorted(keep, key=lambda i: -found.scores[i]), dtype=np.int64)
    return Detections(found.boxes[keep], found.scores[keep], found.labels[keep])


def _yolo(head: np.ndarray, size: tuple[int, int], settings: TaskSettings) -> Detections:
    rows = head.T if head.shape[0] < head.shape[1] else head  # [N, 4+C] either way
    with_objectness = head.shape[0] >= head.shape[1]
    if rows.shape[1] < (6 if with_objectness else 5):
        raise DatasetError(f"A YOLO head has 4 box values and class scores per anchor; this output has "
                           f"{rows.shape[1]} values per anchor. Pick another task for this model.")
    classes = rows[:, 5:] * rows[:, 4:5] if with_objectness else rows[:, 4:]
    labels, scores = np.argmax(classes, axis=1), np.max(classes, axis=1)
    height, width = size
    cx, cy, w, h = (rows[:, i] for i in range(4))
    boxes = np.stack([(cx - w / 2) / width, (cy - h / 2) / height, (cx + w / 2) / width, (cy + h / 2) / height], 1)
    return nms(Detections(boxes, scores, labels).above(settings.confidence), settings.iou)


def _by_name(outputs: dict[str, np.ndarray], *words: str) -> np.ndarray | None:
    return next((np.asarray(v, dtype=np.float64) for k, v in outputs.items() if any(w in k.lower() for w in words)),
                None)


def decode_detections(outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> Detections:
    """One image's detections above the confidence threshold (see the module docstring for layouts)."""
    first = np.asarray(next(iter(outputs.values())), dtype=np.float64)
    if first.ndim == 4 and first.shape[-1] == 7:  # SSD DetectionOutput
        rows = first.reshape(-1, 7)
        rows = rows[rows[:, 0] >= 0]
        return Detections(rows[:, 3:7], rows[:, 2], rows[:, 1].astype(np.int64)).above(settings.confidence)
    boxes = _by_name(outputs, "box")
    if boxes is not None and len(outputs) > 1:
        boxes = boxes.reshape(-1, boxes.shape[-1])
        scores = _by_name(outputs, "score", "conf")
        scores = boxes[:, 4] if scores is None and boxes.shape[1] == 5 else scores
        labels = _by_name(outputs, "label", "class")
        if scores is None or labels is None:
            raise DatasetError("A boxes output needs scores (an output named 'scores', or a 5th box column) and "
                               "labels (an output named 'labels'); this model lacks one.")
        boxes = boxes[:, :4]
        if boxes.size and boxes.max() > 1.5:  # pixels of the input
            height, width = input_size(inputs)
            boxes = boxes / np.array([width, height, width, height])
        return Detections(boxes, scores.reshape(-1), labels.reshape(-1).astype(np.int64)).above(settings.confidence)
    if first.ndim == 3 and first.shape[0] == 1:
        return _yolo(first[0], input_size(inputs), settings)
    raise DatasetError(f"The lab reads detections from SSD [1,1,N,7], YOLO [1,4+C,N] / [1,N,5+C] or "
                       f"boxes/scores/labels outputs; this model's first output has shape {list(first.shape)}. "
                       "Pick another task for this model.")


class MeanAveragePrecision:
    """COCO box mAP over every image added (faster-coco-eval's COCOeval_faster)."""

    def __init__(self, vs_parent: bool) -> None:
        self.vs_parent, self.images = vs_parent, []

    def add(self, prediction: Detections, target: Detections) -> None:
        self.images.append((prediction, target))

    def result(self) -> dict[str, float]:
        from faster_coco_eval import COCO, COCOeval_faster

        def xywh(box):
            x1, y1, x2, y2 = (float(v) * CANVAS for v in box)
            return [x1, y1, max(x2 - x1, 0.0), max(y2 - y1, 0.0)]

        truth, found = [], []
        for image_id, (prediction, target) in enumerate(self.images, 1):
            for box, label in zip(target.boxes, target.labels):
                x, y, w, h = xywh(box)
                truth.append({"id": len(truth) + 1, "image_id": image_id, "category_id": int(label),
                              "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
            found += [{"image_id": image_id, "category_id": int(label), "bbox": xywh(box), "score": float(score)}
                      for box, score, label in zip(prediction.boxes, prediction.scores, prediction.labels)]
        if not truth:
            return {}  # no target box anywhere: mAP is undefined, not 0
        if not found:
            return suffixed({"map50": 0.0, "map50_95": 0.0}, self.vs_parent)
        categories = sorted({a["category_id"] for a in truth} | {d["category_id"] for d in found})
        ground = COCO()
        ground.dataset = {"images": [{"id": i, "width": CANVAS, "height": CANVAS} for i in range(1, len(self.images) + 1)],
                          "annotations": truth, "categories": [{"id": c, "name": str(c)} for c in categories]}
        ground.createIndex()
        evaluation = COCOeval_faster(ground, ground.loadRes(found), iouType="bbox", print_function=lambda *a: None)
        with contextlib.redirect_stdout(io.StringIO()):
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        map50_95, map50 = (max(float(v), 0.0) for v in evaluation.stats[:2])
        return suffixed({"map50": map50, "map50_95": map50_95}, self.vs_parent)


class Detection:
    name = "detection"
    title = "object detection"
    label_kinds = ("boxes",)
    raw_agreement = ()

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> Detections:
        return decode_detections(outputs, inputs, settings)

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> MeanAveragePrecision:
        return MeanAveragePrecision(vs_parent)

    def label_target(self, label: Any, settings: TaskSettings) -> Detections:
        boxes = np.asarray(label) if not isinstance(label, (int, str)) else np.zeros(0)
        if boxes.ndim != 2 or boxes.shape[-1] != 5:
            raise DatasetError("Detection needs box annotations (COCO JSON, YOLO txt or Pascal VOC XML in the "
                               "image zip); this dataset's labels are not boxes.")
        return Detections(boxes[:, 1:5].astype(np.float64), np.ones(len(boxes)), boxes[:, 0].astype(np.int64))

    def reference_target(self, prediction: Detections) -> Detections:
        return prediction  # already above the confidence threshold: the parent's boxes are the truth
