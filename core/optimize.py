"""Model optimization with NNCF: 8-bit post-training quantization."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.models import ir_size, read_model, save_ir
from core.options import QuantizeOptions


@dataclass(frozen=True)
class QuantizeResult:
    """Where the quantized IR went and what the run cost."""

    path: Path
    seconds: float
    size_bytes: int
    fake_quantize_ops: int
    nncf_version: str
    openvino_version: str


def quantize_model(model_path: Path, samples: Sequence[np.ndarray], *, options: QuantizeOptions,
                   output_path: Path, on_sample: Callable[[int], None] | None = None) -> QuantizeResult:
    """Quantizes a model to INT8 with nncf.quantize and saves it as IR.

    Args:
        model_path: The FP32 parent (IR or anything read_model reads).
        samples: Calibration tensors, one per model call (already preprocessed).
        options: Preset, subset size and bias correction choice.
        output_path: Where model.xml (and .bin) go.
        on_sample: Called with the number of samples NNCF has consumed so far (real progress of
            statistics collection).

    Returns:
        A QuantizeResult.
    """
    import nncf
    import openvino as ov

    model = read_model(model_path)
    consumed = 0

    def transform(sample: np.ndarray) -> np.ndarray:
        nonlocal consumed
        consumed += 1
        if on_sample:
            on_sample(consumed)
        return sample

    started = time.perf_counter()
    quantized = nncf.quantize(
        model, nncf.Dataset(list(samples), transform),
        preset=nncf.QuantizationPreset(options.preset.value),
        subset_size=min(options.subset_size, len(samples)),
        fast_bias_correction=options.fast_bias_correction)
    seconds = time.perf_counter() - started
    save_ir(quantized, output_path)
    fq = sum(1 for op in quantized.get_ops() if op.get_type_name() == "FakeQuantize")
    return QuantizeResult(path=output_path, seconds=seconds, size_bytes=ir_size(output_path),
                          fake_quantize_ops=fq, nncf_version=nncf.__version__,
                          openvino_version=ov.get_version())
