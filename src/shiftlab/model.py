"""The course's VGG-style CIFAR-10 network, one class for the baseline and every fix.

Layout (airbench94 family, about 2 M parameters): ``model[i]`` is a level, ``model[i][j]`` a layer.

    0 stem   Normalize, Conv3x3(3->24), BatchNorm, GELU                        32x32
    1 block  Conv3x3(24->64), Downsample, BatchNorm, GELU, Conv3x3, BatchNorm, GELU    -> 16x16
    2 block  Conv3x3(64->256), Downsample, ...                                         -> 8x8
    3 block  Conv3x3(256->256), Downsample, ...                                        -> 4x4
    4 head   global max pool, Flatten, Linear(256->10)

Input: float images (N, 3, H, W) in pixel space [0, 1]; the stem normalises them. Any H, W >= 16 works.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .checks import check_choice, check_images
from .data import CIFAR10_MEAN, CIFAR10_STD
from .layers import DOWNSAMPLINGS, make_downsample
from .padding import PADDING_MODES

MIN_SIZE = 16  # three stride-2 steps leave 2x2 maps, big enough for every padding mode


@dataclass(frozen=True)
class ModelConfig:
    """Options of ``CifarVGG``; every trained variant differs only here."""

    padding_mode: str = "zeros"  # zeros | reflect | replicate | circular, for every 3x3 convolution
    downsampling: str = "max"  # max | blur | aps, for every stride-2 step
    # blur only (None elsewhere): binomial taps, 3 (Zhang's Tri-3) or 5 (Bin-5), and the blur's own padding,
    # reflect as in Zhang's Downsample, circular in circular models so that they stay circular
    blur_size: int | None = None
    blur_padding: str | None = None
    stem_width: int = 24
    widths: tuple[int, int, int] = (64, 256, 256)
    num_classes: int = 10

    def __post_init__(self):
        check_choice("padding mode", self.padding_mode, PADDING_MODES)
        check_choice("downsampling", self.downsampling, DOWNSAMPLINGS)
        object.__setattr__(self, "widths", tuple(self.widths))
        if self.downsampling != "blur":
            if self.blur_size is not None or self.blur_padding is not None:
                raise ValueError(f"blur_size and blur_padding apply to downsampling='blur' only, not {self.downsampling!r}")
            return
        if self.blur_size is None:
            object.__setattr__(self, "blur_size", 3)
        if self.blur_padding is None:
            object.__setattr__(self, "blur_padding", "circular" if self.padding_mode == "circular" else "reflect")
        check_choice("blur padding", self.blur_padding, PADDING_MODES)
        if isinstance(self.blur_size, bool) or not isinstance(self.blur_size, int) or self.blur_size < 2:
            raise ValueError(f"blur_size must be an int of at least 2 taps, got {self.blur_size!r}")

    def to_dict(self) -> dict:
        """The options as plain JSON values; options that do not apply (None) are left out."""
        return {key: value for key, value in {**asdict(self), "widths": list(self.widths)}.items() if value is not None}


class Normalize(nn.Module):
    """Pixel space [0, 1] -> normalised space, with CIFAR-10's channel statistics (fixed, not trained)."""

    def __init__(self, mean=CIFAR10_MEAN, std=CIFAR10_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def conv3x3(in_channels: int, out_channels: int, padding_mode: str) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1, padding_mode=padding_mode, bias=False)


def conv_block(in_channels: int, width: int, config: ModelConfig) -> nn.Sequential:
    """Conv, Downsample, BatchNorm, GELU, Conv, BatchNorm, GELU: halves the spatial size."""
    return nn.Sequential(
        conv3x3(in_channels, width, config.padding_mode),
        make_downsample(config.downsampling, config.padding_mode, config.blur_size, config.blur_padding),
        nn.BatchNorm2d(width),
        nn.GELU(),
        conv3x3(width, width, config.padding_mode),
        nn.BatchNorm2d(width),
        nn.GELU(),
    )


class CifarVGG(nn.Sequential):
    """VGG-style CIFAR-10 classifier built as levels of layers; see the module docstring.

    >>> model = CifarVGG(padding_mode="circular", downsampling="aps")
    >>> model(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, padding_mode: str = "zeros", downsampling: str = "max", **options):
        config = ModelConfig(padding_mode=padding_mode, downsampling=downsampling, **options)
        levels = [
            nn.Sequential(
                Normalize(),
                conv3x3(3, config.stem_width, config.padding_mode),
                nn.BatchNorm2d(config.stem_width),
                nn.GELU(),
            )
        ]
        in_channels = config.stem_width
        for width in config.widths:
            levels.append(conv_block(in_channels, width, config))
            in_channels = width
        levels.append(
            nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(in_channels, config.num_classes, bias=False))
        )
        super().__init__(*levels)
        self.config = config

    @classmethod
    def from_config(cls, config: ModelConfig | dict) -> "CifarVGG":
        options = config.to_dict() if isinstance(config, ModelConfig) else dict(config)
        return cls(**options)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input(x)
        return super().forward(x)

    def __getitem__(self, index):
        """``model[i]`` is a level; a slice such as ``model[:3]`` is a plain ``nn.Sequential`` of levels
        in the model's own mode (eval stays eval)."""
        if isinstance(index, slice):
            return nn.Sequential(*list(self)[index]).train(self.training)
        return super().__getitem__(index)


def check_model_input(x: torch.Tensor) -> None:
    """Raise a ValueError / TypeError unless ``x`` is (N, 3, H, W) float with H, W >= ``MIN_SIZE``."""
    wanted = f"(N, 3, H, W) float images in [0, 1] with H, W >= {MIN_SIZE}"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"CifarVGG got a {type(x).__name__}; it wants a torch.Tensor of {wanted}")
    if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < MIN_SIZE:
        raise ValueError(f"CifarVGG got input of shape {tuple(x.shape)}; it wants {wanted}")
    check_images(x, "CifarVGG input")


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
