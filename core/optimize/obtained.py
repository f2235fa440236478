"""What an optimization obtained, against what it asked for.

NNCF falls back without failing: an INT4 request can come out all INT8 (embeddings and the last
layer stay in the backup precision, small layers too), accuracy control can revert every
quantizer. After each run the saved IR is read back (core.optimize.algorithms: weight bytes per
element type, layers per weight type, FakeQuantize count) and compared here with the recipe; each
difference is a sentence that travels with the model: the job ends "succeeded with a warning" and
the model page, Compare's hover and the export README repeat it.
"""

from __future__ import annotations

from typing import Any

from core.optimize.recipes import CompressWeightsOptions, WeightMode
from core.options import JobKind

# The element type NNCF stores a layer's weight in, per compression mode.
PRIMARY = {WeightMode.INT8_SYM: "i8", WeightMode.INT8_ASYM: "u8", WeightMode.INT4_SYM: "i4",
           WeightMode.INT4_ASYM: "u4", WeightMode.NF4: "nf4", WeightMode.CB4: "f8e4m3", WeightMode.MXFP4: "f4e2m1",
           WeightMode.FP8_E4M3: "f8e4m3"}
QUANTIZED_AT_LEAST = 0.2  # accuracy control keeping fewer quantizers than this share says so loudly


def layers_text(layers: dict[str, int]) -> str:
    """{'u4': 4, 'u8': 2} -> 'u4 4 of 6 layers, u8 2 of 6'."""
    total = sum(layers.values())
    parts = [f"{kind} {count} of {total}" for kind, count in layers.items()]
    return (parts[0] + " layers" + "".join(", " + p for p in parts[1:])) if parts else "no weighted layers"


def _compression(options: CompressWeightsOptions, layers: dict[str, int]) -> list[str]:
    want = PRIMARY[options.mode]
    if not layers or layers.get(want):
        return []
    hint = ("; NNCF keeps embeddings and the last layer in the backup precision: turn on 'all layers', "
            "lower the group size or set group size fallback to 'adjust'" if not options.mode.is_8bit else "")
    return [f"Asked for {options.mode}, but no layer's weights are {want} ({layers_text(layers)}): NNCF fell "
            f"back{hint}."]


def _quantization(kind: JobKind, details: dict[str, Any]) -> list[str]:
    quantizers = details["obtained"].get("fake_quantize", 0)
    reverted = len(details.get("reverted_operations", []))
    if kind == JobKind.QUANTIZE_WITH_ACCURACY_CONTROL and reverted:
        kept = quantizers / (quantizers + reverted) if quantizers + reverted else 0.0
        if kept < QUANTIZED_AT_LEAST:
            return [f"Accuracy control reverted {reverted} operations to floating point and kept "
                    f"{quantizers} FakeQuantize ({kept:.0%} quantized): this is "
                    f"{'an FP32 model' if not quantizers else 'barely INT8'}. Allow a larger max drop, cap "
                    "max reverted, or quantize plainly and compare."]
    if not quantizers:
        return ["The model holds no FakeQuantize: NNCF quantized nothing (check the ignored scope and the "
                "model type)."]
    return []


def warnings(kind: JobKind, options, details: dict[str, Any], *, parent_bytes: int, size_bytes: int) -> list[str]:
    """Sentences on how the obtained model differs from the request; empty when it is what was asked."""
    layers = details.get("weight_layers", {})
    found: list[str] = []
    if kind == JobKind.COMPRESS_WEIGHTS:
        found += _compression(options, layers)
    elif kind in (JobKind.QUANTIZE, JobKind.QUANTIZE_WITH_ACCURACY_CONTROL):
        found += _quantization(kind, details)
    elif kind == JobKind.FP16 and layers and not layers.get("f16"):
        found.append(f"Asked for FP16 weights, but no layer's weights are f16 ({layers_text(layers)}).")
    if size_bytes > parent_bytes:
        found.append(f"The optimized model is bigger than its parent ({size_bytes / 2**20:.3f} MB vs "
                     f"{parent_bytes / 2**20:.3f} MB).")
    return found
