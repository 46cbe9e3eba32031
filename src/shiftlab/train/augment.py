"""Training augmentation on whole batches: alternating horizontal flips and random crop shifts.

A random translation is the course's ``crop`` shift (``shiftlab.shifts``): a window of the
reflect-padded image, so no new colour enters at the border; here each image gets its own shift.
"""

from __future__ import annotations

import torch

from ..data import to_float
from ..shifts import pad_for_shifts


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by its own random (dx, dy), each in [-max_shift, max_shift] pixels, filling by reflection.

    Shape: (N, 3, H, W) -> (N, 3, H, W); a window of ``pad_for_shifts(x, max_shift, "crop")`` at a random
    offset per image. The offsets are drawn from ``generator`` (on the CPU), so a run is reproducible.
    """
    n, _, h, w = x.shape
    padded = pad_for_shifts(x, max_shift, "crop")  # (N, 3, H + 2 max_shift, W + 2 max_shift)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator)
    rows = (dy + torch.arange(h)).to(x.device)  # (N, H)
    cols = (dx + torch.arange(w)).to(x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # (N, H, W, C) -> NCHW


def augment(images: torch.Tensor, flip: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """uint8 batch (N, H, W, 3) -> float (N, 3, H, W) in [0, 1], flipped where ``flip`` (N,) and translated,
    in channels-last layout for the training step."""
    x = to_float(images)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return random_translate(x, max_shift, generator).contiguous(memory_format=torch.channels_last)
