"""What the pages and the CLI call: bring models and data in, set up the demo, read results.

Every write of user files goes under the data dir, through core.files; a failed import removes
what it started and leaves everything stored before untouched.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from core.config import ASSETS_DIR, get_settings
from core.datasets import scan_image_folder
from core.errors import BadInputError
from core.files import extract_zip, save_upload, unique_dir
from core.models import find_model_file, inspect_model, ir_size, port_dicts, read_model, save_ir, class_labels
from core.options import ImagePreprocessing, JobKind, MeasureOptions
from core.recipes import SweepOptions
from db import repository as repo
from db.records import DatasetRecord, JobRecord, ModelRecord

Upload = tuple[str, bytes | BinaryIO]
DEMO_MODEL = "fashion-cnn (demo)"
DEMO_CALIBRATION = "fashion-mnist calibration (demo)"
DEMO_VALIDATION = "fashion-mnist validation (demo)"


def resolve(stored_path: str) -> Path:
    """Absolute path of a path stored relative to the data dir."""
    return get_settings().data_dir / stored_path


def relative(path: Path) -> str:
    """The form of a path under the data dir that rows store (the inverse of resolve)."""
    return path.relative_to(get_settings().data_dir).as_posix()


@contextmanager
def new_folder(kind: str, stem: str) -> Iterator[Path]:
    """A fresh folder under the data dir that is removed again if the block fails."""
    folder = unique_dir(get_settings().data_dir / kind, stem)
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def save_all(files: list[Upload], folder: Path) -> list[Path]:
    """Saves uploads into folder within the size limit; a single zip is unpacked safely."""
    limit = get_settings().max_upload_bytes
    if not files:
        raise BadInputError("No file was given; choose a file to upload.")
    saved = [save_upload(data, folder, name, max_bytes=limit) for name, data in files]
    if len(saved) == 1 and saved[0].suffix.lower() == ".zip":
        return [extract_zip(saved[0], folder / "unpacked", max_bytes=limit)]
    return saved


def add_model(files: list[Upload], *, name: str | None = None) -> ModelRecord:
    """Imports a model from uploaded files (one model file, an .xml + .bin pair, or a zip).

    The original is kept under original/; the lab works on an FP32 IR converted once.
    """
    stem = name or (Path(files[0][0]).stem if files else "model")
    with new_folder("models", stem) as folder:
        save_all(files, folder / "original")
        source, fmt = find_model_file(folder / "original")
        return register_model(source, fmt, folder, name=name)


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
                **(recipe or {})})


def add_model_from_path(path: Path, *, name: str | None = None) -> ModelRecord:
    """Imports a model file from disk (an .xml brings its .bin along)."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"'{path}' is not a file; give the path of a model file.")
    paths = [path] + ([path.with_suffix(".bin")] if path.suffix.lower() == ".xml"
                      and path.with_suffix(".bin").exists() else [])
    handles = [p.open("rb") for p in paths]
    try:
        return add_model([(p.name, h) for p, h in zip(paths, handles)], name=name)
    finally:
        for handle in handles:
            handle.close()


def add_image_dataset(upload: Upload, *, name: str | None = None,
                      preprocessing: ImagePreprocessing | None = None) -> DatasetRecord:
    """Imports a zip of images: class subfolders are labels, a flat folder is unlabelled."""
    file_name, data = upload
    if not file_name.lower().endswith(".zip"):
        raise BadInputError(f"'{file_name}' is not a zip; zip the image folder (one subfolder per "
                            "class for labelled data) and upload the .zip.")
    stem = name or Path(file_name).stem
    with new_folder("datasets", stem) as folder:
        (files,) = save_all([upload], folder / "upload")
        index = scan_image_folder(files)
        return repo.add_dataset(
            name=name or Path(file_name).stem, format="image-folder", path=relative(files),
            samples=len(index.samples), has_labels=index.has_labels, classes=index.classes,
            preprocessing=(preprocessing or ImagePreprocessing()).to_dict(), skipped=len(index.skipped))


def add_image_dataset_from_path(path: Path, **kwargs) -> DatasetRecord:
    with Path(path).open("rb") as handle:
        return add_image_dataset((Path(path).name, handle), **kwargs)


def ensure_demo() -> tuple[ModelRecord, DatasetRecord, DatasetRecord]:
    """Registers the bundled demo model and data once; returns (model, calibration, validation)."""
    demo = ASSETS_DIR / "demo"
    model = repo.find_model(DEMO_MODEL) or add_model_from_path(demo / "fashion_cnn.onnx", name=DEMO_MODEL)
    calibration = repo.find_dataset(DEMO_CALIBRATION) or add_image_dataset_from_path(
        demo / "fashion_calibration.zip", name=DEMO_CALIBRATION)
    validation = repo.find_dataset(DEMO_VALIDATION) or add_image_dataset_from_path(
        demo / "fashion_validation.zip", name=DEMO_VALIDATION)
    return model, calibration, validation


def delete_model(model_id: int) -> None:
    """Removes a model's row, measurements and files (its folder under the data dir)."""
    model = repo.get_model(model_id)
    folder = resolve(model.path).parent
    repo.delete_model(model_id)
    if folder.is_relative_to(get_settings().data_dir / "models"):
        shutil.rmtree(folder, ignore_errors=True)


def model_operations(model_id: int) -> dict[str, list[str]]:
    """The model's compute operations by type, for picking an ignored scope."""
    from core.models import operations_by_type

    return operations_by_type(resolve(repo.get_model(model_id).path))


def _check_fits(model: ModelRecord, dataset_ids: list[int | None]) -> None:
    """Raises a clear error when a dataset cannot feed the model (before anything is queued)."""
    from core.sources import open_dataset

    for dataset_id in filter(None, dataset_ids):
        open_dataset(repo.get_dataset(dataset_id), model)


def submit_optimization(*, kind: JobKind, model_id: int, dataset_id: int | None, options,
                        measure: MeasureOptions, idempotency_key: str | None = None) -> JobRecord:
    """Checks the inputs fit together, then queues one optimization job (quantize, compress, ...)."""
    from core import jobs

    model = repo.get_model(model_id)
    _check_fits(model, [dataset_id, measure.dataset_id, getattr(options, "validation_dataset_id", None)])
    return jobs.submit(kind, {"recipe": options.to_dict(), "measure": measure.to_dict()},
                       model_id=model_id, dataset_id=dataset_id, idempotency_key=idempotency_key)


def submit_sweep(*, sweep: SweepOptions, model_id: int, dataset_id: int | None, measure: MeasureOptions,
                 idempotency_key: str | None = None) -> JobRecord:
    """Queues one sweep job; it runs every point of sweep as a child job of its own."""
    from core import jobs

    model = repo.get_model(model_id)
    validation_ids = {p.get("validation_dataset_id") for p in sweep.points()}
    _check_fits(model, [dataset_id, measure.dataset_id, *validation_ids])
    return jobs.submit(JobKind.SWEEP, {"sweep": sweep.to_dict(), "measure": measure.to_dict()},
                       model_id=model_id, dataset_id=dataset_id, idempotency_key=idempotency_key)
