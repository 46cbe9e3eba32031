"""Accuracy, loss and classification consistency, and the two consistency protocols the checkpoints report.

Every function takes a model and float images (N, 3, H, W) in [0, 1] and runs it on an
``inference_copy`` (see ``shiftlab.inference``). Percentages are in [0, 100].
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice, check_images, check_labels, check_shift_values
from .inference import forward_logits, inference_copy, predict_logits
from .lesson import progress_bar
from .shifts import SHIFT_METHODS, pad_for_shifts, window


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
    agree. The protocols the checkpoints report are ``CONSISTENCY_PROTOCOLS``."""
    check_images(images)
    check_choice("shift method", method, SHIFT_METHODS)
    values = check_shift_values(shift_values, "shift_values")
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
        predictions[round_, copy_] = torch.cat([forward_logits(fast_model, b).argmax(1) for b in shifted.split(batch_size)])
    return (predictions[:, 0] == predictions[:, 1]).double().mean().item() * 100


# The two consistency protocols the checkpoints report, each with PROTOCOL_PAIRS_PER_IMAGE pairs per image.
CONSISTENCY_PROTOCOLS = {
    # APS (Chaman and Dokmanic, CVPR 2021): circular shifts with dx, dy in -3..3.
    "circular_consistency": {"method": "roll", "shift_values": tuple(range(-3, 4))},
    # Zhang (ICML 2019) scaled to 32x32: offsets 0..3 of a 4-px reflect-padded image, i.e. crop shifts 1..4.
    "crop_consistency": {"method": "crop", "shift_values": tuple(range(1, 5))},
}
PROTOCOL_PAIRS_PER_IMAGE = 5


def circular_consistency(model: nn.Module, images: torch.Tensor, pairs_per_image: int = PROTOCOL_PAIRS_PER_IMAGE,
                         seed: int = 0, progress: bool = False) -> float:
    """Consistency (%) under the circular protocol of ``CONSISTENCY_PROTOCOLS`` (roll by -3..3 px)."""
    protocol = CONSISTENCY_PROTOCOLS["circular_consistency"]
    return consistency(model, images, pairs_per_image=pairs_per_image, seed=seed, progress=progress, **protocol)


def crop_consistency(model: nn.Module, images: torch.Tensor, pairs_per_image: int = PROTOCOL_PAIRS_PER_IMAGE,
                     seed: int = 0, progress: bool = False) -> float:
    """Consistency (%) under the crop protocol of ``CONSISTENCY_PROTOCOLS`` (offsets 0..3 of a 4-px
    reflect-padded image)."""
    protocol = CONSISTENCY_PROTOCOLS["crop_consistency"]
    return consistency(model, images, pairs_per_image=pairs_per_image, seed=seed, progress=progress, **protocol)


def consistency_metrics(model: nn.Module, images: torch.Tensor, seed: int = 0) -> dict[str, float]:
    """Both consistency protocols of ``CONSISTENCY_PROTOCOLS``, in percent, rounded to 2 decimals."""
    return {
        name: round(consistency(model, images, seed=seed, pairs_per_image=PROTOCOL_PAIRS_PER_IMAGE, **protocol), 2)
        for name, protocol in CONSISTENCY_PROTOCOLS.items()
    }


def standard_error(percent: float, trials: int) -> float:
    """Binomial standard error, in percentage points, of a rate of ``percent`` % measured on ``trials``
    independent trials (images, or pairs of shifts): 100 * sqrt(p (1 - p) / trials).

    >>> round(standard_error(95.0, 5 * 1017), 2)
    0.31
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive int, got {trials!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"percent must be in [0, 100], got {percent!r}")
    p = percent / 100
    return 100 * (p * (1 - p) / trials) ** 0.5
