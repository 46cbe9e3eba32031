"""Input checks shared by the whole package: each raises a clear error naming what it got and what it wants.

They sit at the entry of public functions, so a wrong argument fails there, with its value in the
message, instead of deep inside PyTorch.
"""

from __future__ import annotations

import torch


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raise a ValueError naming the valid choices unless ``value`` is one of them.

    >>> check_choice("padding mode", "same", ("zeros", "reflect"))
    Traceback (most recent call last):
    ...
    ValueError: unknown padding mode 'same'; choose one of zeros, reflect
    """
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def check_images(images: torch.Tensor, name: str = "images") -> None:
    """Raise a clear error unless ``images`` is a float tensor of shape (N, 3, H, W)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        hint = " (convert uint8 images with shiftlab.to_float)" if images.dtype == torch.uint8 else ""
        raise TypeError(f"{name} must be a float tensor in [0, 1], got dtype {images.dtype}{hint}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(images.shape)}")


def check_labels(labels: torch.Tensor, images: torch.Tensor) -> None:
    """Raise unless ``labels`` is an int64 tensor (N,) matching the N images."""
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise ValueError(f"labels must be an int64 tensor of shape ({len(images)},), got {got}")


def check_batch_size(batch_size: int) -> None:
    """Raise unless ``batch_size`` is a positive int (a bool is not)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def check_shift_values(values, name: str) -> list[int]:
    """Integer pixel shifts from a list, range, NumPy array or integer tensor, as a list of ints.

    >>> check_shift_values(range(-2, 3), "dxs")
    [-2, -1, 0, 1, 2]
    """
    values = torch.as_tensor(list(values) if isinstance(values, range) else values)
    if values.ndim != 1 or len(values) == 0 or values.dtype in (torch.bool,) or values.is_floating_point():
        raise ValueError(f"{name} must be a non-empty 1-D sequence of int pixel shifts, got {values.tolist()!r}")
    return [int(v) for v in values]
