"""Intake figures: baked preprocessing vs the lab's Python preprocessing, and table import time.

1. Per image, decode + preprocess in Python (core.intake.datasets.load_image) + infer on the demo model,
   against decode only + infer on the same model with the preprocessing baked into the graph
   (core.intake.preprocess_bake). Rounds alternate A, B, A, B over the demo validation images; prints
   per-image medians, the B/A ratio per round and its spread. Both sides check the same top-1.
2. Import of a CSV table (rows x 784 feature columns) through `datasets` into a dataset.

    .venv/bin/python benchmarks/intake.py [--rounds 4] [--images 200] [--rows 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    os.environ["OPTLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="optlab-intake-")
    from PIL import Image

    from core import lab, storage
    from core.intake import sources
    from core.intake.datasets import load_image, load_index, resolve_preprocessing
    from core.intake.preprocess_bake import bake_preprocessing
    from core.intake.sources import model_inputs
    from core.measure.evaluate import compile_model
    from core.options import ImagePreprocessing, Precision
    from db.session import upgrade_schema

    upgrade_schema()
    model, _, validation = lab.ensure_demo()
    baked = bake_preprocessing(model.id, validation.id)
    spec = resolve_preprocessing(ImagePreprocessing.from_dict(validation.preprocessing), model_inputs(model)[0])
    index = load_index(storage.resolve(validation.path))
    paths = [index.root / p for p, _ in index.samples[: args.images]]
    plain = compile_model(storage.resolve(model.path), precision=Precision.F32)
    inside = compile_model(storage.resolve(baked.path), precision=Precision.F32)

    def python_side() -> list[int]:
        return [int(plain(load_image(p, spec))[0].argmax()) for p in paths]

    def baked_side() -> list[int]:
        out = []
        for p in paths:
            with Image.open(p) as image:
                raw = np.asarray(image.convert("L"))[None, :, :, None]
            out.append(int(inside(raw)[0].argmax()))
        return out

    assert python_side() == baked_side(), "baked and Python preprocessing disagree on top-1"
    def per_image_ms(side) -> float:
        start = time.perf_counter()
        side()
        return (time.perf_counter() - start) / len(paths) * 1e3

    a_times, b_times = [], []
    for _ in range(args.rounds):
        a_times.append(per_image_ms(python_side))
        b_times.append(per_image_ms(baked_side))
    ratios = [b / a for a, b in zip(a_times, b_times)]
    print(f"per image, {len(paths)} images x {args.rounds} rounds (A B interleaved), load {os.getloadavg()[0]:.1f}")
    print(f"  Python preprocessing + infer: median {statistics.median(a_times):.3f} ms "
          f"(min {min(a_times):.3f}, max {max(a_times):.3f})")
    print(f"  baked preprocessing + infer:  median {statistics.median(b_times):.3f} ms "
          f"(min {min(b_times):.3f}, max {max(b_times):.3f})")
    print(f"  ratio baked/Python: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, "
          f"max {max(ratios):.2f}); same top-1 on every image")

    rng = np.random.default_rng(0)
    header = ",".join([f"p{i}" for i in range(784)] + ["label"])
    rows = "\n".join(",".join(map(str, r)) for r in np.column_stack(
        [rng.integers(0, 255, (args.rows, 784)), rng.integers(0, 10, args.rows)]).tolist())
    text = (header + "\n" + rows + "\n").encode()
    start = time.perf_counter()
    table = sources.add_data(("pixels.csv", text), label_column="label")
    seconds = time.perf_counter() - start
    print(f"CSV import: {args.rows} rows x 785 columns ({len(text) / 1e6:.1f} MB) -> {table.samples} samples "
          f"in {seconds:.2f} s ({args.rows / seconds:,.0f} rows/s)")


if __name__ == "__main__":
    main()
