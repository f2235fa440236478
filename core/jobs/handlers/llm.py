"""Job handlers of language models: the generation benchmark, and quality (word perplexity on texts,
similarity of answers to a reference model's)."""

from __future__ import annotations

import numpy as np

from core.config import get_settings
from core.errors import BadInputError
from core.intake.sources import texts
from core.measure.benchmark import run_benchmark
from core.measure.generation import FILLER, benchmark_apart, generation_benchmark, interleaved_benchmark
from core.measure.llm_quality import answers, embed, encoder_folder, similarity, word_perplexity
from core.measure.machine import device_default_precision
from core.measure.options import GenerationBenchOptions
from core.options import BenchmarkOptions, EvaluateOptions, MeasureOptions, PerformanceHint, Precision
from core.storage import resolve
from db import generations
from db import repository as repo
from db.records import JobRecord, ModelRecord

# What an optimization job measures of each language model (a short llm_bench point, bounded sets).
MEASURE_POINT = {"prompt_tokens": (32,), "new_tokens": (64,), "repeats": 3, "warmup": 1}
MEASURE_SAMPLES = {"word_perplexity": 300, "similarity": 48}
ENCODER_TOKENS = 128  # the sequence length a text encoder is timed at


def run_generate_bench(job: JobRecord, reporter) -> None:
    """Measures every (prompt tokens, new tokens) point and stores one row per point."""
    options = GenerationBenchOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    repo.delete_measurements(job.id, model.id)  # an interrupted attempt's points: measured again
    if options.versus_model_id is not None:
        repo.delete_measurements(job.id, options.versus_model_id)
    points = len(options.prompt_tokens) * len(options.new_tokens)
    reporter.stage(f"loading {model.name} into openvino.genai", 0.0, 1 / (points + 1))
    source = "\n".join(texts(repo.get_dataset(options.prompts_id))) if options.prompts_id else FILLER

    def on_point(done: int, total: int) -> None:
        if done < total:
            prompt, new = options.prompt_tokens[done // len(options.new_tokens)], options.new_tokens[
                done % len(options.new_tokens)]
            reporter.stage(f"point {done + 1}/{total}: {prompt} prompt tokens, {new} new tokens",
                           (done + 1) / (total + 1), (done + 2) / (total + 1))

    if options.versus_model_id is not None:
        versus = repo.get_model(options.versus_model_id)
        ids = {"A": model.id, "B": versus.id}
        for side, result in interleaved_benchmark(
                resolve(model.path), resolve(versus.path), prompt_tokens=options.prompt_tokens,
                new_tokens=options.new_tokens, repeats=options.repeats, warmup=options.warmup, rounds=options.rounds,
                device=options.device, should_stop=lambda: repo.is_cancel_requested(job.id), source=source,
                on_step=lambda done, total: reporter.stage(f"interleaved A/B: {done}/{total} points", done / total,
                                                           min(1.0, (done + 1) / total))):
            generations.add_generation(ids[side], _stored(result, options), job_id=job.id)
        return
    for result in generation_benchmark(resolve(model.path), prompt_tokens=options.prompt_tokens,
                                       new_tokens=options.new_tokens, repeats=options.repeats,
                                       warmup=options.warmup, device=options.device, on_point=on_point,
                                       should_stop=lambda: repo.is_cancel_requested(job.id), source=source):
        generations.add_generation(model.id, _stored(result, options), job_id=job.id)


def _stored(result, options: GenerationBenchOptions) -> dict:
    """A point as stored: its environment says which text dataset its prompt was cut from (None: the
    lab's filler), so an export repeats it with the same prompt."""
    point = result.to_dict()
    return {**point, "environment": {**point["environment"], "prompts_id": options.prompts_id}}


def measure_llm(model: ModelRecord, options: MeasureOptions, reporter, job_id: int, start: float, end: float) -> None:
    """What an optimization job measures of a language model: the generation benchmark at
    MEASURE_POINT (in a process of its own: the peak memory is the model's, not the job's), word
    perplexity on options.dataset_id and, for a child, the similarity of its answers to
    options.prompts_id with its parent's."""
    steps = [("generation", None)] + ([("word_perplexity", options.dataset_id)] if options.dataset_id else []) + (
        [("similarity", options.prompts_id)] if options.prompts_id and model.parent_id else [])
    for number, (what, dataset_id) in enumerate(steps):
        low, high = start + (end - start) * number / len(steps), start + (end - start) * (number + 1) / len(steps)
        if what == "generation":
            reporter.stage(f"generation benchmark of {model.name}", low, high)
            for result in benchmark_apart(resolve(model.path), device=options.device, **MEASURE_POINT):
                generations.add_generation(model.id, result, job_id=job_id)
            continue
        evaluate = EvaluateOptions(dataset_id=dataset_id, device=options.device, metric=what,
                                   max_samples=MEASURE_SAMPLES[what])
        run_llm_evaluate(job_id, _Scaled(reporter, low, high), model, evaluate)


def measure_encoder(model: ModelRecord, options: MeasureOptions, reporter, job_id: int, start: float,
                    end: float) -> None:
    """What an optimization job measures of a text encoder: latency and throughput at batch 1 ×
    ENCODER_TOKENS tokens (benchmark_app's way, the token inputs reshaped to that), and for a child the
    cosine of its mean-pooled embeddings of options.dataset_id's texts with its parent's, both run at
    the precision the benchmark ran at (like with like)."""
    xml = resolve(model.path)
    shapes = {port["name"]: [1, ENCODER_TOKENS] for port in model.inputs}
    steps = 2 + bool(model.parent_id and options.dataset_id)
    precision = None
    for number, hint in enumerate((PerformanceHint.LATENCY, PerformanceHint.THROUGHPUT)):
        reporter.stage(f"benchmarking {model.name} ({hint} hint, 1 × {ENCODER_TOKENS} tokens)",
                       start + (end - start) * number / steps, start + (end - start) * (number + 1) / steps)
        result = run_benchmark(xml, BenchmarkOptions(device=options.device, hint=hint, seconds=options.seconds),
                               shapes=shapes, progress=lambda f, m: reporter.fraction(f, m))
        repo.add_benchmark(model.id, result.to_dict(), job_id=job_id)
        precision = result.precision
    if steps == 3:
        reporter.stage(f"cosine of {model.name}'s embeddings with its parent's", start + (end - start) * 2 / 3, end)
        rows = texts(repo.get_dataset(options.dataset_id))[:MEASURE_SAMPLES["word_perplexity"]]
        parent = repo.get_model(model.parent_id)
        hint = Precision.DEFAULT if precision == device_default_precision(options.device) else Precision(precision)
        found, expected = (embed(resolve(m.path).parent, rows, device=options.device, precision=hint)
                           for m in (model, parent))
        repo.add_accuracy(model_id=model.id, dataset_id=options.dataset_id, metric="cosine",
                          value=float(np.mean(np.sum(found * expected, axis=1))), samples=len(rows),
                          precision=precision, job_id=job_id, reference_model_id=parent.id, split="all")


def measurer(model: ModelRecord):
    """How a job measures a language model: measure_llm for a text generator, measure_encoder for a
    text encoder (recipe.llm.causal false)."""
    return measure_llm if model.recipe.get("llm", {}).get("causal", True) else measure_encoder


def llm_parent_measured(parent: ModelRecord, options: MeasureOptions) -> bool:
    """Whether the parent already has what measure_llm would store: a generation run at MEASURE_POINT
    on the device and word perplexity on options.dataset_id (its similarity is its children's); for a
    text encoder, a latency run of measure_encoder at least as long as asked."""
    if not parent.recipe.get("llm", {}).get("causal", True):
        return any(b.hint == PerformanceHint.LATENCY and b.device == options.device and b.duration_s >= options.seconds
                   for b in repo.list_benchmarks(parent.id))
    point = (MEASURE_POINT["prompt_tokens"][0], MEASURE_POINT["new_tokens"][0])
    generated = any((g.prompt_tokens, g.new_tokens) == point and g.device == options.device
                    for g in generations.list_generations(parent.id))
    scored = options.dataset_id is None or any(a.metric == "word_perplexity" and a.dataset_id == options.dataset_id
                                               for a in repo.list_accuracy(parent.id))
    return generated and scored


class _Scaled:
    """A reporter whose stages land inside [low, high] of the job's progress."""

    def __init__(self, reporter, low: float, high: float) -> None:
        self.reporter, self.low, self.high = reporter, low, high

    def stage(self, name: str, start: float, end: float) -> None:
        span = self.high - self.low
        self.reporter.stage(name, self.low + span * start, self.low + span * end)

    def fraction(self, *args, **kwargs) -> None:
        self.reporter.fraction(*args, **kwargs)


def run_llm_evaluate(job_id: int, reporter, model: ModelRecord, options: EvaluateOptions) -> None:
    """Word perplexity of the model on a text dataset, or similarity of its answers to a prompt set
    with the reference model's (options.reference_model_id, else the parent)."""
    dataset = repo.get_dataset(options.dataset_id)
    rows = texts(dataset)[:options.max_samples or None]
    metric = options.metric or ("similarity" if options.reference_model_id else "word_perplexity")
    if metric == "word_perplexity":
        reporter.stage(f"word perplexity of {model.name} on {len(rows)} texts", 0.0, 1.0)
        found = word_perplexity(resolve(model.path), rows, device=options.device, precision=options.precision,
                                on_progress=lambda n: reporter.fraction(n / len(rows), f"{n}/{len(rows)} texts"))
        repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric=metric, value=found.word_perplexity,
                          samples=found.samples, precision=str(options.precision), job_id=job_id, split="all",
                          details={"token_perplexity": found.token_perplexity, "words": found.words,
                                   "tokens": found.tokens})
        return
    reference_id = options.reference_model_id or model.parent_id
    if reference_id is None:
        raise BadInputError(f"'{model.name}' has no parent; similarity compares its answers with a reference "
                            "model's: give one (--reference).")
    reference = repo.get_model(reference_id)
    reporter.stage(f"answers of {reference.name} (the reference) to {len(rows)} prompts", 0.0, 0.45)
    expected = answers(resolve(reference.path), rows, new_tokens=options.new_tokens, device=options.device,
                       on_progress=lambda n: reporter.fraction(n / len(rows), f"{n}/{len(rows)} prompts"))
    reporter.stage(f"answers of {model.name} to {len(rows)} prompts", 0.45, 0.9)
    found = answers(resolve(model.path), rows, new_tokens=options.new_tokens, device=options.device,
                    on_progress=lambda n: reporter.fraction(n / len(rows), f"{n}/{len(rows)} prompts"))
    reporter.stage("embedding the answers", 0.9, 1.0)
    scored = similarity(encoder_folder(get_settings().data_dir / "encoders"), rows, expected, found)
    repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, metric=metric, value=scored.similarity,
                      samples=scored.samples, precision=Precision.DEFAULT.value, job_id=job_id,
                      reference_model_id=reference.id, split="all",
                      details={"worst": scored.worst, "new_tokens": options.new_tokens})
