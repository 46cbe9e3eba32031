"""The one way to run a model for inference: an eval-mode copy, batched forward passes, no gradients.

``inference_copy`` leaves the caller's model alone (its training flag, BatchNorm statistics and
layout); every measuring function of the package runs on such a copy. By default the copy is
channels-last, about twice as fast on CPUs as the default layout, with the same predictions.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .checks import check_batch_size, check_images
from .lesson import progress_bar


def inference_copy(model: nn.Module, channels_last: bool = True) -> nn.Module:
    """A copy of ``model`` in eval mode (BatchNorm uses its running statistics), channels-last unless
    ``channels_last=False`` (then it computes bit for bit what ``model.eval()`` computes)."""
    fast = copy.deepcopy(model).eval()
    return fast.to(memory_format=torch.channels_last) if channels_last else fast


def forward_logits(fast_model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Float32 outputs of an ``inference_copy`` for one batch (N, 3, H, W), fed in channels-last layout.

    Call it under ``torch.inference_mode()`` (or ``no_grad``); the caller splits data into batches.
    """
    return fast_model(batch.contiguous(memory_format=torch.channels_last)).float()


@torch.inference_mode()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Logits (N, classes) of ``model`` for float images (N, 3, H, W) in [0, 1]."""
    check_images(images)
    check_batch_size(batch_size)
    fast_model = inference_copy(model)
    batches = images.split(batch_size)
    return torch.cat([forward_logits(fast_model, b) for b in progress_bar(batches, desc="predict", enabled=progress)])
