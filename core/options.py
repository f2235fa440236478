"""Typed options: StrEnums and frozen dataclasses validated in __post_init__.

They travel as JSON (job options column, CLI --json) through to_dict / from_dict.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from core.errors import BadInputError


class JobKind(StrEnum):
    QUANTIZE = "quantize"
    EVALUATE = "evaluate"
    BENCHMARK = "benchmark"
    QUANTIZE_WITH_ACCURACY_CONTROL = "quantize_with_accuracy_control"
    COMPRESS_WEIGHTS = "compress_weights"
    FP16 = "fp16"
    SWEEP = "sweep"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class PerformanceHint(StrEnum):
    LATENCY = "latency"
    THROUGHPUT = "throughput"
    NONE = "none"


class Precision(StrEnum):
    """Inference precision asked of the device; DEFAULT lets the device choose (bf16 on AMX)."""

    DEFAULT = "default"
    F32 = "f32"
    BF16 = "bf16"
    F16 = "f16"


class QuantizationPreset(StrEnum):
    PERFORMANCE = "performance"
    MIXED = "mixed"


class _Options:
    """JSON round trip shared by every options dataclass."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise BadInputError(f"Unknown option(s) {sorted(unknown)}; expected some of {sorted(names)}.")
        return cls(**data)


def _positive(name: str, value: int | float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise BadInputError(f"{name} must be a positive number, got {value!r}.")


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


def _strings(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    return tuple(str(v) for v in value if str(v).strip())


@dataclass(frozen=True, kw_only=True)
class QuantizeOptions(_Options):
    """8-bit post-training quantization (nncf.quantize).

    Attributes:
        preset: performance (symmetric) or mixed (asymmetric activations).
        subset_size: Calibration samples used for statistics.
        fast_bias_correction: Fast (True) or full bias correction.
        model_type: TRANSFORMER enables the transformer-specific scheme (and SmoothQuant).
        target_device: Hardware the quantization scheme is tuned for.
        ignored_names / ignored_types / ignored_patterns: Operations kept in floating point,
            by exact name, by operation type (e.g. "Multiply") or by regular expression.
        smooth_quant_alpha: SmoothQuant alpha for MatMuls of transformers (None: NNCF default).
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


@dataclass(frozen=True, kw_only=True)
class BenchmarkOptions(_Options):
    """One benchmark point, measured the way benchmark_app measures it.

    Attributes:
        device: OpenVINO device name (CPU, AUTO, ...).
        hint: Performance hint; NONE means streams / infer_requests are used as given.
        batch: Static batch size the model is reshaped to.
        precision: INFERENCE_PRECISION_HINT; DEFAULT lets the device choose.
        seconds: Duration of the timed loop (ignored when iterations is set).
        iterations: Fixed number of inferences instead of a duration.
        streams: NUM_STREAMS, or None for the device's choice.
        infer_requests: Number of parallel infer requests, or None for the optimal number.
        warmup: Inferences run before timing starts (the first one is timed separately).
    """

    device: str = "CPU"
    hint: PerformanceHint = PerformanceHint.LATENCY
    batch: int = 1
    precision: Precision = Precision.DEFAULT
    seconds: float = 10.0
    iterations: int | None = None
    streams: int | None = None
    infer_requests: int | None = None
    warmup: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "hint", PerformanceHint(self.hint))
        object.__setattr__(self, "precision", Precision(self.precision))
        _positive("batch", self.batch)
        _positive("seconds", self.seconds)
        _positive("iterations", self.iterations, allow_none=True)
        _positive("streams", self.streams, allow_none=True)
        _positive("infer_requests", self.infer_requests, allow_none=True)
        if self.warmup < 0:
            raise BadInputError(f"warmup must be 0 or more, got {self.warmup}.")


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions(_Options):
    """Top-1 accuracy of a model on a labelled dataset."""

    dataset_id: int
    device: str = "CPU"
    precision: Precision = Precision.F32
    max_samples: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))
        _positive("max_samples", self.max_samples, allow_none=True)


class Layout(StrEnum):
    NCHW = "NCHW"
    NHWC = "NHWC"


class ColorMode(StrEnum):
    RGB = "RGB"
    BGR = "BGR"
    GRAY = "GRAY"


@dataclass(frozen=True, kw_only=True)
class ImagePreprocessing(_Options):
    """How images become input tensors: value = (pixel - mean) / scale, per channel.

    Fields left None are taken from the model's input shape when the data is used.
    """

    width: int | None = None
    height: int | None = None
    layout: Layout | None = None
    color: ColorMode | None = None
    mean: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        if self.layout is not None:
            object.__setattr__(self, "layout", Layout(self.layout))
        if self.color is not None:
            object.__setattr__(self, "color", ColorMode(self.color))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "scale", tuple(float(v) for v in self.scale))
        _positive("width", self.width, allow_none=True)
        _positive("height", self.height, allow_none=True)
        if not self.mean or not self.scale or len(self.mean) not in (1, 3) or len(self.scale) not in (1, 3):
            raise BadInputError("mean and scale take 1 value (all channels) or 3 (one per channel).")
        if any(v == 0 for v in self.scale):
            raise BadInputError("scale values divide the pixels, so none may be 0.")


@dataclass(frozen=True, kw_only=True)
class MeasureOptions(_Options):
    """How a job measures the models it touches: accuracy on a dataset, then timing."""

    dataset_id: int | None = None
    seconds: float = 3.0
    device: str = "CPU"
    measure_parent: bool = True

    def __post_init__(self) -> None:
        _positive("seconds", self.seconds)


class DropType(StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"


@dataclass(frozen=True, kw_only=True)
class AccuracyControlOptions(QuantizeOptions):
    """nncf.quantize_with_accuracy_control: INT8, with layers reverted until the drop fits.

    The metric is the lab's own: top-1 against labels when the validation data has them, else
    top-1 agreement with the parent model.
    """

    validation_dataset_id: int
    max_drop: float = 0.01
    drop_type: DropType = DropType.ABSOLUTE
    max_validation_samples: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "drop_type", DropType(self.drop_type))
        _positive("max_drop", self.max_drop)
        _positive("max_validation_samples", self.max_validation_samples)
        if self.drop_type == DropType.ABSOLUTE and self.max_drop >= 1:
            raise BadInputError("max_drop is a fraction of accuracy (0.01 = 1 point); use a value below 1.")


class WeightMode(StrEnum):
    """Weight compression modes this CPU runs (nncf.CompressWeightsMode)."""

    INT8_SYM = "int8_sym"
    INT8_ASYM = "int8_asym"
    INT4_SYM = "int4_sym"
    INT4_ASYM = "int4_asym"
    NF4 = "nf4"
    MXFP4 = "mxfp4"
    FP8_E4M3 = "fp8_e4m3"

    @property
    def is_8bit(self) -> bool:
        return self in (WeightMode.INT8_SYM, WeightMode.INT8_ASYM)


class BackupMode(StrEnum):
    INT8_ASYM = "int8_asym"
    INT8_SYM = "int8_sym"
    NONE = "none"


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
        mode: Precision of the compressed weights.
        ratio: Share of 4-bit layers (the rest use backup_mode); 4-bit modes only.
        group_size: Weights per quantization group (-1: per channel); 4-bit modes only.
        all_layers: Also compress embeddings and the last layer to 4 bit.
        backup_mode: Precision of the layers left out of the 4-bit ratio.
        awq / scale_estimation: Data-aware refinements (need a dataset).
        sensitivity_metric: How layers are ranked for the ratio (data-aware metrics need data).
        subset_size: Samples used by data-aware steps.
        use_data: Use the job's dataset (required by awq, scale estimation, activation metrics).
    """

    mode: WeightMode = WeightMode.INT8_ASYM
    ratio: float | None = None
    group_size: int | None = None
    all_layers: bool = False
    backup_mode: BackupMode | None = None
    awq: bool = False
    scale_estimation: bool = False
    sensitivity_metric: SensitivityMetric | None = None
    subset_size: int = 128
    use_data: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", WeightMode(self.mode))
        if self.backup_mode is not None:
            object.__setattr__(self, "backup_mode", BackupMode(self.backup_mode))
        if self.sensitivity_metric is not None:
            object.__setattr__(self, "sensitivity_metric", SensitivityMetric(self.sensitivity_metric))
        _positive("subset_size", self.subset_size)
        if self.mode.is_8bit and (self.ratio not in (None, 1, 1.0) or self.group_size is not None
                                  or self.all_layers):
            raise BadInputError("ratio, group size and all layers apply to 4-bit modes only; leave them "
                                f"unset for {self.mode}.")
        if self.ratio is not None and not 0 < self.ratio <= 1:
            raise BadInputError(f"ratio must be in (0, 1], got {self.ratio}.")
        if self.group_size is not None and self.group_size != -1 and self.group_size <= 0:
            raise BadInputError(f"group_size must be positive or -1 (per channel), got {self.group_size}.")
        data_only = [name for name, on in (("AWQ", self.awq), ("scale estimation", self.scale_estimation),
                                           ("an activation sensitivity metric",
                                            self.sensitivity_metric not in
                                            (None, SensitivityMetric.WEIGHT_QUANTIZATION_ERROR))) if on]
        if data_only and not self.use_data:
            raise BadInputError(f"{', '.join(data_only)} needs data: choose a dataset and turn on "
                                "'use data'.")


@dataclass(frozen=True, kw_only=True)
class Fp16Options(_Options):
    """Store the weights in FP16 (ov.save_model(compress_to_fp16=True)); no data needed."""


ALGORITHM_OPTIONS: dict[str, type[_Options]] = {
    JobKind.QUANTIZE: QuantizeOptions,
    JobKind.QUANTIZE_WITH_ACCURACY_CONTROL: AccuracyControlOptions,
    JobKind.COMPRESS_WEIGHTS: CompressWeightsOptions,
    JobKind.FP16: Fp16Options,
}
MAX_SWEEP_POINTS = 64


@dataclass(frozen=True, kw_only=True)
class SweepOptions(_Options):
    """Several values for several options of one algorithm: one job per combination.

    Attributes:
        algorithm: The job kind every point runs (quantize, compress_weights, ...).
        base: Options shared by all points.
        grid: Option name -> the values to try; the points are the cartesian product.
    """

    algorithm: JobKind
    base: dict[str, Any] = dataclasses.field(default_factory=dict)
    grid: dict[str, list[Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", JobKind(self.algorithm))
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


@dataclass(frozen=True)
class OptionField:
    """One field of an options dataclass, described for generated forms and CLI flags.

    kind is one of: enum, bool, int, float, strings, str.
    """

    name: str
    kind: str
    default: Any
    optional: bool
    choices: tuple[str, ...] = ()

    def parse(self, text: str) -> Any:
        """Parses one value typed by a user ('' means None for optional fields)."""
        text = text.strip()
        if text in ("", "none", "None") and self.optional:
            return None
        try:
            if self.kind == "bool":
                if text.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(text)
                return text.lower() in ("true", "1", "yes", "on")
            if self.kind == "int":
                return int(text)
            if self.kind == "float":
                return float(text)
        except ValueError as error:
            raise BadInputError(f"{self.name} takes a {self.kind}, got {text!r}.") from error
        if self.kind == "enum" and text not in self.choices:
            raise BadInputError(f"{self.name} is one of {', '.join(self.choices)}; got {text!r}.")
        return _strings(text) if self.kind == "strings" else text

    def parse_many(self, text: str) -> list[Any]:
        """Comma-separated values for a sweep ('int4_sym,int4_asym' or '0.5,1')."""
        return [self.parse(part) for part in text.split(",")] if self.kind != "strings" else [self.parse(text)]


def option_fields(cls: type) -> list[OptionField]:
    """Describes the user-settable fields of an options dataclass (for forms and CLI flags)."""
    import types
    import typing

    hints = typing.get_type_hints(cls)
    described = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
        base = args[0] if optional and args else hint
        default = None if f.default is dataclasses.MISSING else f.default
        if isinstance(base, type) and issubclass(base, StrEnum):
            described.append(OptionField(f.name, "enum", default, optional, tuple(m.value for m in base)))
        elif base is bool:
            described.append(OptionField(f.name, "bool", default, optional))
        elif base in (int, float):
            described.append(OptionField(f.name, base.__name__, default, optional))
        elif typing.get_origin(base) is tuple:
            described.append(OptionField(f.name, "strings", default, optional))
        elif base is str:
            described.append(OptionField(f.name, "str", default, optional))
    return described


class ExportFormat(StrEnum):
    """What `python -m core export --format` writes for one model."""

    IR = "ir"
    OVMS = "ovms"
    DLSTREAMER = "dlstreamer"
    BENCHMARK_APP = "benchmark-app"
    SCRIPT = "script"


class CompareAxis(StrEnum):
    """What accuracy is plotted against on the Compare page."""

    LATENCY = "latency"
    THROUGHPUT = "throughput"
    SIZE = "size"

    @property
    def lower_is_better(self) -> bool:
        return self != CompareAxis.THROUGHPUT


@dataclass(frozen=True, kw_only=True)
class CompareFilters(_Options):
    """Which results the Compare page shows; an empty tuple means no filter on that column.

    Attributes:
        sources / datasets / devices / precisions / algorithms: Allowed values of those columns
            (source = the uploaded model an optimized model descends from).
        since / until: First and last measurement day (inclusive, UTC).
    """

    sources: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = ()
    since: datetime.date | None = None
    until: datetime.date | None = None

    def __post_init__(self) -> None:
        for name in ("sources", "datasets", "devices", "precisions", "algorithms"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.since and self.until and self.since > self.until:
            raise BadInputError(f"The date range starts ({self.since}) after it ends ({self.until}); "
                                "swap the dates.")
