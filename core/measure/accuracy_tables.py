"""Stored accuracy and agreement metrics as tables: the Compare page's metric columns and axis, and
a model's accuracy per dataset / split / metric with the reference model of agreement metrics.

Metric names are as stored (core.tasks.metrics): against labels top1 / top5, map50, cer, miou ...;
against the parent's outputs top1_agreement / cosine / mse / max_abs_error (suffixed ':OUTPUT' for
multi-output models) and the tasks' '_vs_parent' metrics.
"""

from __future__ import annotations

from typing import Any

from core.intake.sources import dataset_split
from core.tasks.metrics import METRICS, is_agreement
from db import repository as repo

_ORDER = sorted(METRICS, key=lambda name: (is_agreement(name), list(METRICS).index(name)))


def base_metric(metric: str) -> str:
    """The metric without its output suffix: 'cosine:boxes' -> 'cosine'."""
    return metric.split(":", 1)[0]


def is_metric(column: str) -> bool:
    """True for a stored accuracy / agreement metric name (a results row's metric columns)."""
    return base_metric(column) in METRICS


def is_percent(metric: str) -> bool:
    """True for metrics stored as fractions and shown in %."""
    known = METRICS.get(base_metric(metric))
    return bool(known and known.percent)


def higher_is_better(metric: str) -> bool:
    """False for error metrics (MSE, CER, MAE ...), True for accuracy / agreement / similarity."""
    known = METRICS.get(base_metric(metric))
    return known is None or known.higher_is_better


def metric_title(metric: str) -> str:
    """A column / axis title: 'top-5 (%)', 'MSE vs parent [boxes]'."""
    base, _, output = metric.partition(":")
    title = (METRICS[base].title if base in METRICS else base) + (" (%)" if is_percent(metric) else "")
    return f"{title} [{output}]" if output else title


def shown_value(metric: str, value: float | None) -> float | None:
    """The value as the pages show it (percent metrics × 100)."""
    return None if value is None else value * 100 if is_percent(metric) else value


def stored_value(metric: str, shown: float | None) -> float | None:
    """The inverse of shown_value: a value typed as shown (89 %) as it is stored (0.89)."""
    return None if shown is None else shown / 100 if is_percent(metric) else shown


def metric_text(metric: str, value: float | None) -> str:
    """Percent metrics with 2 decimals, errors and similarities with 4 significant digits."""
    shown = shown_value(metric, value)
    return "—" if shown is None else f"{shown:.2f}" if is_percent(metric) else f"{shown:.4g}"


def sort_metrics(metrics: set[str] | list[str]) -> list[str]:
    """Metrics in a fixed order: those against labels, then the agreement metrics, each output together."""
    def key(metric: str) -> tuple[int, str, str]:
        base, _, output = metric.partition(":")
        return (_ORDER.index(base) if base in _ORDER else len(_ORDER), output, base)

    return sorted(set(metrics), key=key)


def latest_by_key(keys: set[tuple[int, str]]) -> dict[tuple[int, str], dict[str, Any]]:
    """The newest value of every metric per (model id, precision as run), for those keys.

    Returns:
        {key: {"metrics": {metric: value}, "dataset_id": id of the newest top-1 (else any) row,
        "reference_model_id": the reference of the newest agreement row}}.
    """
    found: dict[tuple[int, str], dict[str, Any]] = {}
    for a in repo.scan_accuracy():  # oldest first: newer rows overwrite
        key = (a.model_id, a.precision)
        if key not in keys or a.reference_model_id == a.model_id:  # a model's own precision drift: its page
            continue
        entry = found.setdefault(key, {"metrics": {}, "dataset_id": None, "reference_model_id": None})
        entry["metrics"][a.metric] = a.value
        if a.metric == "top1" or entry["dataset_id"] is None:
            entry["dataset_id"] = a.dataset_id
        if a.reference_model_id is not None:
            entry["reference_model_id"] = a.reference_model_id
    return found


def model_accuracy(model_id: int) -> list[dict[str, Any]]:
    """A model's newest value per (dataset, metric, precision, reference), for its page.

    Returns:
        Rows: dataset, split (as stored: 'validation part' of a split dataset, or 'all'; agreement
        reads the whole dataset; inferred for rows stored before 0004), metric (its title), value
        (percent metrics in %), samples, precision (as run), reference (the model agreement compares
        with), measured_at.
    """
    names = {m.id: m.name for m in repo.list_models()}
    datasets = {d.id: d for d in repo.list_datasets()}
    newest = {(a.dataset_id, a.metric, a.precision, a.reference_model_id): a for a in repo.list_accuracy(model_id)}
    order = {m: i for i, m in enumerate(sort_metrics({key[1] for key in newest}))}
    rows = []
    for (dataset_id, metric, precision, reference_id), a in sorted(
            newest.items(), key=lambda item: (item[0][0] or 0, order[item[0][1]], item[0][2])):
        dataset = datasets.get(dataset_id)
        split = a.split
        if split is None:  # stored before 0004: what the measurement would have read
            labelled = not is_agreement(base_metric(metric))
            split = "validation" if labelled and dataset is not None and dataset_split(dataset) else "all"
        split = "validation part" if split == "validation" else split
        rows.append({"dataset": dataset.name if dataset else "—", "split": split, "metric": metric_title(metric),
                     "value": shown_value(metric, a.value), "samples": a.samples, "precision": precision,
                     "reference": ("itself at f32 (the device's precision drift)" if reference_id == model_id
                                   else names.get(reference_id, f"#{reference_id}") if reference_id else "labels"),
                     "measured_at": a.created_at})
    return rows
