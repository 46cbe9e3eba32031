"""Padding modes, Conv2d's names for them, and ``pad``: one home for image geometry and network layers alike.

``shifts`` pads a canvas to cut shifted windows from it; ``layers`` pads feature maps before blurring
or polyphase sampling; ``model`` passes the same names to ``nn.Conv2d(padding_mode=...)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .checks import check_choice

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def pad(x: torch.Tensor, pads: tuple[int, int, int, int], padding_mode: str) -> torch.Tensor:
    """Pad (left, right, top, bottom) pixels with a Conv2d-style padding mode ('zeros' means constant 0).

    Shape: (..., H, W) -> (..., H + top + bottom, W + left + right).

    >>> pad(torch.tensor([[[[1.0, 2.0]]]]), (1, 1, 0, 0), "circular")
    tensor([[[[2., 1., 2., 1.]]]])
    """
    check_choice("padding mode", padding_mode, PADDING_MODES)
    mode = "constant" if padding_mode == "zeros" else padding_mode
    return F.pad(x, pads, mode=mode)
