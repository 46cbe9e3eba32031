"""CIFAR-10 data: the bundled raw sample, the full data set when present, and conversions.

Images travel through the package as float tensors of shape (N, 3, H, W) with values in [0, 1]
("pixel space"); the model normalises them itself, so shifts fill borders with black pixels as a
camera would. ``normalize`` and ``denormalize`` map between pixel space and the normalised space
the first convolution sees.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .checks import check_images

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Per-channel mean and standard deviation of the CIFAR-10 training images, in pixel space [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

SAMPLE_FILE = "cifar10-test-raw-first1017.npz"
# The full CIFAR-10 as JPEGs, shipped beside the course (paths relative to the repository root), and the
# folder it is unpacked into (``make data``), where training looks by default.
COURSE_DATA_TAR = Path("../shared/data/cifar10-jpeg.tar.xz")
DEFAULT_DATA_DIR = Path("data/cifar10-jpeg")


def load_sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 1,017 official CIFAR-10 test images, exact raw pixels, shipped with the package.

    Returns:
        images: uint8 tensor (1017, 32, 32, 3), HWC, RGB.
        labels: int64 tensor (1017,), CIFAR-10 class indices (see ``CLASSES``).
    """
    with resources.as_file(resources.files("shiftlab") / "assets" / SAMPLE_FILE) as path:
        with np.load(path) as archive:
            return torch.from_numpy(archive["images"]), torch.from_numpy(archive["labels"])


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1], the model's input format."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor of uint8 images, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images (N, H, W, 3), got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W, 3), got {tuple(images.shape)}")
    return images.permute(0, 3, 1, 2).float().div(255).contiguous()


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float images (N, 3, H, W) in [0, 1] -> uint8 (N, H, W, 3), rounding and clipping."""
    check_images(images)
    return images.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _channel_stats(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(CIFAR10_MEAN, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)
    return mean, std


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Pixel space [0, 1] -> normalised space (zero mean, unit variance per channel on CIFAR-10)."""
    check_images(images)
    mean, std = _channel_stats(images)
    return (images - mean) / std


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Normalised space -> pixel space [0, 1]; the inverse of ``normalize``."""
    check_images(images)
    mean, std = _channel_stats(images)
    return images * std + mean


def missing_data_message(root: str | Path, what: str = "CIFAR-10") -> str:
    """How to get the full CIFAR-10 into ``root``: the one message for every loader and for training."""
    return (
        f"no {what} found under {root}: the full CIFAR-10 needs the ImageFolder layout train/<class>/*.jpg "
        f"and test/<class>/*.jpg, or torchvision's cifar-10-batches-py. Offline, unpack the course copy "
        f"(from the repository root; `make data` does this for {DEFAULT_DATA_DIR}):\n\n"
        f"    mkdir -p {root} && tar xJf {COURSE_DATA_TAR} -C {root}\n\n"
        "online, torchvision can fetch the official files: load_cifar10_torchvision(root, download=True)."
    )


def load_image_folder(root: str | Path, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """Read CIFAR-10 from the ImageFolder layout ``root/<split>/<class>/NNNN.jpg``.

    Returns uint8 images (N, 32, 32, 3) and int64 labels (N,), classes in ``CLASSES`` order.
    """
    from PIL import Image

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise FileNotFoundError(missing_data_message(root, f"'{split}' folder"))
    found = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    if tuple(found) != CLASSES:
        raise ValueError(f"{split_dir} must hold one folder per class {CLASSES}, found {tuple(found)}")
    images, labels = [], []
    for label, name in enumerate(CLASSES):
        for file in sorted((split_dir / name).iterdir()):
            with Image.open(file) as image:
                images.append(np.asarray(image.convert("RGB")))
            labels.append(label)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def load_cifar10_torchvision(
    root: str | Path, split: str = "test", download: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Read CIFAR-10 from torchvision's folder (``root/cifar-10-batches-py``); downloads only if asked."""
    from torchvision.datasets import CIFAR10

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not download and not (Path(root) / CIFAR10.base_folder).is_dir():
        raise FileNotFoundError(missing_data_message(root, "torchvision CIFAR-10 folder (cifar-10-batches-py)"))
    dataset = CIFAR10(str(root), train=split == "train", download=download)
    return torch.from_numpy(dataset.data), torch.tensor(dataset.targets, dtype=torch.int64)


def load_cifar10(root: str | Path, split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """Full CIFAR-10 from ``root``, whichever layout it has: torchvision's folder or ImageFolder."""
    from torchvision.datasets import CIFAR10

    if (Path(root) / CIFAR10.base_folder).is_dir():
        return load_cifar10_torchvision(root, split)
    return load_image_folder(root, split)
