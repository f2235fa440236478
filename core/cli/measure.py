"""Commands that measure: benchmark, batch-sweep and profile (model files, no database needed),
ab (an interleaved A/B job of two stored results rows) and evaluate (a stored model on its task)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from core import lab
from core.cli.common import model_file, print_record, wait_for, with_lab
from core.compare.ab import interleaved_summary
from core.errors import AppError
from core.intake.model_intake import parse_shapes
from core.intake.llm import is_llm
from core.measure.benchmark import run_benchmark
from core.measure.generation import interleaved_ratios
from core.measure.options import BatchSweepOptions, GenerationBenchOptions, ProfileOptions
from core.measure.profile import by_layer_type, profile_model
from core.measure.sweeps import interleaved_ratio, run_batch_sweep
from core.options import LLM_METRICS, BenchmarkOptions, EvaluateOptions, PerformanceHint, Precision
from core.storage import resolve
from core.tasks.registry import TASKS
from db import generations
from db import repository as repo


def batch_sweep_arguments(p: argparse.ArgumentParser, *, batches: str | None) -> None:
    p.add_argument("--batches", default=batches, help="batch sizes, e.g. 1,2,4,8")
    p.add_argument("--streams", default="", help="e.g. 1,2 for a batch x streams grid")
    p.add_argument("--auto-batch", action="store_true", help="add automatic batching on as a dimension")
    p.add_argument("--hint", choices=[x.value for x in PerformanceHint], default="throughput")
    p.add_argument("--precision", choices=[x.value for x in Precision], default="default")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device", default="CPU")
    p.add_argument("--threads", type=int, help="INFERENCE_NUM_THREADS of every point, like -nthreads")


def register(sub) -> dict:
    p = sub.add_parser("benchmark", help="measure a model file like benchmark_app (no database)")
    p.add_argument("model_path", type=Path)
    p.add_argument("--device", default="CPU")
    p.add_argument("--hint", choices=[x.value for x in PerformanceHint], default="latency")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--precision", choices=[x.value for x in Precision], default="default")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--iterations", type=int)
    p.add_argument("--streams", type=int)
    p.add_argument("--requests", type=int)
    p.add_argument("--auto-batch", action="store_true", help="OpenVINO automatic batching (BATCH:DEVICE(batch))")
    p.add_argument("--threads", type=int, help="INFERENCE_NUM_THREADS, like benchmark_app -nthreads")
    p.add_argument("--shape", default="", help="static input shapes for dynamic dimensions, like benchmark_app "
                                               "-shape: 'x=[1,3,48,320]; mask=1,-1'")
    p.add_argument("--repeats", type=int, default=1, help="run K times; one record per run")
    p.add_argument("--versus", type=Path, metavar="MODEL_B",
                   help="compare with MODEL_B interleaved A B A B (--repeats rounds); prints B/A ratios")
    p = sub.add_parser("ab", help="interleaved A B A B benchmark of two stored results rows as a job: "
                                  "B / A of latency and throughput with their spread over the rounds")
    p.add_argument("key_a", help="MODEL_ID:PRECISION of a results row (see `results`), e.g. 1:f32")
    p.add_argument("key_b", help="MODEL_ID:PRECISION of the row compared with it")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0, help="duration of each run")
    p.add_argument("--hint", choices=[x.value for x in PerformanceHint], default="latency")
    p.add_argument("--threads", type=int, help="INFERENCE_NUM_THREADS of every run")
    p.add_argument("--wait", action="store_true", help="follow the job, then print the ratios")
    p = sub.add_parser("batch-sweep", help="throughput / latency per batch size (x streams, x auto batching)")
    p.add_argument("model_path", type=Path)
    p.add_argument("--seconds", type=float, default=2.0)
    batch_sweep_arguments(p, batches="1,2,4,8")
    p = sub.add_parser("profile", help="per-layer time and executed precision (performance counters)")
    p.add_argument("model_path", type=Path)
    p.add_argument("--precision", choices=[x.value for x in Precision], default="default")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--device", default="CPU")
    p = sub.add_parser("evaluate", help="a stored model's task metrics (mAP, CER, mIoU, top-1, ...) on a dataset: "
                                        "against its labels, or against --reference's outputs")
    p.add_argument("model_id", type=int, metavar="MODEL_ID")
    p.add_argument("--data", type=int, required=True, metavar="DATASET_ID")
    p.add_argument("--task", choices=list(TASKS), help="set the model's task first (kept for its later jobs)")
    p.add_argument("--charset", type=Path, metavar="FILE", help="text recognition: one character per line, "
                                                                "in class order (kept with the model)")
    p.add_argument("--reference", type=int, metavar="MODEL_ID", help="score against this model's outputs "
                                                                     "(e.g. the parent) instead of labels")
    p.add_argument("--precision", choices=[x.value for x in Precision], default="f32")
    p.add_argument("--max-samples", type=int)
    p.add_argument("--device", default="CPU")
    p.add_argument("--metric", choices=list(LLM_METRICS), help="language models: word_perplexity on a text dataset "
                                                               "(default), or similarity of the answers to a prompt "
                                                               "set with --reference's (default: the parent)")
    p.add_argument("--new-tokens", type=int, default=64, help="similarity: the most tokens of each answer")
    p = sub.add_parser("generate-bench", help="a stored language model's generation speed through openvino.genai "
                                              "(TTFT, TPOT, tokens/s, peak memory) per prompt x output length")
    p.add_argument("model_id", type=int, metavar="MODEL_ID")
    p.add_argument("--prompt-tokens", default="32,256", help="prompt lengths in tokens, e.g. 32,256")
    p.add_argument("--new-tokens", default="64", help="tokens generated per run (EOS ignored), e.g. 64,128")
    p.add_argument("--repeats", type=int, default=3, help="timed generations per point")
    p.add_argument("--warmup", type=int, default=1, help="untimed generations before each point")
    p.add_argument("--device", default="CPU")
    p.add_argument("--versus", type=int, metavar="MODEL_ID_B", help="interleaved A/B with this stored language "
                   "model: both measured at every point in turn (A B, then B A ...), B / A ratios printed last")
    p.add_argument("--rounds", type=int, default=1, help="with --versus: A/B rounds (one ratio each)")
    p.add_argument("--prompts", type=int, metavar="DATASET_ID", help="cut the prompts from this text dataset "
                   "(its texts joined) instead of the lab's filler text")
    return {"benchmark": benchmark, "ab": ab, "batch-sweep": batch_sweep, "profile": profile, "evaluate": evaluate,
            "generate-bench": generate_bench}


def benchmark(args) -> int:
    options = BenchmarkOptions(device=args.device, hint=args.hint, batch=args.batch, precision=args.precision,
                               seconds=args.seconds, iterations=args.iterations, streams=args.streams,
                               infer_requests=args.requests, auto_batch=args.auto_batch, threads=args.threads)
    shapes = parse_shapes(args.shape) if args.shape else None
    if args.versus is not None:
        if shapes:
            raise AppError("--shape applies to one model file; store static copies of both with "
                           "`add-model FILE --shape ...`, then compare them with --versus.")
        ratio = interleaved_ratio(args.model_path, args.versus, options, rounds=args.repeats)
        print_record({"latency_ratio": asdict(ratio.latency_ratio),
                      "throughput_ratio": asdict(ratio.throughput_ratio)}, args.json)
        return 0
    for repeat in range(args.repeats):
        print_record({**run_benchmark(args.model_path, options, shapes=shapes).to_dict(), "repeat": repeat},
                     args.json)
    return 0


def batch_sweep(args, *, model: str | None = None) -> int:
    """batch-sweep MODEL_FILE, or sweep MODEL --batches (model: a file or a stored model's id)."""
    path = model_file(model) if model is not None else args.model_path
    options = BatchSweepOptions(batches=args.batches.split(","), streams=[s for s in args.streams.split(",") if s],
                                auto_batch=(False, True) if args.auto_batch else (False,), hint=args.hint,
                                precision=args.precision, seconds=args.seconds, repeats=args.repeats,
                                device=args.device, threads=args.threads)
    run_batch_sweep(path, options, on_result=lambda r: print_record(r.to_dict(), args.json),
                    on_point=lambda n, total, point: print(f"point {n}/{total}: {point.label}",
                                                           file=sys.stderr, flush=True))
    return 0


def profile(args) -> int:
    result = profile_model(args.model_path, ProfileOptions(precision=args.precision, batch=args.batch,
                                                           iterations=args.iterations, device=args.device))
    print_record({"device": result.device, "precision": result.precision, "total_ms": result.total_ms,
                  "by_type": by_layer_type(result.layer_dicts()), "layers": result.layer_dicts()}, args.json)
    return 0


@with_lab
def ab(args) -> int:
    benchmark_options = BenchmarkOptions(hint=args.hint, seconds=args.seconds, threads=args.threads)
    job = lab.submit_interleaved(args.key_a, args.key_b, benchmark=benchmark_options, rounds=args.rounds)
    print_record({"job_id": job.id, "status": job.status}, args.json)
    if not args.wait:
        return 0
    code = wait_for(job.id)
    for row in interleaved_summary(args.key_a, args.key_b):
        print_record(row, args.json)
    return code


@with_lab
def evaluate(args) -> int:
    try:
        model = repo.get_model(args.model_id)
        if args.task or args.charset:
            charset = args.charset.read_text(encoding="utf-8") if args.charset else None
            lab.set_task(model.id, args.task or lab.model_task(model)[0].name, charset=charset)
        job = lab.submit_evaluate(model_id=model.id, options=EvaluateOptions(
            dataset_id=args.data, device=args.device, precision=args.precision, max_samples=args.max_samples,
            reference_model_id=args.reference, metric=args.metric, new_tokens=args.new_tokens))
    except (AppError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    code = wait_for(job.id)
    task = "text-generation" if args.metric or is_llm(resolve(model.path)) else lab.model_task(repo.get_model(model.id))[0].name
    for row in repo.list_accuracy(model.id):
        if row.job_id == job.id:
            print_record({"metric": row.metric, "value": row.value, "samples": row.samples, "task": task,
                          "precision": row.precision, "reference_model_id": row.reference_model_id,
                          **(row.details or {})}, args.json)
    return code


@with_lab
def generate_bench(args) -> int:
    try:
        options = GenerationBenchOptions(prompt_tokens=args.prompt_tokens.split(","),
                                         new_tokens=args.new_tokens.split(","), repeats=args.repeats,
                                         warmup=args.warmup, device=args.device, versus_model_id=args.versus,
                                         rounds=args.rounds, prompts_id=args.prompts)
        job = lab.submit_generate_bench(model_id=args.model_id, options=options)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    code = wait_for(job.id)
    rows = generations.list_generations(job_id=job.id)
    for row in rows:
        print_record({"model_id": row.model_id, "prompt_tokens": row.prompt_tokens, "input_tokens": row.input_tokens,
                      "new_tokens": row.new_tokens, "generated_tokens": row.generated_tokens,
                      "ttft_ms": row.ttft_ms, "ttft_std_ms": row.stats["ttft_ms"]["std"], "tpot_ms": row.tpot_ms,
                      "tpot_std_ms": row.stats["tpot_ms"]["std"], "tokens_per_s": row.tokens_per_s,
                      "tokens_per_s_std": row.stats["tokens_per_s"]["std"], "generate_ms": row.generate_ms,
                      "peak_memory_mb": row.peak_memory_mb, "repeats": row.repeats, "device": row.device,
                      **{k: row.environment[k] for k in ("ab_side", "ab_round") if k in row.environment}}, args.json)
    for ratio in interleaved_ratios(rows):
        print_record(ratio, args.json)
    return code
