"""Every metric a task stores: its title, whether it is a fraction shown in %, and which way is better.

Against labels a metric has its plain name (top1, map50, cer); against the parent model's decoded
outputs it is suffixed '_vs_parent' (map50_vs_parent), except the names kept from before tasks
existed (top1_agreement and the raw-output cosine / mse / max_abs_error).
"""

from __future__ import annotations

from dataclasses import dataclass

VS_PARENT = "_vs_parent"


@dataclass(frozen=True)
class Metric:
    """One stored metric.

    Attributes:
        name: The stored name.
        title: Column / axis title.
        percent: Stored as a fraction (0..1) and shown in %.
        higher_is_better: False for errors.
    """

    name: str
    title: str
    percent: bool = True
    higher_is_better: bool = True


def _with_parent_variants(*metrics: Metric) -> dict[str, Metric]:
    found = {}
    for metric in metrics:
        found[metric.name] = metric
        found[metric.name + VS_PARENT] = Metric(metric.name + VS_PARENT, metric.title + " vs parent",
                                                metric.percent, metric.higher_is_better)
    return found


METRICS: dict[str, Metric] = {
    **{m.name: m for m in (
        Metric("top1", "top-1"), Metric("top5", "top-5"),
        Metric("top1_agreement", "top-1 agreement with parent"),
        Metric("cosine", "cosine similarity with parent", percent=False),
        Metric("knn_overlap", "nearest-neighbour overlap with parent"),
        Metric("mse", "MSE vs parent", percent=False, higher_is_better=False),
        Metric("max_abs_error", "max abs error vs parent", percent=False, higher_is_better=False),
        # Language models (core.measure.llm_quality): on a text dataset; answers against the parent's.
        Metric("word_perplexity", "word perplexity", percent=False, higher_is_better=False),
        Metric("similarity", "answer similarity with parent", percent=False))},
    **_with_parent_variants(
        Metric("exact_match", "exact match"), Metric("cer", "character error rate", higher_is_better=False),
        Metric("mae", "MAE", percent=False, higher_is_better=False),
        Metric("rmse", "RMSE", percent=False, higher_is_better=False),
        Metric("miou", "mIoU"), Metric("pixel_accuracy", "pixel accuracy"),
        Metric("map50", "mAP@0.5"), Metric("map50_95", "mAP@0.5:0.95")),
}

# The raw-output comparison every model gets from the agreement pass, whatever its task.
RAW_AGREEMENT = ("top1_agreement", "cosine", "mse", "max_abs_error")


def is_agreement(name: str) -> bool:
    """True for a metric that compares with a reference model's outputs rather than labels."""
    return name in RAW_AGREEMENT or name == "knn_overlap" or name.endswith(VS_PARENT)
