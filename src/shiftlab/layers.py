"""Downsampling layers and the factory that turns a model option into a layer.

- ``max``: ``nn.MaxPool2d(2)``, the baseline.
- ``blur``: Zhang's MaxBlurPool (ICML 2019): max with stride 1, then a binomial blur with stride 2.
- ``aps``: adaptive polyphase sampling (Chaman and Dokmanic, CVPR 2021): max with stride 1, then keep
  the stride-2 polyphase component with the largest norm, so a shifted input picks the same samples.

APS pads with the model's padding mode. MaxBlurPool has a padding of its own (``ModelConfig.blur_padding``),
which its blur pads with and which makes its dense max wrap around when circular: reflection by default, as
in Zhang's ``Downsample``, and circular in circular models, so that they stay circular. ``blur`` at stride 1
is the same filter without subsampling (for spectra).
"""

from __future__ import annotations

from math import comb

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_choice
from .padding import PADDING_MODES, pad

DOWNSAMPLINGS = ("max", "blur", "aps")


def binomial_filter(size: int = 3) -> torch.Tensor:
    """The normalised 2-D binomial blur with ``size`` taps per side (outer product of Pascal's row).

    >>> binomial_filter(3) * 16
    tensor([[1., 2., 1.],
            [2., 4., 2.],
            [1., 2., 1.]])
    """
    if size < 1:
        raise ValueError(f"filter size must be at least 1, got {size}")
    row = torch.tensor([float(comb(size - 1, k)) for k in range(size)])
    kernel = torch.outer(row, row)
    return kernel / kernel.sum()


def blur(x: torch.Tensor, padding_mode: str = "reflect", size: int = 3, stride: int = 1) -> torch.Tensor:
    """Blur each channel with ``binomial_filter(size)``, keeping every ``stride``-th pixel (1 or 2).

    Shape: (N, C, H, W) -> (N, C, ceil(H / stride), ceil(W / stride)); the border is padded by
    ``(size - 1) // 2`` pixels before and ``size // 2`` after with ``padding_mode``, so output pixel (k, l)
    is the blur centred on input pixel (stride k, stride l) (for even sizes, the window starts there). The
    binomial kernel is computed as ``size - 1`` box filters of width 2 (Pascal's rule), the last with the
    stride: several times faster on CPUs than a depthwise convolution, and equal to it up to float rounding.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch of feature maps (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"filter size must be an int of at least 1, got {size!r}")
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride!r}")
    before, after = (size - 1) // 2, size // 2
    x = pad(x, (before, after, before, after), padding_mode)
    if size == 1:
        return x[..., ::stride, ::stride]
    for _ in range(size - 2):
        x = F.avg_pool2d(x, kernel_size=2, stride=1)
    return F.avg_pool2d(x, kernel_size=2, stride=stride, ceil_mode=False)


def blur_downsample(x: torch.Tensor, padding_mode: str = "zeros", size: int = 3) -> torch.Tensor:
    """Anti-aliased subsampling: ``blur`` with ``binomial_filter(size)``, then keep every second pixel.

    Shape: (N, C, H, W) -> (N, C, ceil(H / 2), ceil(W / 2)); the border is padded by ``(size - 1) // 2``
    pixels before and ``size // 2`` after with ``padding_mode`` (Zhang's ``Downsample`` pads by reflection).
    """
    return blur(x, padding_mode, size, stride=2)


class BlurPool2d(nn.Module):
    """Anti-aliased subsampling: binomial blur, then stride 2 (see ``blur_downsample``)."""

    def __init__(self, padding_mode: str = "zeros", size: int = 3):
        super().__init__()
        check_choice("padding mode", padding_mode, PADDING_MODES)
        self.padding_mode, self.size = padding_mode, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blur_downsample(x, self.padding_mode, self.size)

    def extra_repr(self) -> str:
        return f"padding_mode={self.padding_mode!r}, size={self.size}"


def max_pool_stride1(x: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """Max over 2x2 windows at stride 1. In circular mode the windows wrap around (size kept, so the
    layer commutes with circular shifts); otherwise they stay inside the map, as in Zhang's code (size - 1)."""
    if padding_mode == "circular":
        x = pad(x, (0, 1, 0, 1), "circular")
    return F.max_pool2d(x, kernel_size=2, stride=1)


class MaxBlurPool2d(nn.Module):
    """Zhang's MaxBlurPool: ``max_pool_stride1`` then ``blur_downsample``; (N, C, H, W) -> (N, C, H/2, W/2)."""

    def __init__(self, padding_mode: str = "zeros", size: int = 3):
        super().__init__()
        check_choice("padding mode", padding_mode, PADDING_MODES)
        self.padding_mode, self.size = padding_mode, size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blur_downsample(max_pool_stride1(x, self.padding_mode), self.padding_mode, self.size)

    def extra_repr(self) -> str:
        return f"padding_mode={self.padding_mode!r}, size={self.size}"


def polyphase_view(x: torch.Tensor) -> torch.Tensor:
    """Even-sized maps (N, C, H, W) as a view (N, C, H/2, 2, W/2, 2): ``[..., i, :, j]`` is ``x[..., i::2, j::2]``."""
    if x.ndim != 4 or x.shape[-2] % 2 or x.shape[-1] % 2:
        raise ValueError(f"expected (N, C, H, W) with even H and W, got shape {tuple(x.shape)}")
    return x.unflatten(-1, (x.shape[-1] // 2, 2)).unflatten(-3, (x.shape[-2] // 2, 2))


def aps_downsample(x: torch.Tensor, padding_mode: str = "circular") -> torch.Tensor:
    """Adaptive polyphase sampling: per image, keep the polyphase component with the largest L2 norm.

    Odd sizes are first padded by one pixel at the bottom / right with ``padding_mode``. Norms are
    compared in float32 (bfloat16 would make ties common); on a tie the lowest component index wins.
    Shape: (N, C, H, W) -> (N, C, ceil(H / 2), ceil(W / 2)).
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch of feature maps (N, C, H, W), got shape {tuple(x.shape)}")
    phases, norms = polyphase_components(x, padding_mode)
    chosen = norms.argmax(dim=1)  # (N,)
    return phases[torch.arange(x.shape[0], device=x.device), :, :, chosen // 2, :, chosen % 2]


def polyphase_components(x: torch.Tensor, padding_mode: str = "circular") -> tuple[torch.Tensor, torch.Tensor]:
    """What APS chooses among: the stride-2 polyphase components of x (N, C, H, W), odd sizes first padded
    by one pixel at the bottom / right with ``padding_mode``, as a view (N, C, h, 2, w, 2), and their
    squared L2 norms (N, 4) in float32; component 2 * i + j is ``[..., i::2, j::2]``."""
    x = pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), padding_mode)
    phases = polyphase_view(x)
    return phases, phases.detach().float().square().sum(dim=(1, 2, 4)).flatten(1)


class APSPool2d(nn.Module):
    """APS in place of ``MaxPool2d(2)``: ``max_pool_stride1``, then ``aps_downsample``. With circular padding it commutes with circular shifts
    up to a shift of the output, which makes a circular-padded network exactly shift invariant."""

    def __init__(self, padding_mode: str = "circular"):
        super().__init__()
        check_choice("padding mode", padding_mode, PADDING_MODES)
        self.padding_mode = padding_mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return aps_downsample(max_pool_stride1(x, self.padding_mode), self.padding_mode)

    def extra_repr(self) -> str:
        return f"padding_mode={self.padding_mode!r}"


def make_downsample(downsampling: str, padding_mode: str = "zeros", blur_size: int | None = None,
                    blur_padding: str | None = None) -> nn.Module:
    """The layer for a downsampling option: 'max', 'blur' or 'aps' (see the module docstring). The blur
    pads with ``blur_padding`` (default ``padding_mode``) and has ``blur_size`` taps (default 3)."""
    check_choice("downsampling", downsampling, DOWNSAMPLINGS)
    check_choice("padding mode", padding_mode, PADDING_MODES)
    if downsampling == "max":
        return nn.MaxPool2d(2)
    if downsampling == "blur":
        return MaxBlurPool2d(blur_padding or padding_mode, blur_size or 3)
    return APSPool2d(padding_mode)
