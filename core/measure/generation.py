"""Generation benchmark of a language model through openvino.genai, the way llm_bench measures it.

For each (prompt tokens × new tokens) point: warm-up generations (not kept), then `repeats` greedy
generations of exactly that many new tokens (EOS ignored), each read from genai's PerfMetrics: time
to first token, time per output token, tokens/s, generate / tokenize / detokenize durations. The
point's record has their mean, spread and percentiles over the repeats, the peak resident memory of
the process during the point, and the input length the prompt really had once tokenized.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, JobCancelled
from core.measure.machine import environment_info

# The prompt text (written for the lab, no licence attached): repeated and cut at a token count.
FILLER = ("A performance engineer measures a model before and after each change, on the machine it will "
          "serve from, and keeps the numbers with the settings that produced them. Latency tells how long one "
          "answer takes; throughput tells how many answers the machine gives in a second. ")


@dataclass(frozen=True, kw_only=True)
class Stats:
    """mean, std, p50 and p90 of one quantity over the repeats of a point."""

    mean: float
    std: float
    p50: float
    p90: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Stats":
        array = np.asarray(values, dtype=np.float64)
        p50, p90 = (float(v) for v in np.percentile(array, [50, 90]))
        return cls(mean=float(array.mean()), std=float(array.std()), p50=p50, p90=p90)


@dataclass(frozen=True, kw_only=True)
class GenerationResult:
    """One point of a generation benchmark (times in ms; the token counts are what genai counted)."""

    device: str
    prompt_tokens: int
    input_tokens: int
    new_tokens: int
    generated_tokens: int
    repeats: int
    ttft_ms: Stats
    tpot_ms: Stats
    tokens_per_s: Stats
    generate_ms: Stats
    tokenize_ms: float
    detokenize_ms: float
    load_ms: float
    peak_memory_mb: float | None
    environment: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """The CLI's flat record (the issue's field names, means)."""
        return {"prompt_tokens": self.prompt_tokens, "input_tokens": self.input_tokens, "new_tokens": self.new_tokens,
                "generated_tokens": self.generated_tokens, "ttft_ms": round(self.ttft_ms.mean, 3),
                "ttft_std_ms": round(self.ttft_ms.std, 3), "tpot_ms": round(self.tpot_ms.mean, 3),
                "tpot_std_ms": round(self.tpot_ms.std, 3), "tokens_per_s": round(self.tokens_per_s.mean, 2),
                "tokens_per_s_std": round(self.tokens_per_s.std, 2), "generate_ms": round(self.generate_ms.mean, 3),
                "peak_memory_mb": self.peak_memory_mb, "repeats": self.repeats, "device": self.device}


def _reset_peak_rss() -> bool:
    """Resets the kernel's peak-RSS counter of this process (VmHWM); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as handle:
            line = next(line for line in handle if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        return None


def open_pipeline(model_xml: Path, device: str = "CPU", **properties: Any):
    """An openvino_genai.LLMPipeline over the model's folder, and the milliseconds it took to load."""
    import openvino_genai

    started = time.perf_counter()
    pipeline = openvino_genai.LLMPipeline(str(Path(model_xml).parent), device, **properties)
    return pipeline, (time.perf_counter() - started) * 1000


def prompt_of(pipeline, tokens: int) -> str:
    """A text that tokenizes to about `tokens` tokens with the pipeline's tokenizer (FILLER repeated,
    cut at that many tokens and decoded; the measured input length is stored beside it)."""
    tokenizer = pipeline.get_tokenizer()
    ids: list[int] = []
    text = FILLER
    while len(ids) < tokens:
        ids = list(tokenizer.encode(text, add_special_tokens=False).input_ids.data[0])
        text += FILLER
    return tokenizer.decode(ids[:tokens], skip_special_tokens=True)


def greedy_config(new_tokens: int, *, exact: bool = True):
    """Greedy decoding of new_tokens tokens (exact: EOS ignored, so every run generates as many)."""
    import openvino_genai

    config = openvino_genai.GenerationConfig()
    config.max_new_tokens = new_tokens
    config.do_sample = False
    if exact:
        config.min_new_tokens = new_tokens
        config.ignore_eos = True
    return config


def measure_point(pipeline, *, prompt_tokens: int, new_tokens: int, repeats: int, warmup: int, device: str,
                  load_ms: float = 0.0, should_stop: Callable[[], bool] = lambda: False) -> GenerationResult:
    """Generates warmup + repeats times at one point and aggregates genai's PerfMetrics of the repeats."""
    if prompt_tokens < 1 or new_tokens < 1 or repeats < 1 or warmup < 0:
        raise BadInputError("Prompt and new token counts and repeats are at least 1, warm-up at least 0.")
    prompt, config = prompt_of(pipeline, prompt_tokens), greedy_config(new_tokens)
    for _ in range(warmup):
        pipeline.generate([prompt], config)
    exact = _reset_peak_rss()
    metrics = []
    for _ in range(repeats):
        if should_stop():
            raise JobCancelled("Cancelled by the user; the points measured before are kept.")
        metrics.append(pipeline.generate([prompt], config).perf_metrics)
    first = metrics[0]
    return GenerationResult(
        device=device, prompt_tokens=prompt_tokens, input_tokens=int(first.get_num_input_tokens()),
        new_tokens=new_tokens, generated_tokens=int(first.get_num_generated_tokens()), repeats=repeats,
        ttft_ms=Stats.of([m.get_ttft().mean for m in metrics]), tpot_ms=Stats.of([m.get_tpot().mean for m in metrics]),
        tokens_per_s=Stats.of([m.get_throughput().mean for m in metrics]),
        generate_ms=Stats.of([m.get_generate_duration().mean for m in metrics]),
        tokenize_ms=float(np.mean([m.get_tokenization_duration().mean for m in metrics])),
        detokenize_ms=float(np.mean([m.get_detokenization_duration().mean for m in metrics])),
        load_ms=load_ms, peak_memory_mb=round(_peak_rss_mb(), 1) if exact and _peak_rss_mb() else None,
        environment={**environment_info(), "warmup": warmup})


def generation_benchmark(model_xml: Path, *, prompt_tokens: Sequence[int], new_tokens: Sequence[int],
                         repeats: int = 3, warmup: int = 1, device: str = "CPU",
                         on_point: Callable[[int, int], None] = lambda done, total: None,
                         should_stop: Callable[[], bool] = lambda: False) -> list[GenerationResult]:
    """Measures every (prompt tokens, new tokens) point of the grid with one pipeline, in order."""
    pipeline, load_ms = open_pipeline(model_xml, device)
    grid = [(p, n) for p in prompt_tokens for n in new_tokens]
    results = []
    for number, (prompt, new) in enumerate(grid):
        on_point(number, len(grid))
        results.append(measure_point(pipeline, prompt_tokens=prompt, new_tokens=new, repeats=repeats, warmup=warmup,
                                     device=device, load_ms=load_ms, should_stop=should_stop))
    on_point(len(grid), len(grid))
    return results
