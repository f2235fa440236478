"""The Compare rows of language models: one per model, its generation speed at one (prompt tokens ×
new tokens) point beside its quality (word perplexity, answer similarity with its parent) and size,
and the recipe grid of a weight-compression sweep as a heat map."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.compare.table import _source, recipe_text
from core.intake.llm import is_llm
from core.options import LLM_METRICS
from core.storage import resolve
from db import generations
from db import repository as repo

# The generation quantities a row headlines (median over the stored runs at its point) and their titles.
SPEED = {"tokens_per_s": "tokens/s", "ttft_ms": "time to first token (ms)", "tpot_ms": "time per output token (ms)",
         "peak_memory_mb": "peak memory (MB)"}


def language_models() -> list[Any]:
    """The stored models that are openvino.genai folders."""
    return [m for m in repo.list_models() if is_llm(resolve(m.path))]


def points() -> list[tuple[int, int]]:
    """The (prompt tokens, new tokens) points measured, the one most models have first."""
    found = Counter()
    for model_id, point in {(g.model_id, (g.prompt_tokens, g.new_tokens)) for g in generations.list_generations()}:
        found[point] += 1
    return [point for point, _ in sorted(found.items(), key=lambda item: (-item[1], item[0]))]


def newest_measured():
    """When the newest generation run was stored (None when there is none)."""
    found = generations.list_generations()
    return found[-1].created_at if found else None


def _spread(values: list[float]) -> dict[str, float | int]:
    return {"median": statistics.median(values), "low": min(values), "high": max(values), "runs": len(values)}


def generation_rows(point: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """One row per language model with a generation run at point (default: the most common point).

    Each speed quantity is the median of the runs stored at that point (every job that measured the
    model there; each run is the mean of its repeats), with the lowest and highest run beside it; the
    quality columns are the newest word perplexity and answer similarity of the model.
    """
    point = point or next(iter(points()), None)
    if point is None:
        return []
    models = {m.id: m for m in repo.list_models()}
    datasets = {d.id: d.name for d in repo.list_datasets()}
    runs: dict[int, list[Any]] = {}
    for g in generations.list_generations():
        if (g.prompt_tokens, g.new_tokens) == point:
            runs.setdefault(g.model_id, []).append(g)
    quality: dict[int, dict[str, Any]] = {}
    references: dict[int, Any] = {}  # model -> a similarity row that took its answers as the reference
    for a in repo.scan_accuracy():  # oldest first: newer rows overwrite
        if a.metric in LLM_METRICS and a.model_id in runs:
            quality.setdefault(a.model_id, {})[a.metric] = a
        if a.metric == "similarity" and a.reference_model_id is not None:
            references[a.reference_model_id] = a
    rows = []
    for model_id, found in sorted(runs.items()):
        model = models.get(model_id)
        if model is None:
            continue
        parent = models.get(model.parent_id)
        measured = quality.get(model_id, {})
        perplexity, similar = measured.get("word_perplexity"), measured.get("similarity")
        # The reference's answers are the expected ones: its similarity is 1 by definition (as in
        # who_what_benchmark), so the parent stands on the similarity chart beside its children.
        reference = similar is None and model_id in references
        speed = {name: _spread([getattr(g, name) for g in found if getattr(g, name) is not None])
                 for name in SPEED if any(getattr(g, name) is not None for g in found)}
        newest = found[-1]
        rows.append({
            "key": f"{model_id}:llm", "model_id": model_id, "model": model.name,
            "algorithm": model.recipe.get("algorithm", ""), "parent": parent.name if parent else "",
            "source": _source(model, models), "precision": "default",
            "word_perplexity": perplexity.value if perplexity else None,
            "similarity": similar.value if similar else 1.0 if reference else None,
            "dataset": datasets.get(perplexity.dataset_id, "") if perplexity else "",
            "prompts": datasets.get((similar or references.get(model_id)).dataset_id, "")
            if similar or reference else "",
            "reference": "itself (the reference answers)" if reference else
            models[similar.reference_model_id].name if similar and similar.reference_model_id in models else "",
            **{name: speed[name]["median"] if name in speed else None for name in SPEED},
            **{f"{name}_low": speed[name]["low"] for name in ("tokens_per_s", "ttft_ms") if name in speed},
            **{f"{name}_high": speed[name]["high"] for name in ("tokens_per_s", "ttft_ms") if name in speed},
            "runs": len(found), "size_mb": round(model.size_bytes / 1e6, 3), "device": newest.device,
            "load_average": (newest.environment.get("load_average") or [None])[0],
            "measured_at": newest.created_at, "recipe": recipe_text(model.recipe),
            "warnings": " ".join(model.recipe.get("warnings", [])),
            "settings": f"{point[0]} prompt × {point[1]} new tokens, greedy, median of {len(found)} run(s) of "
                        f"{newest.repeats} generations"})
    return rows


def worst_answers(model_id: int) -> list[dict[str, str]]:
    """The prompts whose answers the newest similarity measurement of the model found least alike:
    prompt, the reference's answer, the model's, their similarity."""
    newest = [a for a in repo.list_accuracy(model_id) if a.metric == "similarity" and a.details]
    if not newest:
        return []
    return [{"prompt": w["prompt"], "reference answer": w["reference"], "this model's answer": w["answer"],
             "similarity": w["similarity"]} for w in newest[-1].details.get("worst", [])]


def recipe_grid(rows: Sequence[dict[str, Any]], value: str) -> dict[str, Any] | None:
    """A sweep's ratio × group size grid of one column (similarity, tokens/s ...) for a heat map:
    {"x": group sizes, "y": ratios, "z": rows of values (None where not measured), "mode": ...}, or
    None when the rows hold fewer than two weight-compression recipes differing in those options."""
    models = {m.id: m for m in repo.list_models()}
    cells: dict[tuple[float, int], float] = {}
    modes = set()
    for row in rows:
        options = models[row["model_id"]].recipe.get("options", {}) if row["model_id"] in models else {}
        if row["algorithm"] != "compress_weights" or row.get(value) is None:
            continue
        ratio, group = options.get("ratio") or 1.0, options.get("group_size") or -1
        cells[(float(ratio), int(group))] = row[value]
        modes.add(str(options.get("mode", "")))
    ratios, groups = sorted({r for r, _ in cells}), sorted({g for _, g in cells})
    if len(cells) < 2 or (len(ratios) < 2 and len(groups) < 2):
        return None
    return {"x": [str(g) if g > 0 else "per channel" for g in groups], "y": [str(r) for r in ratios],
            "z": [[cells.get((r, g)) for g in groups] for r in ratios], "mode": ", ".join(sorted(modes))}


def llm_outcome(job) -> dict[str, Any] | None:
    """What a compression job of a language model made, against its parent at the same generation
    point: tokens/s ratio (with its interval from both models' lowest and highest runs), word
    perplexity change, similarity, size ratio. None when the job stored no measured child."""
    if not job.result_model_id:
        return None
    found = next(((g.prompt_tokens, g.new_tokens) for g in generations.list_generations(job.result_model_id)), None)
    rows = {r["model_id"]: r for r in generation_rows(found)} if found else {}
    child, parent = rows.get(job.result_model_id), rows.get(job.model_id)
    if child is None or parent is None:
        return None
    perplexities = (parent["word_perplexity"], child["word_perplexity"])
    return {"model": child["model"], "point": f"{found[0]} × {found[1]}",
            "speedup": child["tokens_per_s"] / parent["tokens_per_s"],
            "speedup_low": child["tokens_per_s_low"] / parent["tokens_per_s_high"],
            "speedup_high": child["tokens_per_s_high"] / parent["tokens_per_s_low"],
            "perplexity_change": perplexities[1] / perplexities[0] - 1 if None not in perplexities else None,
            "similarity": child["similarity"],
            "size_ratio": child["size_mb"] / parent["size_mb"] if parent["size_mb"] else None}
