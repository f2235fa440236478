"""Commands that bring models and data in: add-model, add-data, demo, models, datasets."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from core import lab
from core.cli.common import print_record, with_lab
from core.intake.data_tables import parse_columns
from core.intake.model_intake import import_model_from_server, parse_shapes, set_static_shapes
from core.intake.sources import add_data_from_path, image_spec
from core.tasks.registry import TASKS, labels_for
from db import repository as repo


def register(sub) -> dict:
    p = sub.add_parser("add-model", help="import a model file (.onnx, .xml with its .bin, .tflite, .zip), or a "
                                         "language model folder or zip (Hugging Face checkpoint, or exported)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    p.add_argument("--from-server", action="store_true",
                   help="path is below OPTLAB_IMPORT_ROOT: read in place, only the IR is written (big models)")
    p.add_argument("--shape", default="", help="static input shapes, 'x=1,3,48,320; mask=1,-1' ('?' or -1 keeps "
                                               "a dimension dynamic): stores the model, then a child with them")
    p = sub.add_parser("set-shape", help="store a child of a stored model with static input shapes")
    p.add_argument("model_id", type=int)
    p.add_argument("--shape", required=True, help="'x=1,3,48,320; mask=1,-1'")
    p = sub.add_parser("add-data", help="import a zip of images (class subfolders = labels; or COCO / YOLO / "
                                        "VOC boxes, or masks/), or a "
                                        ".npy / .npz (one array per model input, optional 'labels'), or "
                                        "a table (.csv, .parquet, .jsonl, zipped save_to_disk folder)")
    p.add_argument("path", type=Path)
    p.add_argument("--name")
    p.add_argument("--label-column", help="tables: the column with the labels (classes, texts or numbers)")
    p.add_argument("--text-column", help="texts for language models: the table's text column (a .txt is one "
                                         "text per line)")
    p.add_argument("--task", choices=list(TASKS), help="refuse the data unless its labels fit this task "
                                                       "(boxes for detection, masks for segmentation, ...)")
    p.add_argument("--annotations", type=Path, metavar="FILE", help="image zips: an annotation file beside "
                                                                    "the zip (COCO instances.json)")
    p.add_argument("--columns", default="", help="tables: columns per model input, 'image=px; features=a,b'")
    p.add_argument("--width", type=int, default=0, help="images: resize width (default: the model input's)")
    p.add_argument("--height", type=int, default=0, help="images: resize height (default: the model input's)")
    p.add_argument("--layout", choices=["NCHW", "NHWC"], default="", help="images (default: from the model)")
    p.add_argument("--color", choices=["RGB", "BGR", "GRAY"], default="", help="images (default: from channels)")
    p.add_argument("--mean", default="0", help="images: per-channel mean subtracted, e.g. 123.7,116.3,103.5")
    p.add_argument("--scale", default="1", help="images: per-channel divisor after the mean, e.g. 58.4,57.1,57.4")
    p.add_argument("--dtype", default="float32", help="images: tensor type (float32, float16, uint8, int8)")
    p = sub.add_parser("demo", help="register the bundled demo model and data")
    p.add_argument("--llm", action="store_true", help="the LLM demo: a small Llama trained on Debian's fortunes, "
                                                      "with a text set and a prompt set")
    sub.add_parser("models", help="list models")
    sub.add_parser("datasets", help="list datasets")
    return {"add-model": add_model, "set-shape": set_shape, "add-data": add_data, "demo": demo, "models": list_rows,
            "datasets": list_rows}


@with_lab
def add_model(args) -> None:
    shapes = parse_shapes(args.shape) if args.shape else None  # a typo fails before anything is stored
    model = (import_model_from_server(str(args.path), name=args.name) if args.from_server
             else lab.add_model_from_path(args.path, name=args.name))
    print_record(asdict(set_static_shapes(model.id, shapes) if shapes else model), args.json)


@with_lab
def set_shape(args) -> None:
    print_record(asdict(set_static_shapes(args.model_id, parse_shapes(args.shape))), args.json)


@with_lab
def add_data(args) -> None:
    spec = image_spec(width=args.width, height=args.height, layout=args.layout, color=args.color,
                      mean=args.mean, scale=args.scale, dtype=args.dtype)
    print_record(asdict(add_data_from_path(args.path, name=args.name, label_column=args.label_column,
                                           columns=parse_columns(args.columns), preprocessing=spec,
                                           annotations=args.annotations, labels=labels_for(args.task),
                                           text_column=args.text_column)), args.json)


@with_lab
def demo(args) -> None:
    if args.llm:
        model, texts, prompts = lab.ensure_llm_demo()
        print_record({"model_id": model.id, "texts_id": texts.id, "prompts_id": prompts.id}, args.json)
        return
    model, calibration, validation = lab.ensure_demo()
    print_record({"model_id": model.id, "calibration_id": calibration.id, "validation_id": validation.id}, args.json)


@with_lab
def list_rows(args) -> None:
    rows = {"models": repo.list_models, "datasets": repo.list_datasets}[args.command]()
    for row in rows:
        record = asdict(row)
        if args.command == "models":  # what an optimization obtained, beside what it asked (recipe)
            record.update(obtained=row.recipe.get("obtained", {}), warnings=row.recipe.get("warnings", []))
        print_record(record, True) if args.json else print(f"#{row.id} {row.name} {row.format}")
