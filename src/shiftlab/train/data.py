"""Training data: CIFAR-10 splits in memory as uint8 tensors, a seeded order, and the course copy unpacked."""

from __future__ import annotations

import tarfile
from pathlib import Path

import torch

from ..data import COURSE_DATA_TAR, DEFAULT_DATA_DIR, load_cifar10, load_cifar10_torchvision, missing_data_message


def load_split(root: str | Path, split: str, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 32, 32, 3) and int64 labels (N,) of one split from ``root`` (ImageFolder or
    torchvision's folder); ``download`` lets torchvision fetch the official files. A FileNotFoundError
    says how to get the data if it is absent."""
    if download:
        return load_cifar10_torchvision(root, split, download=True)
    return load_cifar10(root, split)


def shuffled(images: torch.Tensor, labels: torch.Tensor, limit: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The images in a random order fixed by ``seed``, only the first ``limit`` if given."""
    if limit is not None and limit < 1:
        raise ValueError(f"a subset needs at least one image, got a limit of {limit}")
    keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:limit]
    return images[keep], labels[keep]


def unpack_course_data(root: str | Path = DEFAULT_DATA_DIR, tar: str | Path = COURSE_DATA_TAR) -> bool:
    """Unpack the course's CIFAR-10 JPEG copy ``tar`` into ``root`` unless ``root/train`` and ``root/test``
    exist; True if it unpacked. Relative paths are from the current folder (the repository root)."""
    root, tar = Path(root), Path(tar)
    if (root / "train").is_dir() and (root / "test").is_dir():
        return False
    if not tar.is_file():
        raise FileNotFoundError(f"the course copy {tar} is missing, so {root} cannot be filled: "
                                + missing_data_message(root))
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar, "r:xz") as archive:
        archive.extractall(root, filter="data")
    return True
