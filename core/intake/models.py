"""Read, convert, inspect and save models. Everything is stored as OpenVINO IR.

OpenVINO is imported inside the functions so that importing this module stays cheap for the
worker supervisor and the pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, ModelFormatError

# Suffix -> format name, for the files a user may hand over as "the model".
MODEL_SUFFIXES = {".xml": "openvino-ir", ".onnx": "onnx", ".tflite": "tflite", ".pdmodel": "paddle",
                  ".pb": "tensorflow", ".pt2": "pytorch-exported-program"}
# OpenVINO element type -> the NumPy dtype fed to it.
NUMPY_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.float32, "f64": np.float64,
                "i64": np.int64, "i32": np.int32, "i16": np.int16, "i8": np.int8, "u8": np.uint8,
                "u16": np.uint16, "u32": np.uint32, "u64": np.uint64, "boolean": np.bool_}
SUPPORTED_HINT = ("Upload an ONNX file (.onnx), an OpenVINO IR (.xml with its .bin), a .tflite file, a "
                  "PaddlePaddle .pdmodel with its .pdiparams, a PyTorch ExportedProgram (.pt2), or a zip "
                  "holding one of them or a TensorFlow SavedModel folder.")


@dataclass(frozen=True)
class PortInfo:
    """One model input or output. A dynamic dimension is -1.

    layout is the model's own (OpenVINO's '[N,C,H,W]'), often empty; layout_guess is what the lab
    reads from the graph and the shape for a 4-D input without one ('NHWC' when it is transposed to
    channels-first, or its last dimension is 1 or 3 and its second is not; else 'NCHW').
    """

    name: str
    shape: list[int]
    element_type: str
    layout: str = ""
    layout_guess: str = ""

    @property
    def shape_text(self) -> str:
        return "[" + ",".join("?" if d < 0 else str(d) for d in self.shape) + "]"

    @property
    def image_layout(self) -> str:
        """'NCHW' or 'NHWC' of a 4-D input: the model's own when it says one of them, else the guess."""
        own = self.layout.strip("[]").replace(",", "")
        if own in ("NCHW", "NHWC"):
            return own
        return self.layout_guess or _shape_layout(self.shape)


def _shape_layout(shape: list[int]) -> str:
    return "NHWC" if shape[3] in (1, 3) and shape[1] not in (1, 3) else "NCHW"


def _layout_guess(port, shape: list[int]) -> str:
    """For a 4-D model input: NHWC when its first use is a Transpose to channels-first, else by shape."""
    if len(shape) != 4:
        return ""
    for target in port.get_target_inputs():
        node = target.get_node()
        if node.get_type_name() == "Transpose":
            order = node.input_value(1).get_node()
            if order.get_type_name() == "Constant" and list(order.get_vector()) == [0, 3, 1, 2]:
                return "NHWC"
    return _shape_layout(shape)


@dataclass(frozen=True)
class ModelInfo:
    """What the Models page shows of a model."""

    inputs: list[PortInfo]
    outputs: list[PortInfo]
    op_counts: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def _is_model_file(path: Path) -> bool:
    """Whether path is a model file; a SavedModel's side files (fingerprint.pb, ...) are not."""
    if path.suffix.lower() not in MODEL_SUFFIXES or not path.is_file():
        return False
    return not (path.suffix.lower() == ".pb" and path.name != "saved_model.pb"
                and (path.parent / "saved_model.pb").is_file())


def find_model_file(folder: Path) -> tuple[Path, str]:
    """Finds the one model file in folder (searched recursively); returns (path, format)."""
    candidates = sorted(p for p in folder.rglob("*") if _is_model_file(p))
    if not candidates:
        files = sorted(p.name for p in folder.rglob("*") if p.is_file())
        if any(name.lower().endswith(".pdiparams") for name in files):
            raise ModelFormatError(
                f"Found Paddle weights but no .pdmodel (got {', '.join(files[:5])}). Paddle 3 saves a "
                "PIR program as .json, which OpenVINO cannot read: export again with the environment "
                "variable FLAGS_enable_pir_api=0 set before importing paddle (paddle.jit.save then "
                "writes a .pdmodel) and upload the .pdmodel with its .pdiparams.")
        raise ModelFormatError(f"No model file found (got {', '.join(files[:5]) or 'nothing'}). {SUPPORTED_HINT}")
    if len(candidates) > 1:
        raise ModelFormatError("More than one model file found ("
                               + ", ".join(p.name for p in candidates[:5])
                               + "); upload one model at a time.")
    path = candidates[0]
    return path, MODEL_SUFFIXES[path.suffix.lower()]


def read_model(path: Path):
    """Reads a model file into an ov.Model, with errors that say what to fix."""
    import openvino as ov

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelFormatError(f"'{path.name}' is not a model format the lab reads. {SUPPORTED_HINT}")
    if path.stat().st_size == 0:
        raise ModelFormatError(f"'{path.name}' is empty (0 bytes); upload the complete file.")
    if suffix == ".xml" and not path.with_suffix(".bin").exists():
        raise ModelFormatError(f"'{path.name}' needs its weights file '{path.with_suffix('.bin').name}'; "
                               "select the .xml and the .bin together, or upload a zip holding both.")
    if suffix == ".xml":
        _check_weights_file(path)
    if suffix == ".pdmodel" and not path.with_suffix(".pdiparams").exists():
        raise ModelFormatError(f"'{path.name}' needs its weights file '{path.with_suffix('.pdiparams').name}'; "
                               "select the .pdmodel and the .pdiparams together, or upload a zip holding both.")
    try:
        if suffix == ".pt2":
            program = load_exported_program(path)
            return ov.convert_model(program, input=_exported_input_shapes(program))
        if suffix == ".pb":  # a SavedModel is read as its folder, a frozen graph as the file
            return ov.convert_model(str(path.parent if path.name == "saved_model.pb" else path))
        return ov.Core().read_model(str(path))
    except ModelFormatError:
        raise
    except Exception as error:  # OpenVINO raises RuntimeError subclasses with long C++ traces
        raise ModelFormatError(
            f"OpenVINO could not read '{path.name}' as {MODEL_SUFFIXES[suffix]}: {openvino_reason(error, path)}. "
            "Check that the file is complete and not corrupt (export or download it again); for an "
            "IR, make sure the .bin is the one saved with this .xml.") from error


def openvino_reason(error: Exception, path: Path) -> str:
    """OpenVINO's own words for a failure, without its C++ source locations or the server's folders.

    Its messages start with 'Exception from src/...cpp:84:' lines; the reason follows them.
    """
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and not line.strip().startswith("Exception from ")]
    text = " ".join(lines).replace(str(path), path.name).replace(str(path.parent) + "/", "")
    return (text or type(error).__name__)[:600].rstrip(". ")


def _check_weights_file(xml: Path) -> None:
    """Refuses a .bin whose size differs from what the .xml's constants address (a wrong or cut pair).

    OpenVINO itself would happily read a larger, unrelated .bin and return garbage weights.
    """
    import re

    ends = [int(offset) + int(size) for offset, size in
            re.findall(r'offset="(\d+)"\s+size="(\d+)"', xml.read_text(errors="replace"))]
    have, need = xml.with_suffix(".bin").stat().st_size, max(ends, default=0)
    if ends and have != need:
        raise ModelFormatError(f"'{xml.name}' could not read its weights: '{xml.with_suffix('.bin').name}' "
                               f"holds {have} bytes but the .xml expects {need}, so the .bin is not the one "
                               "saved with this .xml or it is cut short. Upload the pair saved together.")


def load_exported_program(path: Path):
    """torch.export.load, with a message saying how to enable .pt2 when torch is missing."""
    try:
        import torch
    except ImportError as error:
        raise ModelFormatError(f"'{path.name}' is a PyTorch ExportedProgram; reading it needs PyTorch, "
                               "which is not installed here. Install the CPU build in the lab's "
                               "environment (pip install torch==2.13.0, as in requirements-dev.txt) to "
                               "enable .pt2 uploads, or export the model to ONNX (torch.onnx.export) and "
                               "upload the .onnx.") from error
    return torch.export.load(str(path))


def _exported_input_shapes(program) -> list | None:
    """The input shapes torch.export recorded (a symbolic dimension = -1), None when not all are tensors.

    Without them OpenVINO makes every dimension but the channels dynamic, although the program
    was exported for fixed sizes.
    """
    import openvino as ov

    user_inputs = set(program.graph_signature.user_inputs)
    shapes = []
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user_inputs:
            value = node.meta.get("val")
            if not hasattr(value, "shape"):
                return None
            shapes.append(ov.PartialShape([d if isinstance(d, int) else -1 for d in value.shape]))
    return shapes or None


def _port(port, *, is_input: bool = False) -> PortInfo:
    import openvino as ov

    shape = [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]
    layout = ov.layout_helpers.get_layout(port)
    return PortInfo(name=port.get_any_name() if port.get_names() else "", shape=shape,
                    element_type=port.get_element_type().get_type_name(),
                    layout="" if layout.empty else layout.to_string(),
                    layout_guess=_layout_guess(port, shape) if is_input and layout.empty else "")


def inspect_model(model) -> ModelInfo:
    """Describes an ov.Model (or a path to one)."""
    if isinstance(model, (str, Path)):
        model = read_model(Path(model))
    ops: dict[str, int] = {}
    for op in model.get_ordered_ops():
        ops[op.get_type_name()] = ops.get(op.get_type_name(), 0) + 1
    metadata = {}
    if model.has_rt_info(["framework"]):
        for key, value in model.get_rt_info(["framework"]).astype(dict).items():
            metadata[str(key)] = value.astype(str) if hasattr(value, "astype") else str(value)
    return ModelInfo(inputs=[_port(p, is_input=True) for p in model.inputs], outputs=[_port(p) for p in model.outputs],
                     op_counts=dict(sorted(ops.items())), metadata=metadata)


def save_ir(model, xml_path: Path) -> Path:
    """Saves an ov.Model as IR without touching weight precision (no silent FP16 compression)."""
    import openvino as ov

    xml_path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
    return xml_path


def ir_size(xml_path: Path) -> int:
    """Bytes on disk of an IR (.xml + .bin)."""
    bin_path = xml_path.with_suffix(".bin")
    return xml_path.stat().st_size + (bin_path.stat().st_size if bin_path.exists() else 0)


def port_dicts(ports: list[PortInfo]) -> list[dict[str, Any]]:
    return [{"name": p.name, "shape": p.shape, "element_type": p.element_type, "layout": p.layout,
             **({"layout_guess": p.layout_guess} if p.layout_guess else {})} for p in ports]


def class_labels(model) -> list[str]:
    """Class names stored in the model's metadata ('labels' as a JSON list), if any."""
    for path in (["framework", "labels"], ["labels"], ["model_info", "labels"]):
        if model.has_rt_info(path):
            raw = model.get_rt_info(path).astype(str)
            try:
                labels = json.loads(raw)
            except ValueError:
                labels = raw.split()
            return [str(x) for x in labels]
    return []


def parse_charset(text: str) -> list[str]:
    """A text recognizer's charset: one character per line, in class order (PaddleOCR's dict files;
    a line holding one space is the space), or a JSON list of strings.

    Raises:
        BadInputError: Nothing in it.
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            return [str(c) for c in json.loads(stripped)]
        except ValueError:
            pass
    characters = [line for line in text.replace("\r\n", "\n").split("\n") if line != ""]
    if not characters:
        raise BadInputError("The charset is empty; give one character per line, in the model's class order.")
    return characters


def metadata_charset(model) -> list[str]:
    """The charset a text recognizer carries in its metadata ('character', as PaddleOCR's ONNX exports
    do), or []."""
    for path in (["framework", "character"], ["character"]):
        if model.has_rt_info(path):
            return parse_charset(model.get_rt_info(path).astype(str))
    return []


def weight_precisions(model) -> dict[str, int]:
    """Bytes of constant weights per element type (f32, f16, i8, u4, ...): what compression changed."""
    totals: dict[str, int] = {}
    for op in model.get_ops():
        if op.get_type_name() == "Constant":
            element_type = op.get_output_element_type(0)
            size = int(np.prod(list(op.get_output_shape(0)), dtype=np.int64))
            nbytes = (size * element_type.bitwidth + 7) // 8
            totals[element_type.get_type_name()] = totals.get(element_type.get_type_name(), 0) + nbytes
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


# Operations whose constant input is a layer's weight, and what lies between a weight and its layer
# (decompression of a compressed weight, a FakeQuantize of an INT8 one, a layout change).
_WEIGHTED = {"MatMul", "Convolution", "GroupConvolution", "ConvolutionBackpropData", "Gather"}
_ON_THE_WAY = {"Convert", "Subtract", "Multiply", "Reshape", "Transpose", "FakeQuantize"}


def _weight_type(port) -> str | None:
    """Element type of the constant a layer input is read from, or None for an activation."""
    node = port.get_source_output().get_node()
    while node.get_type_name() in _ON_THE_WAY:
        node = node.input(0).get_source_output().get_node()
    return node.get_output_element_type(0).get_type_name() if node.get_type_name() == "Constant" else None


def weight_layers(model) -> dict[str, int]:
    """Layers (MatMul, convolution, embedding Gather) per element type of their stored weight."""
    counts: dict[str, int] = {}
    for op in model.get_ops():
        if op.get_type_name() not in _WEIGHTED:
            continue
        inputs = [op.input(0)] if op.get_type_name() == "Gather" else [op.input(i) for i in range(2)]
        kinds = [t for t in map(_weight_type, inputs) if t is not None and t != "i64"]
        if kinds:
            counts[kinds[-1]] = counts.get(kinds[-1], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


# Graph plumbing no one puts in an ignored scope.
_PLUMBING = {"Parameter", "Result", "Constant", "Convert", "ShapeOf", "Concat", "Gather", "Reshape",
             "Squeeze", "Unsqueeze", "Broadcast", "FakeQuantize"}


def operations_by_type(path: Path) -> dict[str, list[str]]:
    """Names of the model's compute operations grouped by type (choices for an ignored scope)."""
    groups: dict[str, list[str]] = {}
    for op in read_model(path).get_ordered_ops():
        if op.get_type_name() not in _PLUMBING:
            groups.setdefault(op.get_type_name(), []).append(op.get_friendly_name())
    return dict(sorted(groups.items()))
