"""Fidelity of the lab's timing vs OpenVINO's benchmark_app, interleaved; and a batch sweep's time.

On a ResNet-18-sized model built in code (timing dominated by convolutions, not Python), each
round runs `python -m core benchmark --json` and `benchmark_app` with the same settings, one
after the other (lab, app, lab, app, ...), for the latency hint (batch 1, sync API like
benchmark_app) and the throughput hint. Prints the lab/app ratio of median latency and of
throughput per config (median and range over rounds). Target: 0.95-1.05.

Then times a 6-point batch sweep (1, 2, 4, 8, 16, 32; throughput hint, two repeats per point)
end to end and prints each point's throughput coefficient of variation. Target: <= 60 s wall.

    .venv/bin/python benchmarks/fidelity.py [--rounds 3] [--seconds 5] [--sweep-seconds 2]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def lab_run(model: Path, hint: str, seconds: float) -> tuple[float, float]:
    """(median latency ms, throughput fps) from the lab's CLI."""
    out = subprocess.run([sys.executable, "-m", "core", "benchmark", str(model), "--hint", hint,
                          "--seconds", str(seconds), "--json"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return data["latency_ms"]["median"], data["throughput_fps"]


def app_run(model: Path, hint: str, seconds: float) -> tuple[float, float]:
    """(median latency ms, throughput fps) parsed from benchmark_app's report."""
    out = subprocess.run([str(BIN / "benchmark_app"), "-m", str(model), "-d", "CPU", "-hint", hint,
                          "-t", str(int(seconds)), "-shape", "[1,3,224,224]"], check=True,
                         capture_output=True, text=True).stdout
    median = float(re.search(r"Median:\s+([\d.]+) ms", out).group(1))
    throughput = float(re.search(r"Throughput:\s+([\d.]+) FPS", out).group(1))
    return median, throughput


def describe(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sweep-seconds", type=float, default=2.0)
    args = parser.parse_args()

    from core.measure.options import BatchSweepOptions
    from core.measure.sweeps import run_batch_sweep, spread
    from tests.models_in_code import make_resnet18_like

    model = make_resnet18_like(Path(tempfile.mkdtemp()) / "resnet18_like.xml")
    for hint in ("latency", "throughput"):
        latency, throughput = [], []
        for _ in range(args.rounds):
            lab_latency, lab_fps = lab_run(model, hint, args.seconds)
            app_latency, app_fps = app_run(model, hint, args.seconds)
            latency.append(lab_latency / app_latency)
            throughput.append(lab_fps / app_fps)
        print(f"{hint} hint: lab/benchmark_app median latency {describe(latency)}, "
              f"throughput {describe(throughput)}  ({args.rounds} interleaved rounds, {args.seconds:g} s each)")

    options = BatchSweepOptions(batches=(1, 2, 4, 8, 16, 32), seconds=args.sweep_seconds, repeats=2)
    start = time.perf_counter()
    results = run_batch_sweep(model, options)
    wall = time.perf_counter() - start
    print(f"6-point batch sweep (2 repeats x {args.sweep_seconds:g} s per point): {wall:.1f} s wall (target <= 60)")
    for batch in options.batches:
        fps = spread([r.throughput_fps for r in results if r.batch == batch])
        print(f"  batch {batch:>2}: {fps.median:8.1f} FPS, CV {fps.cv:.1%}")


if __name__ == "__main__":
    main()
