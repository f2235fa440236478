"""Optimization recipes: the typed options of each NNCF / OpenVINO algorithm and of sweeps.

Validated in __post_init__; they travel as JSON in a job's options and a model's recipe.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.errors import BadInputError
from core.options import JobKind, _Options, _positive, _strings
from core.tasks.metrics import METRICS, is_agreement


class QuantizationPreset(StrEnum):
    PERFORMANCE = "performance"
    MIXED = "mixed"


class ModelType(StrEnum):
    """nncf.ModelType; GENERIC means none (CNNs and other non-transformers)."""

    GENERIC = "generic"
    TRANSFORMER = "transformer"


class TargetDevice(StrEnum):
    ANY = "ANY"
    CPU = "CPU"
    GPU = "GPU"
    NPU = "NPU"
    CPU_SPR = "CPU_SPR"




@dataclass(frozen=True, kw_only=True)
class QuantizeOptions(_Options):
    """8-bit post-training quantization (nncf.quantize).

    Attributes:
        preset: performance (symmetric weights and activations) or mixed (asymmetric activations).
        subset_size: Calibration samples used for statistics (a count; all of them when the data has fewer).
        fast_bias_correction: Fast (on) or full bias correction (slower, sometimes more accurate).
        model_type: transformer enables the transformer-specific scheme (and SmoothQuant).
        target_device: Hardware the quantization scheme is tuned for.
        ignored_names: Operations kept in floating point, by exact name (comma-separated).
        ignored_types: Operation types kept in floating point, e.g. Multiply (comma-separated).
        ignored_patterns: Operations kept in floating point, by regular expression on their names.
        smooth_quant_alpha: SmoothQuant alpha for MatMuls of transformers, 0-1 (empty: NNCF's default).
    """

    preset: QuantizationPreset = QuantizationPreset.PERFORMANCE
    subset_size: int = 300
    fast_bias_correction: bool = True
    model_type: ModelType = ModelType.GENERIC
    target_device: TargetDevice = TargetDevice.ANY
    ignored_names: tuple[str, ...] = ()
    ignored_types: tuple[str, ...] = ()
    ignored_patterns: tuple[str, ...] = ()
    smooth_quant_alpha: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "preset", QuantizationPreset(self.preset))
        object.__setattr__(self, "model_type", ModelType(self.model_type))
        object.__setattr__(self, "target_device", TargetDevice(self.target_device))
        for name in ("ignored_names", "ignored_types", "ignored_patterns"):
            object.__setattr__(self, name, _strings(getattr(self, name)))
        _positive("subset_size", self.subset_size)
        if self.smooth_quant_alpha is not None and not 0 <= self.smooth_quant_alpha <= 1:
            raise BadInputError(f"smooth_quant_alpha must be between 0 and 1, got {self.smooth_quant_alpha}.")
        for pattern in self.ignored_patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise BadInputError(f"Ignored-scope pattern {pattern!r} is not a valid regular "
                                    f"expression ({error}).") from error

class DropType(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"


@dataclass(frozen=True, kw_only=True)
class SensitivityOptions(QuantizeOptions):
    """Layer sensitivity: the INT8 model's layers ranked by the task metric each recovers in float.

    The metric is one of the model's task (core/tasks): against the validation data's labels when
    they fit the task, else against the parent model's outputs (top-1 agreement, map50_vs_parent ...).

    Attributes:
        validation_dataset_id: The dataset the metric is measured on (the page's validation data).
        metric: The task metric: top1, map50, map50_95, exact_match, cer, miou, pixel_accuracy, mae,
            rmse, cosine ... (empty: the task's first; the result says which).
        max_validation_samples: Validation samples scored per model (a count; more is slower and surer).
    """

    validation_dataset_id: int
    metric: str | None = None
    max_validation_samples: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("max_validation_samples", self.max_validation_samples)
        if self.metric is not None and self.metric not in METRICS:
            raise BadInputError(f"'{self.metric}' is not a metric the lab knows; use one of "
                                + ", ".join(m for m in METRICS if not is_agreement(m)) + ".")


@dataclass(frozen=True, kw_only=True)
class AccuracyControlOptions(SensitivityOptions):
    """nncf.quantize_with_accuracy_control: INT8, with layers reverted until the drop fits.

    The metric is one of the model's task (core/tasks), as for SensitivityOptions.

    Attributes:
        max_drop: Largest accepted loss in the metric's units: a fraction for absolute (0.01 = 1
            percentage point of a % metric), a share of the parent's value for relative.
        drop_type: absolute (points of accuracy) or relative (share of the parent's accuracy).
        max_reverted: At most this many quantizer groups go back to float (empty: as many as the drop needs).
    """

    max_drop: float = 0.01
    drop_type: DropType = DropType.ABSOLUTE
    max_reverted: int | None = None  # at most this many quantizer groups go back to float (NNCF iterations)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "drop_type", DropType(self.drop_type))
        _positive("max_drop", self.max_drop)
        if self.max_reverted is not None:
            _positive("max_reverted", self.max_reverted)
        known = METRICS[self.metric or "top1"]
        if self.drop_type == DropType.ABSOLUTE and known.percent and self.max_drop >= 1:
            raise BadInputError("max_drop is a fraction of accuracy (0.01 = 1 point); use a value below 1.")
        if self.drop_type == DropType.RELATIVE and not known.higher_is_better:
            raise BadInputError(f"'{self.metric}' is an error (smaller is better), whose relative drop means "
                                "nothing; give an absolute max drop in its units.")


class WeightMode(StrEnum):
    """Weight compression modes this CPU runs (nncf.CompressWeightsMode)."""

    INT8_SYM = "int8_sym"
    INT8_ASYM = "int8_asym"
    INT4_SYM = "int4_sym"
    INT4_ASYM = "int4_asym"
    NF4 = "nf4"
    CB4 = "cb4"  # codebook: 4-bit indices into 16 fixed FP8 (E4M3) values
    MXFP4 = "mxfp4"
    FP8_E4M3 = "fp8_e4m3"

    @property
    def is_8bit(self) -> bool:
        return self in (WeightMode.INT8_SYM, WeightMode.INT8_ASYM)


class BackupMode(StrEnum):
    INT8_ASYM = "int8_asym"
    INT8_SYM = "int8_sym"
    NONE = "none"


class GroupSizeFallback(StrEnum):
    """What NNCF does with a layer whose input channels the group size does not divide."""

    ERROR = "error"  # refuse the run, naming the layers (NNCF's default)
    IGNORE = "ignore"  # leave such layers uncompressed
    ADJUST = "adjust"  # a smaller power-of-two group size for them (at least 32), else the backup precision


class SensitivityMetric(StrEnum):
    WEIGHT_QUANTIZATION_ERROR = "weight_quantization_error"
    HESSIAN_INPUT_ACTIVATION = "hessian_input_activation"
    MEAN_ACTIVATION_VARIANCE = "mean_activation_variance"
    MAX_ACTIVATION_VARIANCE = "max_activation_variance"
    MEAN_ACTIVATION_MAGNITUDE = "mean_activation_magnitude"


@dataclass(frozen=True, kw_only=True)
class CompressWeightsOptions(_Options):
    """nncf.compress_weights: weight-only compression (LLMs, encoders, any MatMul/Gather weights).

    Attributes:
        mode: Precision of the compressed weights (int8 per channel; int4 / nf4 / mxfp4 in groups).
        ratio: Share of layers in 4 bit, 0-1 (the rest use backup mode); 4-bit modes only.
        group_size: Weights per quantization group, e.g. 32, 64, 128 (-1: per channel); 4-bit modes only.
        group_size_fallback: For layers whose input channels the group size does not divide: ignore
            (leave them uncompressed), adjust (a smaller group size, at least 32, else the backup
            precision) or error (refuse the run; NNCF's default).
        all_layers: Also compress embeddings and the last layer to 4 bit.
        backup_mode: Precision of the layers left out of the 4-bit ratio.
        awq: Activation-aware weight quantization (data-aware; needs use data).
        scale_estimation: Scale estimation for 4-bit weights (data-aware; needs use data).
        gptq: GPTQ: layer-wise weight updates that minimise the output error (data-aware; needs use data).
        lora_correction: Low-rank adapters that correct the 4-bit error (data-aware; needs use data).
        sensitivity_metric: How layers are ranked for the ratio (data-aware metrics need data).
        subset_size: Samples used by data-aware steps (a count; for language models, texts).
        use_data: Use the job's calibration data (required by awq, scale estimation, GPTQ, LoRA
            correction, activation metrics).
        cache_statistics: Keep the activation statistics NNCF collects per (model, data, samples) in the
            data dir and reuse them, so a sweep over ratio / group size collects them once.
    """

    mode: WeightMode = WeightMode.INT8_ASYM
    ratio: float | None = None
    group_size: int | None = None
    group_size_fallback: GroupSizeFallback | None = None
    all_layers: bool = False
    backup_mode: BackupMode | None = None
    awq: bool = False
    scale_estimation: bool = False
    gptq: bool = False
    lora_correction: bool = False
    sensitivity_metric: SensitivityMetric | None = None
    subset_size: int = 128
    use_data: bool = False
    cache_statistics: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", WeightMode(self.mode))
        if self.backup_mode is not None:
            object.__setattr__(self, "backup_mode", BackupMode(self.backup_mode))
        if self.group_size_fallback is not None:
            object.__setattr__(self, "group_size_fallback", GroupSizeFallback(self.group_size_fallback))
        if self.sensitivity_metric is not None:
            object.__setattr__(self, "sensitivity_metric", SensitivityMetric(self.sensitivity_metric))
        _positive("subset_size", self.subset_size)
        if self.mode.is_8bit and (self.ratio not in (None, 1, 1.0) or self.group_size is not None
                                  or self.all_layers or self.group_size_fallback is not None):
            raise BadInputError("ratio, group size (and its fallback) and all layers apply to 4-bit modes only; leave them "
                                f"unset for {self.mode}.")
        if self.ratio is not None and not 0 < self.ratio <= 1:
            raise BadInputError(f"ratio must be in (0, 1], got {self.ratio}.")
        if self.group_size is not None and self.group_size != -1 and self.group_size <= 0:
            raise BadInputError(f"group_size must be positive or -1 (per channel), got {self.group_size}.")
        data_only = [name for name, on in (("AWQ", self.awq), ("scale estimation", self.scale_estimation),
                                           ("GPTQ", self.gptq), ("LoRA correction", self.lora_correction),
                                           ("an activation sensitivity metric",
                                            self.sensitivity_metric not in
                                            (None, SensitivityMetric.WEIGHT_QUANTIZATION_ERROR))) if on]
        if data_only and not self.use_data:
            raise BadInputError(f"{', '.join(data_only)} needs data: choose a dataset and turn on "
                                "'use data'.")


@dataclass(frozen=True, kw_only=True)
class Fp16Options(_Options):
    """Store the weights in FP16 (ov.save_model(compress_to_fp16=True)); no data needed."""


@dataclass(frozen=True, kw_only=True)
class TrainOptions(_Options):
    """Fine-tuning of a PyTorch model (.pt2) in the job process (core.optimize.training).

    Attributes:
        epochs: Passes over the training data (a count).
        lr: Learning rate of the Adam optimizer.
        batch_size: Samples per training step.
        distillation_weight: Share of the loss that follows the FP32 parent's outputs (0-1); 0 trains
            on the class labels alone. Data without class labels is always learnt from the parent's
            outputs (distillation, no labels needed).
        max_samples: Training samples per epoch (a count; empty: all of them).
        seed: Seed of the sample order (the same seed repeats the run).
    """

    epochs: int = 3
    lr: float = 1e-4
    batch_size: int = 32
    distillation_weight: float = 0.0
    max_samples: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _positive("epochs", self.epochs)
        _positive("lr", self.lr)
        _positive("batch_size", self.batch_size)
        _positive("max_samples", self.max_samples, allow_none=True)
        if not 0 <= self.distillation_weight <= 1:
            raise BadInputError(f"distillation_weight is a share between 0 and 1, got {self.distillation_weight}.")


@dataclass(frozen=True, kw_only=True)
class QatOptions(TrainOptions):
    """Quantization-aware training: NNCF INT8 post-training quantization as the start, then
    fine-tuning with the quantizers in the graph (nncf.quantize on the PyTorch model, nncf.strip).

    Attributes:
        subset_size: Calibration samples of the INT8 start (a count).
        preset: performance (symmetric weights and activations) or mixed (asymmetric activations).
    """

    subset_size: int = 300
    preset: QuantizationPreset = QuantizationPreset.PERFORMANCE

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "preset", QuantizationPreset(self.preset))
        _positive("subset_size", self.subset_size)


class PruneMode(StrEnum):
    """nncf.PruneMode (unstructured: single weights set to zero)."""

    MAGNITUDE_LOCAL = "magnitude_local"  # each layer to the ratio by weight magnitude
    MAGNITUDE_GLOBAL = "magnitude_global"  # the ratio over all layers together
    REGULARIZATION = "regularization"  # trainable masks pushed towards the ratio by a loss


@dataclass(frozen=True, kw_only=True)
class PruneOptions(QatOptions):
    """Unstructured pruning (nncf.prune), batch-norm adaptation and fine-tuning; optionally QAT after.

    Attributes:
        mode: magnitude_local (each layer to the ratio), magnitude_global (the ratio over all layers
            together) or regularization (trainable masks; the loss pushes them to the ratio over the epochs).
        ratio: Share of the prunable weights set to zero, 0-1.
        batch_norm_adaptation: Re-estimate batch-norm statistics on the training data after pruning,
            before fine-tuning (magnitude modes).
        then_qat: After pruning, quantize to INT8 and fine-tune again with the quantizers (QAT),
            keeping the zeros.
        qat_epochs: Epochs of that QAT (a count).
    """

    mode: PruneMode = PruneMode.MAGNITUDE_GLOBAL
    ratio: float = 0.5
    batch_norm_adaptation: bool = True
    then_qat: bool = False
    qat_epochs: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "mode", PruneMode(self.mode))
        if not 0 < self.ratio < 1:
            raise BadInputError(f"ratio is the share of weights set to zero, between 0 and 1; got {self.ratio}.")
        _positive("qat_epochs", self.qat_epochs)


ALGORITHM_OPTIONS: dict[str, type[_Options]] = {
    JobKind.QUANTIZE: QuantizeOptions,
    JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: AccuracyControlOptions,
    JobKind.COMPRESS_WEIGHTS: CompressWeightsOptions,
    JobKind.FP16: Fp16Options,
    JobKind.QAT: QatOptions,
    JobKind.PRUNE: PruneOptions,
}
MAX_SWEEP_POINTS = 64


@dataclass(frozen=True, kw_only=True)
class SweepOptions(_Options):
    """Several values for several options of one algorithm: one job per combination.

    Attributes:
        algorithm: The job kind every point runs (quantize, compress_weights, ...).
        base: Options shared by all points.
        grid: Option name -> the values to try; the points are the cartesian product.
        stop_metric: Stop at the first point (in grid order) whose drop in this metric from the parent
            is at most stop_max_drop (the rest are cancelled); empty: run every point.
        stop_max_drop: That drop, in the metric's units (0.01 = 1 point of a % metric).
    """

    algorithm: JobKind
    base: dict[str, Any] = dataclasses.field(default_factory=dict)
    grid: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    stop_metric: str | None = None
    stop_max_drop: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", JobKind(self.algorithm))
        if (self.stop_metric is None) != (self.stop_max_drop is None):
            raise BadInputError("Stopping a sweep early needs both a metric and a max drop.")
        if self.stop_metric is not None and self.stop_metric not in METRICS:
            raise BadInputError(f"'{self.stop_metric}' is not a metric the lab knows.")
        if self.algorithm not in ALGORITHM_OPTIONS:
            raise BadInputError(f"A sweep runs one of {sorted(ALGORITHM_OPTIONS)}, not {self.algorithm}.")
        if not self.grid or any(not values for values in self.grid.values()):
            raise BadInputError("Give at least one option with at least one value to sweep over.")
        if len(self.points()) > MAX_SWEEP_POINTS:
            raise BadInputError(f"The sweep has {len(self.points())} points; keep it to "
                                f"{MAX_SWEEP_POINTS} or fewer by trimming values.")

    def points(self) -> list[dict[str, Any]]:
        """Every combination as a full options dict, validated by the algorithm's options class."""
        names = list(self.grid)
        points = []
        for values in itertools.product(*(self.grid[n] for n in names)):
            point = {**self.base, **dict(zip(names, values))}
            points.append(ALGORITHM_OPTIONS[self.algorithm].from_dict(point).to_dict())
        return points
