"""A PyTorch ExportedProgram (.pt2) as a model NNCF can train, and back to OpenVINO after training.

Why .pt2: it is the format torch itself recommends for shipping a model (torch.export), the lab
already takes it in, and it loads without unpickling arbitrary objects (a full pickled nn.Module,
the other common form, runs whatever code the file names — not acceptable for an upload).

An exported program's module calls ATen overloads (`torch.ops.aten.conv2d.default`) and refuses
train(); NNCF's PyTorch backend recognises layers by the names of torch-level functions
(`torch.conv2d`) and batch norm must follow train() / eval(). `trainable` rewrites the graph to
those functions and batch norm to real modules; the arithmetic is unchanged (a test compares
outputs), only the way each op is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import ModelFormatError

SOURCE_SUFFIX = ".pt2"


def torch_source(model_path: Path) -> Path | None:
    """The .pt2 a model was converted from (kept under original/ beside its IR), or None."""
    found = sorted((model_path.parent / "original").glob(f"*{SOURCE_SUFFIX}"))
    return found[0] if found else None


def has_torch() -> bool:
    """Whether training can run here (torch and torchao, which nncf.strip needs, are installed)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("torchao") is not None


def require_torch(what: str) -> None:
    """Raises a clear error when torch is missing: training needs it, the rest of the lab does not."""
    if not has_torch():
        raise ModelFormatError(f"{what} trains the model in PyTorch, which is not installed here. Install it in "
                               "the lab's environment (pip install -r requirements-train.txt: the CPU build of "
                               "torch and torchao) to enable QAT and pruning.")


def trainable(path: Path):
    """The program at path as an nn.Module whose ops NNCF's PyTorch backend knows (see module doc)."""
    import torch

    from core.intake.models import load_exported_program

    module = load_exported_program(path).module()
    del module.train, module.eval  # the exported module's own refuse to run; nn.Module's work here
    for node in list(module.graph.nodes):
        if node.op != "call_function" or not isinstance(node.target, torch._ops.OpOverload):
            continue
        name = node.target.overloadpacket.__name__
        if name == "batch_norm":
            _batch_norm_module(module, node)
            continue
        for space in (torch, torch.nn.functional, torch._C._nn):
            function = getattr(space, name, None)
            if callable(function):
                node.target = function
                break
    module.graph.eliminate_dead_code()
    module.recompile()
    return _program_class()(module)


def _batch_norm_class():
    import torch

    class AnyBatchNorm(torch.nn.modules.batchnorm._BatchNorm):
        """Batch norm over dim 1 of any rank (the exported call does not say 1d / 2d / 3d)."""

        def _check_input_dim(self, input: Any) -> None:
            pass

    return AnyBatchNorm


def _batch_norm_module(module, node) -> None:
    """Turns one aten batch_norm call into a call of a batch norm module owning the same tensors."""
    x, weight, bias, mean, var, _training, momentum, eps = node.args[:8]
    owner = weight.target.rsplit(".", 1)[0] if weight is not None and weight.op == "get_attr" else None
    if owner is None or mean is None or mean.op != "get_attr":
        return  # not a plain affine batch norm with running statistics: left as it is
    get = module.get_submodule
    norm = _batch_norm_class()(get(owner).weight.shape[0], eps=eps, momentum=momentum)
    for name, tensor in (("weight", weight), ("bias", bias), ("running_mean", mean), ("running_var", var)):
        parent, attribute = tensor.target.rsplit(".", 1)
        setattr(norm, name, getattr(get(parent), attribute))
    norm.eval()
    name = owner.replace(".", "_") + "_norm"
    module.add_submodule(name, norm)
    with module.graph.inserting_before(node):
        replacement = module.graph.call_module(name, (x,))
    node.replace_all_uses_with(replacement)
    module.graph.erase_node(node)


def _program_class():
    import torch

    class Program(torch.nn.Module):
        """Holds the rewritten graph module; NNCF treats a bare GraphModule as torch.fx (post-training
        only), a module holding one as trainable PyTorch."""

        def __init__(self, graph_module) -> None:
            super().__init__()
            self.program = graph_module

        def forward(self, *inputs):
            return self.program(*inputs)

    return Program


def to_openvino(module, example: Any, *, input_names: list[str], output_names: list[str],
                shapes: list[list[int]] | None = None):
    """The trained module as an ov.Model: NNCF's training wrappers stripped (nncf.strip: pruning masks
    applied, quantizers as FakeQuantize with int8 weights), converted by OpenVINO's frontend, its
    inputs and outputs named and shaped as the parent's (-1: dynamic), so data, agreement and deploy
    snippets fit both."""
    import nncf
    import openvino as ov
    import torch

    module.eval()
    with torch.no_grad():
        model = ov.convert_model(nncf.strip(module, do_copy=True, example_input=example), example_input=example,
                                 input=[ov.PartialShape(shape) for shape in shapes] if shapes else None)
    for ports, names in ((model.inputs, input_names), (model.outputs, output_names)):
        if len(ports) == len(names):
            for port, name in zip(ports, names):
                port.get_tensor().set_names({name})
    return model


def weight_sparsity(model) -> float:
    """Share of exact zeros in the weights of the IR's convolutions and MatMuls (what pruning left)."""
    import numpy as np

    zeros = total = 0
    for op in model.get_ops():
        if op.get_type_name() not in ("Convolution", "GroupConvolution", "MatMul"):
            continue
        node = op.input(1).get_source_output().get_node()
        while node.get_type_name() in ("Convert", "Subtract", "Multiply", "Reshape", "Transpose", "FakeQuantize"):
            node = node.input(0).get_source_output().get_node()
        if node.get_type_name() == "Constant" and len(node.get_output_shape(0)) >= 2:
            data = node.get_data()
            zeros, total = zeros + int(np.count_nonzero(data == 0)), total + data.size
    return zeros / total if total else 0.0
