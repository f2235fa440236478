"""Quantization-aware training and pruning of a PyTorch model (.pt2) with NNCF, saved as an IR.

The parent's ExportedProgram is made trainable (core.optimize.torch_program). QAT starts from
NNCF's INT8 post-training quantization of it and fine-tunes with the quantizers in the graph.
Pruning sets weights to zero (nncf.prune), re-estimates batch norm and fine-tunes with the masks in
place, optionally followed by QAT (the masks stay, so the zeros do). Every epoch ends with a
checkpoint (model and optimizer state), so a cancelled or interrupted job that runs again
continues after its last finished epoch, not from zero.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.optimize.algorithms import OptimizeResult, finish_ir
from core.optimize.recipes import PruneMode, PruneOptions, QatOptions
from core.optimize.torch_program import to_openvino, trainable, weight_sparsity
from core.tasks.run import Validation, chunks

VALIDATION_BATCH = 64  # validation samples per forward pass of the curve's metric
LAST = "last.pt"  # the newest epoch's checkpoint; phase<N>.pt: the model when phase N ended


@dataclass(frozen=True)
class Epoch:
    """One finished epoch: mean training loss, the validation metric after it, the sparsity reached.
    Epoch 0 is where a phase starts (the PTQ model, the pruned model before fine-tuning): no loss."""

    phase: str
    epoch: int
    loss: float | None
    metric: str | None
    value: float | None
    sparsity: float | None
    seconds: float


@dataclass
class TrainingData:
    """What training reads: per-sample inputs (batch 1, as the lab's samples), class labels or None
    (then the loss follows the parent's outputs), and the validation pairs of the curve's metric."""

    inputs: list[Any]
    labels: list[int] | None
    classifier: bool  # its first output holds class scores: distillation matches their softmax
    input_names: list[str]
    input_shapes: list[list[int]]
    output_names: list[str]
    validation: list[tuple[Any, Any]]
    validate: Validation | None


def phases(options: QatOptions) -> list[tuple[str, int]]:
    """(phase, epochs) in the order they run."""
    if isinstance(options, PruneOptions):
        return [("prune", options.epochs)] + ([("qat", options.qat_epochs)] if options.then_qat else [])
    return [("qat", options.epochs)]


def loss_kind(options: QatOptions, data: TrainingData) -> str:
    """What the loss is, in the recipe's words."""
    if data.labels is None:
        how = "KL divergence to the FP32 parent's class probabilities" if data.classifier else \
            "mean squared error to the FP32 parent's outputs"
        return f"distillation: {how} (the data has no class labels)"
    if options.distillation_weight > 0:
        return (f"cross-entropy on the labels x {1 - options.distillation_weight:g} + KL divergence to the FP32 "
                f"parent's outputs x {options.distillation_weight:g}")
    return "cross-entropy on the class labels"


def train_model(source: Path, options: QatOptions, data: TrainingData, *, output_path: Path, checkpoints: Path,
                on_epoch: Callable[[Epoch], None], on_progress: Callable[[float, str], None],
                threads: int) -> OptimizeResult:
    """Trains source's model by options' phases on data, saves the IR at output_path.

    Args:
        source: The parent's .pt2.
        options: QatOptions or PruneOptions.
        data: Training inputs, labels and the validation of the curve's metric.
        output_path: Where model.xml (and .bin) go.
        checkpoints: A folder kept between attempts of the same job: a checkpoint found there is
            continued from.
        on_epoch: Called after each epoch (the curve's point).
        on_progress: Called with the fraction of all epochs done and a message, per training step.
        threads: torch threads (the job's share of the machine).
    """
    import torch

    started = time.perf_counter()
    torch.set_num_threads(threads)
    torch.manual_seed(options.seed)
    checkpoints.mkdir(parents=True, exist_ok=True)
    batches = _Batches(data, options)
    teacher = _teacher_outputs(source, batches) if data.labels is None or options.distillation_weight > 0 else None
    model = trainable(source)
    plan = phases(options)
    total = sum(epochs for _, epochs in plan)
    done_before = 0
    history: list[dict[str, Any]] = []
    resumed = None
    last = _load(checkpoints / LAST)
    for index, (phase, epochs) in enumerate(plan):
        model = _prepare(phase, model, options, batches, adapt=last is None)  # a resumed model has its own statistics
        optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
        losses = _RegularizedLoss(model, options) if phase == "prune" else None
        finished = _load(checkpoints / f"phase{index}.pt")
        first = 1
        if finished is not None:
            model.load_state_dict(finished["model"])
            history = finished["history"]
            first = epochs + 1
        elif last is not None and last["phase"] == index:
            model.load_state_dict(last["model"])
            optimizer.load_state_dict(last["optimizer"])
            history, first = last["history"], last["epoch"] + 1
            resumed = {"phase": phase, "epoch": last["epoch"]}
        if first == 1:  # where the phase starts: the PTQ model, or the pruned one before fine-tuning
            metric, value = _validate(model, data)
            start = Epoch(phase, 0, None, metric, value, _sparsity(model) if _pruned(options) else None, 0.0)
            history.append(asdict(start))
            on_epoch(start)
        for epoch in range(first, epochs + 1):
            began = time.perf_counter()
            loss = _epoch(model, optimizer, batches, teacher, options, losses, classifier=data.classifier,
                          seed=options.seed * 1000 + index * 100 + epoch,
                          on_step=lambda f: on_progress((done_before + epoch - 1 + f) / total,
                                                        f"{phase} epoch {epoch}/{epochs}"))
            metric, value = _validate(model, data)
            sparsity = _sparsity(model) if _pruned(options) else None
            record = Epoch(phase, epoch, loss, metric, value, sparsity, time.perf_counter() - began)
            history.append(asdict(record))
            _save(checkpoints / LAST, phase=index, epoch=epoch, model=model.state_dict(),
                  optimizer=optimizer.state_dict(), history=history)
            on_epoch(record)
        _save(checkpoints / f"phase{index}.pt", model=model.state_dict(), history=history)
        done_before += epochs
    on_progress(1.0, "converting the trained model to OpenVINO")
    converted = to_openvino(model, batches.example(), input_names=data.input_names, output_names=data.output_names,
                            shapes=data.input_shapes)
    return finish_ir(converted, output_path, started, training={
        "phases": [{"phase": p, "epochs": e} for p, e in plan], "loss": loss_kind(options, data),
        "samples": len(data.inputs), "history": history, "resumed_from": resumed, "threads": threads,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
        sparsity=weight_sparsity(converted))


class _Batches:
    """The training samples as torch tensors, shuffled per epoch by a seed (repeatable on resume)."""

    def __init__(self, data: TrainingData, options: QatOptions) -> None:
        import torch

        count = min(len(data.inputs), options.max_samples or len(data.inputs))
        first = data.inputs[0]
        names = data.input_names if isinstance(first, dict) else [""]
        self.inputs = [torch.from_numpy(np.concatenate([x[n] if isinstance(x, dict) else x for x in data.inputs[:count]]))
                       for n in names]
        self.labels = torch.tensor(data.labels[:count]) if data.labels is not None else None
        self.size, self.count = options.batch_size, count

    def example(self) -> tuple:
        return tuple(x[:1] for x in self.inputs)

    def order(self, seed: int) -> list:
        import torch

        return list(torch.randperm(self.count, generator=torch.Generator().manual_seed(seed)).split(self.size))

    def all(self) -> list:
        import torch

        return list(torch.arange(self.count).split(self.size))

    def take(self, index) -> tuple:
        return tuple(x[index] for x in self.inputs)


def _outputs(result) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def _teacher_outputs(source: Path, batches: _Batches) -> list:
    """The FP32 parent's outputs of every training sample, computed once (distillation's targets)."""
    import torch

    teacher = trainable(source).eval()
    with torch.no_grad():
        chunks = [_outputs(teacher(*batches.take(index))) for index in batches.all()]
    return [torch.cat([c[i] for c in chunks]) for i in range(len(chunks[0]))]


def _prepare(phase: str, model, options: QatOptions, batches: _Batches, *, adapt: bool):
    """The model with NNCF's training wrappers of phase: quantizers (initialised by PTQ) or pruning masks."""
    import nncf

    calibration = nncf.Dataset([batches.take(index) for index in batches.all()])
    if phase == "qat":
        subset = max(1, -(-options.subset_size // options.batch_size))  # batches of the asked sample count
        return nncf.quantize(model, calibration, subset_size=subset,
                             preset=nncf.QuantizationPreset(options.preset.value))
    assert isinstance(options, PruneOptions)
    mode = {PruneMode.MAGNITUDE_LOCAL: nncf.PruneMode.UNSTRUCTURED_MAGNITUDE_LOCAL,
            PruneMode.MAGNITUDE_GLOBAL: nncf.PruneMode.UNSTRUCTURED_MAGNITUDE_GLOBAL,
            PruneMode.REGULARIZATION: nncf.PruneMode.UNSTRUCTURED_REGULARIZATION_BASED}[options.mode]
    pruned = nncf.prune(model, mode, ratio=None if options.mode == PruneMode.REGULARIZATION else options.ratio,
                        examples_inputs=batches.example())
    if adapt and options.batch_norm_adaptation and options.mode != PruneMode.REGULARIZATION:
        pruned = nncf.batch_norm_adaptation(pruned, calibration_dataset=calibration)
    return pruned


class _RegularizedLoss:
    """Regularization-based pruning's extra loss (NNCF's RBLoss) pushing the masks to the ratio."""

    def __init__(self, model, options: PruneOptions) -> None:
        self.loss = None
        if options.mode == PruneMode.REGULARIZATION:
            from nncf.torch.function_hook.pruning.rb.losses import RBLoss

            self.loss = RBLoss(model, target_ratio=options.ratio)

    def __call__(self):
        return self.loss() if self.loss is not None else 0.0


def _epoch(model, optimizer, batches: _Batches, teacher, options: QatOptions, extra, *, classifier: bool,
           seed: int, on_step: Callable[[float], None]) -> float:
    """One pass over the shuffled samples; returns the mean loss per sample."""
    import torch.nn.functional as F

    model.train()
    total = 0.0
    order = batches.order(seed)
    weight = options.distillation_weight
    for step, index in enumerate(order, 1):
        outputs = _outputs(model(*batches.take(index)))
        if batches.labels is None and not classifier:
            loss = sum(F.mse_loss(out, target[index]) for out, target in zip(outputs, teacher))
        else:
            soft = F.kl_div(F.log_softmax(outputs[0], dim=-1), F.softmax(teacher[0][index], dim=-1),
                            reduction="batchmean") if teacher is not None else 0.0
            if batches.labels is None:
                loss = soft
            else:
                loss = (1 - weight) * F.cross_entropy(outputs[0], batches.labels[index]) + weight * soft
        if extra is not None:
            loss = loss + extra()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(index)
        on_step(step / len(order))
    model.eval()
    return total / batches.count


def _validate(model, data: TrainingData) -> tuple[str | None, float | None]:
    """The curve's metric of the model as it is now (torch, eval mode) on the validation pairs."""
    if data.validate is None or not data.validation:
        return None, None
    import torch

    triples = []
    with torch.no_grad():
        for chunk in chunks(data.validation, VALIDATION_BATCH):  # the samples have one shape: stacked
            feed = [torch.from_numpy(np.concatenate([x[n] if isinstance(x, dict) else x for x, _ in chunk]))
                    for n in (data.input_names if isinstance(chunk[0][0], dict) else [""])]
            found = [out.numpy() for out in _outputs(model(*feed))]
            triples += [(x, target, {name: out[i:i + 1] for name, out in zip(data.output_names, found)})
                        for i, (x, target) in enumerate(chunk)]
    value = data.validate.value(triples)
    return data.validate.metric, value


def _pruned(options: QatOptions) -> bool:
    return isinstance(options, PruneOptions)


def _sparsity(model) -> float:
    import nncf

    return float(nncf.pruning_statistic(model).pruning_ratio)


def _save(path: Path, **state: Any) -> None:
    """Writes a checkpoint whole or not at all (a kill mid-write leaves the previous one)."""
    import torch

    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def _load(path: Path) -> dict[str, Any] | None:
    import torch

    return torch.load(path, weights_only=True) if path.exists() else None
