"""`python -m core ...`: the lab's command line, over the same core the pages use."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.errors import AppError
from core.options import (BenchmarkOptions, JobStatus, MeasureOptions, PerformanceHint,
                          Precision, QuantizationPreset, QuantizeOptions)


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

    ensure_local_worker()
    last = None
    while True:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Optimization Lab CLI")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("add-model", help="import a model file (.onnx, .xml with its .bin, .tflite, .zip)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    p = sub.add_parser("add-data", help="import a zip of images (class subfolders = labels)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    sub.add_parser("demo", help="register the bundled demo model and data")
    sub.add_parser("models", help="list models")
    sub.add_parser("datasets", help="list datasets")
    p = sub.add_parser("quantize", help="submit an INT8 post-training quantization job")
    p.add_argument("model_id", type=int)
    p.add_argument("--data", type=int, required=True, help="calibration dataset id")
    p.add_argument("--validate", type=int, help="validation dataset id (accuracy of parent and child)")
    p.add_argument("--preset", choices=[x.value for x in QuantizationPreset], default="performance")
    p.add_argument("--subset-size", type=int, default=300)
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each benchmark run")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
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
    p = sub.add_parser("jobs", help="list jobs")
    p.add_argument("--limit", type=int, default=20)
    for name in ("cancel", "rerun", "wait"):
        p = sub.add_parser(name, help=f"{name} a job")
        p.add_argument("job_id", type=int)
    p = sub.add_parser("export", help="write a model's IR zip")
    p.add_argument("model_id", type=int)
    p.add_argument("--out", type=Path, required=True)
    for p in sub.choices.values():
        p.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except AppError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args) -> int:
    if args.command == "benchmark":
        from core.benchmark import run_benchmark

        options = BenchmarkOptions(device=args.device, hint=args.hint, batch=args.batch,
                                   precision=args.precision, seconds=args.seconds,
                                   iterations=args.iterations, streams=args.streams,
                                   infer_requests=args.requests)
        _print(run_benchmark(args.model_path, options).to_dict(), args.json)
        return 0

    from dataclasses import asdict

    from core import jobs, lab
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    if args.command == "add-model":
        _print(asdict(lab.add_model_from_path(args.path, name=args.name)), args.json)
    elif args.command == "add-data":
        _print(asdict(lab.add_image_dataset_from_path(args.path, name=args.name)), args.json)
    elif args.command == "demo":
        model, calibration, validation = lab.ensure_demo()
        _print({"model_id": model.id, "calibration_id": calibration.id,
                "validation_id": validation.id}, args.json)
    elif args.command in ("models", "datasets", "jobs"):
        rows = {"models": repo.list_models, "datasets": repo.list_datasets,
                "jobs": lambda: repo.list_jobs(args.limit)}[args.command]()
        for row in rows:
            _print(asdict(row), True) if args.json else print(
                f"#{row.id} {getattr(row, 'name', getattr(row, 'kind', ''))} "
                f"{getattr(row, 'status', getattr(row, 'format', ''))}")
    elif args.command == "quantize":
        job = lab.submit_quantize(
            model_id=args.model_id, calibration_id=args.data,
            options=QuantizeOptions(preset=args.preset, subset_size=args.subset_size),
            measure=MeasureOptions(dataset_id=args.validate, seconds=args.seconds))
        _print({"job_id": job.id, "status": job.status}, args.json)
        return _wait(job.id) if args.wait else 0
    elif args.command == "cancel":
        _print(asdict(jobs.cancel(args.job_id)), args.json)
    elif args.command == "rerun":
        _print(asdict(jobs.rerun(args.job_id)), args.json)
    elif args.command == "wait":
        return _wait(args.job_id)
    elif args.command == "export":
        from core.export import ir_zip

        args.out.write_bytes(ir_zip(repo.get_model(args.model_id)))
        _print({"path": str(args.out)}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
