"""Job handlers of the measurement engine: batch sweeps / grids, per-layer profiles, interleaved A/B."""

from __future__ import annotations

from core.compare.ab import interleaved_pairs
from core.errors import JobCancelled
from core.measure.options import BatchSweepOptions, InterleavedOptions, ProfileOptions
from core.measure.profile import profile_model
from core.measure.sweeps import SweepPoint, interleaved_ratio, run_batch_sweep
from core.storage import resolve
from db import repository as repo
from db.records import JobRecord


def run_batch_sweep_job(job: JobRecord, reporter) -> None:
    """Measures every point of the sweep and stores one row per point (and repeat) as it goes."""
    options = BatchSweepOptions.from_dict(job.options)
    model = repo.get_model(job.model_id)

    def on_point(number: int, total: int, point: SweepPoint) -> None:
        reporter.stage(f"point {number}/{total}: {point.label}", (number - 1) / total, number / total)

    # A re-run of an interrupted sweep keeps the rows it stored and measures only the rest.
    done = frozenset((row.sweep_point, row.repeat) for row in repo.sweep_benchmarks(model.id) if row.job_id == job.id)
    run_batch_sweep(resolve(model.path), options, on_point=on_point, done=done,
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
    result = profile_model(resolve(model.path), options)
    repo.add_profile(model_id=model.id, job_id=job.id, device=result.device, precision=result.precision,
                     total_ms=result.total_ms, layers=result.layer_dicts())


def run_interleaved_job(job: JobRecord, reporter) -> None:
    """Benchmarks the job's model (A) and options.model_b_id (B) alternately, storing every run.

    A re-run (after an interruption) measures only the rounds that lack a stored A or B run.

    Each run is a benchmark row of its model with this job's id and, in its environment JSON,
    ``interleaved = {"round", "side", "versus_model_id"}``; core.compare.ab reads the B / A ratios
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
    interleaved_ratio(resolve(models["A"].path), resolve(models["B"].path), options.side("A"),
                      rounds=options.rounds, options_b=options.side("B"), on_result=store, rounds_done=done)


