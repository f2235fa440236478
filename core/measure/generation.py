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


def prompt_of(tokenizer, tokens: int, source: str = FILLER) -> str:
    """A text that tokenizes to about `tokens` tokens with an openvino_genai.Tokenizer: source (the
    lab's FILLER, or a user's prompts joined) repeated, cut at that many tokens and decoded; the
    measured input length is stored beside it."""
    source = source if source.strip() else FILLER
    ids: list[int] = []
    text = source
    while len(ids) < tokens:
        ids = list(tokenizer.encode(text, add_special_tokens=False).input_ids.data[0])
        text += "\n" + source
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
                  load_ms: float = 0.0, should_stop: Callable[[], bool] = lambda: False,
                  source: str = FILLER) -> GenerationResult:
    """Generates warmup + repeats times at one point and aggregates genai's PerfMetrics of the repeats."""
    if prompt_tokens < 1 or new_tokens < 1 or repeats < 1 or warmup < 0:
        raise BadInputError("Prompt and new token counts and repeats are at least 1, warm-up at least 0.")
    prompt, config = prompt_of(pipeline.get_tokenizer(), prompt_tokens, source), greedy_config(new_tokens)
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
                         should_stop: Callable[[], bool] = lambda: False, source: str = FILLER) -> list[GenerationResult]:
    """Measures every (prompt tokens, new tokens) point of the grid with one pipeline, in order (the
    prompts cut from source, see prompt_of)."""
    pipeline, load_ms = open_pipeline(model_xml, device)
    grid = [(p, n) for p in prompt_tokens for n in new_tokens]
    results = []
    for number, (prompt, new) in enumerate(grid):
        on_point(number, len(grid))
        results.append(measure_point(pipeline, prompt_tokens=prompt, new_tokens=new, repeats=repeats, warmup=warmup,
                                     device=device, load_ms=load_ms, should_stop=should_stop, source=source))
    on_point(len(grid), len(grid))
    return results


def interleaved_benchmark(model_a: Path, model_b: Path, *, prompt_tokens: Sequence[int], new_tokens: Sequence[int],
                          repeats: int = 3, warmup: int = 1, rounds: int = 3, device: str = "CPU",
                          on_step: Callable[[int, int], None] = lambda done, total: None,
                          should_stop: Callable[[], bool] = lambda: False,
                          source: str = FILLER) -> list[tuple[str, GenerationResult]]:
    """Both models loaded, every point measured on A and B in turn, the order flipped each round
    (A B, B A, ...); returns ("A" | "B", result) pairs whose environment holds ab_round. Peak memory
    is left out (both models share the process; it is measured by single-model runs)."""
    import dataclasses

    pipelines = dict(zip("AB", (open_pipeline(path, device) for path in (model_a, model_b))))
    grid = [(p, n) for p in prompt_tokens for n in new_tokens]
    found, total = [], rounds * len(grid) * 2
    for round_ in range(rounds):
        for prompt, new in grid:
            for side in ("AB" if round_ % 2 == 0 else "BA"):
                on_step(len(found), total)
                pipeline, load_ms = pipelines[side]
                result = measure_point(pipeline, prompt_tokens=prompt, new_tokens=new, repeats=repeats, warmup=warmup,
                                       device=device, load_ms=load_ms, should_stop=should_stop, source=source)
                found.append((side, dataclasses.replace(result, peak_memory_mb=None, environment={
                    **result.environment, "ab_round": round_, "ab_side": side})))
    on_step(total, total)
    return found


def interleaved_ratios(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """B / A per point and quantity over the rounds of an interleaved run (rows: stored generation
    records of one job, environment ab_side / ab_round): median, lowest and highest round."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        side, round_ = row.environment.get("ab_side"), row.environment.get("ab_round")
        if side in ("A", "B"):
            by_key.setdefault((row.prompt_tokens, row.new_tokens, round_), {})[side] = row
    summary = []
    for quantity in ("tokens_per_s", "ttft_ms", "tpot_ms"):
        for prompt, new in sorted({key[:2] for key in by_key}):
            ratios = [getattr(pair["B"], quantity) / getattr(pair["A"], quantity)
                      for (p, n, _), pair in sorted(by_key.items(), key=lambda item: item[0][2])
                      if (p, n) == (prompt, new) and len(pair) == 2 and getattr(pair["A"], quantity)]
            if ratios:
                summary.append({"prompt_tokens": prompt, "new_tokens": new, "ratio": f"{quantity} B / A",
                                "median": float(np.median(ratios)), "min": min(ratios), "max": max(ratios),
                                "rounds": len(ratios)})
    return summary


def benchmark_apart(model_xml: Path, *, prompt_tokens: Sequence[int], new_tokens: Sequence[int], repeats: int = 3,
                    warmup: int = 1, device: str = "CPU", timeout_s: float = 1800) -> list[dict[str, Any]]:
    """generation_benchmark in a Python process of its own (as llm_bench runs each model), so the peak
    memory of a point is that model's alone, not also the caller's (an optimization job holds the
    parent it compressed); returns the points as GenerationResult.to_dict()."""
    import os
    import subprocess
    import sys

    from core.config import REPO_ROOT

    command = [sys.executable, "-m", "core.measure.generation", str(model_xml), "--device", device,
               "--prompt-tokens", ",".join(map(str, prompt_tokens)), "--new-tokens", ",".join(map(str, new_tokens)),
               "--repeats", str(repeats), "--warmup", str(warmup)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    if run.returncode != 0:
        raise BadInputError(f"The generation benchmark of {Path(model_xml).parent.name} failed: "
                            f"{(run.stderr.strip().splitlines() or ['no message'])[-1]}")
    import json

    return json.loads(run.stdout.strip().splitlines()[-1])


def _main() -> None:
    import argparse
    import json

    parser = argparse.ArgumentParser(description="one model's generation benchmark, as JSON (benchmark_apart)")
    parser.add_argument("model_xml", type=Path)
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--prompt-tokens", required=True)
    parser.add_argument("--new-tokens", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    results = generation_benchmark(args.model_xml, prompt_tokens=[int(v) for v in args.prompt_tokens.split(",")],
                                   new_tokens=[int(v) for v in args.new_tokens.split(",")], repeats=args.repeats,
                                   warmup=args.warmup, device=args.device)
    print(json.dumps([r.to_dict() for r in results]))


if __name__ == "__main__":
    _main()
