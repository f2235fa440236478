"""Measurements of the Compare page's A/B view: the interleaved A B A B ratio (run as a job) and
the per-layer diff of the two models' stored profiles (missing profiles run as jobs).

A and B are results-row keys ('MODEL_ID:PRECISION', core.compare.table.results_rows), the precision
being the one the row ran at ('f32', 'bf16', ...).
"""

from __future__ import annotations

from typing import Any

from core.errors import BadInputError
from core.measure.profile import profile_diff
from core.measure.sweeps import spread
from core.options import JobKind, JobStatus, Precision
from db import repository as repo
from db.records import BenchmarkRecord, JobRecord, ProfileRecord

_FLOAT = {"f32", "bf16", "f16"}


def parse_key(key: str) -> tuple[int, str]:
    """'3:bf16' -> (3, 'bf16')."""
    model_id, _, precision = key.partition(":")
    if not model_id.isdigit() or not precision:
        raise BadInputError(f"'{key}' is not a results row key (MODEL_ID:PRECISION); pick A and B from the table.")
    return int(model_id), precision


def precision_option(ran: str) -> Precision:
    """The precision to ask for to run at a row's precision again ('f32' -> F32; 'i8', '?' -> DEFAULT)."""
    return Precision(ran) if ran in _FLOAT else Precision.DEFAULT


def interleaved_pairs(job_id: int, model_a: int, model_b: int) -> list[tuple[int, tuple[BenchmarkRecord, ...]]]:
    """The rounds an interleaved job stored both runs of: (round, (A's row, B's row)), in round order.

    A round measured again by a re-run attempt counts with its newest rows.
    """
    runs: dict[tuple[int, str], BenchmarkRecord] = {}
    for model_id in dict.fromkeys((model_a, model_b)):
        for row in repo.list_benchmarks(model_id):  # oldest first: newer rows replace older ones
            tag = row.environment.get("interleaved")
            if row.job_id == job_id and tag:
                runs[(tag["round"], tag["side"])] = row
    return [(r, (runs[(r, "A")], runs[(r, "B")])) for r in sorted({r for r, _ in runs})
            if (r, "A") in runs and (r, "B") in runs]


def interleaved_summary(key_a: str, key_b: str) -> list[dict[str, Any]]:
    """B / A of the newest finished interleaved job of rows A and B, with its spread over the rounds.

    Rows are paired per round from the benchmark rows the job stored (a re-run attempt's rows
    replace the interrupted attempt's). Empty when no such job has finished.

    Returns:
        One row for the median latency and one for the throughput: ratio, median, min, max, cv,
        rounds, hint, job, measured_at.
    """
    (model_a, precision_a), (model_b, precision_b) = parse_key(key_a), parse_key(key_b)
    for job in repo.list_jobs(500):  # newest first
        if (job.kind != JobKind.INTERLEAVED or job.status != JobStatus.SUCCEEDED or job.model_id != model_a
                or job.options.get("model_b_id") != model_b):
            continue
        pairs = [pair for _, pair in interleaved_pairs(job.id, model_a, model_b)]
        if pairs and {a.precision for a, _ in pairs} == {precision_a} and {b.precision for _, b in pairs} == {precision_b}:
            return _ratio_rows(job, pairs)
    return []


def _ratio_rows(job: JobRecord, pairs: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, ratios in (("median latency B / A", [b.latency_median_ms / a.latency_median_ms for a, b in pairs]),
                         ("throughput B / A", [b.throughput_fps / a.throughput_fps for a, b in pairs])):
        s = spread(ratios)
        rows.append({"ratio": name, "median": s.median, "min": s.min, "max": s.max, "cv": s.cv,
                     "rounds": len(pairs), "hint": pairs[0][0].hint, "job": job.id,
                     "measured_at": pairs[-1][1].created_at})
    return rows


def newest_profile(key: str) -> ProfileRecord | None:
    """The newest stored profile of a row's model that ran at the row's precision."""
    model_id, precision = parse_key(key)
    found = [p for p in repo.list_profiles(model_id) if p.precision == precision]
    return found[-1] if found else None


def layer_diff(key_a: str, key_b: str):
    """Per layer type: time in A vs B and the precisions each ran in, largest time difference first.

    Answers "which layers still run in f32 / bf16 after INT8, and do they matter".

    Returns:
        A pandas DataFrame (columns of core.measure.profile.profile_diff plus float_in_b: a precision of
        the type in B is f32 / bf16 / f16), or None when A or B has no stored profile at its
        precision (see missing_profiles).
    """
    import pandas as pd

    profile_a, profile_b = newest_profile(key_a), newest_profile(key_b)
    if profile_a is None or profile_b is None:
        return None
    table = pd.DataFrame(profile_diff(profile_a.layers, profile_b.layers))
    if table.empty:
        return table
    table["float_in_b"] = [bool(set(p.split(", ")) & _FLOAT) for p in table["precisions_b"]]
    order = table["time_delta_ms"].abs().sort_values(ascending=False, kind="stable").index
    return table.loc[order].reset_index(drop=True)


def missing_profiles(key_a: str, key_b: str) -> list[str]:
    """The keys of A and B (distinct) that have no stored profile at their precision."""
    return [key for key in dict.fromkeys((key_a, key_b)) if newest_profile(key) is None]


