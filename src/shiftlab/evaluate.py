"""Accuracy, loss, translation sweeps and classification consistency.

Every function takes a model and float images (N, 3, H, W) in [0, 1]. Forward passes run in batches
under ``torch.inference_mode`` in channels-last layout (about twice as fast on CPUs as the default
layout, same predictions). Long loops show a ``tqdm`` progress bar unless ``progress=False``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from itertools import product

import torch
import torch.nn.functional as F
from torch import nn

from .course import progress_bar
from .data import check_images
from .layers import check_choice
from .shifts import SHIFT_METHODS, pad_for_shifts, window


def inference_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode and channels-last layout, for fast batched inference."""
    return copy.deepcopy(model).eval().to(memory_format=torch.channels_last)


def check_labels(labels: torch.Tensor, images: torch.Tensor) -> None:
    """Raise unless ``labels`` is an int64 tensor (N,) matching the N images."""
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an int64 tensor of shape ({len(images)},), got {got}")


def check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def _forward(fast_model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    return fast_model(batch.contiguous(memory_format=torch.channels_last)).float()


@torch.inference_mode()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Logits (N, classes) of ``model`` for float images (N, 3, H, W) in [0, 1]."""
    check_images(images)
    check_batch_size(batch_size)
    fast_model = inference_copy(model)
    batches = images.split(batch_size)
    return torch.cat([_forward(fast_model, b) for b in progress_bar(batches, desc="predict", enabled=progress)])


@dataclass(frozen=True)
class Evaluation:
    """Top-1 accuracy in percent and mean cross-entropy loss in nats."""

    accuracy: float
    loss: float


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256,
             progress: bool = False) -> Evaluation:
    """Accuracy (%) and mean cross-entropy of ``model`` on labelled images."""
    check_images(images)
    check_labels(labels, images)
    logits = predict_logits(model, images, batch_size, progress)
    accuracy = (logits.argmax(1) == labels).double().mean().item() * 100
    return Evaluation(accuracy=accuracy, loss=F.cross_entropy(logits, labels).item())


@dataclass(frozen=True)
class SweepResult:
    """A translation sweep: metrics for every (dx, dy) of a grid, rows indexed by dy, columns by dx.

    accuracy: (len(dys), len(dxs)) top-1 accuracy in percent.
    loss: (len(dys), len(dxs)) mean cross-entropy in nats.
    predictions: (len(dys), len(dxs), N) predicted class of every shifted image.
    """

    dxs: torch.Tensor
    dys: torch.Tensor
    accuracy: torch.Tensor
    loss: torch.Tensor
    predictions: torch.Tensor
    method: str

    def at(self, dx: int, dy: int) -> tuple[float, float]:
        """(accuracy, loss) at shift (dx, dy)."""
        row, col = _grid_index(self.dys, dy, "dy"), _grid_index(self.dxs, dx, "dx")
        return self.accuracy[row, col].item(), self.loss[row, col].item()

    def consistency(self) -> float:
        """Exhaustive classification consistency (%): over all pairs of distinct shifts in the grid, how
        often an image gets the same top-1 class under both (averaged over images)."""
        return grid_consistency(self.predictions.flatten(0, 1))

    def plot(self, metric: str = "accuracy", ax=None, **kwargs):
        """Heatmap of ``metric`` ('accuracy' or 'loss') over the grid, axes in pixels; returns the axes."""
        from .plots import shift_heatmap

        check_choice("metric", metric, ("accuracy", "loss"))
        label = "top-1 accuracy (%)" if metric == "accuracy" else "mean cross-entropy (nats)"
        title = kwargs.pop("title", f"{label.split(' (')[0].capitalize()} under {self.method} shifts")
        return shift_heatmap(getattr(self, metric), self.dxs, self.dys, ax=ax, colorbar_label=label, title=title, **kwargs)


def _grid_index(values: torch.Tensor, value: int, name: str) -> int:
    matches = (values == value).nonzero()
    if len(matches) == 0:
        raise ValueError(f"{name}={value} is not in the sweep's grid {values.tolist()}")
    return int(matches[0])


def shift_range(max_shift: int, step: int = 1) -> list[int]:
    """Symmetric shifts -max_shift..max_shift in steps of ``step``, always including 0 (e.g. (4, 2) -> -4..4)."""
    if max_shift < 0 or step < 1:
        raise ValueError(f"need max_shift >= 0 and step >= 1, got max_shift={max_shift}, step={step}")
    positive = list(range(step, max_shift + 1, step))
    return [-s for s in reversed(positive)] + [0] + positive


def _check_shift_values(values, name: str) -> list[int]:
    """Integer pixel shifts from a list, range, NumPy array or integer tensor, as a list of ints."""
    values = torch.as_tensor(list(values) if isinstance(values, range) else values)
    if values.ndim != 1 or len(values) == 0 or values.dtype in (torch.bool,) or values.is_floating_point():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of int pixel shifts, got {values.tolist()!r}")
    return [int(v) for v in values]


@torch.inference_mode()
def translation_sweep(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    dxs=tuple(range(-8, 9, 2)),
    dys=None,
    method: str = "affine",
    batch_size: int = 256,
    progress: bool = True,
) -> SweepResult:
    """Evaluate ``model`` on every shift (dx, dy) in dxs x dys (dys defaults to dxs) with ``method``.

    Each image is padded once for the largest shift; every forward pass then takes ``batch_size``
    windows of that canvas, many shifts at once, so the sweep runs at the model's own throughput.
    """
    check_images(images)
    check_labels(labels, images)
    check_choice("shift method", method, SHIFT_METHODS)
    check_batch_size(batch_size)
    dxs = _check_shift_values(dxs, "dxs")
    dys = _check_shift_values(dys if dys is not None else dxs, "dys")
    height, width = images.shape[-2:]
    margin = (max(abs(v) for v in dxs), max(abs(v) for v in dys))
    canvas = pad_for_shifts(images, margin, method)  # also checks that every shift is in range
    shifts = list(product(dys, dxs))  # row-major: dy outer, dx inner
    n = len(images)
    fast_model = inference_copy(model)
    predictions = torch.empty(len(shifts) * n, dtype=torch.int64)
    losses = torch.empty(len(shifts) * n)
    bar = progress_bar(total=len(shifts) * n, desc=f"{method} sweep", unit="img", enabled=progress)
    for start in range(0, len(shifts) * n, batch_size):
        stop = min(start + batch_size, len(shifts) * n)
        pieces = []
        for s in range(start // n, (stop - 1) // n + 1):  # the shifts this batch touches
            dy, dx = shifts[s]
            first, last = max(start - s * n, 0), min(stop - s * n, n)
            pieces.append(window(canvas[first:last], margin, dx, dy, height, width))
        logits = _forward(fast_model, torch.cat(pieces))
        targets = labels.repeat(len(shifts))[start:stop]
        predictions[start:stop] = logits.argmax(1)
        losses[start:stop] = F.cross_entropy(logits, targets, reduction="none")
        bar.update(stop - start)
    bar.close()
    grid = (len(dys), len(dxs))
    predictions = predictions.view(*grid, n)
    return SweepResult(
        dxs=torch.tensor(dxs),
        dys=torch.tensor(dys),
        accuracy=(predictions == labels).double().mean(-1).float() * 100,
        loss=losses.view(*grid, n).mean(-1),
        predictions=predictions,
        method=method,
    )


def grid_consistency(predictions: torch.Tensor) -> float:
    """Consistency (%) from predictions (S, N) of N images under S shifts: the fraction of unordered pairs
    of distinct shifts with the same top-1 class, averaged over images."""
    if predictions.ndim != 2 or predictions.shape[0] < 2:
        raise ValueError(f"need predictions (S, N) for S >= 2 shifts, got shape {tuple(predictions.shape)}")
    shifts = predictions.shape[0]
    counts = F.one_hot(predictions, int(predictions.max()) + 1).sum(0).double()  # (N, classes)
    agreeing_pairs = (counts * (counts - 1) / 2).sum(1)
    return (agreeing_pairs / (shifts * (shifts - 1) / 2)).mean().item() * 100


@torch.inference_mode()
def consistency(
    model: nn.Module,
    images: torch.Tensor,
    method: str = "roll",
    shift_values=tuple(range(-3, 4)),
    pairs_per_image: int = 5,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
) -> float:
    """Classification consistency (%), as Zhang (ICML 2019) measures it: for each image, draw two random
    shifts (dx, dy), each coordinate from ``shift_values``, and count how often the two top-1 classes
    agree. Zhang's crop protocol scaled to CIFAR is ``method="crop", shift_values=range(1, 5)``
    (offsets 0..3 of a 4-px reflect-padded image); APS's circular one is ``method="roll", range(-3, 4)``."""
    check_images(images)
    check_choice("shift method", method, SHIFT_METHODS)
    values = _check_shift_values(shift_values, "shift_values")
    if pairs_per_image < 1:
        raise ValueError(f"pairs_per_image must be at least 1, got {pairs_per_image}")
    margin = max(abs(v) for v in values)
    canvas = pad_for_shifts(images, margin, method)
    height, width = images.shape[-2:]
    generator = torch.Generator().manual_seed(seed)
    draws = torch.tensor(values)[torch.randint(len(values), (pairs_per_image, 2, len(images), 2), generator=generator)]
    fast_model = inference_copy(model)
    predictions = torch.empty(pairs_per_image, 2, len(images), dtype=torch.int64)
    for round_, copy_ in progress_bar(list(product(range(pairs_per_image), range(2))), desc="consistency", enabled=progress):
        shifted = torch.stack([
            window(image, margin, dx, dy, height, width)
            for image, (dx, dy) in zip(canvas, draws[round_, copy_].tolist())
        ])
        predictions[round_, copy_] = torch.cat([_forward(fast_model, b).argmax(1) for b in shifted.split(batch_size)])
    return (predictions[:, 0] == predictions[:, 1]).double().mean().item() * 100


# The two consistency protocols the checkpoints report (pairs drawn per image, 5 pairs each).
CONSISTENCY_PROTOCOLS = {
    # APS (Chaman and Dokmanic, CVPR 2021): circular shifts with dx, dy in -3..3.
    "circular_consistency": {"method": "roll", "shift_values": tuple(range(-3, 4))},
    # Zhang (ICML 2019) scaled to 32x32: offsets 0..3 of a 4-px reflect-padded image, i.e. crop shifts 1..4.
    "crop_consistency": {"method": "crop", "shift_values": tuple(range(1, 5))},
}


def consistency_metrics(model: nn.Module, images: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Both consistency protocols of ``CONSISTENCY_PROTOCOLS``, in percent, rounded to 2 decimals."""
    return {name: round(consistency(model, images, seed=seed, **protocol), 2) for name, protocol in CONSISTENCY_PROTOCOLS.items()}
