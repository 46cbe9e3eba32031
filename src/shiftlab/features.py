"""Named layers and their feature maps.

A layer is named by its position: ``"2.3"`` is ``model[2][3]``, the fourth layer of level 2. The
walk ``feature_maps`` runs the levels and layers in order and keeps every layer's output.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from .course import progress_bar
from .data import CIFAR10_MEAN, check_images
from .layers import check_choice

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


@torch.no_grad()
def feature_maps(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The output of every layer for a batch, in forward order: ``{"0.0": (N, C, H, W), ...}``.

    Images are float (N, 3, H, W) in [0, 1]; the last entries are the head's (N, classes) logits.
    The model runs in eval mode (BatchNorm uses its running statistics) and is left as it was.
    """
    check_images(images)
    levels = _levels(model)
    outputs, x = {}, images
    with eval_mode(model):
        for i, level in enumerate(levels):
            for j, layer in enumerate(level):
                x = layer(x)
                outputs[f"{i}.{j}"] = x
    return outputs


@contextmanager
def eval_mode(model: nn.Module):
    """Run ``model`` in eval mode inside the block, then restore every submodule's training flag."""
    flags = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield model
    finally:
        for module, training in flags.items():
            module.training = training


@torch.no_grad()
def mean_feature_maps(model: nn.Module, images: torch.Tensor, batch_size: int = 256,
                      progress: bool = True) -> dict[str, torch.Tensor]:
    """Every layer's output averaged over a data set: ``{"0.0": (C, H, W), ..., last: (classes,)}``."""
    check_images(images)
    if len(images) == 0:
        raise ValueError("need at least one image to average over")
    sums: dict[str, torch.Tensor] = {}
    for batch in progress_bar(images.split(batch_size), desc="mean feature maps", enabled=progress):
        for name, output in feature_maps(model, batch).items():
            sums[name] = sums.get(name, 0) + output.sum(0)
    return {name: total / len(images) for name, total in sums.items()}


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
