"""Batch-size sweeps, batch × streams grids, repeats with spread, and interleaved A/B ratios.

Every point is one core.measure.benchmark.run_benchmark call (benchmark_app's method), so a sweep's
numbers are the same kind of number as a single benchmark's.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.measure.benchmark import BenchmarkResult, run_benchmark
from core.measure.options import BatchSweepOptions
from core.options import BenchmarkOptions, PerformanceHint

# Compile + first inference of one point, for the estimate shown before launch.
COMPILE_ESTIMATE_S = 1.0


@dataclass(frozen=True)
class SweepPoint:
    """One combination of a sweep: batch size, streams (None = the hint's choice), auto batching."""

    batch: int
    streams: int | None
    auto_batch: bool

    @property
    def label(self) -> str:
        streams = f", {self.streams} stream{'s' if self.streams != 1 else ''}" if self.streams else ""
        return f"batch {self.batch}{streams}" + (", auto-batching" if self.auto_batch else "")


def sweep_points(options: BatchSweepOptions) -> list[SweepPoint]:
    """Every point of a sweep in run order (auto batching, then streams, then batch)."""
    return [SweepPoint(batch, streams, auto) for auto in options.auto_batch
            for streams in (options.streams or (None,)) for batch in options.batches]


def estimate_seconds(options: BatchSweepOptions) -> float:
    """Run time before launch: points × repeats × (seconds + compile)."""
    return len(sweep_points(options)) * options.repeats * (options.seconds + COMPILE_ESTIMATE_S)


def point_options(options: BatchSweepOptions, point: SweepPoint) -> BenchmarkOptions:
    """The BenchmarkOptions of one point (explicit streams switch the hint off, like -hint none)."""
    hint = PerformanceHint.NONE if point.streams else options.hint
    if point.auto_batch:
        hint = PerformanceHint.THROUGHPUT  # automatic batching only pays with requests in parallel
    return BenchmarkOptions(device=options.device, hint=hint, batch=point.batch, precision=options.precision,
                            seconds=options.seconds, streams=point.streams, auto_batch=point.auto_batch,
                            threads=options.threads)


def run_batch_sweep(model_path: str | Path, options: BatchSweepOptions, *,
                    on_point: Callable[[int, int, SweepPoint], None] | None = None,
                    progress: Callable[[float, str], None] | None = None,
                    should_stop: Callable[[], bool] | None = None,
                    on_result: Callable[[BenchmarkResult], None] | None = None,
                    done: frozenset[tuple[str, int]] = frozenset()) -> list[BenchmarkResult]:
    """Measures every point of a sweep, ``repeats`` times each.

    Args:
        model_path: An OpenVINO IR .xml or .onnx file (reshaped to each point's static batch).
        options: Batches, streams, auto batching, hint, precision, seconds and repeats.
        on_point: Called as ``on_point(number, total, point)`` before each point (1-based).
        progress: Passed to each run_benchmark call (fraction of that run).
        should_stop: Polled during runs; True ends the sweep at once, the run it cut short
            neither returned nor passed to on_result.
        on_result: Called with each result as soon as it is measured (e.g. to store it).
        done: (point label, repeat) pairs measured before (a resumed sweep skips them).

    Returns:
        One BenchmarkResult per point and repeat not in done, with sweep_point and repeat set.
    """
    points = sweep_points(options)
    results = []
    for number, point in enumerate(points, 1):
        if on_point is not None:
            on_point(number, len(points), point)
        for repeat in range(options.repeats):
            if (point.label, repeat) in done:
                continue
            result = run_benchmark(model_path, point_options(options, point), progress=progress,
                                   should_stop=should_stop)
            if should_stop is not None and should_stop():
                return results  # that run was cut short: it is no measurement of the point
            result = dataclasses.replace(result, sweep_point=point.label, repeat=repeat)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


@dataclass(frozen=True)
class Spread:
    """Median of repeated values and how much they vary."""

    median: float
    min: float
    max: float
    cv: float  # coefficient of variation (stdev / mean); 0 for one value


def spread(values: list[float]) -> Spread:
    """The median, range and coefficient of variation of repeated measurements."""
    mean = statistics.fmean(values)
    cv = statistics.stdev(values) / mean if len(values) > 1 and mean else 0.0
    return Spread(median=statistics.median(values), min=min(values), max=max(values), cv=cv)


@dataclass(frozen=True)
class InterleavedRatio:
    """B relative to A from runs interleaved A B A B ..., so machine noise hits both alike."""

    latency_ratio: Spread  # median latency of B / A, per round
    throughput_ratio: Spread  # throughput of B / A, per round
    a: list[BenchmarkResult]
    b: list[BenchmarkResult]


def interleaved_ratio(path_a: str | Path, path_b: str | Path, options: BenchmarkOptions, *,
                      rounds: int = 3, options_b: BenchmarkOptions | None = None,
                      on_result: Callable[[int, str, BenchmarkResult], None] | None = None,
                      rounds_done: frozenset[int] = frozenset()) -> InterleavedRatio:
    """Runs A and B alternately ``rounds`` times and reports B/A ratios.

    Args:
        path_a: The reference model.
        path_b: The model compared with it.
        options: Benchmark options of every run (of A's runs when options_b is given).
        rounds: A B pairs to run (the ratio's spread comes from them).
        options_b: B's options when they differ (e.g. an FP32 baseline at f32 vs INT8 at default).
        on_result: Called as ``on_result(round, "A" | "B", result)`` after each run (e.g. to store it).
        rounds_done: Rounds measured before (a resumed job skips them); the ratio covers the rest.
    """
    a, b = [], []
    for round_number in range(rounds):
        if round_number in rounds_done:
            continue
        for side, path, side_options, runs in (("A", path_a, options, a), ("B", path_b, options_b or options, b)):
            runs.append(run_benchmark(path, side_options))
            if on_result is not None:
                on_result(round_number, side, runs[-1])
    return InterleavedRatio(
        latency_ratio=spread([y.latency_ms.median / x.latency_ms.median for x, y in zip(a, b)]),
        throughput_ratio=spread([y.throughput_fps / x.throughput_fps for x, y in zip(a, b)]), a=a, b=b)
