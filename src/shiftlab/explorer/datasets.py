"""The explorer's two data sets: one image at every 1-pixel position, and the grid of those positions.

Two data sets per test image; all sizes in pixels:

- ``"paste"``: the image's central 16x16 patch pasted on a 32x32 canvas filled with the patch's mean
  colour, at all 17 x 17 = 289 positions of its top-left corner (x, y in 0..16). Only the object's
  position changes; its content and the background do not. Position (8, 8) is the centred one.
- ``"crop"``: the image upsampled 1.5x (bilinear) to 48x48, and every 32x32 window of it, at all
  17 x 17 = 289 offsets of the window's top-left corner. The content moves by minus the offset and
  real content (no padding, no mirror seams) enters at the border. Window (8, 8) is the centred one.

Quick mode (``sl.quick_mode()``) uses 24x24 canvases for ``"paste"`` and a 40x40 upsampling for
``"crop"``: 9 x 9 = 81 positions each, centred at (4, 4). Positions are (x, y) = (column, row) of the
top-left corner; a grid of positions has the shape (ny, nx), row y, column x, as on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..checks import check_choice
from ..lesson import quick_mode
from ..shifts import crop_at_every_position, paste_at_every_position

DATASETS = ("paste", "crop")


@dataclass(frozen=True)
class DatasetSizes:
    """Sizes in pixels: a ``patch`` x ``patch`` centre crop pasted on a ``paste_canvas`` square, and
    ``window`` x ``window`` crops of the image upsampled to a ``crop_canvas`` square."""

    patch: int = 16
    paste_canvas: int = 32
    window: int = 32
    crop_canvas: int = 48


FULL_SIZES = DatasetSizes()
QUICK_SIZES = DatasetSizes(patch=16, paste_canvas=24, window=32, crop_canvas=40)


def dataset_sizes(quick: bool | None = None) -> DatasetSizes:
    """``QUICK_SIZES`` in quick mode (``quick=None`` asks ``sl.quick_mode()``), else ``FULL_SIZES``."""
    return QUICK_SIZES if (quick_mode() if quick is None else quick) else FULL_SIZES


def check_position(what: str, position, grid_shape: tuple[int, int]) -> tuple[int, int]:
    """Return ``position`` as (x, y) ints; raise unless it lies on a (ny, nx) grid.

    >>> check_position("cell", (2, 0), (3, 4))
    (2, 0)
    """
    ny, nx = grid_shape
    if not isinstance(position, (tuple, list)) or len(position) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in position
    ):
        raise TypeError(f"{what} must be a pair of int pixels (x, y), got {position!r}")
    x, y = int(position[0]), int(position[1])
    if not (0 <= x < nx and 0 <= y < ny):
        raise ValueError(f"{what} (x, y) = ({x}, {y}) is off the {nx}x{ny} grid of positions: "
                         f"x must be in 0..{nx - 1} and y in 0..{ny - 1}")
    return x, y


@dataclass(frozen=True)
class ShiftedSet:
    """One image at every 1-pixel position.

    images: (P, 3, S, S) float in [0, 1], P = ny * nx, row-major over positions (y outer, x inner).
    positions: (P, 2) int64 (x, y) in pixels: the patch's top-left corner on the canvas (``"paste"``)
    or the window's top-left corner in the upsampled image (``"crop"``).
    """

    kind: str
    images: torch.Tensor
    positions: torch.Tensor
    label: int
    description: str

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(ny, nx): rows and columns of the grid of positions."""
        return int(self.positions[-1, 1]) + 1, int(self.positions[-1, 0]) + 1

    def index(self, x: int, y: int) -> int:
        """Row-major index into ``images`` of position (x, y); raises if it is off the grid."""
        check_position("position", (x, y), self.grid_shape)
        return y * self.grid_shape[1] + x


def check_image(image: torch.Tensor) -> None:
    """Raise a ValueError unless ``image`` is one float image (3, H, W).

    (``shiftlab.checks.check_images`` checks a batch (N, 3, H, W); a data set starts from one image.)
    """
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
        got = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a float tensor (3, H, W) in [0, 1], got {got}")


def paste_dataset(image: torch.Tensor, patch: int = 16, canvas: int = 32, label: int = -1) -> ShiftedSet:
    """The central ``patch`` x ``patch`` crop of ``image`` (3, H, W) pasted at every position of a
    ``canvas`` x ``canvas`` square of the patch's mean colour: (canvas - patch + 1) ** 2 images."""
    check_image(image)
    height, width = image.shape[-2:]
    if not 1 <= patch <= min(height, width):
        raise ValueError(f"patch size {patch} must be between 1 and the image's {min(height, width)} px")
    top, left = (height - patch) // 2, (width - patch) // 2
    crop = image[:, top : top + patch, left : left + patch]
    background = tuple(crop.mean((1, 2)).tolist())
    images, positions = paste_at_every_position(crop, canvas, background)
    side = canvas - patch + 1
    description = (f"central {patch}x{patch} patch pasted on a {canvas}x{canvas} canvas (mean colour) "
                   f"at {side}x{side} positions")
    return ShiftedSet("paste", images, positions, label, description)


def crop_dataset(image: torch.Tensor, window: int = 32, canvas: int = 48, label: int = -1) -> ShiftedSet:
    """``image`` (3, H, W) upsampled (bilinear) to ``canvas`` x ``canvas``, then every ``window`` x
    ``window`` crop of it: (canvas - window + 1) ** 2 images of side ``window``."""
    check_image(image)
    if canvas < max(image.shape[-2:]):
        raise ValueError(f"canvas {canvas} px must be at least the image's {max(image.shape[-2:])} px (this upsamples)")
    big = F.interpolate(image[None], size=(canvas, canvas), mode="bilinear", align_corners=False)[0]
    windows, positions = crop_at_every_position(big.clamp(0, 1), window)
    side = canvas - window + 1
    description = f"{window}x{window} windows of the image upsampled to {canvas}x{canvas}, at {side}x{side} offsets"
    return ShiftedSet("crop", windows, positions, label, description)


def make_dataset(kind: str, image: torch.Tensor, label: int = -1, sizes: DatasetSizes = FULL_SIZES) -> ShiftedSet:
    """The ``"paste"`` or ``"crop"`` data set of one image (3, H, W), with ``sizes``."""
    check_choice("data set", kind, DATASETS)
    if kind == "paste":
        return paste_dataset(image, sizes.patch, sizes.paste_canvas, label)
    return crop_dataset(image, sizes.window, sizes.crop_canvas, label)
