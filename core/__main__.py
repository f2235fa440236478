"""`python -m core ...`: the lab's command line, over the same core the pages use."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.errors import AppError
from core.measure_options import BatchSweepOptions, ProfileOptions
from core.options import (BenchmarkOptions, ExportFormat, JobKind, JobStatus, MeasureOptions, PerformanceHint,
                          Precision, option_fields)
from core.recipes import ALGORITHM_OPTIONS, SweepOptions


def _print(obj, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, default=str))
    else:
        for key, value in obj.items():
            print(f"{key}: {value}")


def _wait(job_id: int) -> int:
    """Follows a job until it finishes (starting a local worker if none runs); exit code 0 on success."""
    from core.worker import ensure_local_worker
    from db import repository as repo

    last = None
    while True:
        # Checked on every poll: a worker started by an earlier command may just be exiting.
        ensure_local_worker()
        job = repo.get_job(job_id)
        line = f"job {job.id} {job.status} {job.progress:.0%} {job.stage}"
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        if JobStatus(job.status).finished:
            if job.message:
                print(job.message, file=sys.stderr)
            return 0 if job.status == JobStatus.SUCCEEDED else 1
        time.sleep(1.0)


ALGORITHM_HELP = {
    JobKind.QUANTIZE: "INT8 post-training quantization (nncf.quantize)",
    JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: "INT8 within a maximum accuracy drop (needs --validation-dataset-id)",
    JobKind.COMPRESS_WEIGHTS: "weight compression INT8 / INT4 / NF4 ... (nncf.compress_weights)",
    JobKind.FP16: "FP16 weights",
}


def _job_arguments(p: argparse.ArgumentParser, model_type=int) -> None:
    p.add_argument("model_id", type=model_type, metavar="MODEL_ID")
    p.add_argument("--data", type=int, help="calibration dataset id")
    p.add_argument("--validate", type=int, help="validation dataset id (accuracy of parent and child)")
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each benchmark run")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")


def _batch_sweep_arguments(p: argparse.ArgumentParser, *, batches: str | None) -> None:
    p.add_argument("--batches", default=batches, help="batch sizes, e.g. 1,2,4,8")
    p.add_argument("--streams", default="", help="e.g. 1,2 for a batch x streams grid")
    p.add_argument("--auto-batch", action="store_true", help="add automatic batching on as a dimension")
    p.add_argument("--hint", choices=[x.value for x in PerformanceHint], default="throughput")
    p.add_argument("--precision", choices=[x.value for x in Precision], default="default")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--device", default="CPU")
    p.add_argument("--threads", type=int, help="INFERENCE_NUM_THREADS of every point, like -nthreads")


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise AppError(f"'{item}' is not OPTION=VALUE.")
        pairs.append((name.strip().replace("-", "_"), value))
    return pairs


def _sweep_options(args) -> SweepOptions:
    algorithm = JobKind(args.algorithm.replace("-", "_"))
    fields = {f.name: f for f in option_fields(ALGORITHM_OPTIONS[algorithm])}
    for name, _ in _pairs(args.grid + args.set):
        if name not in fields:
            raise AppError(f"{algorithm} has no option '{name}'; it has {', '.join(fields)}.")
    return SweepOptions(algorithm=algorithm,
                        base={n: fields[n].parse(v) for n, v in _pairs(args.set)},
                        grid={n: fields[n].parse_many(v) for n, v in _pairs(args.grid)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Optimization Lab CLI")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("add-model", help="import a model file (.onnx, .xml with its .bin, .tflite, .zip)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    p.add_argument("--from-server", action="store_true",
                   help="path is below OPTLAB_IMPORT_ROOT: read in place, only the IR is written (big models)")
    p = sub.add_parser("add-data", help="import a zip of images (class subfolders = labels), or a "
                                        ".npy / .npz (one array per model input, optional 'labels'), or "
                                        "a table (.csv, .parquet, .jsonl, zipped save_to_disk folder)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    p.add_argument("--label-column", help="tables: the column with integer class labels")
    p.add_argument("--columns", default="", help="tables: columns per model input, 'image=px; features=a,b'")
    p.add_argument("--width", type=int, default=0, help="images: resize width (default: the model input's)")
    p.add_argument("--height", type=int, default=0, help="images: resize height (default: the model input's)")
    p.add_argument("--layout", choices=["NCHW", "NHWC"], default="", help="images (default: from the model)")
    p.add_argument("--color", choices=["RGB", "BGR", "GRAY"], default="", help="images (default: from channels)")
    p.add_argument("--mean", default="0", help="images: per-channel mean subtracted, e.g. 123.7,116.3,103.5")
    p.add_argument("--scale", default="1", help="images: per-channel divisor after the mean, e.g. 58.4,57.1,57.4")
    p.add_argument("--dtype", default="float32", help="images: tensor type (float32, float16, uint8, int8)")
    sub.add_parser("demo", help="register the bundled demo model and data")
    sub.add_parser("models", help="list models")
    sub.add_parser("datasets", help="list datasets")
    for kind, help_text in ALGORITHM_HELP.items():
        p = sub.add_parser(kind.replace("_", "-"), help=help_text)
        _job_arguments(p)
        for field in option_fields(ALGORITHM_OPTIONS[kind]):
            p.add_argument(f"--{field.name.replace('_', '-')}", dest=f"opt_{field.name}", metavar=field.kind.upper(),
                           help=f"{field.kind}" + (f": {', '.join(field.choices)}" if field.choices else "")
                           + f" (default {field.default})")
    p = sub.add_parser("sweep", help="one job per combination of option values (grid search over a recipe); "
                                      "with --batches: a batch sweep of MODEL (as batch-sweep)")
    _job_arguments(p, model_type=str)  # a stored model id; with --batches also a model file
    p.add_argument("--algorithm", choices=[k.replace("_", "-") for k in ALGORITHM_HELP])
    _batch_sweep_arguments(p, batches=None)
    p.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2",
                   help="values to sweep over, e.g. --grid mode=int4_sym,int4_asym --grid ratio=0.5,1")
    p.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", help="shared option value")
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
    _batch_sweep_arguments(p, batches="1,2,4,8")
    p = sub.add_parser("profile", help="per-layer time and executed precision (performance counters)")
    p.add_argument("model_path", type=Path)
    p.add_argument("--precision", choices=[x.value for x in Precision], default="default")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--device", default="CPU")
    p = sub.add_parser("results", help="the comparison table: accuracy, latency, throughput, size per model")
    p.add_argument("--out", type=Path, help="write the table to FILE.csv or FILE.json instead")
    p = sub.add_parser("pick", help="the best model on the accuracy-vs-latency front for a constraint")
    constraint = p.add_mutually_exclusive_group(required=True)
    constraint.add_argument("--latency-budget", type=float, metavar="MS", help="most accurate within MS")
    constraint.add_argument("--min-accuracy", type=float, metavar="PERCENT", help="fastest with top-1 >= PERCENT")
    p = sub.add_parser("jobs", help="list jobs")
    p.add_argument("--limit", type=int, default=20)
    for name in ("cancel", "rerun", "wait"):
        p = sub.add_parser(name, help=f"{name} a job")
        p.add_argument("job_id", type=int)
    p = sub.add_parser("export", help="write a model's IR zip, OVMS repository, DL Streamer line, "
                                      "benchmark_app command or NNCF script")
    p.add_argument("model_id", type=int)
    p.add_argument("--format", choices=[f.value for f in ExportFormat], default="ir")
    p.add_argument("--benchmark", type=int, help="measurement id for --format benchmark-app (default: newest)")
    p.add_argument("--out", type=Path, help="file to write (text formats print to stdout without it)")
    p = sub.add_parser("backup", help="write the whole lab (database + artifacts) to a zip")
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("restore", help="replace the lab with a backup zip (the current state is kept)")
    p.add_argument("path", type=Path)
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _model_file(model: str) -> Path:
    """The model file given, or the IR of a stored model when model is an id that is no file."""
    if Path(model).exists() or not model.isdigit():
        return Path(model)
    from core import lab
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    return lab.resolve(repo.get_model(int(model)).path)


def _run(args) -> int:
    if args.command == "benchmark":
        from core.benchmark import run_benchmark

        options = BenchmarkOptions(device=args.device, hint=args.hint, batch=args.batch,
                                   precision=args.precision, seconds=args.seconds,
                                   iterations=args.iterations, streams=args.streams,
                                   infer_requests=args.requests, auto_batch=args.auto_batch,
                                   threads=args.threads)
        if args.versus is not None:
            from dataclasses import asdict

            from core.measure import interleaved_ratio

            ratio = interleaved_ratio(args.model_path, args.versus, options, rounds=args.repeats)
            _print({"latency_ratio": asdict(ratio.latency_ratio),
                    "throughput_ratio": asdict(ratio.throughput_ratio)}, args.json)
            return 0
        for repeat in range(args.repeats):
            _print({**run_benchmark(args.model_path, options).to_dict(), "repeat": repeat}, args.json)
        return 0
    if args.command == "sweep" and args.batches:
        args.model_path = _model_file(args.model_id)
    elif args.command == "sweep":
        if not args.algorithm:
            raise AppError("sweep needs --algorithm (a recipe sweep) or --batches (a batch sweep).")
        if not args.model_id.isdigit():
            raise AppError(f"A recipe sweep runs on a stored model: give its id (see `models`), not "
                           f"'{args.model_id}'; add a file with `add-model` first.")
        args.model_id = int(args.model_id)
    if args.command == "batch-sweep" or (args.command == "sweep" and args.batches):
        from core.measure import run_batch_sweep

        options = BatchSweepOptions(batches=args.batches.split(","), streams=[s for s in args.streams.split(",") if s],
                                    auto_batch=(False, True) if args.auto_batch else (False,), hint=args.hint,
                                    precision=args.precision, seconds=args.seconds, repeats=args.repeats,
                                    device=args.device, threads=args.threads)
        run_batch_sweep(args.model_path, options, on_result=lambda r: _print(r.to_dict(), args.json),
                        on_point=lambda n, total, point: print(f"point {n}/{total}: {point.label}",
                                                               file=sys.stderr, flush=True))
        return 0
    if args.command == "profile":
        from core.profile import by_layer_type, profile_model

        result = profile_model(args.model_path, ProfileOptions(precision=args.precision, batch=args.batch,
                                                               iterations=args.iterations, device=args.device))
        _print({"device": result.device, "precision": result.precision, "total_ms": result.total_ms,
                "by_type": by_layer_type(result.layer_dicts()), "layers": result.layer_dicts()}, args.json)
        return 0

    from dataclasses import asdict

    from core import jobs, lab
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    if args.command == "add-model" and args.from_server:
        from core.model_intake import import_model_from_server

        _print(asdict(import_model_from_server(str(args.path), name=args.name)), args.json)
    elif args.command == "add-model":
        _print(asdict(lab.add_model_from_path(args.path, name=args.name)), args.json)
    elif args.command == "add-data":
        from core.data_tables import parse_columns
        from core.sources import add_data_from_path, image_spec

        spec = image_spec(width=args.width, height=args.height, layout=args.layout, color=args.color,
                          mean=args.mean, scale=args.scale, dtype=args.dtype)
        _print(asdict(add_data_from_path(args.path, name=args.name, label_column=args.label_column,
                                         columns=parse_columns(args.columns), preprocessing=spec)), args.json)
    elif args.command == "demo":
        model, calibration, validation = lab.ensure_demo()
        _print({"model_id": model.id, "calibration_id": calibration.id,
                "validation_id": validation.id}, args.json)
    elif args.command == "results" and args.out is not None:
        from core.compare import results_rows, table_csv, table_json

        as_json = args.out.suffix.lower() == ".json"
        args.out.write_bytes((table_json if as_json else table_csv)(results_rows()))
        _print({"path": str(args.out)}, args.json)
    elif args.command == "pick":
        from core.compare import pick_for_me, results_rows

        pick = pick_for_me(results_rows(), latency_budget_ms=args.latency_budget,
                           min_accuracy=None if args.min_accuracy is None else args.min_accuracy / 100)
        _print({"model_id": pick.row["model_id"], "model": pick.row["model"],
                "precision": pick.row["precision"], "reason": pick.reason}, args.json)
    elif args.command == "results":
        from core.compare import results_rows

        for row in results_rows():
            _print(row, True) if args.json else print(
                f"#{row['model_id']} {row['model']:<36} {row['precision']:<5} top1 "
                + (f"{row['top1']:.2%}" if row["top1"] is not None else "  n/a ")
                + f"  latency {row['latency_ms']:.4f} ms  throughput {row['throughput_fps'] or 0:.0f} fps"
                  f"  size {row['size_mb']:.3f} MB")
    elif args.command in ("models", "datasets", "jobs"):
        rows = {"models": repo.list_models, "datasets": repo.list_datasets,
                "jobs": lambda: repo.list_jobs(args.limit)}[args.command]()
        for row in rows:
            _print(asdict(row), True) if args.json else print(
                f"#{row.id} {getattr(row, 'name', getattr(row, 'kind', ''))} "
                f"{getattr(row, 'status', getattr(row, 'format', ''))}")
    elif args.command.replace("-", "_") in ALGORITHM_HELP or args.command == "sweep":
        measure = MeasureOptions(dataset_id=args.validate, seconds=args.seconds)
        if args.command == "sweep":
            job = lab.submit_sweep(sweep=_sweep_options(args), model_id=args.model_id, dataset_id=args.data,
                                   measure=measure)
        else:
            kind = JobKind(args.command.replace("-", "_"))
            fields = option_fields(ALGORITHM_OPTIONS[kind])
            values = {f.name: f.parse(getattr(args, f"opt_{f.name}")) for f in fields
                      if getattr(args, f"opt_{f.name}") is not None}
            job = lab.submit_optimization(kind=kind, model_id=args.model_id, dataset_id=args.data,
                                          options=ALGORITHM_OPTIONS[kind].from_dict(values), measure=measure)
        _print({"job_id": job.id, "status": job.status}, args.json)
        return _wait(job.id) if args.wait else 0
    elif args.command == "ab":
        from core.compare_ab import interleaved_summary, submit_interleaved

        benchmark = BenchmarkOptions(hint=args.hint, seconds=args.seconds, threads=args.threads)
        job = submit_interleaved(args.key_a, args.key_b, benchmark=benchmark, rounds=args.rounds)
        _print({"job_id": job.id, "status": job.status}, args.json)
        if args.wait:
            code = _wait(job.id)
            for row in interleaved_summary(args.key_a, args.key_b):
                _print(row, args.json)
            return code
    elif args.command == "cancel":
        _print(asdict(jobs.cancel(args.job_id)), args.json)
    elif args.command == "rerun":
        _print(asdict(jobs.rerun(args.job_id)), args.json)
    elif args.command == "wait":
        return _wait(args.job_id)
    elif args.command == "export":
        from core.export import export_model

        content = export_model(args.model_id, format=args.format, benchmark_id=args.benchmark)
        if args.out is None and isinstance(content, str):
            print(content, end="")
            return 0
        if args.out is None:
            raise AppError(f"--format {args.format} writes a zip; give --out FILE.zip.")
        args.out.write_bytes(content if isinstance(content, bytes) else content.encode())
        _print({"path": str(args.out)}, args.json)
    elif args.command == "backup":
        from core.backup import write_backup

        with args.out.open("wb") as out:
            _print({"path": str(args.out), **write_backup(out)}, args.json)
    elif args.command == "restore":
        from core.backup import restore

        with args.path.open("rb") as handle:
            result = restore((args.path.name, handle))
        _print(asdict(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
