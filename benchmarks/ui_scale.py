"""Does the Compare page stay fast with 10,000 stored results? Prints render time and peak memory.

Fills a temporary lab with --results benchmark rows (a quarter of the models are uploads, the rest
their INT8 / weight-compressed / FP16 children; each model measured at f32 and bf16 with the
latency and throughput hints, plus top-1 per precision), then renders pages/compare.py with
Streamlit's AppTest --runs times and prints each run's wall time, the median, the target ratio and
the Python peak memory of one more run (tracemalloc) and the process's peak RSS.

    .venv/bin/python benchmarks/ui_scale.py [--results 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_S = 1.5
ALGORITHMS = ("quantize", "compress_weights", "fp16")


def fill(results: int) -> None:
    """Stores results benchmark rows (4 per model) and 2 accuracy rows per model."""
    import random

    from db import repository as repo
    from tests.stored_results import store_benchmark

    rng = random.Random(0)
    parents: list[int] = []
    for n in range(results // 4):
        child = n % 4 != 0
        recipe = ({"algorithm": ALGORITHMS[n % 3], "options": {"preset": "performance", "subset_size": 300}}
                  if child else {"algorithm": "original", "source_file": f"net{n}.onnx"})
        model = repo.add_model(name=f"net{n // 4}" + (f" {recipe['algorithm']}" if child else ""),
                               format="openvino-ir", path=f"models/m{n}/model.xml",
                               size_bytes=rng.randint(1, 100) * 1_000_000, inputs=[], outputs=[],
                               parent_id=parents[-1] if child else None, recipe=recipe)
        if not child:
            parents.append(model.id)
        for precision in ("f32", "bf16"):
            latency = rng.uniform(0.5, 20)
            store_benchmark(model.id, precision=precision, latency=latency)
            store_benchmark(model.id, precision=precision, hint="throughput", fps=1000 / latency)
            repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=rng.uniform(0.6, 0.95),
                              samples=500, precision=precision)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ["OPTLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="optlab-ui-scale-")

    from streamlit.testing.v1 import AppTest

    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    started = time.perf_counter()
    fill(args.results)
    print(f"stored {repo.counts()['benchmarks']} benchmark rows, {repo.counts()['models']} models "
          f"in {time.perf_counter() - started:.1f} s")

    times = []
    for run in range(args.runs):
        at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=120)
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, at.exception
        print(f"run {run + 1}: {times[-1]:.3f} s, {len(at.dataframe[0].value)} table rows")
    # Memory on a run of its own: tracemalloc slows Python down several times.
    at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=120)
    tracemalloc.start()
    at.run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    warm = times[1:] or times
    median = statistics.median(warm)
    print(f"first run (cold imports): {times[0]:.3f} s")
    print(f"warm runs: median {median:.3f} s (min {min(warm):.3f}, max {max(warm):.3f}); "
          f"target {TARGET_S} s -> ratio {median / TARGET_S:.2f} ({'met' if median <= TARGET_S else 'MISSED'})")
    print(f"peak Python memory of one render (tracemalloc): {peak:.0f} MB; "
          f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"load average during the runs: {os.getloadavg()}")


if __name__ == "__main__":
    main()
