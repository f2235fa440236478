"""QAT and pruning on the demo: PTQ vs QAT vs pruning + QAT, and the lab's QAT overhead.

Part 1 (--table): a fresh lab, the demo CNN (its .pt2) and data; one job each, run for real through a
worker-free in-process supervisor: INT8 PTQ, QAT (--epochs), pruning 50 % magnitude-global + QAT.
Prints top-1 on the 500 validation images, median latency (batch 1, device default), size, the job's
wall time and the peak RSS of the training job's process.

Part 2 (always): the lab's training step (core.optimize.training.train_model on the .pt2, as a QAT job
runs it) vs a bare NNCF + torch script doing the same epochs on the same tensors (the demo's eager
FashionCNN from assets/make_demo.py with the same weights: nncf.quantize, Adam, the same batches,
top-1 before and after each epoch in batches of 64 as the lab's curve, nncf.strip, ov.convert_model,
ov.save_model), interleaved rounds, same threads. Issue 15 asks for lab / bare <= 1.10.

    .venv/bin/python benchmarks/qat.py [--rounds 3] [--epochs 2] [--table]
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
os.environ.setdefault("OPTLAB_DATA_DIR", tempfile.mkdtemp(prefix="qat-bench-"))


def bare_qat(train_x, train_y, val_x, val_y, epochs: int, batch: int, lr: float, subset: int, folder: Path) -> float:
    """QAT of the demo's eager model with nothing but NNCF, torch and OpenVINO, its IR saved in folder;
    returns the last top-1."""
    import nncf
    import onnx
    import openvino as ov
    import torch

    sys.path.insert(0, str(ROOT / "assets"))
    from make_demo import FashionCNN

    model = FashionCNN()
    proto = onnx.load(str(ROOT / "assets" / "demo" / "fashion_cnn.onnx"))
    weights = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in proto.graph.initializer}
    model.load_state_dict({name: weights[name] for name in model.state_dict()})
    model.eval()
    x, y = torch.from_numpy(train_x), torch.from_numpy(train_y)
    calibration = nncf.Dataset(list(x.split(batch)))
    quantized = nncf.quantize(model, calibration, subset_size=-(-subset // batch))
    optimizer = torch.optim.Adam(quantized.parameters(), lr=lr)

    def top1() -> float:
        quantized.eval()
        with torch.no_grad():
            scores = torch.cat([quantized(chunk) for chunk in torch.from_numpy(np.concatenate(val_x)).split(64)])
        return float((scores.argmax(1).numpy() == np.array(val_y)).mean())

    curve = [top1()]  # where fine-tuning starts, as the lab's epoch 0
    for epoch in range(1, epochs + 1):
        quantized.train()
        for index in torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch)).split(batch):
            loss = torch.nn.functional.cross_entropy(quantized(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        curve.append(top1())
    with torch.no_grad():
        ir = ov.convert_model(nncf.strip(quantized, do_copy=True, example_input=x[:1]), example_input=x[:1])
    ov.save_model(ir, str(folder / "model.xml"))
    return curve[-1]


def lab_qat(source, data, epochs: int, lr: float, threads: int, folder: Path) -> float:
    from core.optimize.recipes import QatOptions
    from core.optimize.training import train_model

    result = train_model(source, QatOptions(epochs=epochs, lr=lr), data, output_path=folder / "model.xml",
                         checkpoints=folder / "checkpoints", on_epoch=lambda e: None,
                         on_progress=lambda f, m: None, threads=threads)
    return result.details["training"]["history"][-1]["value"]


def overhead(rounds: int, epochs: int) -> None:
    import shutil

    import torch

    from core import lab
    from core.jobs.handlers.inputs import load_samples, targets
    from core.jobs.handlers.training import source_of, train_threads
    from core.optimize.training import TrainingData
    from db.session import upgrade_schema

    upgrade_schema()
    model, calibration, validation = lab.ensure_demo()

    class Quiet:
        def fraction(self, *args):
            pass

    samples = load_samples(model, calibration, None, Quiet())
    val_pairs, validate = targets(model, validation, load_samples(model, validation, 500, Quiet(), seed=1,
                                                                  part="validation"), None)
    data = TrainingData(inputs=[x for x, _ in samples], labels=[int(y) for _, y in samples], classifier=True,
                        input_names=[p["name"] for p in model.inputs], input_shapes=[p["shape"] for p in model.inputs],
                        output_names=[p["name"] for p in model.outputs], validation=val_pairs, validate=validate)
    train_x = np.concatenate(data.inputs)
    train_y = np.array(data.labels)
    val_x, val_y = [x for x, _ in val_pairs], [t for _, t in val_pairs]
    threads = train_threads()
    torch.set_num_threads(threads)
    source = source_of(model)
    ratios = []
    for round_ in range(rounds):
        times = {}
        for side in (("lab", "bare") if round_ % 2 == 0 else ("bare", "lab")):
            folder = Path(tempfile.mkdtemp(prefix=f"qat-{side}-"))
            started = time.perf_counter()
            top1 = lab_qat(source, data, epochs, 1e-5, threads, folder) if side == "lab" else \
                bare_qat(train_x, train_y, val_x, val_y, epochs, 32, 1e-5, 300, folder)
            times[side] = time.perf_counter() - started
            shutil.rmtree(folder, ignore_errors=True)
            print(f"round {round_ + 1} {side}: {times[side]:.2f} s, top-1 after the last epoch {top1:.4f}", flush=True)
        ratios.append(times["lab"] / times["bare"])
    print(f"lab / bare QAT wall time ({epochs} epochs, 300 samples, {threads} threads): median "
          f"{statistics.median(ratios):.3f} (rounds: {', '.join(f'{r:.3f}' for r in ratios)}); load average "
          f"{os.getloadavg()[0]:.1f}")


def table(epochs: int) -> None:
    from core import lab
    from core.compare.table import results_rows
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import PruneOptions, QatOptions, QuantizeOptions
    from core.options import JobKind, MeasureOptions
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()
    model, calibration, validation = lab.ensure_demo()
    measure = MeasureOptions(dataset_id=validation.id, seconds=3.0)
    runs = [(JobKind.QUANTIZE, QuantizeOptions(subset_size=300)), (JobKind.QAT, QatOptions(epochs=epochs, lr=1e-5)),
            (JobKind.PRUNE, PruneOptions(ratio=0.5, epochs=epochs, lr=1e-4, then_qat=True, qat_epochs=1))]
    for kind, options in runs:
        job = lab.submit_optimization(kind=kind, model_id=model.id, dataset_id=calibration.id, options=options,
                                      measure=measure)
        supervise_job(job.id)
        job = repo.get_job(job.id)
        child = repo.get_model(job.result_model_id)
        wall = (job.finished_at - job.started_at).total_seconds()
        training = child.recipe.get("training", {})
        print(f"{child.name}: job {wall:.1f} s, optimization {child.recipe['seconds']:.1f} s, sparsity "
              f"{child.recipe.get('sparsity', 0):.1%}, peak RSS {training.get('peak_rss_mb', '-')} MB", flush=True)
    print("| model | precision | top-1 | latency median ms | throughput fps | size MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in results_rows():
        print(f"| {row['model']} | {row['precision']} | {row.get('top1')} | {row.get('latency_ms')} | "
              f"{row.get('throughput_fps')} | {row.get('size_mb')} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--table", action="store_true", help="also run PTQ / QAT / prune + QAT jobs on the demo")
    args = parser.parse_args()
    if args.table:
        table(args.epochs)
    overhead(args.rounds, args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
