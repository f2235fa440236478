"""One way for jobs to read any dataset kind: open_dataset(dataset, model) -> SampleSource.

A SampleSource yields (inputs, label) pairs ready for the model: inputs is one batch-1 array for a
single-input model, or a dict input name -> batch-1 array for a multi-input model. Opening a
source checks that the data fits every model input, so a mismatch fails before a job runs.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, DatasetError
from core.intake import data_arrays, data_tables
from core.intake.data_arrays import add_array_dataset, store_arrays
from core.intake.data_tables import TABLE_SUFFIXES, add_table_dataset
from core.intake.datasets import (
    add_image_dataset,
    load_image,
    load_index,
    load_mask,
    resolve_preprocessing,
    tensor_to_image,
)
from core.intake.samples import SampleSource, check_label_kind, model_inputs
from core.options import ImagePreprocessing
from core.storage import new_folder, resolve
from db import repository as repo
from db.records import DatasetRecord, ModelRecord


def _image_source(dataset: DatasetRecord, model: ModelRecord) -> SampleSource:
    inputs = model_inputs(model)
    if len(inputs) != 1:
        raise DatasetError(f"'{model.name}' has {len(inputs)} inputs ("
                           + ", ".join(p.name for p in inputs) + "); an image folder feeds one "
                           "input. Upload a .npz with one array per input instead.")
    spec = resolve_preprocessing(ImagePreprocessing.from_dict(dataset.preprocessing), inputs[0])
    index = load_index(resolve(dataset.path))
    read_label = {"boxes": lambda boxes: np.array(boxes, dtype=np.float64).reshape(-1, 5),
                  "mask": lambda mask: load_mask(index.root / mask)}.get(index.label_kind, lambda label: label)
    return SampleSource(name=dataset.name, count=len(index.samples), has_labels=index.has_labels,
                        load=lambda i: (load_image(index.root / index.samples[i][0], spec),
                                        read_label(index.samples[i][1])))


SYNTHETIC = "synthetic"


def _refuse_synthetic(dataset: DatasetRecord, model: ModelRecord) -> SampleSource:
    raise DatasetError(f"'{dataset.name}' is synthetic data (random numbers shaped like the model's inputs); "
                       "it is for benchmarking only. Accuracy and calibration on it would measure "
                       "noise, so they are refused: upload real data for them.")


def add_synthetic_dataset(model_id: int, *, samples: int = 16, seed: int = 0) -> DatasetRecord:
    """Random inputs shaped like the model's (dynamic dims = 1), flagged benchmark-only."""
    model = repo.get_model(model_id)
    rng = np.random.default_rng(seed)
    arrays = {p["name"]: rng.uniform(0, 1, [samples, *[d if d > 0 else 1 for d in p["shape"][1:]]])
              .astype(np.float32) for p in model.inputs}
    with new_folder("datasets", f"synthetic-{model.name}") as folder:
        np.savez(folder / "arrays.npz", allow_pickle=False, **arrays)
        return store_arrays(folder / "arrays.npz", name=f"synthetic for {model.name} (benchmark only)",
                            source="synthetic", fmt=SYNTHETIC, extra={"model_id": model.id, "seed": seed})


def _refuse_texts(dataset: DatasetRecord, model: ModelRecord) -> SampleSource:
    raise DatasetError(f"'{dataset.name}' is a text dataset: it feeds language models (generation, perplexity, "
                       f"similarity), not the tensors of '{model.name}'; choose tensor data, or a language model.")


def texts(dataset: DatasetRecord) -> list[str]:
    """The texts of a text dataset (DatasetError for any other kind)."""
    if dataset.format != data_tables.TEXT_FORMAT:
        raise DatasetError(f"'{dataset.name}' holds {dataset.format} data, not texts; import texts as a .txt (one "
                           "per line) or a table with a text column (--text-column).")
    return data_tables.read_texts(resolve(dataset.path))


def _opener(fmt: str) -> Callable[[DatasetRecord, ModelRecord], SampleSource]:
    openers = {"image-folder": _image_source, data_arrays.FORMAT: data_arrays.open_array_dataset,
               data_tables.FORMAT: data_arrays.open_array_dataset, SYNTHETIC: _refuse_synthetic,
               data_tables.TEXT_FORMAT: _refuse_texts}
    if fmt not in openers:
        raise DatasetError(f"Datasets of format '{fmt}' cannot be read by this version of the lab; "
                           "upload the data again as an image zip or a .npz file.")
    return openers[fmt]


def label_kind(dataset: DatasetRecord) -> str | None:
    """What the dataset's labels are ('class', 'text', 'value', 'mask', 'boxes'), None without labels."""
    if not dataset.has_labels:
        return None
    if dataset.format == "image-folder":
        return load_index(resolve(dataset.path)).label_kind
    return dataset.preprocessing.get("label_kind") or "class"  # datasets stored before kinds had classes


def labels_summary(dataset: DatasetRecord) -> str:
    """What labels the dataset has, for the pages: '10 classes', 'boxes of 3 classes', 'masks', ..."""
    kind, count = label_kind(dataset), len(dataset.classes)
    return {"class": f"{count} classes", "boxes": f"boxes of {count or 'numbered'} classes",
            "mask": f"masks of {count} classes" if count else "masks", "text": "texts",
            "value": "numeric values"}.get(kind, "no labels")


def label_text(dataset: DatasetRecord, kind: str | None, label: Any) -> Any:
    """A sample's label as the pages show it: the class name, 'N boxes', 'mask W×H', the text or values.
    kind is label_kind(dataset)."""
    if label is None:
        return None
    if kind == "class" and dataset.format == "image-folder":
        return dataset.classes[label]
    if kind == "boxes":
        return f"{len(label)} boxes"
    if kind == "mask":
        return f"mask {label.shape[1]}×{label.shape[0]}"
    return str(np.round(label, 4).tolist()) if kind == "value" else label


def open_dataset(dataset: DatasetRecord, model: ModelRecord) -> SampleSource:
    """Opens dataset as samples for model; raises DatasetError naming any input that does not fit."""
    return _opener(dataset.format)(dataset, model)


def check_data_file(file_name: str) -> None:
    """Refuses a file that no dataset kind reads (before it is queued for import)."""
    suffix = Path(file_name).suffix.lower()
    if suffix not in (".npy", ".npz", ".zip", ".txt", *TABLE_SUFFIXES):
        raise BadInputError(f"'{file_name}' is not data the lab reads; upload a zip of images, a .npy / .npz, "
                            "a table (.csv, .parquet, .jsonl), a zipped save_to_disk folder or a .txt of texts.")


def add_data(upload: tuple, *, name: str | None = None, label_column: str | None = None,
             columns: dict[str, list[str]] | None = None, preprocessing=None, annotations: tuple | None = None,
             labels: tuple[str, ...] | None = None, text_column: str | None = None) -> DatasetRecord:
    """Imports an upload by its kind: a zip of images, a .npy / .npz of arrays, a table, or texts.

    A .txt, or a table with text_column given, is a text dataset for language models
    (core.intake.data_tables.add_text_dataset).

    label_column and columns apply to tables (see core.intake.data_tables.add_table_dataset),
    preprocessing (an ImagePreprocessing) and annotations (a file beside the zip) to image zips;
    labels (the label kinds a task wants) to all: other data is refused before it is stored.
    """
    suffix = "." + str(upload[0]).lower().rsplit(".", 1)[-1]
    if suffix == ".txt" or text_column:
        check_label_kind(str(upload[0]), None, labels)
        return data_tables.add_text_dataset(upload, name=name, text_column=text_column)
    if annotations and suffix != ".zip":
        raise BadInputError("An annotation file goes with a zip of images; arrays and tables carry their labels.")
    if suffix in (".npy", ".npz"):
        return add_array_dataset(upload, name=name, labels=labels)
    if suffix in TABLE_SUFFIXES or (suffix == ".zip" and _is_hf_folder_zip(upload[1])):
        return add_table_dataset(upload, name=name, label_column=label_column, columns=columns, labels=labels)
    return add_image_dataset(upload, name=name, preprocessing=preprocessing, annotations=annotations, labels=labels)


def image_spec(*, width: int = 0, height: int = 0, layout: str = "", color: str = "", mean: str = "0",
               scale: str = "1", dtype: str = "float32"):
    """An ImagePreprocessing from form values: 0 / '' = take it from the model; mean, scale as '0.5,0.5,0.5'."""
    try:
        means, scales = ([float(v) for v in text.split(",") if v.strip()] for text in (mean, scale))
    except ValueError as error:
        raise BadInputError(f"Mean and scale are numbers separated by commas, e.g. '123.7,116.3,103.5' "
                            f"({error}).") from error
    return ImagePreprocessing(width=width or None, height=height or None, layout=layout or None,
                              color=color or None, mean=tuple(means), scale=tuple(scales), dtype=dtype)


def _is_hf_folder_zip(data) -> bool:
    """Whether a zip upload holds a Hugging Face save_to_disk folder (peeks at the names only)."""
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    if not hasattr(stream, "seek"):
        return False
    try:
        with zipfile.ZipFile(stream) as archive:
            found = any(n.endswith("dataset_info.json") for n in archive.namelist())
    except zipfile.BadZipFile:
        found = False  # the image importer reports the damaged zip with its own message
    stream.seek(0)
    return found


def add_data_from_path(path, *, annotations=None, **kwargs) -> DatasetRecord:
    """add_data for a file on disk (the CLI), with an annotation file on disk; kwargs as for add_data."""
    with Path(path).open("rb") as handle:
        extra = (Path(annotations).name, Path(annotations).read_bytes()) if annotations else None
        return add_data((Path(path).name, handle), annotations=extra, **kwargs)


def preview(dataset: DatasetRecord, model: ModelRecord, count: int = 5) -> list[dict[str, Any]]:
    """The first count samples as the model will get them: per input shape, dtype, range; the label.

    Raises DatasetError naming the input, expected and actual shape when the data does not fit.
    """
    rows, kind = [], label_kind(dataset)
    source = open_dataset(dataset, model)
    for i, (inputs, label) in enumerate(source.samples(range(min(count, len(source))))):
        feeds = inputs if isinstance(inputs, dict) else {model.inputs[0]["name"]: inputs}
        for name, array in feeds.items():
            rows.append({"sample": i, "input": name, "shape": str(list(np.shape(array))),
                         "dtype": str(array.dtype), "min": float(np.min(array)),
                         "max": float(np.max(array)), "label": label_text(dataset, kind, label)})
    return rows


def preview_images(dataset: DatasetRecord, model: ModelRecord, count: int = 8) -> list[tuple[Any, str]]:
    """The first count samples of an image dataset as the model gets them, turned back into pictures.

    Returns (H×W or H×W×3 uint8 image, caption 'sample i: label') pairs; [] for data that is not an
    image folder (arrays and tables have no picture to show). Raises DatasetError like open_dataset.
    """
    if dataset.format != "image-folder":
        return []
    source = open_dataset(dataset, model)  # checks the model has one fitting input
    spec = resolve_preprocessing(ImagePreprocessing.from_dict(dataset.preprocessing), model_inputs(model)[0])
    kind = label_kind(dataset)
    return [(tensor_to_image(tensor, spec), f"sample {i}: {label_text(dataset, kind, label) or 'unlabelled'}")
            for i, (tensor, label) in enumerate(source.samples(range(min(count, len(source)))))]


SPLIT_FILE = "split.json"


@dataclass(frozen=True)
class Split:
    """Seeded, non-overlapping calibration / validation parts of one dataset (sample positions)."""

    calibration: list[int]
    validation: list[int]
    seed: int
    validation_fraction: float


def _split_path(dataset: DatasetRecord):
    return resolve("/".join(dataset.path.split("/")[:2])) / SPLIT_FILE  # datasets/<name>/split.json


def split_dataset(dataset_id: int, *, validation_fraction: float, seed: int = 0) -> Split:
    """Splits a dataset once into calibration and validation parts, kept in a sidecar file.

    Jobs then calibrate on the calibration part and measure accuracy on the validation part when
    the same dataset is picked for both.
    """
    dataset = repo.get_dataset(dataset_id)
    if not 0 < validation_fraction < 1:
        raise DatasetError(f"The validation share must be between 0 and 1 (got {validation_fraction}); "
                           "e.g. 0.3 keeps 30 % of the samples for validation.")
    size = round(dataset.samples * validation_fraction)
    if size < 1 or size >= dataset.samples:
        raise DatasetError(f"'{dataset.name}' has {dataset.samples} samples, too few to split at "
                           f"{validation_fraction:g}; upload more data or change the share.")
    order = np.random.default_rng(seed).permutation(dataset.samples)
    split = Split(calibration=sorted(order[size:].tolist()), validation=sorted(order[:size].tolist()),
                  seed=seed, validation_fraction=validation_fraction)
    _split_path(dataset).write_text(json.dumps(split.__dict__))
    return split


def dataset_split(dataset: DatasetRecord) -> Split | None:
    """The dataset's split, if one was made."""
    path = _split_path(dataset)
    return Split(**json.loads(path.read_text())) if path.exists() else None


def _scales_its_input(model: ModelRecord) -> bool:
    """Whether the model's first operation on its (first) input is arithmetic, i.e. it normalises raw
    pixels itself (as the demo does), rather than a convolution or MatMul expecting normalised data."""
    from core.intake.models import read_model

    graph = read_model(resolve(model.path))  # kept: its nodes' links die with it
    node = graph.inputs[0].get_node()
    while True:
        users = [target.get_node() for target in node.output(0).get_target_inputs()]
        if len(users) != 1 or users[0].get_type_name() not in ("Convert", "Transpose", "Reshape"):
            return any(u.get_type_name() in ("Subtract", "Multiply", "Divide", "Add") for u in users)
        node = users[0]


def fit_warnings(dataset: DatasetRecord, model: ModelRecord, rows: list[dict[str, Any]] | None = None) -> list[str]:
    """What fits but will mislead: labels that cannot be the model's classes, pixel values of 0-255
    where the first preprocessed sample looks unnormalised for a float input. Empty when none.

    rows: preview(dataset, model) when the caller has it already (it is not computed twice).
    """
    found = []
    shape = model.outputs[0].get("shape", []) if model.outputs else []
    classes = shape[-1] if shape and shape[-1] > 0 else 0
    if label_kind(dataset) == "class" and classes and len(dataset.classes) != classes:
        found.append(f"'{dataset.name}' has {len(dataset.classes)} classes but the model's output '"
                     f"{model.outputs[0]['name']}' has {classes}: top-1 against these labels will mean little. "
                     "Check the class folders (or the label column) match the model's classes.")
    rows = (rows or preview(dataset, model, count=1)) if dataset.format == "image-folder" else []
    if rows and rows[0]["dtype"].startswith("float") and rows[0]["max"] > 10 and not _scales_its_input(model):
        found.append(f"The images reach pixel values up to {rows[0]['max']:.0f} (0-255, mean 0 and scale 1). "
                     "If the model was trained on normalised inputs, set mean / scale (e.g. scale 255, or the "
                     "ImageNet mean 123.7,116.3,103.5 and scale 58.4,57.1,57.4) and upload the images again.")
    return found


def part_read(dataset: DatasetRecord, part: str) -> str:
    """What open_part(dataset, ..., part) reads: part when the dataset is split, else 'all'."""
    return part if dataset_split(dataset) is not None else "all"


def open_part(dataset: DatasetRecord, model: ModelRecord, part: str) -> SampleSource:
    """open_dataset limited to the 'calibration' or 'validation' part when the dataset is split."""
    source = open_dataset(dataset, model)
    split = dataset_split(dataset)
    if split is None:
        return source
    positions = getattr(split, part)
    return SampleSource(name=f"{source.name} ({part})", count=len(positions), has_labels=source.has_labels,
                        load=lambda i: source.load(positions[i]))
