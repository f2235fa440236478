"""Layer sensitivity: which quantized layers cost the task metric most.

The parent is quantized once (nncf.quantize, in memory); then, one layer at a time, that layer is
put back in float in a copy of the INT8 model: its quantized inputs take their float source again
(the FakeQuantize before it is bypassed for it alone) and its int8 weights the parent's float
weights. The task metric of each copy, minus the INT8 model's, is what keeping that layer in float
recovers; the layers that recover most are the ones to add to an ignored scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.intake.models import read_model
from core.optimize.algorithms import _counting, _nncf_errors, _quantize_kwargs
from core.optimize.recipes import QuantizeOptions
from core.tasks.metrics import METRICS
from core.tasks.run import Validation

LAYER_TYPES = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "MatMul")


@dataclass(frozen=True)
class Sensitivity:
    """One ranking: the metric of the float model, the INT8 model, and per layer (most recovering
    first) its type and the metric with that layer alone in float."""

    metric: str
    float_value: float
    int8_value: float
    layers: list[dict[str, Any]]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "float_value": self.float_value, "int8_value": self.int8_value,
                "layers": self.layers, "seconds": round(self.seconds, 2)}


def _value(result) -> float:
    return float(result[0] if isinstance(result, tuple) else result)


def quantized_layers(model) -> list[Any]:
    """The compute layers of an INT8 ov.Model that take a quantized input (FakeQuantize or int8
    weights), in graph order."""
    return [op for op in model.get_ordered_ops() if op.get_type_name() in LAYER_TYPES
            and any(_quantized(source.get_node()) for source in op.input_values())]


def _quantized(node) -> bool:
    return node.get_type_name() == "FakeQuantize" or "fq_weights" in node.get_friendly_name()


def _float_weights(parent_layer, index: int):
    """The parent's float weights feeding input index of its layer (a constant, perhaps behind a
    Convert of f16 weights), or None."""
    import numpy as np
    import openvino.opset13 as ops

    node = parent_layer.input_value(index).get_node()
    if node.get_type_name() == "Convert":
        node = node.input_value(0).get_node()
    if node.get_type_name() != "Constant":
        return None
    return ops.constant(np.asarray(node.get_data(), dtype=np.float32))


def keep_float(quantized, parent, name: str):
    """A copy of the INT8 model with the layer called name in float (see the module docstring)."""
    model = quantized.clone()
    layer = next(op for op in model.get_ordered_ops() if op.get_friendly_name() == name)
    original = next((op for op in parent.get_ordered_ops() if op.get_friendly_name() == name), None)
    for index, source in enumerate(layer.input_values()):
        node = source.get_node()
        if node.get_type_name() == "FakeQuantize":
            layer.input(index).replace_source_output(node.input_value(0))
        elif "fq_weights" in node.get_friendly_name() and original is not None:
            weights = _float_weights(original, index)
            if weights is not None:
                layer.input(index).replace_source_output(weights.output(0))
    model.validate_nodes_and_infer_types()
    return model


def layer_sensitivity(model_path: Path, calibration: Sequence[Any], validation: Sequence[tuple[Any, Any]], *,
                      validate: Validation, options: QuantizeOptions, device: str = "CPU",
                      on_layer: Callable[[int, int], None] | None = None) -> Sensitivity:
    """Ranks the layers of the parent's INT8 model by the task metric keeping each in float recovers.

    Args:
        model_path: The FP32 parent.
        calibration: Calibration inputs for nncf.quantize.
        validation: (input, target) pairs scored by validate.
        validate: The task metric (core.tasks.run.Validation; errors come back negated).
        options: How to quantize (the same options a quantize job takes).
        device: OpenVINO device of the evaluations (at f32, so the ranking is of quantization alone).
        on_layer: Called with (layers done, layers in all).
    """
    import nncf
    import openvino as ov

    started = time.perf_counter()
    parent = read_model(model_path)
    with _nncf_errors():
        quantized = nncf.quantize(parent.clone(), _counting(calibration, None),
                                  **_quantize_kwargs(options, len(calibration)))
    core = ov.Core()

    def scored(model) -> float:
        return _value(validate(core.compile_model(model, device, {"INFERENCE_PRECISION_HINT": "f32"}), validation))

    float_value, int8_value = scored(parent), scored(quantized)
    sign = 1.0 if METRICS[validate.metric].higher_is_better else -1.0
    layers = []
    candidates = quantized_layers(quantized)
    for done, layer in enumerate(candidates, 1):
        value = scored(keep_float(quantized, parent, layer.get_friendly_name()))
        layers.append({"name": layer.get_friendly_name(), "type": layer.get_type_name(),
                       "value": sign * value, "recovered": value - int8_value})
        if on_layer:
            on_layer(done, len(candidates))
    layers.sort(key=lambda item: -item["recovered"])
    return Sensitivity(metric=validate.metric, float_value=sign * float_value, int8_value=sign * int8_value,
                       layers=layers, seconds=time.perf_counter() - started)
