"""Builds the tiny TensorFlow and PaddlePaddle fixtures in tests/assets with the real frameworks.

No pip package ships a SavedModel or a Paddle inference model small enough to vendor, and the
frameworks are far too large to be test dependencies, so the fixtures are made once here, in a
side venv outside the repo, and committed (a few KB each):

    python3.11 -m venv /work/fixvenv
    /work/fixvenv/bin/pip install tensorflow-cpu paddlepaddle   # tested: 2.21.0 and 3.3.1
    /work/fixvenv/bin/python tests/assets/make_fixtures.py

It writes, next to itself:
    tiny_savedmodel.zip                         TF SavedModel folder 'tiny_savedmodel/' zipped;
                                                input 'x' [1,8,8,3] f32 (NHWC) -> softmax [1,5]
    tiny_paddle.pdmodel + tiny_paddle.pdiparams Paddle inference model (legacy protobuf program,
                                                which OpenVINO's paddle frontend reads);
                                                input 'x' [1,3,8,8] f32 (NCHW) -> softmax [1,5]
    tiny_savedmodel.npz, tiny_paddle.npz        'input': a sample input, 'output': the framework's
                                                own output on it (the tests compare OpenVINO's)

Weights are random with fixed seeds; the models are our own work (same licence as the repo).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# Paddle 3.x saves a PIR program as .json by default; the legacy .pdmodel protobuf is what
# OpenVINO's paddle frontend reads, so PIR is switched off before paddle is imported.
os.environ["FLAGS_enable_pir_api"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = Path(__file__).parent
CLASSES = 5


def make_savedmodel(out: Path) -> None:
    """Conv 3x3 -> ReLU -> flatten -> dense -> softmax as a TF SavedModel, zipped."""
    import tensorflow as tf

    rng = np.random.default_rng(0)

    class Tiny(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.kernel = tf.Variable(rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32))
            self.dense = tf.Variable(rng.normal(0, 0.1, (8 * 8 * 4, CLASSES)).astype(np.float32))
            self.bias = tf.Variable(rng.normal(0, 0.1, (CLASSES,)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32, name="x")])
        def __call__(self, x):
            hidden = tf.nn.relu(tf.nn.conv2d(x, self.kernel, strides=1, padding="SAME"))
            return tf.nn.softmax(tf.matmul(tf.reshape(hidden, [1, -1]), self.dense) + self.bias)

    module = Tiny()
    sample = rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "tiny_savedmodel"
        tf.saved_model.save(module, str(folder), signatures=module.__call__)
        with zipfile.ZipFile(out / "tiny_savedmodel.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(tmp).as_posix())
    np.savez(out / "tiny_savedmodel.npz", input=sample, output=module(sample).numpy())


def make_paddle(out: Path) -> None:
    """Conv 3x3 -> ReLU -> flatten -> linear -> softmax as a Paddle inference model."""
    import paddle

    paddle.seed(0)
    layer = paddle.nn.Sequential(paddle.nn.Conv2D(3, 4, 3, padding=1), paddle.nn.ReLU(), paddle.nn.Flatten(),
                                 paddle.nn.Linear(8 * 8 * 4, CLASSES), paddle.nn.Softmax())
    layer.eval()
    sample = np.random.default_rng(1).uniform(0, 1, (1, 3, 8, 8)).astype(np.float32)
    expected = layer(paddle.to_tensor(sample)).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "tiny_paddle"
        paddle.jit.save(layer, str(prefix),
                        input_spec=[paddle.static.InputSpec([1, 3, 8, 8], "float32", name="x")])
        for suffix in (".pdmodel", ".pdiparams"):
            shutil.copyfile(prefix.with_suffix(suffix), out / f"tiny_paddle{suffix}")
    np.savez(out / "tiny_paddle.npz", input=sample, output=expected)


if __name__ == "__main__":
    # TensorFlow and Paddle crash (segfault) when loaded into one process: one child each.
    if len(sys.argv) > 1:
        {"savedmodel": make_savedmodel, "paddle": make_paddle}[sys.argv[1]](HERE)
    else:
        for which in ("savedmodel", "paddle"):
            subprocess.run([sys.executable, __file__, which], check=True)
        for path in sorted(HERE.glob("tiny_*")):
            print(f"{path.name}: {path.stat().st_size} bytes")
