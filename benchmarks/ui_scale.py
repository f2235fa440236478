"""Does the Compare page stay fast as runs pile up? Renders it over 10,000 and 100,000 stored results.

Both labs hold the same 5,000 comparison points (a quarter of the models uploads, the rest their
INT8 / weight-compressed / FP16 children; each model at f32 and bf16, top-1 per precision); the
second has ten times as many runs of each point (repeats, interleaved A/B runs, a tenth of them
noisy), which the headline latency aggregates in SQL (repo.latency_evidence). For each lab it
renders pages/compare.py with Streamlit's AppTest --runs times and prints each warm median with
the load average, then render(100k) / render(10k) (target <= 2.0) and the larger lab's peak memory.

    .venv/bin/python benchmarks/ui_scale.py [--points 5000] [--runs 5]
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


def fill(points: int, repeats: int) -> None:
    """Stores points (model, precision) pairs, each with repeats latency and throughput runs."""
    import random

    from db import models as orm
    from db import repository as repo
    from db.session import session_scope
    from tests.stored_results import benchmark_row

    rng = random.Random(0)
    parents: list[int] = []
    rows: list[dict] = []
    for n in range(points // 2):
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
            for repeat in range(repeats):
                for hint in ("latency", "throughput"):
                    row = benchmark_row(precision=precision, hint=hint, latency=latency * rng.uniform(0.9, 1.3),
                                        fps=1000 / latency)
                    rows.append({**{k: v for k, v in row.items() if k != "latency_ms"}, "model_id": model.id,
                                 "repeat": repeat, "noisy": repeat % 10 == 9,
                                 **{f"latency_{k}_ms": v for k, v in row["latency_ms"].items()}})
            repo.add_accuracy(model_id=model.id, dataset_id=None, metric="top1", value=rng.uniform(0.6, 0.95),
                              samples=500, precision=precision)
    with session_scope() as session:  # one bulk insert: a row at a time would take minutes
        session.execute(orm.BenchmarkResult.__table__.insert(), rows)


def render(runs: int, every_family: bool) -> tuple[list[float], int]:
    """Wall times of runs renders of the Compare page (the first with cold imports), and its rows.

    The page opens on the newest model family; every_family times the rerun showing all of them.
    """
    from streamlit.testing.v1 import AppTest

    times, shown = [], 0
    for _ in range(runs):
        at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=300).run()
        started = time.perf_counter()
        if every_family:
            next(s for s in at.selectbox if s.label.startswith("Model family")).set_value("all families")
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, at.exception
        shown = len(at.dataframe[0].value)
    return times, shown


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=5000, help="(model, precision) pairs in each lab")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    medians = {}
    for repeats in (1, 10):  # 4 rows per model and repeat: 10,000 and 100,000 results for 5,000 points
        os.environ["OPTLAB_DATA_DIR"] = tempfile.mkdtemp(prefix="optlab-ui-scale-")
        from db import repository as repo
        from db.session import upgrade_schema

        upgrade_schema()
        started = time.perf_counter()
        fill(args.points, repeats)
        results = repo.counts()["benchmarks"]
        print(f"stored {results} benchmark rows, {repo.counts()['models']} models in "
              f"{time.perf_counter() - started:.1f} s")
        for every_family in (False, True):
            times, shown = render(args.runs, every_family)
            medians[results, every_family] = statistics.median(times)
            print(f"  {'all families' if every_family else 'newest family'}: {shown} table rows; warm median "
                  f"{medians[results, every_family]:.3f} s (min {min(times):.3f}, max {max(times):.3f}); "
                  f"load average {os.getloadavg()}")
    small, large = sorted({results for results, _ in medians})
    for every_family in (False, True):
        ratio = medians[large, every_family] / medians[small, every_family]
        print(f"{'all families' if every_family else 'newest family'}: render({large}) / render({small}) = "
              f"{ratio:.2f} (target <= 2.0: {'met' if ratio <= 2.0 else 'MISSED'}); render({small}) against the "
              f"{TARGET_S} s target: {medians[small, every_family] / TARGET_S:.2f}")
    # Memory on a run of its own: tracemalloc slows Python down several times.
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "compare.py"), default_timeout=300)
    tracemalloc.start()
    at.run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(f"peak Python memory of one render over {large} results (tracemalloc): {peak:.0f} MB; "
          f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
