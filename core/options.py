"""Typed options: StrEnums and frozen dataclasses validated in __post_init__.

They travel as JSON (job options column, CLI --json) through to_dict / from_dict.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
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
    BATCH_SWEEP = "batch_sweep"
    PROFILE = "profile"
    INTERLEAVED = "interleaved"  # A B A B ... benchmark of two models (B / A with spread)
    IMPORT_DATA = "import_data"  # an uploaded dataset read in a job process, not in the app server
    SENSITIVITY = "sensitivity"  # INT8 layers ranked by the task metric each recovers in float
    GENERATE_BENCH = "generate_bench"  # a language model's generation speed through openvino.genai (issue 14)
    IMPORT_MODEL = "import_model"  # an uploaded zip (a Hugging Face checkpoint converts for minutes) read in a job
    QAT = "qat"  # quantization-aware training of a PyTorch (.pt2) model (issue 15)
    PRUNE = "prune"  # pruning + fine-tuning (optionally QAT after) of a PyTorch (.pt2) model


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
    CUMULATIVE_THROUGHPUT = "cumulative_throughput"


class Precision(StrEnum):
    """Inference precision asked of the device; DEFAULT lets the device choose (bf16 on AMX)."""

    DEFAULT = "default"
    F32 = "f32"
    BF16 = "bf16"
    F16 = "f16"


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



def _strings(value) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    return tuple(str(v) for v in value if str(v).strip())


@dataclass(frozen=True, kw_only=True)
class BenchmarkOptions(_Options):
    """One benchmark point, measured the way benchmark_app measures it.

    Attributes:
        device: OpenVINO device name (CPU, AUTO, ...).
        hint: Performance hint; NONE means streams / infer_requests are used as given.
        batch: Static batch size the model is reshaped to.
        precision: INFERENCE_PRECISION_HINT; DEFAULT lets the device choose.
        seconds: Duration of the timed loop in seconds (ignored when iterations is set).
        iterations: Fixed number of inferences instead of a duration.
        streams: NUM_STREAMS, or None for the device's choice.
        infer_requests: Number of parallel infer requests, or None for the optimal number.
        warmup: Inferences run before timing starts (the first one is timed separately).
        auto_batch: OpenVINO automatic batching: the BATCH device groups batch requests into one inference.
        threads: INFERENCE_NUM_THREADS (like benchmark_app -nthreads), or None for all cores;
            meaningful with hint NONE, where streams are set by hand too.
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
    auto_batch: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hint", PerformanceHint(self.hint))
        object.__setattr__(self, "precision", Precision(self.precision))
        _positive("batch", self.batch)
        _positive("threads", self.threads, allow_none=True)
        _positive("seconds", self.seconds)
        _positive("iterations", self.iterations, allow_none=True)
        _positive("streams", self.streams, allow_none=True)
        _positive("infer_requests", self.infer_requests, allow_none=True)
        if self.warmup < 0:
            raise BadInputError(f"warmup must be 0 or more, got {self.warmup}.")


LLM_METRICS = ("word_perplexity", "similarity")


@dataclass(frozen=True, kw_only=True)
class EvaluateOptions(_Options):
    """A model's task metrics on a dataset: against its labels, or against a reference model.

    Attributes:
        dataset_id: The data evaluated on (its validation part when it was split).
        device: OpenVINO device.
        precision: Inference precision asked.
        max_samples: Evaluate on the first N samples only (the rows say how many were used).
        reference_model_id: Compare with this model's outputs instead of the labels.
        metric: Language models: word_perplexity on a text dataset, or similarity of the answers to a
            prompt set with the reference's (default: the parent); None picks word_perplexity, or
            similarity when a reference is given.
        new_tokens: Language models, similarity: the most tokens of each greedy answer.
    """

    dataset_id: int
    device: str = "CPU"
    precision: Precision = Precision.F32
    max_samples: int | None = None
    reference_model_id: int | None = None
    metric: str | None = None
    new_tokens: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision(self.precision))
        _positive("max_samples", self.max_samples, allow_none=True)
        _positive("new_tokens", self.new_tokens)
        if self.metric not in (None, *LLM_METRICS):
            raise BadInputError(f"metric is one of {', '.join(LLM_METRICS)} (language models); got {self.metric!r}. "
                                "Other models are scored on their task's metrics.")


class Layout(StrEnum):
    NCHW = "NCHW"
    NHWC = "NHWC"


class ColorMode(StrEnum):
    RGB = "RGB"
    BGR = "BGR"
    GRAY = "GRAY"


class TensorType(StrEnum):
    """Element type of a preprocessed image tensor (NumPy dtype names)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    UINT8 = "uint8"
    INT8 = "int8"


@dataclass(frozen=True, kw_only=True)
class ImagePreprocessing(_Options):
    """How images become input tensors: value = (pixel - mean) / scale, per channel, as dtype.

    Fields left None are taken from the model's input shape when the data is used. Integer dtypes
    round the values and clip them to the type's range. Records saved before dtype existed load
    as float32.
    """

    width: int | None = None
    height: int | None = None
    layout: Layout | None = None
    color: ColorMode | None = None
    mean: tuple[float, ...] = (0.0,)
    scale: tuple[float, ...] = (1.0,)
    dtype: TensorType = TensorType.FLOAT32

    def __post_init__(self) -> None:
        if self.dtype not in set(TensorType):
            raise BadInputError(f"dtype is one of {', '.join(TensorType)}; got {self.dtype!r}.")
        object.__setattr__(self, "dtype", TensorType(self.dtype))
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
    # False: the parent's stored quiet runs of the same settings (and its accuracy on the dataset)
    # are reused instead of measuring it again, which took most of a short job (issue 12).
    remeasure_parent: bool = False
    # Language models (issue 14): dataset_id is a text dataset (word perplexity); prompts_id a prompt
    # set whose answers are compared with the parent's (similarity).
    prompts_id: int | None = None

    def __post_init__(self) -> None:
        _positive("seconds", self.seconds)


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
    help: str = ""  # from the 'Attributes:' section of the dataclass's docstring (units included)

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


_ATTRIBUTE = re.compile(r"^    (\w+(?: / \w+)*): (.+)$")


def field_help(cls: type) -> dict[str, str]:
    """Field name -> its description in the 'Attributes:' sections of cls's and its bases' docstrings
    (Google style; 'a / b: text' describes both; a subclass's text wins)."""
    helps: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        section = (inspect.getdoc(klass) or "").partition("Attributes:")[2]
        names: list[str] = []
        for line in section.splitlines():
            found = _ATTRIBUTE.match(line)
            if found:
                names = found.group(1).split(" / ")
                helps.update({name: found.group(2) for name in names})
            elif line.startswith("        ") and names:  # a continuation line
                helps.update({name: f"{helps[name]} {line.strip()}" for name in names})
            elif line.strip():
                break
    return helps


def option_fields(cls: type) -> list[OptionField]:
    """Describes the user-settable fields of an options dataclass (for forms and CLI flags)."""
    import types
    import typing

    hints, helps = typing.get_type_hints(cls), field_help(cls)
    described = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
        base = args[0] if optional and args else hint
        default = None if f.default is dataclasses.MISSING else f.default
        text = helps.get(f.name, "")
        if isinstance(base, type) and issubclass(base, StrEnum):
            described.append(OptionField(f.name, "enum", default, optional, tuple(m.value for m in base), help=text))
        elif base is bool:
            described.append(OptionField(f.name, "bool", default, optional, help=text))
        elif base in (int, float):
            described.append(OptionField(f.name, base.__name__, default, optional, help=text))
        elif typing.get_origin(base) is tuple:
            described.append(OptionField(f.name, "strings", default, optional, help=text))
        elif base is str:
            described.append(OptionField(f.name, "str", default, optional, help=text))
    return described


class ExportFormat(StrEnum):
    """What `python -m core export --format` writes for one model."""

    IR = "ir"
    OVMS = "ovms"
    DLSTREAMER = "dlstreamer"
    BENCHMARK_APP = "benchmark-app"
    SCRIPT = "script"
    LLM_BENCH = "llm-bench"  # language models: the llm_bench run that repeats a generation point


class CompareAxis(StrEnum):
    """What accuracy is plotted against on the Compare page (the last three: language models)."""

    LATENCY = "latency"
    THROUGHPUT = "throughput"
    SIZE = "size"
    TOKENS_PER_S = "tokens/s"
    TTFT = "time to first token"
    PEAK_MEMORY = "peak memory"

    @property
    def lower_is_better(self) -> bool:
        return self not in (CompareAxis.THROUGHPUT, CompareAxis.TOKENS_PER_S)


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
