"""Annotations inside an image zip: detection boxes (COCO JSON, YOLO txt, Pascal VOC XML) and
segmentation masks (PNGs), found by layout.

- COCO: a .json at the root or in annotations/ holding images, annotations and categories; images
  matched by file name. Categories are numbered 0..K-1 in id order (the class index detectors output).
- YOLO: one .txt per image with the same stem, beside it or in labels/: a 'class cx cy w h' line per
  box, as fractions of the image.
- Pascal VOC: one .xml per image with the same stem, beside it or in Annotations/: <object> <name>
  and <bndbox> in pixels.
- Masks: one PNG per image with the same stem in masks/ or SegmentationClass/ (VOC): each pixel's
  value is its class, 255 = not labelled.
A classes.txt (one name per line, in class order) names YOLO's and VOC's classes; without it VOC's
names are numbered in sorted order. Boxes are kept as [class, x1, y1, x2, y2] fractions of the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defusedxml import ElementTree

from core.errors import DatasetError

MASK_FOLDERS = ("masks", "SegmentationClass")
LABEL_FOLDERS = ("labels", "Annotations", "annotations")
CLASSES_FILE = "classes.txt"


@dataclass(frozen=True)
class Annotations:
    """What annotates the images of a folder.

    Attributes:
        kind: 'boxes' or 'mask' (core.intake.sources.label_kind).
        classes: Class names in class order ([] when only numbers are known).
        by_stem: Image file stem -> its boxes ([[class, x1, y1, x2, y2], ...]) or its mask's path
            relative to the root.
        folders: The root's folders holding annotations, not images to evaluate on.
    """

    kind: str
    classes: list[str]
    by_stem: dict[str, Any]
    folders: frozenset[str]


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size  # (width, height)


def _class_names(root: Path) -> list[str]:
    path = root / CLASSES_FILE
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.is_file() else []


def _fractions(x1: float, y1: float, x2: float, y2: float, width: float, height: float) -> list[float]:
    return [x1 / width, y1 / height, x2 / width, y2 / height]


def _coco(root: Path, images: dict[str, Path]) -> Annotations | None:
    for path in sorted([*root.glob("*.json"), *root.glob("annotations/*.json")]):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            continue
        if not (isinstance(data, dict) and {"images", "annotations", "categories"} <= data.keys()):
            continue
        try:
            categories = sorted(data["categories"], key=lambda c: c["id"])
            number = {c["id"]: i for i, c in enumerate(categories)}
            files = {image["id"]: image for image in data["images"]}
            by_stem: dict[str, Any] = {Path(image["file_name"]).stem: [] for image in data["images"]}
            for note in data["annotations"]:
                image = files[note["image_id"]]
                stem = Path(image["file_name"]).stem
                width, height = (image.get("width"), image.get("height")) if image.get("width") else _image_size(
                    images[stem])
                x, y, w, h = (float(v) for v in note["bbox"])
                by_stem[stem].append([number[note["category_id"]], *_fractions(x, y, x + w, y + h, width, height)])
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"'{path.name}' looks like COCO annotations but is malformed ({type(error).__name__}: "
                               f"{error}); each annotation needs image_id, category_id and bbox [x, y, w, h] of "
                               "listed images and categories.") from error
        return Annotations("boxes", [str(c.get("name", c["id"])) for c in categories], by_stem,
                           frozenset({path.relative_to(root).parts[0]} if path.parent != root else set()))
    return None


def _beside_or_in(root: Path, images: dict[str, Path], suffix: str, folder: str) -> dict[str, Path]:
    """Stem -> the annotation file of each image: beside it, or in root/folder."""
    found = {}
    for stem, image in images.items():
        for candidate in (image.with_suffix(suffix), root / folder / f"{stem}{suffix}"):
            if candidate.is_file():
                found[stem] = candidate
                break
    return found


def _yolo(root: Path, images: dict[str, Path]) -> Annotations | None:
    files = _beside_or_in(root, images, ".txt", "labels")
    if not files:
        return None
    by_stem: dict[str, Any] = {stem: [] for stem in images}
    for stem, path in files.items():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                label, cx, cy, w, h = line.split()[:5]
                cx, cy, w, h = float(cx), float(cy), float(w), float(h)
                by_stem[stem].append([int(label), cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            except ValueError as error:
                raise DatasetError(f"Line {number} of '{path.name}' is not 'class cx cy w h' (YOLO, fractions of the "
                                   f"image): {line[:80]!r}.") from error
    return Annotations("boxes", _class_names(root), by_stem, frozenset({"labels"} & {p.name for p in root.iterdir()}))


def _voc(root: Path, images: dict[str, Path]) -> Annotations | None:
    files = _beside_or_in(root, images, ".xml", "Annotations")
    if not files:
        return None
    objects: dict[str, list[tuple[str, list[float]]]] = {stem: [] for stem in images}
    for stem, path in files.items():
        try:
            tree = ElementTree.parse(path).getroot()
            size = tree.find("size")
            width, height = ((float(size.findtext("width")), float(size.findtext("height"))) if size is not None
                             and size.findtext("width") else _image_size(images[stem]))
            for item in tree.iter("object"):
                box = item.find("bndbox")
                corners = [float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
                objects[stem].append((item.findtext("name", "").strip(), _fractions(*corners, width, height)))
        except Exception as error:  # defusedxml / ElementTree raise many types for a bad or hostile file
            raise DatasetError(f"'{path.name}' is not a Pascal VOC annotation the lab reads ({type(error).__name__}); "
                               "each <object> needs a <name> and a <bndbox> with xmin, ymin, xmax, ymax.") from error
    classes = _class_names(root) or sorted({name for boxes in objects.values() for name, _ in boxes})
    unknown = sorted({name for boxes in objects.values() for name, _ in boxes} - set(classes))
    if unknown:
        raise DatasetError(f"Class '{unknown[0]}' is in the annotations but not in {CLASSES_FILE}; list every class "
                           "there, one per line, in the model's class order.")
    number = {name: i for i, name in enumerate(classes)}
    by_stem = {stem: [[number[name], *box] for name, box in boxes] for stem, boxes in objects.items()}
    return Annotations("boxes", classes, by_stem, frozenset({"Annotations"} & {p.name for p in root.iterdir()}))


def _masks(root: Path, images: dict[str, Path]) -> Annotations | None:
    for folder in MASK_FOLDERS:
        if (root / folder).is_dir():
            by_stem = {stem: f"{folder}/{stem}.png" for stem in images if (root / folder / f"{stem}.png").is_file()}
            if by_stem:
                return Annotations("mask", _class_names(root), by_stem, frozenset({folder}))
    return None


def find_annotations(root: Path, image_paths: list[Path]) -> Annotations | None:
    """The annotations of the images under root (COCO, then masks, YOLO, VOC), or None for a plain
    image folder (class subfolders or unlabelled).

    Raises:
        DatasetError: Annotations that are malformed, naming the file and what it needs.
    """
    images = {p.stem: p for p in image_paths if not set(p.relative_to(root).parts[:1]) & set(MASK_FOLDERS)}
    for finder in (_coco, _masks, _yolo, _voc):
        found = finder(root, images)
        if found:
            return found
    return None
