"""Typed options of the measurement engine's jobs: batch sweeps, per-layer profiles, interleaved A/B."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from core.errors import BadInputError
from core.options import BenchmarkOptions, PerformanceHint, Precision, _Options, _positive


def _whole_numbers(name: str, values, example: str) -> tuple[int, ...]:
    """A tuple of positive whole numbers, or a BadInputError naming the option."""
    try:
        numbers = tuple(int(v) for v in values)
    except (TypeError, ValueError) as error:
        raise BadInputError(f"{name} takes whole numbers separated by commas, e.g. {example}; got {values!r}.") from error
    for number in numbers:
        _positive(name, number)
    return numbers


@dataclass(frozen=True, kw_only=True)
class BatchSweepOptions(_Options):
    """A batch-size sweep, optionally × streams and × automatic batching (off / on), K repeats each.

    Attributes:
        batches: Static batch sizes the model is reshaped to, one point each.
        streams: NUM_STREAMS values (empty = the hint's choice); more than one makes a grid.
        auto_batch: Automatic-batching settings to try (False, True = both, as a dimension).
        hint: Performance hint of every point (streams given: NONE is used for them).
        precision / device / seconds / threads: As in BenchmarkOptions, for every point.
        repeats: Runs per point; their spread is stored (one row per repeat).
    """

    batches: tuple[int, ...] = (1, 2, 4, 8)
    streams: tuple[int, ...] = ()
    auto_batch: tuple[bool, ...] = (False,)
    hint: PerformanceHint = PerformanceHint.THROUGHPUT
    precision: Precision = Precision.DEFAULT
    device: str = "CPU"
    seconds: float = 2.0
    repeats: int = 1
    threads: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hint", PerformanceHint(self.hint))
        object.__setattr__(self, "precision", Precision(self.precision))
        for name in ("batches", "streams"):
            object.__setattr__(self, name, _whole_numbers(name, getattr(self, name), "1,2,4,8"))
        object.__setattr__(self, "auto_batch", tuple(bool(v) for v in self.auto_batch) or (False,))
        if not self.batches:
            raise BadInputError("Give at least one batch size, e.g. 1,2,4,8.")
        _positive("seconds", self.seconds)
        _positive("repeats", self.repeats)
        _positive("threads", self.threads, allow_none=True)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        return {**data, "batches": list(self.batches), "streams": list(self.streams),
                "auto_batch": list(self.auto_batch)}


@dataclass(frozen=True, kw_only=True)
class ProfileOptions(_Options):
    """A per-layer profile run (performance counters on; kept apart from timing runs)."""

    device: str = "CPU"
    precision: Precision = Precision.DEFAULT
    batch: int = 1
    iterations: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))
        _positive("batch", self.batch)
        _positive("iterations", self.iterations)



@dataclass(frozen=True, kw_only=True)
class InterleavedOptions(_Options):
    """Two models benchmarked alternately A B A B ..., so machine noise hits both alike.

    The job's model is A. Attributes:
        model_b_id: The model compared with A.
        precision_a / precision_b: Inference precision asked of each side (benchmark.precision is
            replaced by these).
        rounds: A B pairs; the spread of B / A comes from them.
        benchmark: Options of every run (hint, seconds, threads, ...).
    """

    model_b_id: int
    precision_a: Precision = Precision.DEFAULT
    precision_b: Precision = Precision.DEFAULT
    rounds: int = 3
    benchmark: BenchmarkOptions = dataclasses.field(default_factory=lambda: BenchmarkOptions(seconds=2.0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision_a", Precision(self.precision_a))
        object.__setattr__(self, "precision_b", Precision(self.precision_b))
        if isinstance(self.benchmark, dict):
            object.__setattr__(self, "benchmark", BenchmarkOptions.from_dict(self.benchmark))
        _positive("rounds", self.rounds)

    def side(self, which: str) -> BenchmarkOptions:
        """The benchmark options of side 'A' or 'B' (its precision set)."""
        precision = self.precision_a if which == "A" else self.precision_b
        return dataclasses.replace(self.benchmark, precision=precision)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "benchmark": self.benchmark.to_dict()}


@dataclass(frozen=True, kw_only=True)
class GenerationBenchOptions(_Options):
    """A generation benchmark of a language model (core.measure.generation), like llm_bench.

    Attributes:
        prompt_tokens: Prompt lengths in tokens, one point each (x new_tokens).
        new_tokens: Tokens generated per run (greedy, EOS ignored), one point each.
        repeats: Timed generations per point; their mean, spread and percentiles are stored.
        warmup: Generations before the timed ones at each point, not kept.
        device: OpenVINO device.
        versus_model_id: Interleaved A/B: measure this language model too, alternating with the
            first at every point (A B, then B A ...), so drift on a busy machine hits both alike.
        rounds: With versus_model_id, how many A/B rounds (each gives one B / A ratio per point).
        prompts_id: A text dataset the prompts are cut from (its texts joined, cut at each prompt
            length); empty: the lab's own filler text.
    """

    prompt_tokens: tuple[int, ...] = (32, 256)
    new_tokens: tuple[int, ...] = (64,)
    repeats: int = 3
    warmup: int = 1
    device: str = "CPU"
    versus_model_id: int | None = None
    rounds: int = 1
    prompts_id: int | None = None

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "new_tokens"):
            object.__setattr__(self, name, _whole_numbers(name, getattr(self, name), "32,256"))
            if not getattr(self, name):
                raise BadInputError(f"Give at least one {name.replace('_', ' ')} count, e.g. 64.")
        _positive("repeats", self.repeats)
        _positive("rounds", self.rounds)
        if self.rounds > 1 and self.versus_model_id is None:
            raise BadInputError("rounds apply to an interleaved A/B; give the second model (versus).")
        if self.warmup < 0:
            raise BadInputError(f"warmup must be 0 or more, got {self.warmup}.")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "prompt_tokens": list(self.prompt_tokens), "new_tokens": list(self.new_tokens)}
