"""The comparison table: one row per measured (model, precision), filters, downloads, the Pareto
front, "pick for me" and the A/B view. Figures are in core.compare.figures."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from core.errors import BadInputError
from core.measure.accuracy_tables import (
    higher_is_better,
    is_metric,
    is_percent,
    latest_by_key,
    metric_text,
    metric_title,
    sort_metrics,
)
from core.options import CompareAxis, CompareFilters
from db import repository as repo
from db.records import ModelRecord

# Row column -> the CompareFilters field that filters it.
FILTER_COLUMNS = {"source": "sources", "dataset": "datasets", "device": "devices", "precision": "precisions",
                  "algorithm": "algorithms"}
AXIS_COLUMN = {CompareAxis.LATENCY: "latency_ms", CompareAxis.THROUGHPUT: "throughput_fps",
               CompareAxis.SIZE: "size_mb", CompareAxis.TOKENS_PER_S: "tokens_per_s",
               CompareAxis.TTFT: "ttft_ms", CompareAxis.PEAK_MEMORY: "peak_memory_mb"}
AXIS_TITLE = {CompareAxis.LATENCY: "median latency, batch 1 (ms)",
              CompareAxis.THROUGHPUT: "throughput (FPS)", CompareAxis.SIZE: "size (MB)",
              CompareAxis.TOKENS_PER_S: "tokens/s (median of runs)",
              CompareAxis.TTFT: "time to first token (ms, median of runs)",
              CompareAxis.PEAK_MEMORY: "peak memory (MB)"}
# The axes of tensor models' rows and of language models' rows (core.compare.generation).
TENSOR_AXES = (CompareAxis.LATENCY, CompareAxis.THROUGHPUT, CompareAxis.SIZE)
LLM_AXES = (CompareAxis.TOKENS_PER_S, CompareAxis.TTFT, CompareAxis.SIZE, CompareAxis.PEAK_MEMORY)


def recipe_text(recipe: dict[str, Any]) -> str:
    """A one-line summary of a recipe: the algorithm and its options that are set."""
    options = recipe.get("options") or {}
    parts = [f"{k}={v}" for k, v in options.items() if v not in (None, (), [], "", False)]
    if recipe.get("algorithm") == "original":
        parts = [recipe.get("source_file", "")]
    text = f"{recipe.get('algorithm', '?')} {' '.join(parts)}".strip()
    return text if len(text) <= 160 else text[:157] + "..."


def _source(model: ModelRecord, models: dict[int, ModelRecord]) -> str:
    seen = set()
    while model.parent_id in models and model.id not in seen:
        seen.add(model.id)
        model = models[model.parent_id]
    return model.name


def _headline(evidence: dict[bool, dict[str, Any]]) -> dict[str, Any]:
    """The latency a row shows: from the runs not flagged noisy when there are any, else from all."""
    best = evidence.get(False) or evidence[True]
    return {"latency_ms": best["median_ms"], "latency_low_ms": best["low_ms"], "latency_high_ms": best["high_ms"],
            "latency_runs": best["runs"], "noisy": best["noisy"],
            "noisy_runs_left_out": evidence[True]["runs"] if False in evidence and True in evidence else 0}


def results_rows(hosts: Sequence[str] = ()) -> list[dict[str, Any]]:
    """One row per (model, inference precision): the best evidence the lab has for it (from the runs
    on hosts only, when given: machines are compared with themselves; `host` names the latest run's).

    Latency is the median of every plain batch-1 latency-hint run of that model and precision
    (interleaved A/B runs included), with the lowest and highest run as its interval; runs flagged
    noisy (other processes busy on over half the cores while they ran) are left out when quieter
    runs exist, and the row is `noisy` when it has no others. Aggregated in SQL
    (repo.latency_evidence), so the page does not slow down with the number of stored runs.
    Throughput is the latest throughput-hint batch-1 run, accuracy the latest per metric; the
    settings and load average are the latest latency run's. Batch-sweep points and automatic
    batching are left out (their settings differ).
    """
    models = {m.id: m for m in repo.list_models()}
    datasets = {d.id: d.name for d in repo.list_datasets()}
    evidence: dict[tuple[int, str], dict[bool, dict[str, Any]]] = {}
    for found in repo.latency_evidence(hosts):
        evidence.setdefault((found["model_id"], found["precision"]), {})[found["noisy"]] = found
    latest = {(b.model_id, b.precision): b for b in repo.latest_runs("latency", hosts)}
    throughput = {(b.model_id, b.precision): b for b in repo.latest_runs("throughput", hosts)}
    accuracy = latest_by_key(set(evidence))
    metrics = sort_metrics({m for entry in accuracy.values() for m in entry["metrics"]} - {"top1"})
    rows = []
    for (model_id, precision), classes in sorted(evidence.items()):
        model, run = models.get(model_id), latest[(model_id, precision)]
        if model is None:
            continue
        parent = models.get(model.parent_id) if model.parent_id else None
        found = accuracy.get((model_id, precision), {"metrics": {}, "dataset_id": None, "reference_model_id": None})
        reference = models.get(found["reference_model_id"])
        fast = throughput.get((model_id, precision))
        rows.append({"key": f"{model_id}:{precision}", "model_id": model_id, "model": model.name,
                     "algorithm": model.recipe.get("algorithm", ""),
                     "parent": parent.name if parent else "", "source": _source(model, models),
                     "precision": precision, "top1": found["metrics"].get("top1"),
                     "dataset": datasets.get(found["dataset_id"], ""),
                     **{m: found["metrics"].get(m) for m in metrics},
                     "reference": reference.name if reference else "", **_headline(classes),
                     "latency_min_ms": run.latency_min_ms, "latency_max_ms": run.latency_max_ms,
                     "throughput_fps": fast.throughput_fps if fast else None,
                     "size_mb": round(model.size_bytes / 1e6, 3), "device": run.device, "host": run.host or "",
                     "load_average": (run.environment.get("load_average") or [None])[0],
                     "measured_at": run.created_at,
                     "recipe": recipe_text(model.recipe), "warnings": " ".join(model.recipe.get("warnings", [])),
                     "settings": f"latency hint: {run.streams} stream(s), {run.infer_requests} request(s), "
                                 f"{run.duration_s:.1f} s"})
    return rows


def accuracy_metrics(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The accuracy metrics some row has a value of (top-1 first); ['top1'] when none has any."""
    found = {m for r in rows for m in _metric_columns(r) if r.get(m) is not None}
    return sort_metrics(found) or ["top1"]


def _metric_columns(row: dict[str, Any]) -> list[str]:
    """The accuracy metric columns of a results row (top1, top5, agreement metrics), in row order."""
    return [key for key in row if is_metric(key)]


def metric_columns(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Each accuracy metric column of the rows -> (title, number format) for the Compare table."""
    return {m: (metric_title(m), "%.2f" if is_percent(m) else "%.4g") for m in (_metric_columns(rows[0]) if rows else [])}


def table_frame(rows: Sequence[dict[str, Any]]):
    """The rows as the Compare table shows them (a pandas DataFrame): no key column, fractions in %."""
    import pandas as pd

    table = pd.DataFrame(list(rows)).drop(columns=["key"])
    for metric in metric_columns(rows):
        table[metric] = pd.to_numeric(table[metric]) * (100 if is_percent(metric) else 1)
    return table


def filter_choices(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """The distinct values of each filterable column, keyed by CompareFilters field name."""
    return {field: sorted({str(r[column]) for r in rows if r[column] not in (None, "")})
            for column, field in FILTER_COLUMNS.items()}


def filter_rows(rows: Sequence[dict[str, Any]], filters: CompareFilters) -> list[dict[str, Any]]:
    """The rows that pass every filter (an empty filter passes everything)."""
    def keep(row: dict[str, Any]) -> bool:
        for column, field in FILTER_COLUMNS.items():
            allowed = getattr(filters, field)
            if allowed and str(row[column]) not in allowed:
                return False
        day = row["measured_at"].date()
        return not ((filters.since and day < filters.since) or (filters.until and day > filters.until))

    return [r for r in rows if keep(r)]


def table_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """The table as CSV (top-1 as a fraction, as stored)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue().encode()


def table_json(rows: Sequence[dict[str, Any]]) -> bytes:
    """The table as a JSON list of objects (timestamps in ISO 8601)."""
    return json.dumps(list(rows), default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v),
                      indent=1).encode()


def pareto_front(points: Sequence[tuple[float, float]], *, lower_x_is_better: bool = True) -> list[int]:
    """Indices of the points no other point beats on x (lower, or higher) and accuracy y (higher).

    Returned in order of increasing x.
    """
    sign = 1 if lower_x_is_better else -1
    order = sorted(range(len(points)), key=lambda i: (sign * points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return sorted(front, key=lambda i: points[i][0])


def front_rows(rows: Sequence[dict[str, Any]], axis: CompareAxis = CompareAxis.LATENCY,
               metric: str = "top1") -> list[dict[str, Any]]:
    """The rows on the metric-vs-axis Pareto front (rows without that metric or axis left out).

    Error metrics (MSE, max abs error) count lower as better.
    """
    column = AXIS_COLUMN[CompareAxis(axis)]
    usable = [r for r in rows if r.get(metric) is not None and r.get(column) is not None]
    sign = 1 if higher_is_better(metric) else -1
    points = [(r[column], sign * r[metric]) for r in usable]
    return [usable[i] for i in pareto_front(points, lower_x_is_better=CompareAxis(axis).lower_is_better)]


def families(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Rows by family (source model × accuracy dataset), newest measured family first.

    A Pareto front compares a model with its own optimizations on one dataset; across families
    (a Fashion-MNIST CNN at 90 % beside an emotion model at 40 %) it would mean nothing.
    """
    measured_on = {}  # source -> a dataset it has accuracy on: where its rows without accuracy belong
    for row in rows:
        if row["dataset"]:
            measured_on.setdefault(row["source"], row["dataset"])
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:  # in the table's order
        grouped.setdefault((row["source"], row["dataset"] or measured_on.get(row["source"], "")), []).append(row)
    return dict(sorted(grouped.items(), key=lambda item: max(r["measured_at"] for r in item[1]), reverse=True))


def family_label(family: tuple[str, str]) -> str:
    source, dataset = family
    return f"{source} on {dataset}" if dataset else source


def default_ab(rows: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """A/B's default pair: the family's source model (its first row) against its newest child."""
    ordered = sorted(rows, key=lambda r: r["model_id"])
    parents = [r for r in ordered if r["model"] == r["source"]] or ordered
    return parents[0]["key"], ordered[-1]["key"]


def _ratio(b: float | None, a: float | None) -> float | None:
    return None if a in (None, 0) or b is None else b / a


def _text(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def ab_comparison(rows: Sequence[dict[str, Any]], key_a: str, key_b: str,
                  interleaved: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Every metric of rows A and B side by side with B / A and the spread of that ratio.

    The spread of the latency and throughput ratios is the min–max of the per-round ratios of an
    interleaved A B A B job (interleaved: core.compare.ab.interleaved_summary); runs measured apart
    give no spread, only "—". The latency rows also show each side's interval: its lowest and
    highest run median.
    """
    by_key = {r["key"]: r for r in rows}
    missing = [k for k in (key_a, key_b) if k not in by_key]
    if missing:
        raise BadInputError(f"No measured row {missing[0]}; pick A and B from the table.")
    a, b = by_key[key_a], by_key[key_b]
    rounds = {r["ratio"].split(" B / A")[0]: f"{r['min']:.3f}–{r['max']:.3f} ({r['rounds']} interleaved rounds)"
              for r in interleaved}
    top1 = [(r["top1"] * 100 if r["top1"] is not None else None) for r in (a, b)]
    table = [("top-1 (%)", *top1, "—"),
             ("latency median (ms)", a["latency_ms"], b["latency_ms"], rounds.get("median latency", "—")),
             ("latency, lowest run (ms)", a["latency_low_ms"], b["latency_low_ms"], "—"),
             ("latency, highest run (ms)", a["latency_high_ms"], b["latency_high_ms"], "—"),
             ("throughput (FPS)", a["throughput_fps"], b["throughput_fps"], rounds.get("throughput", "—")),
             ("size (MB)", a["size_mb"], b["size_mb"], "—")]
    result = [{"metric": name, "A": _text(va), "B": _text(vb), "B / A": _ratio(vb, va), "spread of B / A": s}
              for name, va, vb, s in table]
    result += [{"metric": metric_title(m), "A": metric_text(m, a.get(m)), "B": metric_text(m, b.get(m)),
                "B / A": _ratio(b.get(m), a.get(m)), "spread of B / A": "—"}
               for m in accuracy_metrics([a, b]) if m != "top1"]
    result += [{"metric": name, "A": _text(a[column]) if a[column] != "" else "—",
                "B": _text(b[column]) if b[column] != "" else "—", "B / A": None, "spread of B / A": "—"}
               for name, column in (("precision", "precision"), ("agreement reference", "reference"),
                                    ("recipe", "recipe"), ("measured with", "settings"),
                                    ("load average", "load_average"), ("runs", "latency_runs"),
                                    ("noisy", "noisy"))]
    return result


def batch_curves(model_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Throughput and latency against batch size for every model with runs at batch > 1.

    One point per (model, precision, hint, batch): the newest run. Empty when no model has a
    batch sweep. model_ids narrows it to those models (e.g. the filtered table's).
    """
    swept = {b.model_id for b in repo.scan_benchmarks(min_batch=2)}
    swept = sorted(swept & set(model_ids) if model_ids is not None else swept)
    if not swept:
        return []
    names = {m.id: m.name for m in repo.list_models()}
    newest = {(b.model_id, b.precision, b.hint, b.batch): b for b in repo.scan_benchmarks(model_ids=swept)}
    lines = {key[:3] for key in newest if key[3] > 1}  # a lone batch-1 run of another hint is no curve
    return [{"line": f"{names.get(m, m)} @ {p} ({h} hint)", "batch": batch, "throughput_fps": b.throughput_fps,
             "latency_ms": b.latency_median_ms, "streams": b.streams}
            for (m, p, h, batch), b in sorted(newest.items()) if (m, p, h) in lines]
