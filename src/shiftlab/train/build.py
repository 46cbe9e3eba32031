"""A fresh variant with airbench94's initialisation: whitened frozen stem, identity convolutions, scaled head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import to_float
from ..model import CifarVGG, ModelConfig
from .recipe import Recipe


def whiten_stem(model: CifarVGG, images: torch.Tensor, eps: float) -> None:
    """Set the stem convolution to whitening filters of 3x3 patches of uint8 ``images`` (N, H, W, 3) and freeze it.

    Half the filters are the leading eigenvectors of the patch covariance (normalised pixels), each
    divided by the square root of its eigenvalue plus ``eps``; the other half are their negatives.
    """
    conv = model[0][1]
    patches = F.unfold(model[0][0](to_float(images)), conv.kernel_size)  # (N, 27, L)
    covariance = torch.einsum("nil,njl->ij", patches, patches) / (patches.shape[0] * patches.shape[2])
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    half = conv.out_channels // 2
    filters = (eigenvectors[:, -half:] / (eigenvalues[-half:] + eps).sqrt()).T.reshape(half, *conv.weight.shape[1:])
    with torch.no_grad():
        conv.weight.copy_(torch.cat([filters, -filters]))
    conv.weight.requires_grad_(False)


def build_model(options: ModelConfig | dict, recipe: Recipe, train_images: torch.Tensor) -> CifarVGG:
    """A fresh ``CifarVGG`` with model ``options``, initialised from ``recipe.seed`` as airbench94 does.

    The stem is whitened on the first ``recipe.whiten_images`` uint8 training images (N, H, W, 3) and
    frozen, BatchNorm weights are frozen at 1, each 3x3 convolution starts as the identity on its first
    input channels, and the head is scaled by ``recipe.head_scale``.
    """
    torch.manual_seed(recipe.seed)
    model = CifarVGG.from_config(options)
    whiten_stem(model, train_images[: recipe.whiten_images], recipe.whiten_eps)
    with torch.no_grad():
        for module in model[1:].modules():
            if isinstance(module, nn.Conv2d):
                nn.init.dirac_(module.weight[: module.in_channels])
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.requires_grad_(False)
        model[-1][-1].weight.mul_(recipe.head_scale)
    return model
