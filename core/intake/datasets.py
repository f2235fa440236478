"""Calibration and validation data: image folders -> preprocessed tensors -> nncf.Dataset.

An image folder with class subfolders is labelled (ImageNet style, labels in sorted folder order);
one with box annotations or masks (core.intake.annotations) is labelled for detection or
segmentation; a flat folder of images is unlabelled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from core.errors import BadInputError, DatasetError
from core.intake.annotations import find_annotations
from core.intake.files import save_all
from core.intake.models import NUMPY_DTYPES, PortInfo
from core.intake.samples import check_label_kind
from core.options import ColorMode, ImagePreprocessing, Layout, TensorType
from core.storage import new_folder, relative
from db import repository as repo
from db.records import DatasetRecord

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
MANIFEST = "manifest.json"
IGNORED_NAMES = {"__MACOSX", ".DS_Store"}


@dataclass(frozen=True)
class ImageFolderIndex:
    """The images found in a folder. samples holds (path relative to root, label or None): a class
    number, the image's boxes ([[class, x1, y1, x2, y2], ...] fractions) or its mask's path."""

    root: Path
    classes: list[str]
    samples: list[tuple[str, Any]]
    skipped: list[str]
    label_kind: str | None = None  # 'class', 'boxes', 'mask' or None (core.intake.sources.label_kind)

    @property
    def has_labels(self) -> bool:
        return self.label_kind is not None


def _content_root(folder: Path) -> Path:
    """Steps into a lone wrapping folder (a zip of 'mydata/' holding the class folders)."""
    entries = [p for p in folder.iterdir() if p.name not in IGNORED_NAMES]
    if len(entries) == 1 and entries[0].is_dir() and not any(
            p.suffix.lower() in IMAGE_SUFFIXES for p in entries[0].iterdir() if p.is_file()):
        return entries[0]
    return folder


def _decodes(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:  # PIL raises many types for broken files; a broken image is just skipped
        return False


def _images(directory: Path) -> list[Path]:
    return [p for p in sorted(directory.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            and not set(p.parts) & IGNORED_NAMES]


def _labelled_images(root: Path) -> tuple[list[tuple[Path, Any]], list[str], str | None]:
    """(image, label) pairs, class names and label kind: from annotations, class subfolders or none."""
    annotations = find_annotations(root, _images(root))
    if annotations:
        images = [p for p in _images(root) if p.relative_to(root).parts[0] not in annotations.folders]
        empty = [] if annotations.kind == "boxes" else None  # an image without boxes shows no object
        return ([(p, annotations.by_stem.get(p.stem, empty)) for p in images
                 if annotations.kind == "boxes" or p.stem in annotations.by_stem], annotations.classes, annotations.kind)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in IGNORED_NAMES)
    if not class_dirs:
        return [(p, None) for p in _images(root)], [], None
    return [(p, i) for i, d in enumerate(class_dirs) for p in _images(d)], [d.name for d in class_dirs], "class"


def scan_image_folder(folder: Path) -> ImageFolderIndex:
    """Indexes the images under folder, checking each decodes; writes a manifest beside them."""
    root = _content_root(folder)
    pairs, classes, kind = _labelled_images(root)
    samples: list[tuple[str, Any]] = []
    skipped: list[str] = []
    for path, label in pairs:
        relative = path.relative_to(root).as_posix()
        (samples.append((relative, label)) if _decodes(path) else skipped.append(relative))
    if not samples:
        raise DatasetError("No readable images found. Upload a zip of images: one subfolder per class "
                           "for labelled data (e.g. cat/1.jpg, dog/2.jpg), images with box annotations (COCO "
                           "JSON, YOLO txt, VOC XML) or masks/ for detection or segmentation, or a flat folder "
                           "for unlabelled." + (f" {len(skipped)} file(s) failed to decode." if skipped else ""))
    index = ImageFolderIndex(root=root, classes=classes, samples=samples, skipped=skipped, label_kind=kind)
    (folder / MANIFEST).write_text(json.dumps({"root": root.relative_to(folder).as_posix(),
                                               "classes": index.classes, "samples": samples,
                                               "skipped": skipped, "label_kind": kind}))
    return index


def load_index(folder: Path) -> ImageFolderIndex:
    data = json.loads((folder / MANIFEST).read_text())
    kind = data.get("label_kind", "class" if data["classes"] else None)  # manifests written before kinds
    return ImageFolderIndex(root=folder / data["root"], classes=data["classes"],
                            samples=[(p, label) for p, label in data["samples"]], skipped=data["skipped"],
                            label_kind=kind)


def resolve_preprocessing(spec: ImagePreprocessing, model_input: PortInfo) -> ImagePreprocessing:
    """Fills the fields spec leaves open from the model input's shape; checks they agree."""
    shape = model_input.shape
    if len(shape) != 4:
        raise DatasetError(f"Model input '{model_input.name}' has shape {model_input.shape_text}; image "
                           "data needs a 4-D image input (N,C,H,W or N,H,W,C).")
    layout = spec.layout or Layout(model_input.image_layout)
    channels, height, width = ((shape[1], shape[2], shape[3]) if layout == Layout.NCHW
                               else (shape[3], shape[1], shape[2]))
    color = spec.color or (ColorMode.GRAY if channels == 1 else ColorMode.RGB)
    wanted_channels = 1 if color == ColorMode.GRAY else 3
    if channels > 0 and channels != wanted_channels:
        raise DatasetError(f"Model input '{model_input.name}' expects {channels} channel(s) "
                           f"(shape {model_input.shape_text}) but the colour mode {color} gives "
                           f"{wanted_channels}; pick the matching colour mode.")
    width, height = spec.width or width, spec.height or height
    if width is None or height is None or width <= 0 or height <= 0:
        raise DatasetError(f"Model input '{model_input.name}' has a dynamic image size "
                           f"{model_input.shape_text}; set the width and height in the preprocessing.")
    _check_dtype(spec.dtype, model_input)
    return ImagePreprocessing(width=width, height=height, layout=layout, color=color,
                              mean=spec.mean, scale=spec.scale, dtype=spec.dtype)


def _check_dtype(dtype: TensorType, model_input: PortInfo) -> None:
    """Refuses image tensors of another element type than the model input takes."""
    expected = NUMPY_DTYPES.get(model_input.element_type)
    if expected is None or np.dtype(expected) != np.dtype(dtype.value):
        takes = f"{np.dtype(expected).name} ({model_input.element_type})" if expected else model_input.element_type
        hint = (f"set the preprocessing dtype to {np.dtype(expected).name}" if expected is not None
                and np.dtype(expected).name in set(TensorType) else
                f"image data can only be {', '.join(TensorType)}; feed this input with a .npz instead")
        raise DatasetError(f"Model input '{model_input.name}' takes {takes} tensors but the image "
                           f"preprocessing makes {dtype.value}; {hint}.")


def _cast(array: np.ndarray, dtype: TensorType) -> np.ndarray:
    """array as dtype; integer types round and clip to their range instead of wrapping around."""
    target = np.dtype(dtype.value)
    if target.kind in "iu":
        array = np.clip(np.rint(array), np.iinfo(target).min, np.iinfo(target).max)
    return array.astype(target)


def load_image(path: Path, spec: ImagePreprocessing) -> np.ndarray:
    """Decodes and preprocesses one image into a batch-1 tensor of spec.dtype (spec fully resolved)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("L" if spec.color == ColorMode.GRAY else "RGB")
            image = image.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32)
    except Exception as error:  # the file changed or broke since it was indexed
        raise DatasetError(f"Image '{path.name}' could not be decoded ({error}); remove it and "
                           "upload the data again.") from error
    array = array[..., None] if array.ndim == 2 else array
    if spec.color == ColorMode.BGR:
        array = array[..., ::-1]
    array = (array - np.asarray(spec.mean, np.float32)) / np.asarray(spec.scale, np.float32)
    if spec.layout == Layout.NCHW:
        array = array.transpose(2, 0, 1)
    return np.ascontiguousarray(_cast(array[None], spec.dtype))


def load_mask(path: Path) -> np.ndarray:
    """A segmentation mask PNG as class numbers [H, W] (a palette PNG's indices, or grey values)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image if image.mode in ("P", "L", "I", "I;16") else image.convert("L"), dtype=np.int64)
    except Exception as error:  # PIL raises many types for broken files
        raise DatasetError(f"Mask '{path.name}' could not be decoded ({error}); save masks as PNGs of class "
                           "numbers and upload the data again.") from error


def tensor_to_image(tensor: np.ndarray, spec: ImagePreprocessing) -> np.ndarray:
    """Turns a preprocessed image tensor back into a displayable uint8 image (the inverse of load_image).

    Args:
        tensor: One image, [1,C,H,W] / [C,H,W] for NCHW or [1,H,W,C] / [H,W,C] for NHWC, 1 or 3
            channels, of any dtype.
        spec: The resolved preprocessing that made it (layout, colour, mean, scale).

    Returns:
        H×W (grayscale) or H×W×3 RGB uint8 pixels: value * scale + mean, rounded and clipped to 0..255.
    """
    array = np.asarray(tensor, dtype=np.float32)
    array = array[0] if array.ndim == 4 else array
    if array.ndim != 3:
        raise DatasetError(f"A tensor of shape {list(np.shape(tensor))} is not one image; expected "
                           "[1,C,H,W], [1,H,W,C] or the same without the batch axis.")
    if spec.layout == Layout.NCHW:
        array = array.transpose(1, 2, 0)
    array = array * np.asarray(spec.scale, np.float32) + np.asarray(spec.mean, np.float32)
    if spec.color == ColorMode.BGR:
        array = array[..., ::-1]
    pixels = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return pixels[..., 0] if pixels.shape[-1] == 1 else np.ascontiguousarray(pixels)


def iter_samples(index: ImageFolderIndex, spec: ImagePreprocessing,
                 limit: int | None = None) -> Iterator[tuple[np.ndarray, int | None]]:
    """Yields (tensor, label) pairs in a fixed order."""
    for path, label in index.samples[:limit]:
        yield load_image(index.root / path, spec), label


def calibration_indices(count: int, subset_size: int, seed: int = 0) -> list[int]:
    """A seeded sample of subset_size positions (all of them when fewer)."""
    if subset_size >= count:
        return list(range(count))
    return sorted(np.random.default_rng(seed).choice(count, subset_size, replace=False).tolist())


def add_image_dataset(upload: tuple[str, bytes | BinaryIO], *, name: str | None = None,
                      preprocessing: ImagePreprocessing | None = None, annotations: tuple | None = None,
                      labels: tuple[str, ...] | None = None) -> DatasetRecord:
    """Imports a zip of images: class subfolders are labels, annotations (core.intake.annotations)
    boxes or masks, a flat folder is unlabelled.

    annotations: an annotation file uploaded beside the zip (e.g. COCO instances.json), read as if
    it were in the zip's annotations/ folder. labels: the label kinds wanted (a task's); other data
    is refused before it is stored.
    """
    file_name, data = upload
    if not file_name.lower().endswith(".zip"):
        raise BadInputError(f"'{file_name}' is not a zip; zip the image folder (one subfolder per "
                            "class for labelled data) and upload the .zip.")
    stem = name or Path(file_name).stem
    with new_folder("datasets", stem) as folder:
        (files,) = save_all([upload], folder / "upload")
        if annotations:
            save_all([annotations], files / "annotations")
        index = scan_image_folder(files)
        check_label_kind(file_name, index.label_kind, labels)
        return repo.add_dataset(
            name=name or Path(file_name).stem, format="image-folder", path=relative(files),
            samples=len(index.samples), has_labels=index.has_labels, classes=index.classes,
            preprocessing=(preprocessing or ImagePreprocessing()).to_dict(), skipped=len(index.skipped))


def add_image_dataset_from_path(path: Path, **kwargs) -> DatasetRecord:
    with Path(path).open("rb") as handle:
        return add_image_dataset((Path(path).name, handle), **kwargs)
