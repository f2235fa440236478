"""Commands that queue and follow jobs: quantize, quantize-with-accuracy-control, compress-weights,
fp16, qat, prune, sweep (a recipe sweep; with --batches a batch sweep), sensitivity, ignore-worst,
recover, jobs, workers, cancel, rerun, wait."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from core import lab
from core.cli.common import option_pairs, print_record, wait_for, with_lab
from core.cli.measure import batch_sweep, batch_sweep_arguments
from core.errors import AppError
from core.jobs import runner as jobs
from core.optimize.recipes import ALGORITHM_OPTIONS, SensitivityOptions, SweepOptions
from core.options import JobKind, MeasureOptions, option_fields
from core.tasks.registry import TASKS
from core.jobs.targets import live_workers
from db import repository as repo
from db import workers

ALGORITHM_HELP = {
    JobKind.QUANTIZE: "INT8 post-training quantization (nncf.quantize)",
    JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: "INT8 within a maximum accuracy drop on --validate's data",
    JobKind.COMPRESS_WEIGHTS: "weight compression INT8 / INT4 / NF4 ... (nncf.compress_weights)",
    JobKind.FP16: "FP16 weights",
    JobKind.QAT: "quantization-aware training of a .pt2 model: INT8 PTQ, then fine-tuning on --data for --epochs",
    JobKind.PRUNE: "pruning of a .pt2 model (nncf.prune) to --ratio zeros, then fine-tuning; --then-qat adds QAT",
}


def _job_arguments(p: argparse.ArgumentParser, model_type=int) -> None:
    p.add_argument("model_id", type=model_type, metavar="MODEL_ID")
    p.add_argument("--data", type=int, help="calibration dataset id")
    p.add_argument("--validate", type=int, help="validation dataset id: accuracy of parent and child, and the "
                                                "data accuracy control keeps the drop on")
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each benchmark run")
    p.add_argument("--remeasure-parent", action="store_true",
                   help="measure the parent again even when it has comparable quiet measurements")
    p.add_argument("--prompts", type=int, metavar="DATASET_ID", help="language models: a prompt set; the child's "
                                                                     "answers are compared with the parent's")
    p.add_argument("--task", choices=list(TASKS), help="set the model's task first: the metrics its measurements "
                                                       "and accuracy control use (kept for its later jobs)")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")


def _set_task(args) -> None:
    if args.task:
        lab.set_task(int(args.model_id), args.task)


def register(sub) -> dict:
    commands = {}
    for kind, help_text in ALGORITHM_HELP.items():
        p = sub.add_parser(kind.replace("_", "-"), help=help_text)
        _job_arguments(p)
        for field in _cli_fields(kind):
            p.add_argument(f"--{field.name.replace('_', '-')}", dest=f"opt_{field.name}", metavar=field.kind.upper(),
                           help=f"{field.help} {field.kind}" + (f": {', '.join(field.choices)}" if field.choices else "")
                           + f" (default {field.default})")
        commands[kind.replace("_", "-")] = optimize
    p = sub.add_parser("sweep", help="one job per combination of option values (grid search over a recipe); "
                                      "with --batches: a batch sweep of MODEL (as batch-sweep)")
    _job_arguments(p, model_type=str)  # a stored model id; with --batches also a model file
    p.add_argument("--algorithm", choices=[k.replace("_", "-") for k in ALGORITHM_HELP])
    batch_sweep_arguments(p, batches=None)
    p.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2",
                   help="values to sweep over, e.g. --grid mode=int4_sym,int4_asym --grid ratio=0.5,1")
    p.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE", help="shared option value")
    p.add_argument("--metric", help="accuracy control: the task metric of every point (as --set metric=...)")
    p = sub.add_parser("sensitivity", help="rank the INT8 layers of a model by how much of its task metric keeping "
                                            "each in float recovers (prints one JSON object per layer)")
    _job_arguments(p)
    p.add_argument("--metric", help="the task metric (default: the task's first: top1, map50, exact_match, ...)")
    p.add_argument("--subset-size", type=int, default=300, help="calibration samples")
    p.add_argument("--max-validation-samples", type=int, default=500)
    p = sub.add_parser("ignore-worst", help="INT8 with the k most costly layers of the newest sensitivity "
                                             "ranking in float (several k: a sweep, one child per k)")
    p.add_argument("model_id", type=int, metavar="MODEL_ID")
    p.add_argument("--k", required=True, help="how many layers stay float, e.g. 2 or 1,2,3,4")
    p.add_argument("--max-drop", type=float, help="with several k: stop at the first k whose drop in the ranking's "
                                                   "metric is at most this (0.01 = 1 point of a %% metric)")
    p.add_argument("--validate", type=int, help="validation dataset id (accuracy of parent and children)")
    p.add_argument("--seconds", type=float, default=3.0, help="duration of each benchmark run")
    p.add_argument("--remeasure-parent", action="store_true")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends")
    p = sub.add_parser("recover", help="QAT of the FP32 parent of an INT8 job that lost more than its max drop, "
                                        "with defaults sized to its data (the Optimize page's 'Recover accuracy')")
    p.add_argument("job_id", type=int, metavar="JOB_ID")
    p.add_argument("--wait", action="store_true", help="follow the QAT job until it ends")
    p = sub.add_parser("jobs", help="list jobs")
    p.add_argument("--limit", type=int, default=20)
    p = sub.add_parser("workers", help="the live workers: host, queue (the --target that reaches it), devices, "
                                        "last seen (by the database's clock)")
    p.add_argument("--all", action="store_true", help="also workers not seen within OPTLAB_STALE_SECONDS")
    for name in ("cancel", "rerun", "wait"):
        p = sub.add_parser(name, help=f"{name} a job")
        p.add_argument("job_id", type=int)
    return {**commands, "sweep": sweep, "sensitivity": sensitivity, "ignore-worst": ignore_worst, "recover": recover,
            "jobs": list_jobs, "workers": list_workers, "cancel": cancel, "rerun": rerun, "wait": wait}


# The one validation flag: --validate is also the dataset accuracy control keeps the drop on.
FROM_VALIDATE = "validation_dataset_id"


def _cli_fields(kind: JobKind):
    return [f for f in option_fields(ALGORITHM_OPTIONS[kind]) if f.name != FROM_VALIDATE]


def _from_validate(kind: JobKind, args) -> dict:
    """{validation_dataset_id: --validate} for the algorithms that take one; refuses a missing one."""
    if FROM_VALIDATE not in {f.name for f in option_fields(ALGORITHM_OPTIONS[kind])}:
        return {}
    if args.validate is None:
        raise AppError(f"{kind.replace('_', '-')} needs validation data to keep the accuracy drop on: add "
                       "--validate DATASET_ID (see `datasets`).")
    return {FROM_VALIDATE: args.validate}


def _submitted(job, args) -> int:
    print_record({"job_id": job.id, "status": job.status}, args.json)
    return wait_for(job.id) if args.wait else 0


def _measure_options(args) -> MeasureOptions:
    return MeasureOptions(dataset_id=args.validate, seconds=args.seconds, remeasure_parent=args.remeasure_parent,
                          prompts_id=getattr(args, "prompts", None))


@with_lab
def optimize(args) -> int:
    kind = JobKind(args.command.replace("-", "_"))
    values = {f.name: f.parse(getattr(args, f"opt_{f.name}")) for f in _cli_fields(kind)
              if getattr(args, f"opt_{f.name}") is not None} | _from_validate(kind, args)
    _set_task(args)
    return _submitted(lab.submit_optimization(kind=kind, model_id=args.model_id, dataset_id=args.data,
                                              options=ALGORITHM_OPTIONS[kind].from_dict(values),
                                              measure=_measure_options(args)), args)


def _sweep_options(args) -> SweepOptions:
    algorithm = JobKind(args.algorithm.replace("-", "_"))
    fields = {f.name: f for f in _cli_fields(algorithm)}
    shared = args.set + ([f"metric={args.metric}"] if args.metric else [])
    for name, _ in option_pairs(args.grid + shared):
        if name not in fields:
            raise AppError(f"{algorithm} has no option '{name}'; it has {', '.join(fields)}.")
    return SweepOptions(algorithm=algorithm,
                        base={n: fields[n].parse(v) for n, v in option_pairs(shared)} | _from_validate(algorithm, args),
                        grid={n: fields[n].parse_many(v) for n, v in option_pairs(args.grid)})


def sweep(args) -> int:
    if args.batches:
        return batch_sweep(args, model=args.model_id)
    if not args.algorithm:
        raise AppError("sweep needs --algorithm (a recipe sweep) or --batches (a batch sweep).")
    if not args.model_id.isdigit():
        raise AppError(f"A recipe sweep runs on a stored model: give its id (see `models`), not "
                       f"'{args.model_id}'; add a file with `add-model` first.")
    return _recipe_sweep(args)


@with_lab
def _recipe_sweep(args) -> int:
    _set_task(args)
    return _submitted(lab.submit_sweep(sweep=_sweep_options(args), model_id=int(args.model_id),
                                       dataset_id=args.data, measure=_measure_options(args)), args)


@with_lab
def sensitivity(args) -> int:
    if args.data is None or args.validate is None:
        raise AppError("sensitivity needs --data (calibration) and --validate (the data the metric is measured on).")
    _set_task(args)
    options = SensitivityOptions(validation_dataset_id=args.validate, metric=args.metric, subset_size=args.subset_size,
                                 max_validation_samples=args.max_validation_samples)
    job = lab.submit_sensitivity(model_id=args.model_id, dataset_id=args.data, options=options)
    if not args.wait:
        return _submitted(job, args)
    code = wait_for(job.id)
    for ranking in repo.list_sensitivities(args.model_id):
        if ranking.job_id == job.id:
            for rank, layer in enumerate(ranking.layers, 1):
                print_record({"rank": rank, "layer": layer["name"], "type": layer["type"], "metric": ranking.metric,
                              "value": layer["value"], "recovered": layer["recovered"],
                              "int8_value": ranking.int8_value, "float_value": ranking.float_value}, True)
    return code


@with_lab
def ignore_worst(args) -> int:
    rankings = repo.list_sensitivities(args.model_id)
    if not rankings:
        raise AppError(f"Model #{args.model_id} has no sensitivity ranking yet; run `sensitivity {args.model_id} "
                       "--data ID --validate ID --wait` first.")
    try:
        ks = [int(k) for k in args.k.split(",")]
    except ValueError as error:
        raise AppError(f"--k takes whole numbers separated by commas, e.g. 1,2,3 ({error}).") from error
    return _submitted(lab.submit_ignoring_worst(rankings[-1].id, args.model_id, ks, measure=_measure_options(args),
                                                max_drop=args.max_drop), args)


@with_lab
def recover(args) -> int:
    found = lab.recovery_for(args.job_id)
    if found is not None:  # what is proposed, before the job's id
        print(f"Job #{args.job_id} lost {found.drop:.4g} of {found.metric} (accepted {found.max_drop:.4g}); QAT: "
              f"{found.sizing}.", file=sys.stderr)
    return _submitted(lab.submit_recovery(args.job_id), args)


@with_lab
def list_jobs(args) -> None:
    for row in repo.list_jobs(args.limit):
        print_record(asdict(row), True) if args.json else print(f"#{row.id} {row.kind} {row.status}")


@with_lab
def list_workers(args) -> None:
    for worker in workers.list_workers() if args.all else live_workers():
        row = {"host": worker.host, "queue": worker.queue, "devices": worker.devices, "last_seen": worker.last_seen,
               "cpu": worker.cpu, "openvino": worker.openvino, "pid": worker.pid}
        print_record(row, True) if args.json else print(
            f"{worker.queue}: {worker.host} ({', '.join(worker.devices) or 'no devices'}; {worker.cpu}; OpenVINO "
            f"{worker.openvino}) last seen {worker.last_seen:%Y-%m-%d %H:%M:%S} UTC")


@with_lab
def cancel(args) -> None:
    print_record(asdict(jobs.cancel(args.job_id)), args.json)


@with_lab
def rerun(args) -> None:
    print_record(asdict(jobs.rerun(args.job_id)), args.json)


@with_lab
def wait(args) -> int:
    return wait_for(args.job_id)
