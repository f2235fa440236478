"""Pick for me: the best model on the metric-vs-latency front for a latency budget or a quality
bound, and when the choice cannot be trusted (overlapping latency intervals, noisy runs only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.compare.table import front_rows
from core.errors import BadInputError
from core.measure.accuracy_tables import base_metric, higher_is_better, metric_text, metric_title
from core.tasks.metrics import is_agreement


@dataclass(frozen=True)
class Pick:
    """The model "pick for me" chose and why."""

    row: dict[str, Any]
    reason: str
    contenders: tuple[dict[str, Any], ...] = ()  # rows the choice cannot be told apart from: re-measure interleaved


def _interval(row: dict[str, Any]) -> tuple[float, float]:
    return row.get("latency_low_ms", row["latency_ms"]), row.get("latency_high_ms", row["latency_ms"])


def _doubt(best: dict[str, Any], contenders: list[dict[str, Any]]) -> str:
    """What the reason adds when the choice rests on overlapping latency intervals or noisy runs."""
    if best.get("noisy"):
        return ("; its latency was measured on a busy machine only (noisy)"
                + (f", so {contenders[0]['model']} @ {contenders[0]['precision']} may be the better pick. "
                   "Re-measure them interleaved to decide" if contenders else ""))
    if contenders:
        low, high = _interval(contenders[0])
        return (f"; but it rests on overlapping latency intervals: {contenders[0]['model']} @ "
                f"{contenders[0]['precision']} ran {low:.3f}–{high:.3f} ms. Re-measure them interleaved to decide")
    return ""


def _noisy_contenders(best: dict[str, Any], rows: Sequence[dict[str, Any]], fits) -> list[dict[str, Any]]:
    """When best's latency is noisy, every other measured row that meets the constraint (fits) may
    beat it, the ones its noisy latency made look dominated included."""
    if not best.get("noisy"):
        return []
    return [r for r in rows if r is not best and r.get("latency_ms") is not None and fits(r)]


def _scored(rows: Sequence[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Rows with a value of metric under "score" (larger is better) and "value" (as stored).

    An agreement metric is the reference's own perfect score on a row without a parent (the source
    model agrees with itself), so the source competes with its children on it.
    """
    perfect = 1.0 if higher_is_better(metric) else 0.0
    scored = []
    for row in rows:
        value = row.get(metric)
        if value is None and is_agreement(base_metric(metric)) and not row.get("parent"):
            value = perfect
        if value is not None and row.get("latency_ms") is not None:
            scored.append({**row, "value": value, "score": value if higher_is_better(metric) else -value})
    return scored


def pick_for_me(rows: Sequence[dict[str, Any]], *, latency_budget_ms: float | None = None,
                min_accuracy: float | None = None, metric: str = "top1") -> Pick:
    """The best model on the metric-vs-latency front for a latency budget or a quality bound.

    Args:
        rows: Comparison rows (results_rows, maybe filtered).
        latency_budget_ms: Pick the best model on metric whose median latency fits this budget.
        min_accuracy: Or pick the fastest model at least this good on metric, as stored (a fraction for
            percent metrics, 0.9 = 90 %); for an error metric (MSE, max abs error) at most this much.
        metric: The quality metric (the Compare page's selector; an agreement metric works without labels).

    Raises:
        BadInputError: Neither or both constraints given, or no model on the front meets it.
    """
    if (latency_budget_ms is None) == (min_accuracy is None):
        raise BadInputError("Give either a latency budget or a minimum accuracy, not both.")
    scored = _scored(rows, metric)
    keys = {r["key"] for r in front_rows(scored, metric="score")}
    front = sorted((r for r in scored if r["key"] in keys), key=lambda r: r["latency_ms"])
    title = metric_title(metric)
    if not front:
        raise BadInputError(f"No model has both {title} and latency measured; run a job with validation data.")

    def text(row: dict[str, Any]) -> str:
        return f"{title} {metric_text(metric, row['value'])} at {row['latency_ms']:.3f} ms"

    if latency_budget_ms is not None:
        fits = [r for r in front if r["latency_ms"] <= latency_budget_ms]
        if not fits:
            raise BadInputError(f"No model runs within {latency_budget_ms:g} ms; the fastest takes "
                                f"{front[0]['latency_ms']:.3f} ms. Raise the budget.")
        best = max(fits, key=lambda r: r["score"])
        # Better rows whose fastest run fits the budget might fit it too.
        contenders = [r for r in front if r["score"] > best["score"] and _interval(r)[0] <= latency_budget_ms]
        contenders += [r for r in _noisy_contenders(best, scored, lambda r: r["score"] >= best["score"]
                                                     and _interval(r)[0] <= latency_budget_ms) if r not in contenders]
        return Pick(_row(best), f"the best model on {title} within {latency_budget_ms:g} ms: {text(best)}"
                    + _doubt(best, contenders), tuple(_row(r) for r in contenders))
    bound = min_accuracy if higher_is_better(metric) else -min_accuracy
    fits = [r for r in front if r["score"] >= bound]
    if not fits:
        best_value = max(front, key=lambda r: r["score"])["value"]
        raise BadInputError(f"No model reaches {title} {metric_text(metric, min_accuracy)}; the best has "
                            f"{metric_text(metric, best_value)}. Relax the bound.")
    best = min(fits, key=lambda r: r["latency_ms"])
    low, high = _interval(best)
    contenders = [r for r in fits if r is not best and _interval(r)[0] <= high and low <= _interval(r)[1]]
    contenders += [r for r in _noisy_contenders(best, scored, lambda r: r["score"] >= bound) if r not in contenders]
    limit = "at least" if higher_is_better(metric) else "at most"
    return Pick(_row(best), f"the fastest model with {limit} {metric_text(metric, min_accuracy)} {title}: "
                f"{text(best)}" + _doubt(best, contenders), tuple(_row(r) for r in contenders))


def _row(scored: dict[str, Any]) -> dict[str, Any]:
    """A results row without the scoring keys _scored added."""
    return {k: v for k, v in scored.items() if k not in ("value", "score")}
