"""The training step of QAT and pruning jobs: the parent's .pt2 fine-tuned on a labelled dataset
(or distilled from the parent without labels), the curve stored per epoch (core.optimize.training).

The rest of the job (storing the child, measuring parent and child) is run_optimize's, as for any
optimization, so a trained child sits beside PTQ children on Compare.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import BadInputError
from core.intake.sources import label_kind
from core.jobs.handlers.inputs import load_samples, targets
from core.optimize.algorithms import OptimizeResult
from core.optimize.recipes import QatOptions
from core.optimize.torch_program import require_torch, torch_source
from core.optimize.training import Epoch, TrainingData, phases, train_model
from core.storage import checkpoint_folder, resolve
from core.tasks.classification import Classification
from core.tasks.registry import model_task
from db import repository as repo
from db import training
from db.records import DatasetRecord, JobRecord, ModelRecord

MAX_CURVE_SAMPLES = 500  # validation samples scored after each epoch


def train_threads() -> int:
    """torch threads of a training job: all cores but one, so the app server keeps answering."""
    return max(1, (os.cpu_count() or 1) - 1)


def source_of(parent: ModelRecord) -> Path:
    """The parent's .pt2, or an error saying what training needs."""
    require_torch("Training")
    found = torch_source(resolve(parent.path))
    if found is None:
        raise BadInputError(f"Model #{parent.id} '{parent.name}' was not added as a PyTorch ExportedProgram (.pt2), "
                            "so there is nothing to train: QAT and pruning fine-tune the model in PyTorch. Add the "
                            ".pt2 the model was exported to (torch.export.save), then train that model.")
    return found


def learns_labels(parent: ModelRecord, dataset: DatasetRecord) -> bool:
    """Whether training learns the dataset's labels (class labels of a classifier); else it learns
    the FP32 parent's outputs (distillation)."""
    return isinstance(model_task(parent)[0], Classification) and label_kind(dataset) == "class"


def run_training(options: QatOptions, parent: ModelRecord, job: JobRecord, output: Path,
                 reporter) -> tuple[OptimizeResult, int]:
    """Trains the parent by options on the job's dataset; returns the result and the samples used."""
    source = source_of(parent)
    # NNCF compiles its torch extension on first use, once per data dir (~40 s quiet, minutes under load):
    # under the data dir, and without NNCF's 60-second limit, which fails the job on a busy machine.
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(resolve("cache/torch-extensions")))
    os.environ.setdefault("NNCF_EXTENSION_LOAD_TIMEOUT", "0")
    reporter.stage("loading training data", 0.0, 0.04)
    dataset = repo.get_dataset(job.dataset_id)
    samples = load_samples(parent, dataset, options.max_samples, reporter, seed=options.seed)
    task, _ = model_task(parent)
    classes = learns_labels(parent, dataset)
    validation, validate = [], None
    measure_data = job.options.get("measure", {}).get("dataset_id")
    if measure_data:
        reporter.stage("loading validation data", 0.04, 0.06)
        validation, validate = targets(parent, repo.get_dataset(measure_data), load_samples(
            parent, repo.get_dataset(measure_data), MAX_CURVE_SAMPLES, reporter, seed=1, part="validation"), None)
    data = TrainingData(inputs=[x for x, _ in samples], labels=[int(y) for _, y in samples] if classes else None,
                        classifier=isinstance(task, Classification),
                        input_names=[p["name"] for p in parent.inputs], input_shapes=[p["shape"] for p in parent.inputs],
                        output_names=[p["name"] for p in parent.outputs],
                        validation=validation, validate=validate)
    plan = ", then ".join(f"{phase} {epochs} epoch{'s' * (epochs > 1)}" for phase, epochs in phases(options))
    reporter.stage(f"training ({plan}) on {len(samples)} samples, {train_threads()} threads", 0.06, 0.45)

    def on_epoch(epoch: Epoch) -> None:
        training.add_epoch(job.id, phase=epoch.phase, epoch=epoch.epoch, loss=epoch.loss, metric=epoch.metric,
                           value=epoch.value, sparsity=epoch.sparsity, seconds=epoch.seconds)
        shown = [f"loss {epoch.loss:.4f}" if epoch.loss is not None else "before training"] + \
            ([f"{epoch.metric} {epoch.value:.4f}"] if epoch.metric else []) + \
            ([f"sparsity {epoch.sparsity:.1%}"] if epoch.sparsity is not None else [])
        print(f"{epoch.phase} epoch {epoch.epoch}: {', '.join(shown)} ({epoch.seconds:.1f} s)", flush=True)

    result = train_model(source, options, data, output_path=output, checkpoints=checkpoint_folder(job.id),
                         on_epoch=on_epoch, on_progress=reporter.fraction, threads=train_threads())
    return result, len(samples)
