"""Regenerate the bundled demo assets in ``assets/demo/``.

Run from the repository root with the separate asset venv::

    python3.11 -m venv /work/assetvenv
    /work/assetvenv/bin/pip install torch==2.13.0 numpy==2.4.6 pillow==13.0.0 onnx==1.23.2
    /work/assetvenv/bin/python assets/make_demo.py [--source DIR] [--out DIR]

torch is used ONLY by this script, to train the demo model and export it to
ONNX. The Optimization Lab app never imports torch: at run time it reads the
exported ``fashion_cnn.onnx`` with OpenVINO. Do not add torch to the app's
requirements.

What it does (deterministic: fixed seeds, single-threaded data order, fixed
zip timestamps):

* reads Fashion-MNIST (idx ubyte, optionally gzipped) from ``--source``
  (default ``/usr/share/datasets/fashion-mnist/``, Debian package
  ``dataset-fashion-mnist``);
* trains a small but conv-heavy CNN (5 conv 3x3 layers with 64-128 channels,
  the first with stride 2, 2 max-pools, 2 linear layers; ~0.67 M parameters,
  ~80 M multiply-adds per image) on the 60k training images, with bfloat16
  autocast and channels_last for speed (fast on CPUs with AMX / AVX512-BF16,
  slower elsewhere);
* exports ``fashion_cnn.pt2`` (torch.export, dynamic batch: the form QAT and pruning
  train; ``--pt2-only`` writes just it from the shipped ONNX's weights);
* exports ``fashion_cnn.onnx`` (opset 17). Input ``image``: float32 raw pixel
  values in [0, 255], shape [N, 1, 28, 28] with dynamic N; normalisation
  (x / 255, then (x - mean) / std) happens inside the model. Output
  ``logits``: float32 [N, 10]. The class names are stored in the ONNX
  metadata_props under key ``labels`` as a JSON list in index order;
* writes ``fashion_calibration.zip`` (300 TRAIN images, 30 per class) and
  ``fashion_validation.zip`` (500 TEST images, 50 per class): class folders
  ``<index>_<safe name>/`` at the top level, 8-bit grayscale PNGs named by
  their index in the source split (``00017.png``);
* prints the training time and accuracies (torch on the full 10k test set,
  torch on the 500 validation images, and the exported ONNX evaluated with
  onnx's pure-Python reference runtime on the same 500 images).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import struct
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx.reference import ReferenceEvaluator
from PIL import Image
from torch import nn

SEED = 20240611
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT = Path(__file__).resolve().parent / "demo"

CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
# Sorted order of these folder names == label order.
CLASS_DIRS = [
    "0_t-shirt_top",
    "1_trouser",
    "2_pullover",
    "3_dress",
    "4_coat",
    "5_sandal",
    "6_shirt",
    "7_sneaker",
    "8_bag",
    "9_ankle_boot",
]

# Pixel statistics of the Fashion-MNIST training set after x / 255.
MEAN = 0.2860
STD = 0.3530

EPOCHS = 4
BATCH_SIZE = 128
LR = 2e-3
CALIB_PER_CLASS = 30
VAL_PER_CLASS = 50
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------- data
def _open_idx(source: Path, stem: str) -> bytes:
    for name in (stem, stem + ".gz"):
        path = source / name
        if path.exists():
            raw = path.read_bytes()
            return gzip.decompress(raw) if name.endswith(".gz") else raw
    raise FileNotFoundError(f"neither {stem} nor {stem}.gz in {source}")


def read_images(source: Path, stem: str) -> np.ndarray:
    data = _open_idx(source, stem)
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise ValueError(f"{stem}: bad idx3 magic {magic}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def read_labels(source: Path, stem: str) -> np.ndarray:
    data = _open_idx(source, stem)
    magic, n = struct.unpack(">II", data[:8])
    if magic != 2049:
        raise ValueError(f"{stem}: bad idx1 magic {magic}")
    return np.frombuffer(data, dtype=np.uint8, offset=8)[:n].astype(np.int64)


def load_fashion_mnist(source: Path):
    x_train = read_images(source, "train-images-idx3-ubyte")
    y_train = read_labels(source, "train-labels-idx1-ubyte")
    x_test = read_images(source, "t10k-images-idx3-ubyte")
    y_test = read_labels(source, "t10k-labels-idx1-ubyte")
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    return x_train, y_train, x_test, y_test


# -------------------------------------------------------------------------- model
class FashionCNN(nn.Module):
    """Takes raw pixels in [0, 255], [N, 1, 28, 28]; returns logits [N, 10].

    Deliberately conv-heavy for its size: about 80 M multiply-adds per image, ~90 % of them in
    the three 3x3 convs with 64/128 input channels at 14x14, so that per-inference overhead
    does not dominate and 8-bit quantization shows a real speed-up (also over bf16 on AMX
    CPUs). The stride-2 first conv skips the 28x28 stage, which is cheap in FLOPs but slow
    (memory-bound, Cin=1) in both training and INT8 inference. The classifier head is small.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(255.0))
        self.register_buffer("mean", torch.tensor(MEAN))
        self.register_buffer("std", torch.tensor(STD))
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, kernel_size=3, stride=2, padding=1),  # 64 x 14x14
            nn.ReLU(),
            nn.Conv2d(64, 128, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(128, 128, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(128, 128, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 128 x 7x7
            nn.Conv2d(128, 128, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 128 x 3x3
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.25),
            nn.Linear(128 * 3 * 3, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x / self.scale - self.mean) / self.std
        return self.classifier(self.features(x))


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 raw pixels [N, 1, 28, 28]."""
    return torch.from_numpy(images.astype(np.float32)[:, None, :, :])


@torch.no_grad()
def predict(model: nn.Module, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    model.eval()
    out = [model(to_input(images[i : i + batch]).contiguous(memory_format=torch.channels_last)).argmax(1).numpy()
           for i in range(0, len(images), batch)]
    return np.concatenate(out)


def train(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    gen = torch.Generator().manual_seed(SEED)
    xt, yt = to_input(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    steps = EPOCHS * ((len(x) + BATCH_SIZE - 1) // BATCH_SIZE)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), BATCH_SIZE):
            idx = perm[i : i + BATCH_SIZE]
            opt.zero_grad(set_to_none=True)
            # bfloat16 autocast (fp32 master weights, fp32 loss) + channels_last: about 3x faster
            # than plain fp32 on CPUs with AMX / AVX512-BF16; the exported model is fp32.
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(xt[idx].contiguous(memory_format=torch.channels_last))
            loss = loss_fn(logits.float(), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}/{EPOCHS}: loss {total / len(x):.4f}  ({time.perf_counter() - start:.1f} s)")
    return time.perf_counter() - start


# -------------------------------------------------------------------------- export
def export_onnx(model: nn.Module, path: Path) -> None:
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # dynamo=False selects the legacy TorchScript exporter on purpose: the
        # torch.export-based one needs onnxscript, which we do not want.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (torch.zeros(1, 1, 28, 28),),
            buf,
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buf.getvalue())
    proto.doc_string = (
        "Fashion-MNIST demo CNN. Input 'image': float32 raw pixels 0-255, [N,1,28,28]; "
        "normalisation is inside the model. Output 'logits': [N,10]."
    )
    del proto.metadata_props[:]
    for key, value in (
        ("labels", json.dumps(CLASS_NAMES)),
        ("input_range", "[0, 255]"),
        ("dataset", "Fashion-MNIST (Zalando Research, MIT licence)"),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto, full_check=True)
    path.write_bytes(proto.SerializeToString(deterministic=True))


def export_pt2(model: nn.Module, path: Path) -> None:
    """The model as a PyTorch ExportedProgram with a dynamic batch: the form QAT and pruning train."""
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    batch = torch.export.Dim("N", min=1, max=4096)
    program = torch.export.export(model, (torch.zeros(2, 1, 28, 28),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))


def pt2_from_onnx(out: Path) -> int:
    """Writes fashion_cnn.pt2 from the shipped fashion_cnn.onnx's weights (no retraining), so both
    files hold the same model; checks their outputs agree on the validation images."""
    proto = onnx.load(str(out / "fashion_cnn.onnx"))
    model = FashionCNN()
    weights = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in proto.graph.initializer}
    model.load_state_dict({name: weights[name] for name in model.state_dict()})
    path = out / "fashion_cnn.pt2"
    export_pt2(model, path)
    x_val, _ = read_zip(out / "fashion_validation.zip")
    ref = ReferenceEvaluator(str(out / "fashion_cnn.onnx"))
    expected = ref.run(None, {"image": x_val[:100, None].astype(np.float32)})[0]
    got = torch.export.load(str(path)).module()(to_input(x_val[:100])).detach().numpy()
    print(f"wrote {path} ({path.stat().st_size} bytes); max |pt2 - onnx| on 100 images: "
          f"{np.abs(got - expected).max():.2e}")
    return 0


# ---------------------------------------------------------------------------- zips
def pick_per_class(y: np.ndarray, per_class: int, rng: np.random.Generator) -> list[int]:
    chosen: list[int] = []
    for c in range(len(CLASS_NAMES)):
        idx = np.flatnonzero(y == c)
        chosen.extend(sorted(int(i) for i in rng.choice(idx, size=per_class, replace=False)))
    return chosen


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img, mode="L").save(buf, format="PNG", optimize=False, compress_level=9)
    return buf.getvalue()


def _zip_info(name: str, is_dir: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3  # unix, so external_attr below is honoured
    if is_dir:
        info.external_attr = (0o40755 << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = 0o100644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(path: Path, images: np.ndarray, labels: np.ndarray, indices: list[int]) -> None:
    entries: dict[str, bytes | None] = {d + "/": None for d in CLASS_DIRS}
    for i in indices:
        entries[f"{CLASS_DIRS[labels[i]]}/{i:05d}.png"] = png_bytes(images[i])
    with zipfile.ZipFile(path, "w") as zf:
        for name in sorted(entries):
            data = entries[name]
            zf.writestr(_zip_info(name, data is None), b"" if data is None else data, compresslevel=9)


def read_zip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode a demo zip back to (uint8 [N,28,28], labels) - proves the round trip."""
    xs, ys = [], []
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            if not name.endswith(".png"):
                continue
            folder = name.split("/")[0]
            ys.append(CLASS_DIRS.index(folder))
            xs.append(np.array(Image.open(io.BytesIO(zf.read(name)))))
    return np.stack(xs), np.array(ys)


# ---------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="Fashion-MNIST idx directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default assets/demo)")
    parser.add_argument("--pt2-only", action="store_true",
                        help="only write fashion_cnn.pt2 from the shipped fashion_cnn.onnx (same weights)")
    args = parser.parse_args(argv)
    if args.pt2_only:
        return pt2_from_onnx(args.out)

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    x_train, y_train, x_test, y_test = load_fashion_mnist(args.source)
    args.out.mkdir(parents=True, exist_ok=True)

    print(f"Training on {len(x_train)} images, {EPOCHS} epochs, 2 threads ...")
    model = FashionCNN().to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())
    print(f"Model: {params} parameters")
    train_seconds = train(model, x_train, y_train)
    print(f"Training time: {train_seconds:.1f} s")

    test_acc = float((predict(model, x_test) == y_test).mean())
    print(f"FP32 torch accuracy, full test set (10000): {test_acc:.4f}")

    rng = np.random.default_rng(SEED)
    calib_idx = pick_per_class(y_train, CALIB_PER_CLASS, rng)
    val_idx = pick_per_class(y_test, VAL_PER_CLASS, rng)
    calib_zip = args.out / "fashion_calibration.zip"
    val_zip = args.out / "fashion_validation.zip"
    write_zip(calib_zip, x_train, y_train, calib_idx)
    write_zip(val_zip, x_test, y_test, val_idx)

    x_val, y_val = read_zip(val_zip)
    assert len(x_val) == len(CLASS_NAMES) * VAL_PER_CLASS
    assert np.array_equal(x_val, x_test[sorted(val_idx, key=lambda i: (y_test[i], i))])
    val_acc = float((predict(model, x_val) == y_val).mean())
    print(f"FP32 torch accuracy, validation zip (500): {val_acc:.4f}")

    onnx_path = args.out / "fashion_cnn.onnx"
    export_onnx(model, onnx_path)
    ref = ReferenceEvaluator(str(onnx_path))
    onnx_pred = np.concatenate(
        [ref.run(None, {"image": x_val[i : i + 100, None].astype(np.float32)})[0].argmax(1) for i in range(0, len(x_val), 100)]
    )
    onnx_acc = float((onnx_pred == y_val).mean())
    print(f"ONNX (onnx.reference) accuracy, validation zip (500): {onnx_acc:.4f}")
    print(f"ONNX vs torch prediction agreement on validation zip: {(onnx_pred == predict(model, x_val)).mean():.4f}")

    export_pt2(model, args.out / "fashion_cnn.pt2")
    for path in (onnx_path, args.out / "fashion_cnn.pt2", calib_zip, val_zip):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
