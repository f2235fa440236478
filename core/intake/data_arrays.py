"""NumPy datasets: a .npy (one input) or a .npz (one array per model input, optional labels).

The first axis of every array is the sample axis. Arrays are matched to model inputs by name, or
by order when the model has one input; an array named like LABEL_NAMES holds the labels: 1-D
integers are class labels, 1-D strings texts (text recognition), floats [N] or [N, K] values
(regression) and integers [N, H, W] masks (segmentation).
Arrays are always read with allow_pickle=False (core.intake.files), so object arrays are refused.
A stored .npy is memory-mapped when jobs read it (rows are read on demand); a .npz is read whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import BadInputError, DatasetError
from core.intake.files import load_npy, load_npz, map_npy, save_all
from core.intake.models import NUMPY_DTYPES
from core.intake.samples import SampleSource, check_label_kind
from core.storage import new_folder, relative, resolve
from db import repository as repo
from db.records import DatasetRecord, ModelRecord

FORMAT = "numpy"
LABEL_NAMES = ("labels", "label", "y", "targets")


def _load(path: Path, *, mapped: bool) -> dict[str, np.ndarray]:
    """The arrays of path; mapped=True memory-maps a .npy (checked before) instead of reading it."""
    if path.suffix.lower() == ".npz":
        return load_npz(path)  # np.load cannot map the members of a zip: they are read whole
    return {path.stem: map_npy(path) if mapped else load_npy(path)}


def _split(path: Path, *, mapped: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray | None, str | None]:
    """Loads path; returns (input arrays, labels or None, name of the labels array)."""
    arrays = _load(path, mapped=mapped)
    label_key = next((k for k in LABEL_NAMES if k in arrays), None) if path.suffix.lower() == ".npz" else None
    labels = arrays.pop(label_key) if label_key else None
    return arrays, labels, label_key


def _check_arrays(file_name: str, arrays: dict[str, np.ndarray], labels: np.ndarray | None) -> int:
    """Checks the arrays can be samples; returns the sample count."""
    if not arrays:
        raise DatasetError(f"'{file_name}' holds only labels; add one array per model input "
                           "(np.savez(path, input_name=data, labels=labels)).")
    counts = {}
    for key, array in arrays.items():
        if array.ndim == 0 or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise DatasetError(f"Array '{key}' (dtype {array.dtype}, shape {list(array.shape)}) is not "
                               "numeric data with a sample axis; save numbers, one row per sample.")
        counts[key] = array.shape[0]
    if labels is not None:
        label_kind(labels)
        counts["labels"] = labels.shape[0]
    if len(set(counts.values())) != 1:
        raise DatasetError("The arrays disagree on the number of samples ("
                           + ", ".join(f"{k}: {n}" for k, n in counts.items())
                           + "); every array needs one row per sample.")
    if not next(iter(counts.values())):
        raise DatasetError(f"'{file_name}' holds 0 samples; save at least one row.")
    return next(iter(counts.values()))


def label_kind(labels: np.ndarray) -> str:
    """What a labels array holds: 'class', 'text', 'value' or 'mask' (see the module docstring).

    Raises:
        DatasetError: An array that is none of them.
    """
    integer = np.issubdtype(labels.dtype, np.integer)
    if labels.ndim == 1 and integer:
        return "class"
    if labels.ndim == 1 and labels.dtype.kind == "U":
        return "text"
    if labels.ndim in (1, 2) and np.issubdtype(labels.dtype, np.floating):
        if not np.isfinite(labels).all():
            raise DatasetError("The labels array holds NaN or infinite values; every label must be a number.")
        return "value"
    if labels.ndim == 3 and integer:
        return "mask"
    raise DatasetError(f"The labels array (dtype {labels.dtype}, shape {list(labels.shape)}) is not labels the lab "
                       "reads: save class numbers as int64 [N], texts as str [N], values as float [N] or [N, K], "
                       "or masks as int [N, H, W].")


def add_array_dataset(upload: tuple, *, name: str | None = None, labels: tuple[str, ...] | None = None) -> DatasetRecord:
    """Imports a .npy or .npz upload after checking every array (NaN, inf, object, sample counts);
    labels: the label kinds wanted (a task's), other data is refused before it is stored."""
    file_name, _ = upload
    if Path(file_name).suffix.lower() not in (".npy", ".npz"):
        raise BadInputError(f"'{file_name}' is not a .npy or .npz file; save the arrays with np.save "
                            "or np.savez and upload that file.")
    stem = name or Path(file_name).stem
    with new_folder("datasets", stem) as folder:
        (path,) = save_all([upload], folder / "upload")
        return store_arrays(path, name=stem, source=file_name, fmt=FORMAT, labels=labels)


def store_arrays(path: Path, *, name: str, source: str, fmt: str, extra: dict | None = None,
                 labels: tuple[str, ...] | None = None) -> DatasetRecord:
    """Checks the arrays saved at path (a .npy/.npz under the data dir) and registers them.

    Args:
        path: The stored file; the record points at it.
        name: The dataset's name.
        source: The file name the user gave, for messages.
        fmt: The record's format (FORMAT, or a format that was converted to arrays).
        extra: More settings kept in the record's preprocessing JSON (e.g. a column mapping).
        labels: The label kinds wanted; other data is refused.
    """
    arrays, values, label_key = _split(path)
    count = _check_arrays(source, arrays, values)
    kind = label_kind(values) if values is not None else None
    check_label_kind(source, kind, labels)
    classes = [str(c) for c in np.unique(values).tolist()] if kind == "class" else []
    return repo.add_dataset(
        name=name, format=fmt, path=relative(path), samples=count, has_labels=values is not None,
        classes=classes, skipped=0, preprocessing={
            "arrays": {k: list(a.shape) for k, a in arrays.items()}, "labels": label_key, "label_kind": kind,
            **(extra or {})})


def _match(model: ModelRecord, dataset: DatasetRecord, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Model input name -> array name."""
    names = [port["name"] for port in model.inputs]
    if all(n in arrays for n in names):
        return {n: n for n in names}
    if len(names) == 1 and len(arrays) == 1:
        return {names[0]: next(iter(arrays))}
    missing = [n for n in names if n not in arrays]
    raise DatasetError(f"Model input '{missing[0]}' has no array of that name in '{dataset.name}' (arrays: "
                       + ", ".join(arrays) + f"); save one array per input named after it, e.g. "
                       f"np.savez(path, {', '.join(f'{n}=...' for n in names)}, labels=...).")


def check_shape(input_name: str, expected: list[int], array_name: str, array: np.ndarray) -> None:
    """Raises DatasetError unless the array's rows fit the input (first axis = batch, -1 = any)."""
    sample = [1, *array.shape[1:]]
    fits = len(expected) == len(sample) and expected[0] in (-1, 1) and all(
        e in (-1, a) for e, a in zip(expected[1:], sample[1:]))
    if not fits:
        text = "[" + ",".join("?" if d < 0 else str(d) for d in expected) + "]"
        raise DatasetError(f"Model input '{input_name}' expects shape {text} but array '{array_name}' gives "
                           f"samples of shape {sample} (array shape {list(array.shape)}, first axis = "
                           "samples); reshape the array so each row matches the input.")


def open_array_dataset(dataset: DatasetRecord, model: ModelRecord):
    """A SampleSource over a stored .npy/.npz for model (see core.intake.sources)."""
    arrays, labels, _ = _split(resolve(dataset.path), mapped=True)  # checked when it was stored
    read_label = {"class": int, "text": str}.get(label_kind(labels) if labels is not None else "", np.asarray)
    feeds = {}
    for port in model.inputs:
        array_name = _match(model, dataset, arrays)[port["name"]]
        check_shape(port["name"], port["shape"], array_name, arrays[array_name])
        feeds[port["name"]] = (arrays[array_name], NUMPY_DTYPES.get(port["element_type"], np.float32))
    single = len(feeds) == 1

    def load(i: int):
        # Copy and cast one row at a time: a whole-array astype would read a mapped .npy into memory.
        inputs = {k: np.array(a[i:i + 1], dtype=dtype, order="C") for k, (a, dtype) in feeds.items()}
        return (next(iter(inputs.values())) if single else inputs), (read_label(labels[i]) if labels is not None else None)

    return SampleSource(name=dataset.name, count=dataset.samples, has_labels=labels is not None, load=load)
