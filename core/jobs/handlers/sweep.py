"""Recipe sweeps: one parent job, one child job per point, all measured alike.

The sweep's process runs its points one after another (one heavy job at a time per machine keeps
the timings honest), each as a job row of its own with its own status, progress and result model.
A re-run of an interrupted sweep resumes: finished points are kept, the others run again.
"""

from __future__ import annotations

from core.compare.overview import metric_drop
from core.errors import AppError
from core.intake.llm import is_llm
from core.jobs.handlers.llm import llm_parent_measured, measurer
from core.jobs.handlers.optimize import measure, parent_measured, parent_precisions
from core.optimize.recipes import SweepOptions
from core.options import JobStatus, MeasureOptions
from core.storage import resolve
from db import repository as repo
from db.records import JobRecord


def create_points(sweep_job: JobRecord, sweep: SweepOptions, measure_options: MeasureOptions) -> list[JobRecord]:
    """Stores one PENDING point job per combination (not queued: the sweep runs them)."""
    point_measure = MeasureOptions(dataset_id=measure_options.dataset_id, seconds=measure_options.seconds,
                                   device=measure_options.device, measure_parent=False,
                                   prompts_id=measure_options.prompts_id).to_dict()
    points = []
    for recipe in sweep.points():
        label = ", ".join(f"{name}={recipe[name]}" for name in sweep.grid)
        job, _ = repo.create_job(kind=sweep.algorithm, queue=sweep_job.queue, model_id=sweep_job.model_id,
                                 dataset_id=sweep_job.dataset_id,
                                 options={"recipe": recipe, "measure": point_measure,
                                          "sweep_job_id": sweep_job.id, "sweep_label": label},
                                 idempotency_key=f"sweep-{sweep_job.id}-{len(points)}")
        points.append(job)
    return points


def _within(parent, point: JobRecord, sweep: SweepOptions) -> bool:
    """Whether a finished point's child lost at most sweep.stop_max_drop of sweep.stop_metric from
    the parent (at the precision the child ran at; an agreement metric against its perfect value)."""
    child_id = repo.get_job(point.id).result_model_id
    found = None if child_id is None else metric_drop(parent.id, child_id, sweep.stop_metric)
    return found is not None and found[0] <= sweep.stop_max_drop + 1e-12


def run_sweep(job: JobRecord, reporter) -> None:
    """Measures the parent once, then runs every unfinished point in order.

    Each point runs in this process through reporter.run_child (the runner's), its progress
    followed by the sweep's own.
    """
    sweep = SweepOptions.from_dict(job.options["sweep"])
    measure_options = MeasureOptions.from_dict(job.options.get("measure", {}))
    points = repo.list_sweep_points(job.id) or create_points(job, sweep, measure_options)
    share = 1.0 / (len(points) + 1)
    parent = repo.get_model(job.model_id)
    repo.delete_measurements(job.id, parent.id)  # a resumed sweep measures its parent again, once
    language = is_llm(resolve(parent.path))
    if measure_options.measure_parent and (measure_options.remeasure_parent or not (
            llm_parent_measured if language else parent_measured)(parent, measure_options)):
        if language:
            measurer(parent)(parent, measure_options, reporter, job.id, 0.0, share)
        else:
            measure(parent, parent_precisions(measure_options.device), measure_options, reporter, job.id, 0.0, share)
    failed = 0
    for index, point in enumerate(points, 1):
        if sweep.stop_metric and any(_within(parent, done, sweep) for done in points[:index - 1]):
            if repo.get_job(point.id).status == JobStatus.PENDING:
                repo.request_cancel(point.id)  # an earlier point met the max drop: this one is not needed
            continue
        if point.status == JobStatus.SUCCEEDED:
            continue
        if point.status == JobStatus.RUNNING:
            # Points run only inside their sweep's process: one still RUNNING belongs to an attempt of
            # this sweep that was killed before the stale-job round marked it.
            repo.finish_job(point.id, JobStatus.INTERRUPTED, message="its sweep's process ended mid-point")
        if point.status != JobStatus.PENDING:
            repo.reset_for_rerun(point.id)
        start = share * index
        reporter.stage(f"point {index}/{len(points)}", start, start + share)
        if not repo.claim_job(point.id, pid=repo.get_job(job.id).pid or 0):
            continue
        failed += not reporter.run_child(point.id)
    if failed == len(points):
        raise AppError(f"All {failed} points of the sweep failed; open a point job on the Jobs page for "
                       "its error.")
