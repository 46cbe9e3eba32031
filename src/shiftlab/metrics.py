"""Accuracy, loss and classification consistency, the two consistency protocols the checkpoints report, and
the statistics to compare them.

Every measuring function takes a model and float images (N, 3, H, W) in [0, 1] and runs it on an
``inference_copy`` (see ``shiftlab.inference``). Percentages are in [0, 100].

Statistics: the image is the unit of sampling. Pairs of shifts of one image are not independent (an image
whose class flips under one shift tends to flip under others), so intervals resample images, not pairs
(``bootstrap_interval``), and two models measured on the same images are compared image by image
(``paired_bootstrap``; ``mcnemar_exact`` for right/wrong outcomes).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from math import comb

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


def grid_agreement(predictions: torch.Tensor) -> torch.Tensor:
    """Consistency (%) image by image, from predictions (S, N) of N images under S shifts: each image's share of
    unordered pairs of distinct shifts with the same top-1 class; (N,) float64."""
    if predictions.ndim != 2 or predictions.shape[0] < 2:
        raise ValueError(f"need predictions (S, N) for S >= 2 shifts, got shape {tuple(predictions.shape)}")
    shifts = predictions.shape[0]
    counts = F.one_hot(predictions, int(predictions.max()) + 1).sum(0).double()  # (N, classes)
    agreeing_pairs = (counts * (counts - 1) / 2).sum(1)
    return 100 * agreeing_pairs / (shifts * (shifts - 1) / 2)


def grid_consistency(predictions: torch.Tensor) -> float:
    """Consistency (%) from predictions (S, N) of N images under S shifts: the fraction of unordered pairs
    of distinct shifts with the same top-1 class, averaged over images (the mean of ``grid_agreement``)."""
    return grid_agreement(predictions).mean().item()


def per_image_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Image by image, 100.0 where the top-1 class is right and 0.0 where it is wrong; (N,) float64, mean = accuracy."""
    check_images(images)
    check_labels(labels, images)
    return (predict_logits(model, images, batch_size).argmax(1) == labels).double() * 100


@torch.inference_mode()
def pair_agreement(
    model: nn.Module,
    images: torch.Tensor,
    method: str = "roll",
    shift_values=tuple(range(-3, 4)),
    pairs_per_image: int = 5,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
) -> torch.Tensor:
    """Random-pair consistency (%) image by image, as Zhang (ICML 2019) measures it: for each image, draw
    ``pairs_per_image`` pairs of shifts (dx, dy), each coordinate from ``shift_values``, and return the share of
    pairs whose two top-1 classes agree; (N,) float64. The draws depend only on ``seed`` and N, so models measured
    with one seed on the same images see the same pairs (a paired comparison)."""
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
    return (predictions[:, 0] == predictions[:, 1]).double().mean(0) * 100


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
    agree (the mean of ``pair_agreement``). The protocols the checkpoints report are ``CONSISTENCY_PROTOCOLS``."""
    return pair_agreement(model, images, method, shift_values, pairs_per_image, seed, batch_size, progress).mean().item()


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


@dataclass(frozen=True)
class Estimate:
    """A mean over ``n`` images with its bootstrap interval (``low``, ``high``), in the unit of the per-image
    values: percent for a metric, percentage points for a difference of two."""

    value: float
    low: float
    high: float
    n: int

    def __format__(self, spec: str) -> str:
        """``f"{estimate:+.1f}"`` formats all three numbers alike: value [low, high]; the default is ``.2f``."""
        spec = spec or ".2f"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"

    def __str__(self) -> str:
        return format(self)

    def excludes(self, value: float = 0.0) -> bool:
        """True when ``value`` lies outside the interval (for a difference: the data tell the two apart)."""
        return not self.low <= value <= self.high


def _per_image(values, name: str) -> torch.Tensor:
    values = torch.as_tensor(values).double()
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f"{name} must hold one value per image, shape (N,) with N >= 2, got {tuple(values.shape)}")
    return values


def bootstrap_interval(per_image, level: float = 0.95, resamples: int = 4000, seed: int = 0) -> Estimate:
    """The mean of per-image values (N,) and its percentile bootstrap interval: resample the N images with
    replacement ``resamples`` times and take the middle ``level`` of the resampled means. Resampling whole images
    keeps together what one image contributes (all its pairs of shifts): a cluster bootstrap.

    >>> print(bootstrap_interval(torch.tensor([100.0] * 90 + [0.0] * 10)))
    90.00 [84.00, 96.00]
    """
    values = _per_image(per_image, "per_image")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    generator = torch.Generator().manual_seed(seed)
    means = values[torch.randint(len(values), (resamples, len(values)), generator=generator)].mean(1)
    low, high = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)).tolist()
    return Estimate(values.mean().item(), low, high, len(values))


def paired_bootstrap(a, b, level: float = 0.95, resamples: int = 4000, seed: int = 0) -> Estimate:
    """Mean of a - b for two models measured on the same N images (per-image values a, b (N,)), with a paired
    bootstrap interval: images are resampled together for both models, so what the images share (a hard image
    is hard for both) cancels. An interval that excludes 0 means the data tell the two models apart."""
    a, b = _per_image(a, "a"), _per_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must be measured on the same images, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return bootstrap_interval(a - b, level, resamples, seed)


def mcnemar_exact(a, b) -> float:
    """Two-sided p-value of McNemar's exact test for paired right/wrong outcomes a, b (N,) (any two values, e.g.
    0 / 100 from ``per_image_accuracy``): only the images where the two differ count; under the hypothesis that neither model
    is better, each of those n goes either way with probability 1/2, so the p-value is
    min(1, 2 P(Binomial(n, 1/2) <= the smaller count)).

    >>> mcnemar_exact(torch.tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]), torch.tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))  # 9 : 1
    0.021484375
    """
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be paired outcomes of the same shape (N,), got {tuple(a.shape)} and {tuple(b.shape)}")
    values = torch.unique(torch.cat([a, b]))
    if len(values) > 2:
        raise ValueError(f"McNemar's test needs two outcomes (right / wrong), got values {values.tolist()[:5]}")
    high = values.max()
    only_a, only_b = int(((a == high) & (b != high)).sum()), int(((b == high) & (a != high)).sum())
    n, smaller = only_a + only_b, min(only_a, only_b)
    tail = sum(comb(n, k) for k in range(smaller + 1))
    return min(1.0, 2 * tail / 2**n)


def is_binary(values: torch.Tensor) -> bool:
    """True when per-image values are right/wrong outcomes: only 0 and 100 (one pair or one image each)."""
    return bool(((values == 0) | (values == 100)).all())


def per_image_metrics(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, consistency_images: int,
                      pairs_per_image: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    """What the course compares variants on, image by image (%): ``"accuracy"`` on all N images (``per_image_accuracy``),
    and each protocol of ``CONSISTENCY_PROTOCOLS`` on the first ``consistency_images`` images with
    ``pairs_per_image`` random pairs each (``pair_agreement``, seed ``seed``: the same pairs for every model)."""
    if not 2 <= consistency_images <= len(images):
        raise ValueError(f"consistency_images must be in [2, {len(images)}], got {consistency_images!r}")
    subset = images[:consistency_images]
    return {
        "accuracy": per_image_accuracy(model, images, labels),
        **{name: pair_agreement(model, subset, pairs_per_image=pairs_per_image, seed=seed, **protocol)
           for name, protocol in CONSISTENCY_PROTOCOLS.items()},
    }


def comparison_table(outcomes: dict[str, dict[str, torch.Tensor]], reference: str, level: float = 0.95) -> str:
    """A text table of every model's per-image metrics (``{model: {metric: (N,) values}}``, e.g. from
    ``per_image_metrics``): each mean with its bootstrap interval, and its paired difference to ``reference``
    with the paired interval, plus McNemar's exact p where both are right/wrong outcomes."""
    if reference not in outcomes:
        raise KeyError(f"reference {reference!r} is not among the models: {', '.join(outcomes)}")
    width = max(len(name) for name in outcomes)
    lines = []
    for metric, base in outcomes[reference].items():
        lines.append(f"{metric} (%), {len(base)} images: mean [{level:.0%} interval]; "
                     f"difference to {reference} in points [paired {level:.0%} interval]")
        for name, values in outcomes.items():
            line = f"  {name:<{width}}  {format(bootstrap_interval(values[metric], level), '.2f'):<24}"
            if name != reference:
                line += f"  {format(paired_bootstrap(values[metric], base, level), '+.2f'):<24}"
                if is_binary(values[metric]) and is_binary(base):
                    line += f"  McNemar p = {mcnemar_exact(values[metric], base):.2g}"
            lines.append(line.rstrip())
    return "\n".join(lines)


def robust_per_image(sweep, max_shift: int, reference: str = "label") -> torch.Tensor:
    """Image by image, 100.0 where every shift (dx, dy) of a translation sweep (a ``SweepResult``) with
    max(|dx|, |dy|) <= ``max_shift`` pixels gives the ``reference`` class, else 0.0; (N,) float64. With "label": right
    under every such shift, the mean is 100 minus the worst-case error (Engstrom et al., ICML 2019); with "unshifted":
    the class of the unshifted image (dx = dy = 0) kept under every such shift, invariance whether right or wrong.
    Per image, two models can be compared paired."""
    check_choice("reference", reference, ("label", "unshifted"))
    radius = torch.maximum(sweep.dys.abs()[:, None], sweep.dxs.abs()[None, :])  # (len(dys), len(dxs))
    if not (radius <= max_shift).any():
        raise ValueError(f"no shift of the sweep is within {max_shift} px; its shifts reach {int(radius.min())} to {int(radius.max())} px")
    target = sweep.labels if reference == "label" else sweep.predictions[sweep.position(0, 0)]
    return (sweep.predictions[radius <= max_shift] == target).all(0).double() * 100
