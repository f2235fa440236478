"""Model optimization with NNCF and OpenVINO: INT8 quantization (plain and accuracy-controlled),
weight compression, and FP16 weights. Each function writes an IR and returns what it did."""

from __future__ import annotations

import dataclasses
import logging
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator


from core.errors import BadInputError
from core.intake.models import ir_size, read_model, save_ir, weight_layers, weight_precisions
from core.optimize.recipes import AccuracyControlOptions, CompressWeightsOptions, ModelType, QuantizeOptions
from core.tasks.base import TaskSettings
from core.tasks.classification import Classification
from core.tasks.run import Validation

Sample = Any  # one model call's input: an array, or a dict of arrays for multi-input models


@dataclass(frozen=True)
class OptimizeResult:
    """Where the optimized IR went, what the run cost and what changed in the graph."""

    path: Path
    seconds: float
    size_bytes: int
    details: dict[str, Any] = field(default_factory=dict)


def samples_digest(samples: Sequence[Sample]) -> str:
    """A short content hash of calibration samples (arrays, or dicts / tuples of arrays): the key of
    their statistics cache, so a re-split dataset or other texts never reuse stale statistics."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()

    def add(value) -> None:
        if isinstance(value, dict):
            for key in sorted(value):
                digest.update(str(key).encode())
                add(value[key])
        elif isinstance(value, (list, tuple)):
            for item in value:
                add(item)
        else:
            array = np.ascontiguousarray(value)
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())

    for sample in samples:
        add(sample)
    return f"n{len(samples)}-{digest.hexdigest()[:16]}"


def _counting(samples: Sequence[Sample], on_sample: Callable[[int], None] | None):
    """An nncf.Dataset whose transform reports how many samples NNCF has consumed."""
    import nncf

    consumed = 0

    def transform(sample: Sample) -> Sample:
        nonlocal consumed
        consumed += 1
        if on_sample:
            on_sample(consumed)
        return sample

    return nncf.Dataset(list(samples), transform)


def _ignored_scope(options: QuantizeOptions):
    import nncf

    if not (options.ignored_names or options.ignored_types or options.ignored_patterns):
        return None
    return nncf.IgnoredScope(names=list(options.ignored_names), types=list(options.ignored_types),
                             patterns=list(options.ignored_patterns))


def _quantize_kwargs(options: QuantizeOptions, samples: int) -> dict[str, Any]:
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, AdvancedSmoothQuantParameters

    kwargs: dict[str, Any] = dict(
        preset=nncf.QuantizationPreset(options.preset.value), subset_size=min(options.subset_size, samples),
        fast_bias_correction=options.fast_bias_correction,
        target_device=nncf.TargetDevice[options.target_device.value], ignored_scope=_ignored_scope(options))
    if options.model_type == ModelType.TRANSFORMER:
        kwargs["model_type"] = nncf.ModelType.TRANSFORMER
    if options.smooth_quant_alpha is not None:
        kwargs["advanced_parameters"] = AdvancedQuantizationParameters(
            smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=options.smooth_quant_alpha))
    return kwargs


@contextmanager
def _nncf_errors() -> Iterator[None]:
    """NNCF's validation errors (an ignored name that does not exist, ...) as BadInputError."""
    import nncf

    try:
        yield
    except nncf.InvalidGroupSizeError as error:
        layers = re.findall(r'"([^"]+)" \(channel size: (\d+)\)', str(error))
        named = ", ".join(f"{name} ({channels})" for name, channels in layers[:5]) + (" ..." if len(layers) > 5 else "")
        raise BadInputError(f"NNCF refused the group size: it does not divide the input channels of {len(layers)} "
                            f"layer(s): {named or str(error).splitlines()[0]}. Pick a group size that divides "
                            "them, or set group size fallback to 'adjust' (a smaller group size for those "
                            "layers) or 'ignore' (leave them uncompressed).") from error
    except (nncf.ValidationError, nncf.UnsupportedModelError, nncf.InvalidQuantizerGroupError,
            nncf.ParameterNotSupportedError) as error:
        reason = " ".join(str(error).split()).rstrip(".")
        raise BadInputError(f"NNCF refused the options: {reason}. Adjust them (for an ignored scope, "
                            "pick names and types from the model's operation list).") from error


def finish_ir(model, output_path: Path, started: float, **details: Any) -> OptimizeResult:
    import nncf
    import openvino as ov

    seconds = time.perf_counter() - started
    compress_to_fp16 = details.pop("compress_to_fp16", False)
    if compress_to_fp16:
        output_path.parent.mkdir(parents=True, exist_ok=True)
        ov.save_model(model, str(output_path), compress_to_fp16=True)
    else:
        save_ir(model, output_path)
    saved = read_model(output_path)
    # What the run obtained, read back from the saved IR (not what was asked): weight bytes per
    # element type plus the FakeQuantize count, and layers per weight type (core.optimize.obtained).
    fake_quantize = sum(1 for op in saved.get_ops() if op.get_type_name() == "FakeQuantize")
    details.update(obtained={**weight_precisions(saved), "fake_quantize": fake_quantize},
                   weight_layers=weight_layers(saved), nncf=nncf.__version__, openvino=ov.get_version())
    return OptimizeResult(path=output_path, seconds=seconds, size_bytes=ir_size(output_path), details=details)


def quantize_model(model_path: Path, samples: Sequence[Sample], *, options: QuantizeOptions,
                   output_path: Path, on_sample: Callable[[int], None] | None = None) -> OptimizeResult:
    """Quantizes a model to INT8 with nncf.quantize and saves it as IR.

    Args:
        model_path: The FP32 parent.
        samples: Calibration inputs, one per model call (already preprocessed).
        options: NNCF options.
        output_path: Where model.xml (and .bin) go.
        on_sample: Called with the number of samples NNCF has consumed so far.
    """
    import nncf

    model = read_model(model_path)
    started = time.perf_counter()
    with _nncf_errors():
        quantized = nncf.quantize(model, _counting(samples, on_sample), **_quantize_kwargs(options, len(samples)))
    return finish_ir(quantized, output_path, started)


class _RevertedOps(logging.Handler):
    """Collects the operations NNCF's accuracy restorer put back to floating point."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.operations: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Reverted ") and "floating-point" in message:
            self.operations += [line.strip() for line in message.splitlines()[1:] if line.strip()]


def quantize_with_accuracy_control_model(
        model_path: Path, calibration: Sequence[Sample], validation: Sequence[tuple[Sample, Any]], *,
        options: AccuracyControlOptions, output_path: Path, validate: Validation | None = None,
        on_sample: Callable[[int], None] | None = None) -> OptimizeResult:
    """INT8 with nncf.quantize_with_accuracy_control, the drop measured in a task metric.

    Args:
        validation: (input, target) pairs; the target is a decoded label, or the parent model's own
            decoded prediction when the data has no labels (the metric is then against the parent).
        validate: The task metric (core.tasks.run.Validation); default top-1 against class targets.
    """
    import nncf

    validate = validate or Validation(Classification(), TaskSettings(), metric="top1", vs_parent=False, classes=0)
    model = read_model(model_path)
    handler = _RevertedOps()
    logger = logging.getLogger("nncf")
    logger.addHandler(handler)
    started = time.perf_counter()
    try:
        with _nncf_errors():
            quantized = nncf.quantize_with_accuracy_control(
                model, _counting(calibration, on_sample), nncf.Dataset(list(validation)), validate,
                max_drop=options.max_drop, drop_type=nncf.DropType[options.drop_type.name],
                advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(
                    max_num_iterations=options.max_reverted or sys.maxsize),
                **_quantize_kwargs(options, len(calibration)))
    finally:
        logger.removeHandler(handler)
    return finish_ir(quantized, output_path, started, reverted_operations=handler.operations)


def compress_weights_model(model_path: Path, *, options: CompressWeightsOptions, output_path: Path,
                           samples: Sequence[Sample] | None = None,
                           on_sample: Callable[[int], None] | None = None,
                           statistics: Path | None = None) -> OptimizeResult:
    """Compresses MatMul / embedding weights with nncf.compress_weights and saves the IR.

    statistics: a folder for NNCF's activation statistics of these samples (data-aware runs): read
    when it exists, else collected into it (written under a temporary name, renamed when complete,
    so an interrupted run leaves no half cache). details["statistics"] says which happened.
    """
    import nncf

    if options.use_data and not samples:
        raise BadInputError("This weight compression uses data, but no samples were given; choose a "
                            "dataset that fits the model, or turn 'use data' off.")
    kwargs: dict[str, Any] = dict(mode=nncf.CompressWeightsMode[options.mode.name], ratio=options.ratio,
                                  group_size=options.group_size, all_layers=options.all_layers or None)
    if options.backup_mode is not None:
        kwargs["backup_mode"] = nncf.BackupMode[options.backup_mode.name]
    advanced: dict[str, Any] = {}
    if options.group_size_fallback is not None:
        from nncf.quantization.advanced_parameters import GroupSizeFallbackMode

        advanced["group_size_fallback_mode"] = GroupSizeFallbackMode[options.group_size_fallback.name]
    if options.sensitivity_metric is not None:
        kwargs["sensitivity_metric"] = nncf.SensitivityMetric[options.sensitivity_metric.name]
    cached = None
    if options.use_data:
        kwargs.update(dataset=_counting(samples, on_sample), subset_size=min(options.subset_size, len(samples)),
                      awq=options.awq or None, scale_estimation=options.scale_estimation or None,
                      gptq=options.gptq or None, lora_correction=options.lora_correction or None)
        if statistics is not None:
            cached = statistics.is_dir()
            partial = statistics.with_name(statistics.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)  # an interrupted run's
            advanced["statistics_path"] = str(statistics if cached else partial)
    if advanced:
        kwargs["advanced_parameters"] = nncf.AdvancedCompressionParameters(**advanced)
    model = read_model(model_path)
    started = time.perf_counter()
    with _nncf_errors():
        compressed = nncf.compress_weights(model, **kwargs)
    if cached is False:
        partial.rename(statistics)
    result = finish_ir(compressed, output_path, started)
    if cached is None:
        return result
    return dataclasses.replace(result, details={**result.details, "statistics": "reused" if cached else "collected"})


def fp16_model(model_path: Path, *, output_path: Path) -> OptimizeResult:
    """Stores the weights in FP16 (the IR decompresses them to the inference precision on load)."""
    started = time.perf_counter()
    return finish_ir(read_model(model_path), output_path, started, compress_to_fp16=True)
