"""Named layers and their outputs: feature maps layer by layer, and pooled outputs level by level.

A layer is named by its position: ``"2.3"`` is ``model[2][3]``, the fourth layer of level 2. The
walk ``feature_maps`` runs the levels and layers in order and keeps every layer's output;
``pooled_level_outputs`` keeps only each level's output averaged over H and W (and the logits), the
compact view the explorer compares across shifts. Both run on an ``inference_copy`` of the model.
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_batch_size, check_choice, check_images
from .data import CIFAR10_MEAN
from .inference import inference_copy
from .lesson import progress_bar

BLANK_KINDS = ("pixel-zeros", "normalized-zeros")


def _levels(model: nn.Module) -> list[nn.Sequential]:
    if not isinstance(model, nn.Sequential) or not all(isinstance(level, nn.Sequential) for level in model):
        raise TypeError(f"expected an nn.Sequential of nn.Sequential levels (like CifarVGG), got {type(model).__name__}")
    return list(model)


def layer_names(model: nn.Module) -> list[str]:
    """Every layer's name ``"i.j"`` (level i, layer j), in forward order."""
    return [f"{i}.{j}" for i, level in enumerate(_levels(model)) for j in range(len(level))]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The layer called ``name`` ("i.j" means ``model[i][j]``)."""
    if name not in layer_names(model):
        raise KeyError(f"no layer {name!r}; layers are named 'level.layer', from '0.0' to {layer_names(model)[-1]!r}")
    level, layer = (int(part) for part in name.split("."))
    return model[level][layer]


def _walk(levels: list[nn.Sequential], images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every layer's output ``{"i.j": tensor}`` of an eval-mode model's ``levels``, in forward order."""
    outputs, x = {}, images
    for i, level in enumerate(levels):
        for j, layer in enumerate(level):
            x = layer(x)
            outputs[f"{i}.{j}"] = x
    return outputs


@torch.no_grad()
def feature_maps(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The output of every layer for a batch, in forward order: ``{"0.0": (N, C, H, W), ...}``.

    Images are float (N, 3, H, W) in [0, 1]; the last entries are the head's (N, classes) logits.
    The model runs in eval mode (BatchNorm uses its running statistics) on an ``inference_copy`` in the
    default layout, so the caller's model is left as it was.
    """
    check_images(images)
    _levels(model)  # rejects other models before copying them
    return _walk(_levels(inference_copy(model, channels_last=False)), images)


@torch.no_grad()
def mean_feature_maps(model: nn.Module, images: torch.Tensor, batch_size: int = 256,
                      progress: bool = True) -> dict[str, torch.Tensor]:
    """Every layer's output averaged over a data set: ``{"0.0": (C, H, W), ..., last: (classes,)}``."""
    check_images(images)
    if len(images) == 0:
        raise ValueError("need at least one image to average over")
    levels = _levels(inference_copy(model, channels_last=False))
    sums: dict[str, torch.Tensor] = {}
    for batch in progress_bar(images.split(batch_size), desc="mean feature maps", enabled=progress):
        for name, output in _walk(levels, batch).items():
            sums[name] = sums.get(name, 0) + output.sum(0)
    return {name: total / len(images) for name, total in sums.items()}


LOGITS = "logits"  # the key of the head's output in ``pooled_level_outputs``


def pooled_level_names(model: nn.Module) -> list[str]:
    """The keys of ``pooled_level_outputs``: ``"level 0"`` ... for every level but the head, then ``"logits"``."""
    return [f"level {i}" for i in range(len(_levels(model)) - 1)] + [LOGITS]


@torch.inference_mode()
def pooled_level_outputs(model: nn.Module, images: torch.Tensor, batch_size: int = 128) -> dict[str, torch.Tensor]:
    """Each level's output averaged over H and W, and the logits, in one pass per batch.

    Returns float32 ``{"level 0": (N, C0), ..., "level L-2": (N, C), "logits": (N, classes)}`` for a model of
    L levels (``pooled_level_names``); for CifarVGG the levels have 24, 64, 256, 256 channels. The model runs
    on a channels-last ``inference_copy`` under ``torch.inference_mode``; images are float (N, 3, H, W) in [0, 1].
    """
    check_images(images)
    check_batch_size(batch_size)
    names = pooled_level_names(model)
    fast = inference_copy(model)
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for batch in images.split(batch_size):
        x = batch.contiguous(memory_format=torch.channels_last)  # (B, 3, H, W)
        for name, level in zip(names, fast):
            x = level(x)
            chunks[name].append(x.float() if name == LOGITS else x.float().mean((-2, -1)))  # (B, C)
    return {name: torch.cat(parts) for name, parts in chunks.items()}


def blank_images(kind: str = "pixel-zeros", size: int = 32, n: int = 1) -> torch.Tensor:
    """Blank model inputs (n, 3, size, size) in pixel space [0, 1]. They differ:

    - ``"pixel-zeros"``: zeros in pixel space, a black image; after the model's normalisation each
      channel holds -mean/std (about -2), far from zero.
    - ``"normalized-zeros"``: zeros after normalisation, i.e. the CIFAR-10 mean colour (a grey-blue);
      the first convolution then sees exactly 0 everywhere, like its zero padding.
    """
    check_choice("blank kind", kind, BLANK_KINDS)
    if kind == "pixel-zeros":
        return torch.zeros(n, 3, size, size)
    return torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1).expand(n, 3, size, size).clone()
