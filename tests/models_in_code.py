"""Tiny real OpenVINO models built in code, so tests need no downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_classifier(path: Path, *, channels: int = 1, size: int = 28, classes: int = 10,
                    dynamic_batch: bool = True, seed: int = 0) -> Path:
    """Builds a small conv -> relu -> global-pool -> matmul classifier and saves it as IR.

    Args:
        path: Where to write model.xml (the .bin lands beside it).
        channels: Input channels (1 = grayscale, 3 = colour).
        size: Input height and width.
        classes: Number of output logits.
        dynamic_batch: Leave the batch dimension dynamic (-1) like most exported models.
        seed: Seed of the random weights.

    Returns:
        The path of the saved .xml.
    """
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(seed)
    batch = -1 if dynamic_batch else 1
    x = ops.parameter([batch, channels, size, size], np.float32, name="input")
    w1 = ops.constant(rng.normal(0, 0.2, (16, channels, 3, 3)).astype(np.float32))
    conv = ops.relu(ops.convolution(x, w1, [1, 1], [1, 1], [1, 1], [1, 1]))
    w2 = ops.constant(rng.normal(0, 0.2, (32, 16, 3, 3)).astype(np.float32))
    conv2 = ops.relu(ops.convolution(conv, w2, [2, 2], [1, 1], [1, 1], [1, 1]))
    pooled = ops.reduce_mean(conv2, ops.constant(np.array([2, 3], dtype=np.int64)), keep_dims=False)
    w3 = ops.constant(rng.normal(0, 0.2, (32, classes)).astype(np.float32))
    logits = ops.matmul(pooled, w3, False, False)
    logits.output(0).get_tensor().set_names({"logits"})
    model = ov.Model([logits], [x], "tiny_classifier")
    path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path
