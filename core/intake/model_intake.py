"""Models in and out of the lab: uploads, server-folder imports, reshaped children, deletion, details.

Every model is stored once as an FP32 IR under the data dir (the original kept beside it). A server
import reads the model where it lies (below OPTLAB_IMPORT_ROOT only, never elsewhere) and
writes just the converted IR under the data dir, so a many-GB model is not copied twice.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.config import get_settings
from core.errors import BadInputError, UnsafeArchiveError, UnsafePathError
from core.intake.data_tables import parse_columns
from core.intake.files import save_all
from core.intake import llm
from core.intake.models import (
    MODEL_SUFFIXES,
    class_labels,
    find_model_file,
    metadata_charset,
    inspect_model,
    ir_size,
    port_dicts,
    read_model,
    save_ir,
    weight_precisions,
)
from core.storage import new_folder, relative, remove_tree, resolve, statistics_folder
from db import repository as repo
from db.records import ModelRecord

Upload = tuple[str, bytes | BinaryIO]


def add_model(files: list[Upload], *, name: str | None = None) -> ModelRecord:
    """Imports a model from uploaded files (one model file, an .xml + .bin pair, or a zip).

    The original is kept under original/; the lab works on an FP32 IR converted once. A language
    model folder (core.intake.llm) is stored as an openvino.genai folder instead.
    """
    stem = name or (Path(files[0][0]).stem if files else "model")
    with new_folder("models", stem) as folder:
        save_all(files, folder / "original")
        found = llm.find_llm_folder(folder / "original")
        if found:
            record = register_llm(*found, folder, name=name or (stem if found[0] == folder / "original" else None))
            if found[1] == "exported":  # the folder itself is the original: not kept twice
                remove_tree(folder / "original", within=folder)
            return record
        source, fmt = find_model_file(folder / "original")
        return register_model(source, fmt, folder, name=name)


def register_llm(root: Path, kind: str, folder: Path, *, name: str | None, recipe: dict | None = None) -> ModelRecord:
    """Stores a language model folder (exported, or a checkpoint converted here) in folder and its row."""
    if kind == "exported":
        llm.check_exported(root)
        llm.copy_exported(root, folder)
    else:
        llm.convert_checkpoint(root, folder)
    xml = folder / llm.MODEL_XML
    info = inspect_model(read_model(xml))
    config = llm.read_config(root)
    return repo.add_model(
        name=name or root.name, format="openvino-genai" if kind == "exported" else "hf-checkpoint",
        path=relative(xml), size_bytes=ir_size(xml), inputs=port_dicts(info.inputs), outputs=port_dicts(info.outputs),
        recipe={"algorithm": "original", "source_file": root.name, "labels": [], **(recipe or {}),
                "llm": {"architectures": config.get("architectures") or [], "model_type": config.get("model_type"),
                        "causal": llm.is_causal(config) or "beam_idx" in {p.name for p in info.inputs}}})


def register_model(source: Path, fmt: str, folder: Path, *, name: str | None,
                   recipe: dict | None = None) -> ModelRecord:
    """Converts source once to an FP32 IR in folder and stores its row."""
    model = read_model(source)
    info = inspect_model(model)
    xml = save_ir(model, folder / "model.xml")
    return repo.add_model(
        name=name or source.stem, format=fmt, path=relative(xml), size_bytes=ir_size(xml),
        inputs=port_dicts(info.inputs), outputs=port_dicts(info.outputs),
        recipe={"algorithm": "original", "source_file": source.name, "labels": class_labels(model),
                **(recipe or {})}, task_settings={"charset": charset} if (charset := metadata_charset(model)) else None)


def add_model_from_path(path: Path, *, name: str | None = None) -> ModelRecord:
    """Imports a model file from disk (an .xml brings its .bin along), or a language model folder
    (a Hugging Face checkpoint, converted, or an exported openvino.genai folder, copied)."""
    path = Path(path)
    found = llm.find_llm_folder(path) if path.is_dir() else None
    if found:
        with new_folder("models", name or found[0].name) as folder:
            return register_llm(*found, folder, name=name)
    if not path.is_file():
        raise BadInputError(f"'{path}' is not a model file or a language model folder; give the path of a model "
                            "file, or of a folder with config.json, safetensors and tokenizer files.")
    paths = [path] + ([path.with_suffix(".bin")] if path.suffix.lower() == ".xml"
                      and path.with_suffix(".bin").exists() else [])
    handles = [p.open("rb") for p in paths]
    try:
        return add_model([(p.name, h) for p, h in zip(paths, handles)], name=name)
    finally:
        for handle in handles:
            handle.close()


def add_torch_source(model_id: int, path: Path) -> None:
    """Keeps path, the model's PyTorch form (.pt2), in its original/ folder: what QAT and pruning train
    when the model itself was added in another format (the demo: ONNX). Loaded once to refuse a bad file."""
    if Path(path).suffix.lower() != ".pt2":
        raise BadInputError(f"'{Path(path).name}' is not a PyTorch ExportedProgram (.pt2).")
    read_model(Path(path))
    original = resolve(repo.get_model(model_id).path).parent / "original"
    original.mkdir(exist_ok=True)
    shutil.copyfile(path, original / Path(path).name)


def delete_model(model_id: int) -> None:
    """Removes a model's row, measurements and files (its folder under the data dir)."""
    model = repo.get_model(model_id)
    try:
        folder = resolve(model.path).parent
    except UnsafePathError:
        folder = None  # a row whose path leaves the data dir: the row goes, nothing on disk is touched
    repo.delete_model(model_id)
    if folder is not None:
        remove_tree(folder, within=get_settings().data_dir / "models")
    for cached in statistics_folder(model_id).glob(f"model{model_id}-*"):  # its NNCF statistics caches
        remove_tree(cached, within=statistics_folder(model_id))



def import_model_from_server(below_root: str, *, name: str | None = None) -> ModelRecord:
    """Imports a model file (or a folder holding one) found below the configured import root.

    Args:
        below_root: Path below OPTLAB_IMPORT_ROOT; an absolute path must lie below it too.
        name: The model's name (default: the file's stem).

    Raises:
        BadInputError: No import root is configured, or nothing importable is there.
        UnsafeArchiveError: The path (after following links) leaves the import root.
    """
    root = get_settings().import_root
    if root is None:
        raise BadInputError("Importing from a server folder is off; set OPTLAB_IMPORT_ROOT to the folder "
                            "holding the models and restart the lab, or upload the file instead.")
    source = (root / below_root).resolve()  # resolve() follows links, so a link out of root is caught
    if not source.is_relative_to(root):
        raise UnsafeArchiveError(f"'{below_root}' is outside the import folder {root}; only models below "
                                 "it can be imported. Move the model there.")
    found = llm.find_llm_folder(source) if source.is_dir() else None
    if found:
        with new_folder("models", name or found[0].name) as folder:
            return register_llm(*found, folder, name=name,
                                recipe={"imported_from": source.relative_to(root).as_posix()})
    if source.is_dir():
        source, fmt = find_model_file(source)
        if not source.resolve().is_relative_to(root):
            raise UnsafeArchiveError(f"'{source.name}' links outside the import folder {root}; "
                                     "copy the real file there.")
    elif source.is_file() and source.suffix.lower() in MODEL_SUFFIXES:
        fmt = MODEL_SUFFIXES[source.suffix.lower()]
    else:
        raise BadInputError(f"'{below_root}' is not a model file or folder below {root}; give the path of "
                            "an .xml, .onnx, .tflite, .pdmodel, .pt2 or a SavedModel folder.")
    with new_folder("models", name or source.stem) as folder:
        return register_model(source, fmt, folder, name=name,
                                   recipe={"imported_from": source.relative_to(root).as_posix()})


@dataclass(frozen=True)
class ModelDetails:
    """What the Models page shows beyond the row: structure, weights, lineage."""

    op_counts: dict[str, int]
    parameters: int
    weight_bytes: dict[str, int]
    size_bytes: int
    lineage: list[dict]


def _parameters(model) -> int:
    """Elements of the weight constants; i32/i64/boolean constants (shapes, axes, indices) are not weights."""
    import numpy as np

    total = 0
    for op in model.get_ops():
        if op.get_type_name() == "Constant" and op.get_output_element_type(0).get_type_name() not in (
                "i32", "i64", "boolean"):
            total += int(np.prod(list(op.get_output_shape(0)), dtype=np.int64))
    return total


def describe_model(model_id: int) -> ModelDetails:
    """Operation counts, parameter count, weight bytes per precision and lineage of a stored model."""
    record = repo.get_model(model_id)
    model = read_model(resolve(record.path))
    lineage, current = [], record
    while current is not None:
        lineage.append({"id": current.id, "name": current.name,
                        "algorithm": current.recipe.get("algorithm", ""),
                        "options": json.dumps(current.recipe.get("options", {})),
                        "dataset_id": current.recipe.get("dataset_id")})
        current = repo.get_model(current.parent_id) if current.parent_id else None
    return ModelDetails(op_counts=inspect_model(model).op_counts, parameters=_parameters(model),
                        weight_bytes=weight_precisions(model), size_bytes=record.size_bytes,
                        lineage=lineage)


def set_static_shapes(model_id: int, shapes: dict[str, list[int]]) -> ModelRecord:
    """Stores a child of the model with the given input shapes (-1 keeps a dimension dynamic).

    Calibrate and benchmark the child when the original has dynamic dimensions (e.g. an image size
    or a sequence length) that the data or the benchmark cannot pick by themselves.

    Raises:
        BadInputError: An unknown input, a wrong rank, a non-positive size, or a change to a dimension
            that is already static.
    """
    parent = repo.get_model(model_id)
    ports = {p["name"]: p["shape"] for p in parent.inputs}
    for name, shape in shapes.items():
        if name not in ports:
            raise BadInputError(f"'{parent.name}' has no input '{name}' (inputs: {', '.join(ports)}).")
        old = ports[name]
        if len(shape) != len(old) or any(d == 0 or d < -1 for d in shape) or any(
                o > 0 and d != o for o, d in zip(old, shape)):
            raise BadInputError(f"Shape {shape} does not fit input '{name}' {old}: give {len(old)} sizes, "
                                "keep the static ones, and use -1 for a dimension to stay dynamic.")
    model = read_model(resolve(parent.path))
    model.reshape({name: shape for name, shape in shapes.items()})
    text = "; ".join(f"{n}={list(s)}" for n, s in shapes.items())
    return store_derived_model(parent, model, name=f"{parent.name} [{text}]",
                               recipe={"algorithm": "reshape", "options": {"shapes": shapes}})


def store_derived_model(parent: ModelRecord, model, *, name: str, recipe: dict) -> ModelRecord:
    """Saves an ov.Model made from parent (reshaped, preprocessing baked ...) as its child IR."""
    info = inspect_model(model)
    with new_folder("models", name) as folder:
        xml = save_ir(model, folder / "model.xml")
        return repo.add_model(
            name=name, format="openvino-ir", path=relative(xml), size_bytes=ir_size(xml),
            inputs=port_dicts(info.inputs), outputs=port_dicts(info.outputs), parent_id=parent.id,
            recipe={**recipe, "labels": parent.recipe.get("labels", [])})


def parse_shapes(text: str) -> dict[str, list[int]]:
    """'input=1,3,224,224; mask=1,-1' -> {'input': [1, 3, 224, 224], 'mask': [1, -1]}; brackets and
    '?' for a dynamic dimension are taken too ('x=[?,3,48,320]')."""
    plain = text.replace("[", "").replace("]", "").replace("?", "-1")
    try:
        return {name: [int(v) for v in values] for name, values in (parse_columns(plain) or {}).items()}
    except ValueError as error:
        raise BadInputError(f"Shapes are whole numbers, e.g. 'input=1,3,224,224' ({error}).") from error


def default_import_root() -> Path | None:
    """The configured import root, for the page to show (None when server import is off)."""
    return get_settings().import_root
