"""Shift invariance by construction and where it stops: the circular phases of a strided network.

A ``CifarVGG`` with circular padding commutes with circular shifts everywhere except at its stride-2
steps, each of which keeps one of the four 2x2 polyphase components of its input. So its output is the
same for circular shifts by multiples of its *period* P = 2 ** (number of stride-2 steps), 8 px here,
and may differ for the P x P - 1 shifts in between. Three ways to treat the phases:

- keep a fixed one (max pooling): the plain network, not invariant;
- choose one by content (APS, ``shiftlab.layers.aps_downsample``): invariant to integer circular
  shifts in one forward pass, but the choice jumps where two components' norms (nearly) tie
  (``aps_phase_choices``);
- keep them all and average the outputs (``orbit_average``): exactly invariant to every integer
  circular shift, the shift analogue of lesson 1's flip averaging, at P * P paths per image.

Models are compared on the same images with ``shiftlab.metrics`` (``grid_agreement`` per image,
``paired_bootstrap``); this module measures what changes: ``logit_change``, ``shift_report``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import torch
from torch import nn

from .checks import check_batch_size, check_images, check_labels
from .inference import forward_logits, inference_copy
from .layers import APSPool2d, BlurPool2d, MaxBlurPool2d, max_pool_stride1, polyphase_components

# The 1-px phases (dy, dx) a stride-2 step distinguishes; component index 2 * dy + dx, as in aps_downsample.
PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


def is_downsampling(layer: nn.Module) -> bool:
    """True for the layers that subsample by 2: max pooling with stride 2, BlurPool, MaxBlurPool, APS."""
    if isinstance(layer, nn.MaxPool2d):
        return layer.stride in (2, (2, 2))
    return isinstance(layer, (BlurPool2d, MaxBlurPool2d, APSPool2d))


def _layers(model: nn.Module) -> list[nn.Module]:
    """The layers of a model built as levels of layers (``CifarVGG``), in forward order."""
    if not isinstance(model, nn.Sequential) or not all(isinstance(level, nn.Sequential) for level in model):
        raise TypeError(f"expected an nn.Sequential of nn.Sequential levels (like CifarVGG), got {type(model).__name__}")
    return [layer for level in model for layer in level]


def circular_period(model: nn.Module) -> int:
    """The shift period P in pixels: 2 ** (number of stride-2 steps); 8 for ``CifarVGG``.

    >>> from shiftlab.model import CifarVGG
    >>> circular_period(CifarVGG(padding_mode="circular"))
    8
    """
    return 2 ** sum(is_downsampling(layer) for layer in _layers(model))


def check_circular(model: nn.Module) -> None:
    """Raise a ValueError unless every padding of ``model`` (convolutions and blur) is circular, the
    condition under which its layers commute with circular shifts."""
    config = getattr(model, "config", None)
    modes = {getattr(config, "padding_mode", None), getattr(config, "blur_padding", None) or "circular"}
    if modes != {"circular"}:
        raise ValueError(f"orbit averaging by phases needs a model padded circularly everywhere (a CifarVGG with "
                         f"padding_mode='circular'), got padding {sorted(map(str, modes))}")


def _with_phases(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (4B, C, H, W): the maps rolled by each of the four ``PHASES``, phase-major."""
    rolled = [x.roll(shifts=phase, dims=(-2, -1)) for phase in PHASES]
    return torch.cat(rolled).contiguous(memory_format=torch.channels_last)


def _phase_order(steps: int) -> torch.Tensor:
    """Shift index dy * P + dx of each path in the order ``_with_phases`` builds them over ``steps`` steps."""
    period = 2**steps
    order = []
    for path in product(range(4), repeat=steps):  # (phase at the last step, ..., phase at the first step)
        dy = sum(PHASES[p][0] << step for step, p in enumerate(reversed(path)))
        dx = sum(PHASES[p][1] << step for step, p in enumerate(reversed(path)))
        order.append(dy * period + dx)
    return torch.tensor(order)


@torch.inference_mode()
def phase_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Logits of a circularly padded model for every circular shift by 0..P-1 px of every image.

    Returns (P, P, N, classes): ``[dy, dx, n]`` equals ``model(sl.translate_roll(images[n:n+1], dx, dy))``
    up to float rounding. Computed in one pass per batch: the layers between stride-2 steps commute with
    circular shifts, so before each step only the shift modulo 2 matters, and the batch is expanded by
    the four 1-px phases right there (4 x 4 x 4 = 64 paths for three steps). The early, large maps are
    computed once: about a fifth of the arithmetic of 64 separate forward passes.
    """
    check_images(images)
    check_batch_size(batch_size)
    check_circular(model)
    layers = _layers(inference_copy(model))
    steps = sum(is_downsampling(layer) for layer in layers)
    chunks = []
    for batch in images.split(batch_size):
        x = batch.contiguous(memory_format=torch.channels_last)  # (B, 3, H, W)
        for layer in layers:
            x = layer(_with_phases(x) if is_downsampling(layer) else x)
        chunks.append(x.float().unflatten(0, (4**steps, len(batch))))  # (paths, B, classes)
    logits = torch.cat(chunks, dim=1)  # (paths, N, classes), paths in _phase_order
    ordered = torch.empty_like(logits)
    ordered[_phase_order(steps)] = logits
    period = 2**steps
    return ordered.unflatten(0, (period, period))


def orbit_average(model: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Logits (N, classes) averaged over all P x P circular phases of each image (``phase_logits``).

    Rolling the input by any integer (dx, dy) only permutes the phases (a shift by P px changes nothing),
    so the average is exactly invariant to every integer circular shift. The mean is taken over sorted
    values, so that permuted phases give the same result bit for bit.
    """
    logits = phase_logits(model, images, batch_size).flatten(0, 1)  # (P * P, N, classes)
    return logits.sort(dim=0).values.mean(dim=0)


def polyphase_norms(x: torch.Tensor, padding_mode: str = "circular") -> torch.Tensor:
    """Squared L2 norms (N, 4) of the four stride-2 polyphase components that ``APSPool2d`` compares for
    its input maps x (N, C, H, W): after its stride-1 max pooling and odd-size padding, in float32.
    Component 2 * i + j is ``[..., i::2, j::2]``; APS keeps the largest (the lowest index on a tie)."""
    return polyphase_components(max_pool_stride1(x, padding_mode), padding_mode)[1]


@dataclass(frozen=True)
class PhaseChoice:
    """What one APS layer did for N images: the component it kept (N,) and the relative gap (N,)
    between the largest and second-largest norm, (first - second) / first (0 means a tie)."""

    chosen: torch.Tensor
    gap: torch.Tensor


@torch.inference_mode()
def aps_phase_choices(model: nn.Module, images: torch.Tensor, batch_size: int = 256) -> list[PhaseChoice]:
    """For every ``APSPool2d`` layer of ``model``, in forward order, the phase it keeps for each image."""
    check_images(images)
    check_batch_size(batch_size)
    fast = inference_copy(model)
    aps_layers = [layer for layer in fast.modules() if isinstance(layer, APSPool2d)]
    if not aps_layers:
        downsampling = getattr(getattr(model, "config", None), "downsampling", "?")
        raise ValueError(f"the model has no APSPool2d layer (its downsampling is {downsampling!r})")
    norms: list[list[torch.Tensor]] = [[] for _ in aps_layers]
    hooks = [layer.register_forward_hook(lambda layer, inputs, output, i=i: norms[i].append(
        polyphase_norms(inputs[0], layer.padding_mode))) for i, layer in enumerate(aps_layers)]
    try:
        for batch in images.split(batch_size):
            forward_logits(fast, batch)
    finally:
        for hook in hooks:
            hook.remove()
    choices = []
    for parts in norms:
        layer_norms = torch.cat(parts)  # (N, 4)
        top = layer_norms.topk(2, dim=1).values  # (N, 2): the largest two
        chosen = layer_norms.argmax(dim=1)  # the first of equal maxima, as aps_downsample picks
        choices.append(PhaseChoice(chosen=chosen, gap=(top[:, 0] - top[:, 1]) / top[:, 0]))
    return choices


@dataclass(frozen=True)
class LogitChange:
    """How much a transformation of the input changed a model's logits: the largest and mean absolute
    change over all images and classes, the standard error of that mean (the images are the independent
    units: std over images of each image's mean change / sqrt(N)), and the share (%) of images whose top-1
    class changed."""

    max_abs: float
    mean_abs: float
    mean_abs_se: float
    changed_percent: float


def logit_change(before: torch.Tensor, after: torch.Tensor) -> LogitChange:
    """Compare logits (N, classes) of the same images (N >= 2) before and after a transformation."""
    if before.shape != after.shape or before.ndim != 2 or len(before) < 2:
        raise ValueError(f"need two logit tensors of the same shape (N, classes), N >= 2, got {tuple(before.shape)} and "
                         f"{tuple(after.shape)}")
    difference = (after - before).abs().double()
    per_image = difference.mean(dim=1)  # (N,)
    changed = (after.argmax(1) != before.argmax(1)).double().mean().item() * 100
    return LogitChange(difference.max().item(), per_image.mean().item(), (per_image.std() / len(per_image) ** 0.5).item(),
                       changed)


@dataclass(frozen=True)
class ShiftReport:
    """One way of computing logits, measured on N labelled images and on transformed copies of them:
    seconds per image (the untransformed pass, wall clock), which images it classifies right (N,) bool,
    and how each transformation changed its logits (``LogitChange`` per label)."""

    seconds_per_image: float
    correct: torch.Tensor
    changes: dict[str, LogitChange]

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy (%) on the untransformed images."""
        return self.correct.double().mean().item() * 100


def shift_report(logits_of: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor,
                 transformed: dict[str, torch.Tensor]) -> ShiftReport:
    """Run ``logits_of`` (images (N, 3, H, W) -> logits (N, classes), e.g. a model's ``predict_logits`` or an
    ``orbit_average``) on the images and on each transformed copy (same shape), and report (``ShiftReport``)."""
    check_images(images)
    check_labels(labels, images)
    for label, moved in transformed.items():
        if moved.shape != images.shape:
            raise ValueError(f"transformed copy {label!r} has shape {tuple(moved.shape)}, the images {tuple(images.shape)}")
    start = time.perf_counter()
    before = logits_of(images)
    seconds = (time.perf_counter() - start) / len(images)
    changes = {label: logit_change(before, logits_of(moved)) for label, moved in transformed.items()}
    return ShiftReport(seconds, before.argmax(1) == labels, changes)


def format_shift_reports(reports: dict[str, ShiftReport]) -> str:
    """A text table of ``ShiftReport``s, one column each: time and accuracy, then for every transformation the
    share of images whose class changed and the mean absolute change of a logit with its standard error
    ("exactly 0": no change at all)."""
    width = max(24, *(len(name) + 2 for name in reports))
    labels = list(next(iter(reports.values())).changes)
    rows = ["".ljust(26) + "".join(name.rjust(width) for name in reports),
            "ms per image".ljust(26) + "".join(f"{r.seconds_per_image * 1000:.1f}".rjust(width) for r in reports.values()),
            "accuracy (%)".ljust(26) + "".join(f"{r.accuracy:.1f}".rjust(width) for r in reports.values()),
            "class changed (%) / mean |logit change| ± standard error, under"]
    for label in labels:
        cells = [r.changes[label] for r in reports.values()]
        rows.append(f"  {label}".ljust(26) + "".join(
            ("exactly 0" if c.max_abs == 0 else f"{c.changed_percent:.1f} / {c.mean_abs:.3f} ± {c.mean_abs_se:.3f}").rjust(width)
            for c in cells))
    return "\n".join(rows)
