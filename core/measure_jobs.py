"""Job handlers of the measurement engine: batch sweeps / grids, per-layer profiles, agreement."""

from __future__ import annotations

from collections.abc import Callable

from core import lab
from core.errors import BadInputError, JobCancelled
from core.measure import SweepPoint, interleaved_ratio, run_batch_sweep
from core.measure_options import BatchSweepOptions, InterleavedOptions, ProfileOptions
from core.options import Precision
from core.profile import profile_model
from db import repository as repo
from db.records import AccuracyRecord, BenchmarkRecord, DatasetRecord, JobRecord, ModelRecord


def run_batch_sweep_job(job: JobRecord, reporter) -> None:
    """Measures every point of the sweep and stores one row per point (and repeat) as it goes."""
    options = BatchSweepOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)

    def on_point(number: int, total: int, point: SweepPoint) -> None:
        reporter.stage(f"point {number}/{total}: {point.label}", (number - 1) / total, number / total)

    # A re-run of an interrupted sweep keeps the rows it stored and measures only the rest.
    done = frozenset((row.sweep_point, row.repeat) for row in repo.sweep_benchmarks(model.id) if row.job_id == job.id)
    run_batch_sweep(lab.resolve(model.path), options, on_point=on_point, done=done,
                    progress=lambda f, m: reporter.fraction(f, m),
                    should_stop=lambda: repo.is_cancel_requested(job.id),
                    on_result=lambda result: repo.add_benchmark(model.id, result.to_dict(), job_id=job.id))
    if repo.is_cancel_requested(job.id):
        raise JobCancelled("Cancelled by the user; the points measured before are kept.")


def run_profile_job(job: JobRecord, reporter) -> None:
    """Runs one per-layer profile (performance counters on) and stores it."""
    options = ProfileOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)
    reporter.stage(f"profiling {model.name} ({options.precision})", 0.0, 1.0)
    result = profile_model(lab.resolve(model.path), options)
    repo.add_profile(model_id=model.id, job_id=job.id, device=result.device, precision=result.precision,
                     total_ms=result.total_ms, layers=result.layer_dicts())


def run_interleaved_job(job: JobRecord, reporter) -> None:
    """Benchmarks the job's model (A) and options.model_b_id (B) alternately, storing every run.

    A re-run (after an interruption) measures only the rounds that lack a stored A or B run.

    Each run is a benchmark row of its model with this job's id and, in its environment JSON,
    ``interleaved = {"round", "side", "versus_model_id"}``; core.compare_ab reads the B / A ratios
    and their spread back from those rows.
    """
    options = InterleavedOptions.from_dict(job.options)
    models = {"A": repo.get_model(job.model_id), "B": repo.get_model(options.model_b_id)}
    total = 2 * options.rounds

    def store(round_number: int, side: str, result) -> None:
        other = models["B" if side == "A" else "A"]
        row = result.to_dict()
        row["environment"] = {**row["environment"], "interleaved": {
            "round": round_number, "side": side, "versus_model_id": other.id}}
        repo.add_benchmark(models[side].id, row, job_id=job.id)
        done = 2 * round_number + (2 if side == "B" else 1)
        reporter.stage(f"round {round_number + 1}/{options.rounds}: {side} measured", done / total, done / total)

    # A re-run of an interrupted job keeps the rounds it stored both sides of and measures the rest.
    done = frozenset(round_number for round_number, _ in interleaved_pairs(job.id, job.model_id, options.model_b_id))
    if len(done) == options.rounds:
        return
    first = min(set(range(options.rounds)) - done)
    reporter.stage(f"round {first + 1}/{options.rounds}: measuring A", 2 * first / total, (2 * first + 1) / total)
    interleaved_ratio(lab.resolve(models["A"].path), lab.resolve(models["B"].path), options.side("A"),
                      rounds=options.rounds, options_b=options.side("B"), on_result=store, rounds_done=done)


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


def submit_batch_sweep(*, model_id: int, options: BatchSweepOptions, idempotency_key: str | None = None) -> JobRecord:
    """Queues a batch sweep / grid of one model (checks the model exists first)."""
    from core import jobs
    from core.options import JobKind

    repo.get_model(model_id)
    return jobs.submit(JobKind.BATCH_SWEEP, options.to_dict(), model_id=model_id, idempotency_key=idempotency_key)


def submit_profile(*, model_id: int, options: ProfileOptions, idempotency_key: str | None = None) -> JobRecord:
    """Queues a per-layer profile run of one model."""
    from core import jobs
    from core.options import JobKind

    repo.get_model(model_id)
    return jobs.submit(JobKind.PROFILE, options.to_dict(), model_id=model_id, idempotency_key=idempotency_key)


def store_agreement(model: ModelRecord, dataset: DatasetRecord, *, precision: Precision, device: str = "CPU",
                    job_id: int | None = None, max_samples: int = 200,
                    on_progress: Callable[[int], None] | None = None) -> list[AccuracyRecord]:
    """Agreement of a model with its parent on a dataset (no labels needed), stored per output.

    Metrics are stored as top1_agreement, cosine, mse, max_abs_error (suffixed ':OUTPUT' for
    multi-output models) with the parent as reference_model_id; the parent runs in f32.

    Raises:
        BadInputError: The model has no parent to agree with.
    """
    from core.agreement import agreement_metrics
    from core.sources import open_dataset

    if model.parent_id is None:
        raise BadInputError(f"'{model.name}' has no parent model; agreement compares an optimized model "
                            "with the model it came from.")
    parent = repo.get_model(model.parent_id)
    source = open_dataset(dataset, parent)
    inputs = (x for x, _ in source.samples(range(min(len(source), max_samples))))
    metrics = agreement_metrics(lab.resolve(parent.path), lab.resolve(model.path), inputs, device=device,
                                precision=precision, on_progress=on_progress)
    several = len({m.output for m in metrics}) > 1
    return [repo.add_accuracy(model_id=model.id, dataset_id=dataset.id, job_id=job_id, value=m.value,
                              metric=(f"{m.metric}:{m.output}" if several else m.metric)[:40], samples=m.samples,
                              precision=m.precision, reference_model_id=parent.id, split="all") for m in metrics]
