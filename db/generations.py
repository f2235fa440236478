"""Reads and writes of generation benchmark points (core.measure.generation), as frozen records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from db import models as orm
from db.records import GenerationRecord, to_record
from db.session import retry_transient, session_scope

STATS = ("ttft_ms", "tpot_ms", "tokens_per_s", "generate_ms")


@retry_transient
def add_generation(model_id: int, result: dict[str, Any], job_id: int | None = None) -> GenerationRecord:
    """Stores one point given as GenerationResult.to_dict(): each statistic's mean as a column, all of
    them (mean, std, p50, p90) and the tokenize / detokenize / load times in stats."""
    stats = {name: result[name] for name in STATS}
    stats.update({name: result[name] for name in ("tokenize_ms", "detokenize_ms", "load_ms")})
    with session_scope() as s:
        row = orm.GenerationResult(
            model_id=model_id, job_id=job_id, device=result["device"], prompt_tokens=result["prompt_tokens"],
            input_tokens=result["input_tokens"], new_tokens=result["new_tokens"],
            generated_tokens=result["generated_tokens"], repeats=result["repeats"],
            peak_memory_mb=result.get("peak_memory_mb"), stats=stats, environment=result.get("environment", {}),
            **{name: result[name]["mean"] for name in STATS})
        s.add(row)
        s.flush()
        return to_record(GenerationRecord, row)


@retry_transient
def list_generations(model_id: int | None = None, job_id: int | None = None) -> list[GenerationRecord]:
    """Generation points, oldest first, of one model and / or one job (all when neither is given)."""
    table = orm.GenerationResult
    conditions = [c for c in (table.model_id == model_id if model_id is not None else None,
                              table.job_id == job_id if job_id is not None else None) if c is not None]
    with session_scope() as s:
        return [to_record(GenerationRecord, r) for r in s.scalars(select(table).where(*conditions).order_by(table.id))]
