"""Regenerate the task demo assets in ``assets/tasks/``: a detector, a segmenter and a CTC text
recognizer, each trained here on procedurally rendered data, with labelled data in every format
the lab reads.

Run from the repository root with the dev venv (torch is in requirements-dev.txt; the app never
imports torch)::

    .venv/bin/python assets/make_tasks.py [--out DIR]

Deterministic (fixed seeds, one thread). What it writes:

* ``shapes_detector.onnx``: image [N, 3, 64, 64] float32 raw pixels 0-255 -> ``boxes`` [N, 7, 64], a
  YOLOv8-style head (cx, cy, w, h in input pixels, then 3 class scores 0-1) over an 8 x 8 grid;
  classes square, circle, triangle (ONNX metadata ``labels``).
* ``shapes_segmenter.onnx``: the same images -> ``scores`` [N, 4, 64, 64] (background, square,
  circle, triangle).
* ``text_recognizer.onnx``: a text line [N, 1, 32, 128] float32 0-255 -> ``probs`` [N, 32, 37], CTC
  over 36 characters (0-9, a-z) plus the blank (class 0), the charset in the metadata as
  ``character`` (one per line, as PaddleOCR's exports carry it).
* ``shapes_calibration.zip``: 100 unlabelled images (calibration for both image models).
* ``shapes_detection_coco.zip`` / ``_yolo.zip`` / ``_voc.zip``: the same 200 validation images with
  their boxes as COCO JSON, YOLO txt and Pascal VOC XML.
* ``shapes_segmentation.zip``: 200 validation images with ``masks/`` PNGs (class per pixel).
* ``text_calibration.npz`` (100 lines) and ``text_validation.npz`` (300 lines with string ``labels``).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

SEED = 20261202
SIZE, GRID, CLASSES = 64, 8, ("square", "circle", "triangle")
CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"
LINE = (32, 128)  # height, width of a text line
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
DEFAULT_OUT = Path(__file__).resolve().parent / "tasks"


# --------------------------------------------------------------------------- rendering
def render_shapes(rng: np.random.Generator) -> tuple[np.ndarray, list[list[float]], np.ndarray]:
    """One image: a plain background with 1-3 filled shapes. Returns (H x W x 3 uint8, boxes
    [[class, x1, y1, x2, y2] in pixels], mask H x W with 0 = background, 1 + class elsewhere)."""
    background = tuple(int(v) for v in rng.integers(0, 120, 3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    mask = Image.new("L", (SIZE, SIZE), 0)
    draw, paint = ImageDraw.Draw(image), ImageDraw.Draw(mask)
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 3))
        side = int(rng.integers(12, 26))
        x1, y1 = int(rng.integers(0, SIZE - side)), int(rng.integers(0, SIZE - side))
        x2, y2 = x1 + side, y1 + side
        colour = tuple(int(v) for v in rng.integers(140, 256, 3))
        if kind == 0:
            shape = {"xy": [x1, y1, x2 - 1, y2 - 1]}
            draw.rectangle(**shape, fill=colour)
            paint.rectangle(**shape, fill=1)
        elif kind == 1:
            shape = {"xy": [x1, y1, x2 - 1, y2 - 1]}
            draw.ellipse(**shape, fill=colour)
            paint.ellipse(**shape, fill=2)
        else:
            points = [(x1 + side / 2, y1), (x2 - 1, y2 - 1), (x1, y2 - 1)]
            draw.polygon(points, fill=colour)
            paint.polygon(points, fill=3)
        boxes.append([kind, x1, y1, x2, y2])
    return np.asarray(image), boxes, np.asarray(mask)


def render_line(rng: np.random.Generator, font) -> tuple[np.ndarray, str]:
    """One text line of 3-8 characters, dark on light, at a random offset."""
    text = "".join(rng.choice(list(CHARSET), int(rng.integers(3, 9))))
    image = Image.new("L", (LINE[1], LINE[0]), int(rng.integers(180, 256)))
    ImageDraw.Draw(image).text((int(rng.integers(2, 20)), int(rng.integers(2, 8))), text,
                               fill=int(rng.integers(0, 80)), font=font)
    noise = rng.normal(0, 6, (LINE[0], LINE[1]))
    return np.clip(np.asarray(image, np.float32) + noise, 0, 255).astype(np.uint8), text


# --------------------------------------------------------------------------- models
def block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Detector(nn.Module):
    """Anchor-free 8 x 8 grid head; exported decoded as [N, 4 + C, 64] (YOLOv8's layout)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(block(3, 24, 2), block(24, 48, 2), block(48, 64, 2), block(64, 64))
        self.head = nn.Conv2d(64, 4 + len(CLASSES), 1)
        ys, xs = torch.meshgrid(torch.arange(GRID), torch.arange(GRID), indexing="ij")
        self.register_buffer("grid", torch.stack([xs, ys]).float().reshape(1, 2, GRID, GRID))

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x / 255.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = self.raw(x)
        stride = SIZE / GRID
        centres = (self.grid + torch.sigmoid(raw[:, :2])) * stride
        sizes = torch.exp(raw[:, 2:4].clamp(-4, 4)) * 16.0
        decoded = torch.cat([centres, sizes, torch.sigmoid(raw[:, 4:])], 1)
        return decoded.reshape(x.shape[0], 4 + len(CLASSES), GRID * GRID)


class Segmenter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Sequential(block(3, 24, 2), block(24, 48, 2), block(48, 48))
        self.up = nn.Sequential(nn.Upsample(scale_factor=4, mode="bilinear", align_corners=False), block(48, 24))
        self.out = nn.Conv2d(24 + 3, 1 + len(CLASSES), 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / 255.0
        return self.out(torch.cat([self.up(self.down(x)), x], 1))


class Recognizer(nn.Module):
    """Conv features collapsed over the height, 1-D convs over the 32 time steps, CTC classes."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(block(1, 32), nn.MaxPool2d(2), block(32, 64), nn.MaxPool2d(2),
                                  block(64, 96), nn.MaxPool2d((2, 1)), block(96, 128), nn.MaxPool2d((4, 1)))
        self.sequence = nn.Sequential(nn.Conv1d(128, 128, 3, 1, 1), nn.ReLU(), nn.Conv1d(128, 128, 3, 1, 1), nn.ReLU())
        self.classes = nn.Linear(128, 1 + len(CHARSET))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x / 255.0).squeeze(2)  # [N, 128, 32]
        return self.classes(self.sequence(features).transpose(1, 2))  # [N, 32, C]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), -1)


# --------------------------------------------------------------------------- training
def shape_batch(rng, count):
    images, boxes, masks = zip(*(render_shapes(rng) for _ in range(count)))
    tensor = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).astype(np.float32))
    return tensor, list(boxes), torch.from_numpy(np.stack(masks).astype(np.int64))


def detector_loss(model: Detector, images, boxes) -> torch.Tensor:
    raw = model.raw(images)
    stride = SIZE / GRID
    target = torch.zeros_like(raw[:, 4:])
    losses = []
    for n, image_boxes in enumerate(boxes):
        for kind, x1, y1, x2, y2 in image_boxes:
            cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
            gx, gy = min(int(cx // stride), GRID - 1), min(int(cy // stride), GRID - 1)
            target[n, kind, gy, gx] = 1.0
            cell = raw[n, :4, gy, gx]
            wanted = torch.tensor([cx / stride - gx, cy / stride - gy, math.log(w / 16), math.log(h / 16)])
            losses.append(nn.functional.binary_cross_entropy_with_logits(cell[:2], wanted[:2].clamp(0.01, 0.99))
                          + nn.functional.smooth_l1_loss(cell[2:], wanted[2:]))
    classes = nn.functional.binary_cross_entropy_with_logits(raw[:, 4:], target, pos_weight=torch.tensor(8.0))
    return classes + torch.stack(losses).mean()


def train(model: nn.Module, steps: int, loss_of, rng, lr: float = 3e-3) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        loss = loss_of(rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 200 == 0 or step == steps - 1:
            print(f"  step {step:5d} loss {loss.item():.4f}", flush=True)
    model.eval()
    return time.perf_counter() - started


def line_batch(rng, font, count):
    lines, texts = zip(*(render_line(rng, font) for _ in range(count)))
    return torch.from_numpy(np.stack(lines)[:, None].astype(np.float32)), list(texts)


def ctc_loss(model: Recognizer, images, texts) -> torch.Tensor:
    log_probs = torch.log_softmax(model.logits(images), -1).transpose(0, 1)  # [T, N, C]
    targets = torch.tensor([CHARSET.index(c) + 1 for text in texts for c in text])
    lengths = torch.tensor([len(t) for t in texts])
    return nn.functional.ctc_loss(log_probs, targets, torch.full((len(texts),), log_probs.shape[0]), lengths,
                                  zero_infinity=True)


# --------------------------------------------------------------------------- writing
def export(model: nn.Module, example: torch.Tensor, path: Path, output: str, metadata: dict[str, str]) -> None:
    import onnx

    torch.onnx.export(model, (example,), str(path), input_names=["image"], output_names=[output],
                      dynamic_axes={"image": {0: "N"}, output: {0: "N"}}, opset_version=17, dynamo=False)
    proto = onnx.load(str(path))
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_zip(path: Path, files: dict[str, bytes | str]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            data = files[name]
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data.encode() if isinstance(data, str) else data)


def voc_xml(name: str, boxes) -> str:
    objects = "".join(f"<object><name>{CLASSES[k]}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
                      f"<ymax>{y2}</ymax></bndbox></object>" for k, x1, y1, x2, y2 in boxes)
    return (f"<annotation><filename>{name}</filename><size><width>{SIZE}</width><height>{SIZE}</height>"
            f"<depth>3</depth></size>{objects}</annotation>")


def write_shape_data(out: Path, rng) -> None:
    calibration = {f"{i:04d}.png": png(render_shapes(rng)[0]) for i in range(100)}
    write_zip(out / "shapes_calibration.zip", calibration)
    samples = [render_shapes(rng) for _ in range(200)]
    names = [f"{i:04d}.png" for i in range(len(samples))]
    images = {f"images/{n}": png(image) for n, (image, _, _) in zip(names, samples)}
    coco = {"images": [{"id": i + 1, "file_name": n, "width": SIZE, "height": SIZE} for i, n in enumerate(names)],
            "categories": [{"id": k + 1, "name": c} for k, c in enumerate(CLASSES)],
            "annotations": [{"id": len(names) * 10 + i * 10 + j, "image_id": i + 1, "category_id": k + 1,
                             "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
                            for i, (_, boxes, _) in enumerate(samples) for j, (k, x1, y1, x2, y2) in enumerate(boxes)]}
    write_zip(out / "shapes_detection_coco.zip", {**images, "annotations/instances.json": json.dumps(coco)})
    yolo = {f"labels/{n[:-4]}.txt": "".join(f"{k} {(x1 + x2) / 2 / SIZE:.6f} {(y1 + y2) / 2 / SIZE:.6f} "
                                            f"{(x2 - x1) / SIZE:.6f} {(y2 - y1) / SIZE:.6f}\n"
                                            for k, x1, y1, x2, y2 in boxes)
            for n, (_, boxes, _) in zip(names, samples)}
    write_zip(out / "shapes_detection_yolo.zip", {**images, **yolo, "classes.txt": "\n".join(CLASSES) + "\n"})
    voc = {f"Annotations/{n[:-4]}.xml": voc_xml(n, boxes) for n, (_, boxes, _) in zip(names, samples)}
    write_zip(out / "shapes_detection_voc.zip", {**{k.replace("images/", "JPEGImages/"): v for k, v in images.items()},
                                                 **voc, "classes.txt": "\n".join(CLASSES) + "\n"})
    masks = {f"masks/{n}": png(mask, "L") for n, (_, _, mask) in zip(names, samples)}
    write_zip(out / "shapes_segmentation.zip", {**images, **masks,
                                                "classes.txt": "\n".join(("background", *CLASSES)) + "\n"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    font = ImageFont.load_default(size=18)

    print("detector:")
    detector = Detector()
    seconds = train(detector, 2500, lambda r: detector_loss(detector, *shape_batch(r, 32)[:2]), rng)
    export(detector, torch.zeros(1, 3, SIZE, SIZE), args.out / "shapes_detector.onnx", "boxes",
           {"labels": json.dumps(list(CLASSES))})
    print(f"  trained in {seconds:.0f} s")

    print("segmenter:")
    segmenter = Segmenter()

    def segment_loss(r):
        images, _, masks = shape_batch(r, 16)
        return nn.functional.cross_entropy(segmenter(images), masks)

    seconds = train(segmenter, 1500, segment_loss, rng)
    export(segmenter, torch.zeros(1, 3, SIZE, SIZE), args.out / "shapes_segmenter.onnx", "scores",
           {"labels": json.dumps(["background", *CLASSES])})
    print(f"  trained in {seconds:.0f} s")

    print("text recognizer:")
    recognizer = Recognizer()
    seconds = train(recognizer, 3000, lambda r: ctc_loss(recognizer, *line_batch(r, font, 32)), rng, lr=2e-3)
    export(recognizer, torch.zeros(1, 1, *LINE), args.out / "text_recognizer.onnx", "probs",
           {"character": "\n".join(CHARSET)})
    print(f"  trained in {seconds:.0f} s")

    write_shape_data(args.out, rng)
    calibration, _ = line_batch(rng, font, 100)
    np.savez_compressed(args.out / "text_calibration.npz", image=calibration.numpy().astype(np.uint8))
    lines, texts = line_batch(rng, font, 300)
    np.savez_compressed(args.out / "text_validation.npz", image=lines.numpy().astype(np.uint8), labels=np.array(texts))
    for path in sorted(args.out.iterdir()):
        print(f"{path.name}: {path.stat().st_size:,} B")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
