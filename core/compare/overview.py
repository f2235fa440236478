"""What the Overview page and the job toasts read: the newest results and jobs that just ended."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.compare.table import results_rows
from core.options import JobStatus
from core.tasks.metrics import METRICS, is_agreement
from db import repository as repo
from db.records import JobRecord

ENDED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED}


def latest_results(limit: int = 5) -> list[dict[str, Any]]:
    """The most recently measured comparison rows, newest first, in display units."""
    rows = sorted(results_rows(), key=lambda r: r["measured_at"], reverse=True)[:limit]
    return [{"model": r["model"], "precision": r["precision"], "dataset": r["dataset"] or "—",
             "top-1 (%)": None if r["top1"] is None else round(r["top1"] * 100, 2),
             "latency (ms)": round(r["latency_ms"], 3),
             "throughput (FPS)": None if r["throughput_fps"] is None else round(r["throughput_fps"], 1),
             "size (MB)": r["size_mb"], "measured (UTC)": r["measured_at"]} for r in rows]


def job_outcome(job: JobRecord) -> dict[str, Any] | None:
    """What an optimization job made, against its parent at the same inference precision: speed-up
    with its interval (from both rows' lowest and highest runs), top-1 change in points, size ratio.
    None when the job stored no measured child."""
    if not job.result_model_id:
        return None
    rows = results_rows()
    child = next((r for r in rows if r["model_id"] == job.result_model_id), None)
    parents = {r["precision"]: r for r in rows if r["model_id"] == job.model_id}
    if child is None or not parents:
        return None
    parent = parents.get(child["precision"]) or next(iter(parents.values()))
    both = child["top1"] is not None and parent["top1"] is not None
    return {"model": child["model"], "precision": child["precision"], "parent_precision": parent["precision"],
            "speedup": parent["latency_ms"] / child["latency_ms"],
            "speedup_low": parent["latency_low_ms"] / child["latency_high_ms"],
            "speedup_high": parent["latency_high_ms"] / child["latency_low_ms"],
            "top1_delta_points": (child["top1"] - parent["top1"]) * 100 if both else None,
            "size_ratio": child["size_mb"] / parent["size_mb"] if parent["size_mb"] else None,
            "noisy": child["noisy"] or parent["noisy"]}


def metric_drop(parent_id: int, child_id: int, metric: str) -> tuple[float, float] | None:
    """(drop, reference): how much of metric the child's newest value lost from its parent's at the
    precision the child ran at (an agreement metric from its perfect value); a loss is positive,
    in the metric's units. None when either value is missing."""
    rows = [r for r in repo.list_accuracy(child_id) if r.metric == metric]
    if not rows:
        return None
    child, better = rows[-1], METRICS[metric].higher_is_better
    if is_agreement(metric):
        reference = 1.0 if better else 0.0
    else:
        same = [r.value for r in repo.list_accuracy(parent_id) if r.metric == metric
                and r.precision == child.precision and r.reference_model_id is None]
        if not same:
            return None
        reference = same[-1]
    return (reference - child.value if better else child.value - reference), reference


def ended_jobs(previous: dict[int, str] | None,
               jobs: Sequence[JobRecord]) -> tuple[dict[int, str], list[JobRecord]]:
    """Compares job statuses with the last look; returns (statuses now, jobs that ended since).

    Args:
        previous: Statuses from the last call, or None on the first look (nothing has "just" ended).
        jobs: The jobs as stored now.
    """
    now = {j.id: j.status for j in jobs}
    if previous is None:
        return now, []
    ended = [j for j in jobs if j.status in ENDED and previous.get(j.id, JobStatus.PENDING) not in ENDED]
    return now, ended
