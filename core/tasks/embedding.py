"""Embeddings (sentence / image encoders): one vector per sample, compared with the parent's.

Token outputs [1, T, H] are mean-pooled over the positions the attention mask keeps, so padding
does not drag the similarity down. Metrics (against the parent only): mean cosine similarity of the
two embeddings of each sample, and the nearest-neighbour overlap: for each sample, the share of its
k nearest neighbours (cosine) in the parent's embedding space that are also among its k nearest in
the child's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import DatasetError
from core.tasks.base import TaskSettings, first_output

MASK_NAMES = ("attention_mask", "mask", "input_mask")


def pooled(output: np.ndarray, inputs: Any) -> np.ndarray:
    """A [T, H] token output mean-pooled over the attention mask's kept positions; a vector as is."""
    if output.ndim == 1:
        return output
    tokens = output.reshape(-1, output.shape[-1])
    mask = next((np.asarray(v).reshape(-1) for k, v in (inputs.items() if isinstance(inputs, dict) else ())
                 if k.lower() in MASK_NAMES), None)
    if mask is not None and mask.size == tokens.shape[0] and mask.sum() > 0:
        return (tokens * mask[:, None]).sum(0) / mask.sum()
    return tokens.mean(0)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)


class Similarity:
    def __init__(self, neighbours: int) -> None:
        self.neighbours, self.predictions, self.targets = neighbours, [], []

    def add(self, prediction: np.ndarray, target: np.ndarray) -> None:
        if prediction.shape != target.shape:
            raise DatasetError(f"The embeddings have {prediction.size} and {target.size} values; compare "
                               "a model with its parent, which have the same outputs.")
        self.predictions.append(prediction)
        self.targets.append(target)

    def result(self) -> dict[str, float]:
        if not self.predictions:
            return {}
        child, parent = _unit(np.stack(self.predictions)), _unit(np.stack(self.targets))
        results = {"cosine": float(np.mean(np.sum(child * parent, axis=1)))}
        k = min(self.neighbours, len(child) - 1)
        if k >= 1:
            results["knn_overlap"] = float(np.mean([len(set(a) & set(b)) / k for a, b in
                                                    zip(_neighbours(parent, k), _neighbours(child, k))]))
        return results


def _neighbours(unit: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Per row, the indices of its k most similar other rows (cosine; ties by lower index), computed
    chunk rows at a time so 10,000 samples need 80 MB, not 800."""
    found = []
    for start in range(0, len(unit), chunk):
        similarity = unit[start:start + chunk] @ unit.T
        rows = np.arange(similarity.shape[0])
        similarity[rows, rows + start] = -np.inf
        found.append(np.argsort(-similarity, axis=1, kind="stable")[:, :k])
    return np.concatenate(found)


class Embedding:
    name = "embedding"
    title = "embeddings (encoder)"
    label_kinds = ()
    raw_agreement = ()

    def decode(self, outputs: dict[str, np.ndarray], inputs: Any, settings: TaskSettings) -> np.ndarray:
        return pooled(first_output(outputs), inputs)

    def scorer(self, settings: TaskSettings, *, classes: int, vs_parent: bool) -> Similarity:
        if not vs_parent:
            raise DatasetError("Embeddings are judged against the parent model's embeddings, not labels; "
                               "measure an optimized child (its parent is the reference).")
        return Similarity(settings.neighbours)

    def label_target(self, label: Any, settings: TaskSettings) -> Any:
        raise DatasetError("Embeddings have no labels to score against; measure a child against its parent.")

    def reference_target(self, prediction: np.ndarray) -> np.ndarray:
        return prediction
