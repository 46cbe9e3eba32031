"""Flips and kernels: why a network ending in global pooling still tells a flipped input apart.

Flipping the input without flipping the kernels changes what every correlation computes. Flip the
kernels too and convolutions commute with the flip; the whole network then does too, exactly where
the stride-2 sampling grids map onto themselves under the flip (the first sight of aliasing).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .inference import inference_copy

# The 1-D toy from the course: a signal and a kernel.
TOY_SIGNAL = (1.0, 3.0, 5.0, 4.0, 7.0)
TOY_KERNEL = (0.3, 0.5, 0.8)


def correlate1d(signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Valid 1-D cross-correlation (what deep-learning 'convolutions' compute): out[i] = sum_j k[j] x[i + j].

    >>> correlate1d(torch.tensor(TOY_SIGNAL), torch.tensor(TOY_KERNEL))
    tensor([5.8000, 6.6000, 9.1000])
    """
    if signal.ndim != 1 or kernel.ndim != 1:
        raise ValueError(f"expected 1-D signal and kernel, got shapes {tuple(signal.shape)} and {tuple(kernel.shape)}")
    if len(kernel) > len(signal):
        raise ValueError(f"kernel of length {len(kernel)} is longer than the signal ({len(signal)})")
    return signal.unfold(0, len(kernel), 1) @ kernel


def flip_kernels(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every Conv2d kernel flipped along its width (left-right).

    Then ``flip_kernels(m)(x.flip(-1)) == m(x).flip(-1)`` for feature maps, and pooled outputs match
    exactly where each stride-2 sampling grid is symmetric under the flip.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    flipped = copy.deepcopy(model)
    convolutions = [m for m in flipped.modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer whose kernels could be flipped")
    with torch.no_grad():
        for conv in convolutions:
            conv.weight.copy_(conv.weight.flip(-1))
    return flipped


@torch.no_grad()
def flip_equivariance_error(model: nn.Module, images: torch.Tensor) -> float:
    """Relative flip error max |flip_kernels(model)(flipped x) - flipped model(x)| / max |model(x)|.

    0 means exactly flip-equivariant. Outputs with spatial axes (N, C, H, W) are flipped before
    comparing; vectors (N, D), such as pooled features or logits, are compared as they are. Both run in
    eval mode on an ``inference_copy`` (default layout), so the caller's model is left as it was.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
    model = inference_copy(model, channels_last=False)
    reference = model(images)
    flipped_output = flip_kernels(model)(images.flip(-1))
    if reference.ndim == 4:
        reference = reference.flip(-1)
    difference = (flipped_output - reference).abs().max()
    return (difference / reference.abs().max()).item()
