"""'Recover accuracy': a post-training INT8 result that lost more than its max drop proposes QAT.

The proposal is a QAT job on the same FP32 parent, trained on the data the PTQ calibrated on and
scored on the data it was judged on, with defaults sized to that data (core.jobs.recovery.qat_defaults).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from core.compare.overview import metric_drop
from core.errors import AppError
from core.jobs.handlers.training import learns_labels, source_of
from core.measure.accuracy_tables import sort_metrics
from core.optimize.recipes import ALGORITHM_OPTIONS, AccuracyControlOptions, DropType, QatOptions
from core.options import JobKind, JobStatus, MeasureOptions
from core.tasks.metrics import METRICS
from db import repository as repo
from db.records import JobRecord

SAMPLES_SEEN = 3000  # training samples over all epochs: several epochs of a small set, two of a large one
EPOCHS = (2, 10)
# A plain PTQ has no max drop of its own: it is held to accuracy control's default.
PTQ_MAX_DROP = next(f.default for f in fields(AccuracyControlOptions) if f.name == "max_drop")
DISTILLATION = 0.5  # with labels, half the loss follows the FP32 parent: QAT aims at the parent, not past it


@dataclass(frozen=True)
class Recovery:
    """A PTQ job's miss and the QAT proposed to recover it.

    Attributes:
        metric: The task metric the miss is counted in (the accuracy-control job's, else the
            child's first task metric).
        drop: What the INT8 child lost from the parent, in the metric's units (a fraction for %).
        max_drop: The largest loss the job accepted (accuracy control's max drop, for a plain PTQ
            the accuracy-control default), absolute in the metric's units.
        blocker: Why the QAT cannot run here (no .pt2, no torch), or None.
        sizing: The defaults in words, for the page and the CLI.
    """

    job_id: int
    model_id: int
    dataset_id: int
    validation_id: int | None
    metric: str
    drop: float
    max_drop: float
    options: QatOptions
    sizing: str
    blocker: str | None


def qat_defaults(samples: int, *, labelled: bool, subset_size: int, preset) -> tuple[QatOptions, str]:
    """QAT options sized to a training set of `samples` samples, and the sizing in words.

    Epochs: enough to see about SAMPLES_SEEN samples (between 2 and 10); batch: 32, or an eighth of a
    small set; learning rate 1e-4 (NNCF: "a few epochs with a small learning rate"); with labels half
    of the loss is distillation from the FP32 parent. Calibration of the INT8 start as the PTQ's.
    """
    epochs = min(EPOCHS[1], max(EPOCHS[0], math.ceil(SAMPLES_SEEN / max(samples, 1))))
    batch = min(32, max(4, samples // 8))
    options = QatOptions(epochs=epochs, lr=1e-4, batch_size=batch, distillation_weight=DISTILLATION if labelled else 0.0,
                         subset_size=subset_size, preset=preset)
    loss = (f"cross-entropy on the labels with {DISTILLATION:.0%} distillation from the FP32 parent" if labelled
            else "distillation from the FP32 parent (the data has no labels)")
    return options, (f"{epochs} epochs of the {samples} training samples (about {epochs * samples} seen), batch {batch}, "
                     f"learning rate {options.lr:.0e}, {loss}; INT8 start calibrated on {min(subset_size, samples)} samples as the PTQ")


def recovery(job: JobRecord) -> Recovery | None:
    """The QAT proposal for a succeeded INT8 PTQ job whose child lost more than its max drop; None
    for any other job, or one within its drop, or one whose accuracy was not measured."""
    if job.kind not in (JobKind.QUANTIZE, JobKind.QUANTIZE_WITH_ACCURACY_CONTROL) or job.status != JobStatus.SUCCEEDED \
            or not job.result_model_id or job.dataset_id is None:
        return None
    options = ALGORITHM_OPTIONS[JobKind(job.kind)].from_dict(job.options["recipe"])
    child = repo.get_model(job.result_model_id)
    if isinstance(options, AccuracyControlOptions):
        metric, validation_id = child.recipe.get("metric") or options.metric, options.validation_dataset_id
        accepted, relative = options.max_drop, options.drop_type == DropType.RELATIVE
    else:
        measured = {a.metric for a in repo.list_accuracy(child.id)} & set(METRICS)
        metric, accepted, relative = next(iter(sort_metrics(measured)), None), PTQ_MAX_DROP, False
        validation_id = MeasureOptions.from_dict(job.options.get("measure", {})).dataset_id
    found = metric and metric_drop(job.model_id, child.id, metric)
    if not found:
        return None
    drop, reference = found
    max_drop = accepted * abs(reference) if relative else accepted
    if drop <= max_drop + 1e-12:
        return None
    data = repo.get_dataset(job.dataset_id)
    parent = repo.get_model(job.model_id)
    qat, sizing = qat_defaults(data.samples, labelled=learns_labels(parent, data), subset_size=options.subset_size,
                               preset=options.preset)
    try:
        source_of(parent)
        blocker = None
    except AppError as error:
        blocker = str(error)
    return Recovery(job_id=job.id, model_id=job.model_id, dataset_id=job.dataset_id, validation_id=validation_id,
                    metric=metric, drop=drop, max_drop=max_drop, options=qat, sizing=sizing, blocker=blocker)
