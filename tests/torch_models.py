"""PyTorch models built and trained in code for the training tests (QAT, pruning), saved as .pt2.

The data: four Gaussian blobs in 16 dimensions, so a small classifier learns them in a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES, CLASSES = 16, 4


def blobs(count: int, seed: int, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """count samples [count, 16] float32 around four fixed centres, and their class labels."""
    centres = np.random.default_rng(123).normal(0, 1.0, (CLASSES, FEATURES))
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    return (centres[labels] + rng.normal(0, spread, (count, FEATURES))).astype(np.float32), labels.astype(np.int64)


def _mlp(hidden: int = 32):
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, CLASSES))


def trained_mlp(steps: int = 300, spread: float = 1.0, hidden: int = 32):
    """An MLP trained on blobs (Adam, full batch)."""
    import torch

    model = _mlp(hidden)
    x, y = blobs(2000, seed=1, spread=spread)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(xt), yt).backward()
        optimizer.step()
    return model.eval()


def make_fragile(model, outlier: float = 8.0, shrink: float = 0.001):
    """The same function, but INT8 post-training quantization ruins it: the hidden activations shrink by
    `shrink` (the head grows to compensate) beside one extra hidden unit that is always `outlier`
    (its head weights are zero). A per-tensor activation quantizer spans the outlier, so its step is
    larger than the informative activations, which round to zero. Training can grow them again."""
    import torch

    first, head = model[0], model[2]
    hidden = first.out_features
    wider = torch.nn.Sequential(torch.nn.Linear(FEATURES, hidden + 1), torch.nn.ReLU(),
                                torch.nn.Linear(hidden + 1, CLASSES))
    with torch.no_grad():
        wider[0].weight.zero_()
        wider[0].weight[:hidden] = first.weight * shrink
        wider[0].bias[:hidden] = first.bias * shrink
        wider[0].bias[hidden] = outlier
        wider[2].weight.zero_()
        wider[2].weight[:, :hidden] = head.weight / shrink
        wider[2].bias.copy_(head.bias)
    return wider.eval()


def save_pt2(model, path: Path, example_shape: tuple[int, ...] = (2, FEATURES)) -> Path:
    """torch.export with a dynamic batch, saved as .pt2."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    program = torch.export.export(model.eval(), (torch.zeros(example_shape),),
                                  dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))
    torch.export.save(program, str(path))
    return path


def small_cnn():
    """A CNN with batch norm for 3 x 8 x 8 inputs (random weights): the rewrite's and pruning's test model."""
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, CLASSES)).eval()


def save_npz(path: Path, x: np.ndarray, labels: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, **({"labels": labels} if labels is not None else {}))
    return path
