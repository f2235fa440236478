"""Evaluation wall time: the lab's top-1 pass vs a bare OpenVINO AsyncInferQueue loop, interleaved.

The demo model on its 500 validation images, preprocessed once into memory (both sides get the same
tensors, so only inference and scoring are timed). Each round times, in alternating order, the lab's
`core.measure.evaluate.topk_accuracies` (core.tasks.run.Runner: 16 samples per synchronous inference
where the batch axis is dynamic, as the demo's is) and a bare loop (one
compiled model, throughput hint, an AsyncInferQueue with the optimal number of requests, argmax in
the callback). Prints each round and the medians; issue 13 asks for lab / bare <= 1.10.

    .venv/bin/python benchmarks/eval_speed.py [--rounds 5] [--repeat 4]
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


def bare_async(path: Path, samples: list) -> float:
    """Top-1 with nothing but OpenVINO: the reference the lab's evaluation is held to."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT",
                                                           "INFERENCE_PRECISION_HINT": "f32"})
    queue, hits = ov.AsyncInferQueue(compiled, 0), []
    queue.set_callback(lambda request, label: hits.append(int(np.argmax(request.get_output_tensor(0).data)) == label))
    for tensor, label in samples:
        queue.start_async([tensor], label)
    queue.wait_all()
    return sum(hits) / len(hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=4, help="passes over the data per timing (longer timings)")
    args = parser.parse_args()
    os.environ.update(OPTLAB_DATA_DIR=tempfile.mkdtemp(prefix="optlab-eval-"), OPTLAB_QUEUE="eval")
    os.environ.pop("OPTLAB_DATABASE_URL", None)
    from core import lab, storage
    from core.intake.sources import open_dataset
    from core.measure.evaluate import topk_accuracies
    from core.options import Precision
    from db.session import upgrade_schema

    upgrade_schema()
    model, _, validation = lab.ensure_demo()
    path = storage.resolve(model.path)
    samples = list(open_dataset(validation, model).samples()) * args.repeat

    def lab_pass() -> float:
        (result,) = topk_accuracies(path, samples, precision=Precision.F32)
        return result.value

    ways = {"lab": lab_pass, "bare async": lambda: bare_async(path, samples)}
    times: dict[str, list[float]] = {name: [] for name in ways}
    values = {}
    for round_ in range(args.rounds):
        order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
        for name in order:
            start = time.perf_counter()
            values[name] = ways[name]()
            times[name].append(time.perf_counter() - start)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {times[n][-1]:.3f} s" for n in ways), flush=True)
    assert len(set(values.values())) == 1, f"the two ways disagree on top-1: {values}"
    lab_s, bare_s = (statistics.median(times[n]) for n in ways)
    print(f"{len(samples)} samples, top-1 {values['lab']:.4f}; median lab {lab_s:.3f} s, bare async {bare_s:.3f} s "
          f"-> lab / bare {lab_s / bare_s:.2f} (target <= 1.10); load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
