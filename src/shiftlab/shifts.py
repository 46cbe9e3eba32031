"""Integer translations of image batches, three ways, and exhaustive shifted data sets.

Sign convention (torchvision's): a shift (dx, dy) moves the content dx pixels right and dy pixels
down; (-5, 3) moves it 5 px left and 3 px down. The methods differ only in what enters at the border:

- ``affine``: ``torchvision.transforms.v2.functional.affine``; the uncovered border is black (zeros).
- ``roll``: circular (``torch.roll``); what leaves one side enters the other.
- ``crop``: a window cut from a reflect-padded canvas, so no new colour enters.

All three agree on the interior pixels, which never left the image.
``translate_fourier`` shifts circularly by any real amount (a phase ramp in the frequency domain): the
sub-pixel moves that invariance to integer shifts does not cover.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch
from torchvision.transforms.v2 import functional as TF

from .checks import check_choice, check_images
from .padding import pad

SHIFT_METHODS = ("affine", "roll", "crop")
# The canvas each method cuts its shifted windows from (see ``pad_for_shifts``).
_CANVAS_PADDING = {"affine": "zeros", "roll": "circular", "crop": "reflect"}


def max_shift(method: str, size: int) -> int:
    """The largest |shift| a method supports on images of side ``size`` (reflect padding needs < size)."""
    check_choice("shift method", method, SHIFT_METHODS)
    return size - 1 if method == "crop" else size


def check_shift(dx: int, dy: int, method: str, height: int, width: int) -> None:
    """Raise unless (dx, dy) are integers within the range ``method`` supports for H x W images."""
    for name, value in (("dx", dx), ("dy", dy)):
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an int number of pixels, got {value!r}")
    limit_x, limit_y = max_shift(method, width), max_shift(method, height)
    if abs(dx) > limit_x or abs(dy) > limit_y:
        raise ValueError(
            f"shift (dx, dy) = ({dx}, {dy}) is out of range for {height}x{width} images with method "
            f"{method!r}: it needs |dx| <= {limit_x} and |dy| <= {limit_y}"
        )


def translate_affine(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift (N, 3, H, W) images with torchvision's affine (angle 0, scale 1, shear 0); black border."""
    check_images(images)
    check_shift(dx, dy, "affine", *images.shape[-2:])
    return TF.affine(images, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0])


def translate_roll(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift (N, 3, H, W) images circularly with ``torch.roll``."""
    check_images(images)
    check_shift(dx, dy, "roll", *images.shape[-2:])
    return torch.roll(images, shifts=(dy, dx), dims=(-2, -1))


def translate_crop(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift (N, 3, H, W) images by cutting an H x W window from the reflect-padded image."""
    check_images(images)
    check_shift(dx, dy, "crop", *images.shape[-2:])
    margin = (abs(dx), abs(dy))
    return window(pad_for_shifts(images, margin, "crop"), margin, dx, dy, *images.shape[-2:])


def translate(images: torch.Tensor, dx: int, dy: int, method: str = "affine") -> torch.Tensor:
    """Shift images by (dx, dy) pixels with ``method`` in ``SHIFT_METHODS``."""
    check_choice("shift method", method, SHIFT_METHODS)
    return {"affine": translate_affine, "roll": translate_roll, "crop": translate_crop}[method](images, dx, dy)


def _margins(margin: int | tuple[int, int]) -> tuple[int, int]:
    """A margin given as one int or as (horizontal, vertical) -> (horizontal, vertical)."""
    return (margin, margin) if isinstance(margin, int) else (int(margin[0]), int(margin[1]))


def pad_for_shifts(images: torch.Tensor, margin: int | tuple[int, int], method: str) -> torch.Tensor:
    """Pad once so that every shift up to ``margin`` is a plain window of the result (see ``window``).

    ``margin`` is one int or (horizontal, vertical) in pixels. The padding is what the method lets in:
    zeros for ``affine``, wrap-around for ``roll``, reflection for ``crop``.
    Shape: (N, 3, H, W) -> (N, 3, H + 2 vertical, W + 2 horizontal).
    """
    check_images(images)
    margin_x, margin_y = _margins(margin)
    check_shift(margin_x, margin_y, method, *images.shape[-2:])
    return pad(images, (margin_x, margin_x, margin_y, margin_y), _CANVAS_PADDING[method])


def window(canvas: torch.Tensor, margin: int | tuple[int, int], dx: int, dy: int, height: int, width: int) -> torch.Tensor:
    """The H x W window of a canvas padded by ``margin`` that shows the image shifted by (dx, dy)."""
    margin_x, margin_y = _margins(margin)
    top, left = margin_y - dy, margin_x - dx
    return canvas[..., top : top + height, left : left + width]


def paste_at_every_position(
    patch: torch.Tensor, canvas_size: int, background: float | tuple[float, float, float] = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """An object patch (3, h, w) pasted on a plain canvas at every 1-pixel position.

    Returns images (P, 3, S, S) with P = (S - h + 1) * (S - w + 1), row-major over the patch's top-left
    corner, and positions (P, 2) as (x, y) = (column, row) of that corner, in pixels.
    """
    if patch.ndim != 3 or patch.shape[0] != 3 or not patch.is_floating_point():
        raise ValueError(f"patch must be a float tensor (3, h, w) in [0, 1], got {patch.dtype} {tuple(patch.shape)}")
    h, w = patch.shape[-2:]
    if canvas_size < max(h, w):
        raise ValueError(f"canvas_size {canvas_size} is smaller than the {h}x{w} patch")
    colour = torch.as_tensor(background, dtype=patch.dtype).reshape(-1, 1, 1).expand(3, canvas_size, canvas_size)
    ys, xs = torch.meshgrid(torch.arange(canvas_size - h + 1), torch.arange(canvas_size - w + 1), indexing="ij")
    positions = torch.stack([xs.flatten(), ys.flatten()], dim=1)
    images = colour.unsqueeze(0).repeat(len(positions), 1, 1, 1)
    for image, (x, y) in zip(images, positions.tolist()):
        image[:, y : y + h, x : x + w] = patch
    return images, positions


def crop_at_every_position(image: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``size`` x ``size`` window of a larger image (3, H, W), at every 1-pixel offset.

    Returns windows (P, 3, size, size) with P = (H - size + 1) * (W - size + 1), row-major, and
    positions (P, 2) as (x, y) of each window's top-left corner, in pixels.
    """
    if image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
        raise ValueError(f"image must be a float tensor (3, H, W) in [0, 1], got {image.dtype} {tuple(image.shape)}")
    height, width = image.shape[-2:]
    if size > min(height, width):
        raise ValueError(f"window size {size} is larger than the {height}x{width} image")
    windows = image.unfold(1, size, 1).unfold(2, size, 1)  # (3, ny, nx, size, size)
    ny, nx = windows.shape[1:3]
    windows = windows.permute(1, 2, 0, 3, 4).reshape(ny * nx, 3, size, size)
    ys, xs = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
    return windows.contiguous(), torch.stack([xs.flatten(), ys.flatten()], dim=1)


def fourier_shift(x: torch.Tensor, shifts: tuple[float, ...]) -> torch.Tensor:
    """Shift a periodic float signal circularly along its last ``len(shifts)`` axes by real amounts (samples).

    ``shifts[i]`` moves the content of axis ``-len(shifts) + i`` towards higher indices: out[j] = x[j - s],
    read between the samples by band-limited (Fourier) interpolation. The DFT along those axes is multiplied
    by the phase ramp exp(-2 pi i k s) (k in cycles per sample) and the real part of the inverse is kept.
    For an even length the Nyquist bin's term becomes cos(pi s) times itself: it vanishes at half a sample,
    where that alternating pattern has no value. Computed in float64, returned in the input's dtype. The one
    phase ramp behind ``translate_fourier`` (images) and ``shiftlab.flip.half_step_interpolation`` (1-D).

    >>> x = torch.tensor([0.0, 1.0, 3.0, 2.0])
    >>> torch.allclose(fourier_shift(x, (1.0,)), x.roll(1), atol=1e-6)
    True
    """
    dims = tuple(range(-len(shifts), 0))
    angle = torch.zeros((), dtype=torch.float64)
    for dim, shift in zip(dims, shifts):
        n = x.shape[dim]
        k = torch.fft.fftfreq(n, dtype=torch.float64).view(n, *[1] * (-dim - 1))  # cycles per sample
        angle = angle - 2 * math.pi * k * float(shift)
    ramp = torch.polar(torch.ones_like(angle), angle)
    shifted = torch.fft.ifftn(torch.fft.fftn(x.to(torch.float64), dim=dims) * ramp, dim=dims).real
    return shifted.to(x.dtype)


def translate_fourier(images: torch.Tensor, dx: float, dy: float) -> torch.Tensor:
    """Shift (N, 3, H, W) images circularly by any real (dx, dy) pixels, e.g. half a pixel (``fourier_shift``).

    The ideal band-limited interpolation of the image, shifted. For integer (dx, dy) it is
    ``translate_roll`` up to float rounding (about 1e-7). At a sub-pixel shift d the Nyquist row / column
    (even sizes) is scaled by cos(pi d), i.e. it vanishes at half a pixel, and values may leave [0, 1]
    slightly (ringing): they are not clipped. Returned in the input's dtype.
    """
    check_images(images)
    for name, value in (("dx", dx), ("dy", dy)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number of pixels, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    return fourier_shift(images, (dy, dx))
