"""Commands that read results out: results, pick, export, backup, restore."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from core.cli.common import option_pairs, print_record, with_lab
from core.compare.generation import generation_rows
from core.compare.pick import pick_for_me
from core.compare.table import results_rows, table_csv, table_json
from core.deploy.backup import restore, write_backup
from core.deploy.export import export_model
from core.deploy.llm import OvmsLlmOptions
from core.errors import AppError, BadInputError
from core.measure.accuracy_tables import shown_value, stored_value
from core.options import ExportFormat, option_fields

METRIC_HELP = ("quality metric: top1 (default), top5, or against the parent top1_agreement, cosine, mse, "
               "max_abs_error (suffix :OUTPUT for one output of a multi-output model)")


def register(sub) -> dict:
    p = sub.add_parser("results", help="the comparison table: accuracy, latency, throughput, size per model")
    p.add_argument("--out", type=Path, help="write the table to FILE.csv or FILE.json instead")
    p.add_argument("--metric", default="top1", help=METRIC_HELP)
    p.add_argument("--llm", action="store_true", help="the language models' table instead: tokens/s, time to first "
                                                      "token, peak memory, word perplexity, answer similarity, size")
    p.add_argument("--point", help="with --llm: the generation point PROMPTxNEW (default: the one most models have)")
    p.add_argument("--host", action="append", default=[], metavar="HOST", help="latency and throughput from the runs "
                   "on this machine only (see `workers`; repeat for several)")
    p = sub.add_parser("pick", help="the best model on the metric-vs-latency front for a constraint")
    constraint = p.add_mutually_exclusive_group(required=True)
    constraint.add_argument("--latency-budget", type=float, metavar="MS", help="the best on --metric within MS")
    constraint.add_argument("--min-accuracy", type=float, metavar="VALUE",
                            help="the fastest with --metric >= VALUE (percent for top-1 / top-5 / top-1 agreement; "
                                 "for mse / max_abs_error: at most VALUE)")
    p.add_argument("--metric", default="top1", help=METRIC_HELP)
    p = sub.add_parser("export", help="write a model's IR zip, OVMS repository, DL Streamer line, "
                                      "benchmark_app command or NNCF script")
    p.add_argument("model_id", type=int)
    p.add_argument("--format", choices=[f.value for f in ExportFormat], default="ir")
    p.add_argument("--benchmark", type=int, help="measurement id for --format benchmark-app, or generation point id "
                                                 "for llm-bench (default: newest)")
    p.add_argument("--out", type=Path, help="file to write (text formats print to stdout without it)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="language models, --format ovms: a continuous-batching setting of graph.pbtxt ("
                        + ", ".join(f.name for f in option_fields(OvmsLlmOptions)) + "); repeatable")
    p = sub.add_parser("backup", help="write the whole lab (database + artifacts) to a zip")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("restore", help="replace the lab with a backup zip (the current state is kept)")
    p.add_argument("path", type=Path)
    return {"results": results, "pick": pick, "export": export, "backup": backup, "restore": restore_backup}


def _point(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        prompt, new = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise BadInputError(f"--point is PROMPTxNEW, e.g. 32x64; got {text!r}.") from None
    return prompt, new


def _llm_results(args) -> None:
    rows = generation_rows(_point(args.point))
    if args.out is not None:
        args.out.write_bytes((table_json if args.out.suffix.lower() == ".json" else table_csv)(rows))
        print_record({"path": str(args.out)}, args.json)
        return
    def shown(value, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    for row in rows:
        print_record(row, True) if args.json else print(
            f"#{row['model_id']} {row['model']:<36} word perplexity {shown(row['word_perplexity'], '.5g')}  "
            f"similarity {shown(row['similarity'], '.4f')}  {shown(row['tokens_per_s'], '.1f')} tokens/s "
            f"({shown(row.get('tokens_per_s_low'), '.1f')}-{shown(row.get('tokens_per_s_high'), '.1f')}, "
            f"{row['runs']} run(s))  TTFT {shown(row['ttft_ms'], '.3f')} ms  peak {shown(row['peak_memory_mb'], '.0f')} MB"
            f"  size {row['size_mb']:.3f} MB")


@with_lab
def results(args) -> None:
    if args.llm:
        return _llm_results(args)
    if args.out is not None:
        as_json = args.out.suffix.lower() == ".json"
        args.out.write_bytes((table_json if as_json else table_csv)(results_rows(args.host)))
        print_record({"path": str(args.out)}, args.json)
        return
    for row in results_rows(args.host):
        print_record(row, True) if args.json else print(
            f"#{row['model_id']} {row['model']:<36} {row['precision']:<5} {args.metric} "
            + (f"{shown_value(args.metric, row[args.metric]):.4g}" if row.get(args.metric) is not None else "  n/a ")
            + f"  latency {row['latency_ms']:.4f} ms ({row['latency_low_ms']:.4f}-{row['latency_high_ms']:.4f}, "
              f"{row['latency_runs']} run(s){', noisy' if row['noisy'] else ''})"
              f"  throughput {row['throughput_fps'] or 0:.0f} fps  size {row['size_mb']:.3f} MB")


@with_lab
def pick(args) -> None:
    chosen = pick_for_me(results_rows(), latency_budget_ms=args.latency_budget, metric=args.metric,
                         min_accuracy=stored_value(args.metric, args.min_accuracy))
    print_record({"model_id": chosen.row["model_id"], "model": chosen.row["model"],
                  "precision": chosen.row["precision"], "reason": chosen.reason,
                  "contenders": [r["key"] for r in chosen.contenders]}, args.json)


@with_lab
def export(args) -> None:
    fields = {f.name: f for f in option_fields(OvmsLlmOptions)}
    for name, _ in option_pairs(args.set):
        if name not in fields:
            raise AppError(f"--set {name}: graph.pbtxt has no such setting; it has {', '.join(fields)}.")
    content = export_model(args.model_id, format=args.format, benchmark_id=args.benchmark,
                           ovms={n: fields[n].parse(v) for n, v in option_pairs(args.set)})
    if args.out is None and isinstance(content, str):
        print(content, end="")
        return
    if args.out is None:
        raise AppError(f"--format {args.format} writes a zip; give --out FILE.zip.")
    args.out.write_bytes(content if isinstance(content, bytes) else content.encode())
    print_record({"path": str(args.out)}, args.json)


@with_lab
def backup(args) -> None:
    try:
        with args.out.open("wb") as out:
            summary = write_backup(out)
    except BaseException:
        args.out.unlink(missing_ok=True)  # no half-written (or 0-byte) backup left behind
        raise
    print_record({"path": str(args.out), **summary}, args.json)


@with_lab
def restore_backup(args) -> None:
    with args.path.open("rb") as handle:
        result = restore((args.path.name, handle))
    print_record(asdict(result), args.json)
