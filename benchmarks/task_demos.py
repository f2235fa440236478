"""Per task demo (assets/tasks): FP32 vs INT8 vs accuracy-controlled INT8 on the task's metric, and
one layer-sensitivity ranking, all through real job processes in a fresh lab.

For the detector (mAP@0.5 on COCO boxes), the segmenter (mIoU on PNG masks) and the CTC text
recognizer (exact match / CER on string labels): plain INT8 (nncf.quantize) and INT8 with accuracy
control (max drop 0.5 points of the task metric), each measured by the lab's optimization job
(the parent at forced f32 and at the device default, the children at the device default: compare
a child with the parent's default column). Prints one row per model.

    .venv/bin/python benchmarks/task_demos.py [--sensitivity detector|segmenter|recognizer]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TASKS = ROOT / "assets" / "tasks"
DEMOS = {  # model file, calibration, validation, AC metric
    "detector": ("shapes_detector.onnx", "shapes_calibration.zip", "shapes_detection_coco.zip", "map50"),
    "segmenter": ("shapes_segmenter.onnx", "shapes_calibration.zip", "shapes_segmentation.zip", "miou"),
    "recognizer": ("text_recognizer.onnx", "text_calibration.npz", "text_validation.npz", "exact_match"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensitivity", choices=list(DEMOS), default="recognizer")
    parser.add_argument("--max-drop", type=float, default=0.005)
    args = parser.parse_args()
    os.environ.update(OPTLAB_DATA_DIR=tempfile.mkdtemp(prefix="optlab-tasks-"), OPTLAB_QUEUE="tasks")
    os.environ.pop("OPTLAB_DATABASE_URL", None)
    from core import lab
    from core.intake.sources import add_data_from_path
    from core.jobs.queue import supervise_job
    from core.optimize.recipes import AccuracyControlOptions, QuantizeOptions, SensitivityOptions
    from core.options import JobKind, MeasureOptions
    from db import repository as repo
    from db.session import upgrade_schema

    upgrade_schema()

    def run(job) -> None:
        supervise_job(job.id)
        finished = repo.get_job(job.id)
        if finished.status != "succeeded":
            raise SystemExit(f"job #{job.id} {finished.kind}: {finished.status} {finished.message}")

    print("| model | task | metric | FP32 (f32) | FP32 (device default) | INT8 | INT8 accuracy-controlled | "
          "AC kept in float | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (model_file, calibration_file, validation_file, metric) in DEMOS.items():
        started = time.perf_counter()
        model = lab.add_model_from_path(TASKS / model_file, name=name)
        calibration = add_data_from_path(TASKS / calibration_file)
        validation = add_data_from_path(TASKS / validation_file)
        measure = MeasureOptions(dataset_id=validation.id, seconds=2.0)
        run(lab.submit_optimization(kind=JobKind.QUANTIZE, model_id=model.id, dataset_id=calibration.id,
                                    options=QuantizeOptions(subset_size=100), measure=measure))
        run(lab.submit_optimization(kind=JobKind.QUANTIZE_WITH_ACCURACY_CONTROL, model_id=model.id,
                                    dataset_id=calibration.id, measure=measure, options=AccuracyControlOptions(
                                        validation_dataset_id=validation.id, metric=metric, max_drop=args.max_drop,
                                        subset_size=100)))
        values = {(r.model_id, r.precision): r.value for r in repo.list_accuracy()
                  if r.reference_model_id is None and r.metric == metric}
        children = [m for m in repo.list_models() if m.parent_id == model.id]
        plain, controlled = children[0], children[1]
        default = next(p for m, p in values if m == plain.id)  # children run at the device default

        def shown(model_id: int, precision: str) -> str:
            value = values.get((model_id, precision))
            return "—" if value is None else f"{value:.4f}"

        task = lab.model_task(model)[0].name
        kept = ", ".join(controlled.recipe.get("reverted_operations", [])) or "none"
        print(f"| {name} | {task} | {metric} | {shown(model.id, 'f32')} | {shown(model.id, default)} ({default}) | "
              f"{shown(plain.id, default)} | {shown(controlled.id, default)} | {kept} | "
              f"{time.perf_counter() - started:.0f} |", flush=True)
        if name == args.sensitivity:
            sensitivity = (model, calibration, validation, metric)
    model, calibration, validation, metric = sensitivity
    run(lab.submit_sensitivity(model_id=model.id, dataset_id=calibration.id, options=SensitivityOptions(
        validation_dataset_id=validation.id, metric=metric, subset_size=100)))
    (ranking,) = repo.list_sensitivities(model.id)
    print(f"\nsensitivity of {model.name} on {ranking.metric}: float {ranking.float_value:.4f}, INT8 "
          f"{ranking.int8_value:.4f}, {len(ranking.layers)} layers in {ranking.seconds:.1f} s")
    for rank, layer in enumerate(ranking.layers, 1):
        print(f"{rank:2d}. {layer['name']:40s} {layer['type']:18s} recovers {layer['recovered']:+.4f} "
              f"(metric {layer['value']:.4f})")


if __name__ == "__main__":
    main()
