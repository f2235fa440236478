"""Per-layer profiles: a separate run with performance counters on, and the diff of two models.

Counters cost time, so profiles never share a run with timing (DL Workbench ran benchmark_app
twice per point for the same reason). Each executed layer reports its type, the kernel that ran
(``exec_type``, e.g. ``brgconv_avx512_amx_I8``) and so the precision it actually executed in.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.intake.models import read_model
from core.measure.benchmark import fill_random, static_shapes
from core.measure.evaluate import compile_model
from core.measure.machine import describe_precision
from core.measure.options import ProfileOptions

# Kernel-name suffixes -> the precision names the lab uses everywhere else.
_PRECISION = {"fp32": "f32", "f32": "f32", "bf16": "bf16", "fp16": "f16", "f16": "f16", "i8": "i8",
              "u8": "u8", "int8": "i8", "i32": "i32", "i64": "i64"}


@dataclass(frozen=True)
class LayerProfile:
    """One executed layer, its time per inference averaged over the profile's iterations."""

    name: str
    layer_type: str
    exec_type: str
    precision: str
    time_ms: float


@dataclass(frozen=True)
class ProfileResult:
    """The layers of one profile run and what they add up to."""

    device: str
    precision: str
    iterations: int
    total_ms: float
    layers: list[LayerProfile]

    def layer_dicts(self) -> list[dict[str, Any]]:
        """The layers as JSON-able dicts (what the profiles table stores)."""
        return [asdict(layer) for layer in self.layers]


def exec_precision(exec_type: str) -> str:
    """The precision a kernel ran in, from its name: 'brgconv_avx512_amx_I8' -> 'i8'."""
    suffix = exec_type.rsplit("_", 1)[-1].lower()
    return _PRECISION.get(suffix, "")


def profile_model(model_path: str | Path, options: ProfileOptions) -> ProfileResult:
    """Runs a model with performance counters and averages each executed layer's time.

    Args:
        model_path: An OpenVINO IR .xml or .onnx file.
        options: Device, precision, batch and number of iterations (after one warm-up).

    Returns:
        The ProfileResult, layers in execution order; layers that did not run are left out.

    Raises:
        ModelFormatError / BadInputError: As core.measure.benchmark.run_benchmark.
    """
    import openvino as ov

    model = read_model(Path(model_path))
    model.reshape({port: ov.PartialShape(dims) for port, dims in static_shapes(model, options.batch).items()})
    compiled = compile_model(model, device=options.device, precision=options.precision,
                             extra={"PERF_COUNT": True, "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    for index in range(len(compiled.inputs)):
        fill_random(request.get_input_tensor(index))
    request.infer()  # warm-up: first-inference costs are not a layer's steady time
    totals: dict[str, float] = defaultdict(float)
    info: dict[str, Any] = {}
    for _ in range(options.iterations):
        request.infer()
        for counter in request.profiling_info:
            if counter.status == counter.Status.EXECUTED:
                totals[counter.node_name] += counter.real_time.total_seconds() * 1e3
                info.setdefault(counter.node_name, counter)
    layers = [LayerProfile(name=name, layer_type=info[name].node_type, exec_type=info[name].exec_type,
                           precision=exec_precision(info[name].exec_type),
                           time_ms=totals[name] / options.iterations) for name in info]
    return ProfileResult(device=options.device, precision=describe_precision(compiled),
                         iterations=options.iterations, total_ms=sum(layer.time_ms for layer in layers),
                         layers=layers)


def by_layer_type(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Time per layer type with the precisions its layers ran in, slowest type first.

    Args:
        layers: Stored layer dicts (LayerProfile fields).

    Returns:
        Rows: layer_type, layers, time_ms, share (of the total), precisions ('i8, f32').
    """
    total = sum(layer["time_ms"] for layer in layers) or 1.0
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for layer in layers:
        groups[layer["layer_type"]].append(layer)
    rows = [{"layer_type": kind, "layers": len(group), "time_ms": sum(g["time_ms"] for g in group),
             "share": sum(g["time_ms"] for g in group) / total,
             "precisions": ", ".join(sorted({g["precision"] for g in group if g["precision"]}))}
            for kind, group in groups.items()]
    return sorted(rows, key=lambda row: -row["time_ms"])


_QUANTIZED_VARIANT = re.compile(r"Quantized(Legacy)?$")


def _as_float_op(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The layers with a quantized variant's type named as its op (so FP32 and INT8 rows pair up)."""
    return [{**layer, "layer_type": _QUANTIZED_VARIANT.sub("", layer["layer_type"]) or layer["layer_type"]}
            for layer in layers]


def profile_diff(layers_a: list[dict[str, Any]], layers_b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Where two models' time went, per layer type, and which types changed precision.

    Answers "why is INT8 not faster": a type whose precisions in B still include f32 / bf16 did not
    get quantized; time_delta_ms says whether it matters.

    Args:
        layers_a: Stored layers of the reference profile (e.g. the FP32 parent).
        layers_b: Stored layers of the other profile (e.g. the INT8 child).

    Returns:
        Rows per layer type present in either (a quantized variant such as
        FullyConnectedQuantizedLegacy counts as its op, FullyConnected): time_a_ms, time_b_ms,
        time_delta_ms, precisions_a, precisions_b, precision_changed; largest time first.
    """
    a = {row["layer_type"]: row for row in by_layer_type(_as_float_op(layers_a))}
    b = {row["layer_type"]: row for row in by_layer_type(_as_float_op(layers_b))}
    rows = []
    for kind in set(a) | set(b):
        row_a, row_b = a.get(kind, {}), b.get(kind, {})
        time_a, time_b = row_a.get("time_ms", 0.0), row_b.get("time_ms", 0.0)
        rows.append({"layer_type": kind, "time_a_ms": time_a, "time_b_ms": time_b,
                     "time_delta_ms": time_b - time_a,
                     "precisions_a": row_a.get("precisions", ""), "precisions_b": row_b.get("precisions", ""),
                     "precision_changed": row_a.get("precisions", "") != row_b.get("precisions", "")})
    return sorted(rows, key=lambda row: -max(row["time_a_ms"], row["time_b_ms"]))
