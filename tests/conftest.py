"""Shared fixtures: the bundled CIFAR-10 sample, small real-data subsets and small real-ish models.

Every test runs on real images (``shiftlab.load_sample()``). Models are random CifarVGGs made
non-degenerate cheaply and deterministically:

- ``calibrate``: a few training-mode forward passes on real images, so BatchNorm's running
  statistics are the data's, not the identity (mean 0, variance 1) of a fresh network;
- a linear probe: the last layer is refit by ridge regression on pooled features of real images, so
  the network predicts many classes (about 25% accuracy on the sample) instead of one class for all.

Models come from ``make_model(padding_mode, downsampling, width=...)``, built once per session and
cached; tests that change a model must work on ``copy.deepcopy`` of it.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: tests never open windows

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import shiftlab as sl  # noqa: E402
from helpers import DATA_TAR, REPO_ROOT  # noqa: E402

# The tests run many small forward passes; on a shared 2-core runner one intra-op thread avoids
# oversubscription (measured: a small batch took 20x longer with 2 threads on a busy machine).
# SHIFTLAB_TEST_THREADS overrides it.
torch.set_num_threads(int(os.environ.get("SHIFTLAB_TEST_THREADS", "1")))

# Narrow widths keep each forward pass cheap; the layout (levels, layers, strides) is the real one.
TINY = {"stem_width": 8, "widths": (16, 32, 32)}
WIDTHS = {"tiny": TINY, "default": {}}


@pytest.fixture(scope="session")
def sample() -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled raw sample as returned by ``load_sample``: uint8 (1017, 32, 32, 3), int64 (1017,)."""
    return sl.load_sample()


@pytest.fixture(scope="session")
def sample_float(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole sample as float images (1017, 3, 32, 32) in [0, 1], with its labels."""
    images, labels = sample
    return sl.to_float(images), labels


@pytest.fixture(scope="session")
def subset(sample_float) -> tuple[torch.Tensor, torch.Tensor]:
    """A small real subset: the first 24 sample images (float, (24, 3, 32, 32)) and labels.

    The models' probes are fitted on images 512 and later, so these are held out.
    """
    images, labels = sample_float
    return images[:24].clone(), labels[:24].clone()


@pytest.fixture(scope="session")
def held_out(sample_float) -> tuple[torch.Tensor, torch.Tensor]:
    """20 real images (20, 3, 32, 32) and labels, held out from the models' probes."""
    images, labels = sample_float
    return images[:20], labels[:20]


@pytest.fixture(scope="session")
def maps(subset) -> torch.Tensor:
    """Real feature-like maps: normalised sample images with a random 3->6 channel mix (2, 6, 32, 32)."""
    images, _ = subset
    torch.manual_seed(1)
    mix = torch.randn(6, 3)
    return torch.einsum("oc,nchw->nohw", mix, images[:2] - 0.5)


@torch.no_grad()
def calibrate(model: sl.CifarVGG, images: torch.Tensor, batches: int = 2, batch_size: int = 64) -> sl.CifarVGG:
    """Run training-mode forward passes on real images (BatchNorm statistics), then switch to eval mode."""
    model.train()
    for batch in images[:batches * batch_size].split(batch_size):
        model(batch)
    return model.eval()


@torch.no_grad()
def fit_probe(model: sl.CifarVGG, images: torch.Tensor, labels: torch.Tensor, ridge: float = 1e-3) -> sl.CifarVGG:
    """Refit the head's Linear layer by ridge regression of one-hot labels on the pooled features."""
    trunk = torch.nn.Sequential(*list(model)[:4], model[4][0], model[4][1])
    features = trunk(images)  # (N, D)
    targets = F.one_hot(labels, model.config.num_classes).float()  # (N, classes)
    gram = features.T @ features
    gram += ridge * gram.trace() / len(gram) * torch.eye(len(gram))
    model[4][2].weight.copy_(torch.linalg.solve(gram, features.T @ targets).T)
    return model


_MODELS: dict = {}


@pytest.fixture(scope="session")
def make_model(sample_float):
    """Factory: ``make_model(padding_mode, downsampling, width="tiny", probe=True)``, an eval-mode
    CifarVGG with calibrated BatchNorm (and a fitted linear probe), cached for the session."""
    images, labels = sample_float

    def make(padding_mode: str = "zeros", downsampling: str = "max", width: str = "tiny", probe: bool = True):
        key = (padding_mode, downsampling, width, probe)
        if key not in _MODELS:
            torch.manual_seed(0)
            model = sl.CifarVGG(padding_mode, downsampling, **WIDTHS[width])
            calibrate(model, images[512:])
            if probe:
                fit_probe(model, images[640:1017], labels[640:1017])
            _MODELS[key] = model
        model = _MODELS[key]
        assert not model.training, "a test switched a shared model to training mode; deepcopy it first"
        return model

    return make


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root folder (where pyproject.toml lives)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def baseline(make_model) -> sl.CifarVGG:
    """Tiny zeros/max model: the baseline that is not shift invariant."""
    return make_model("zeros", "max")


@pytest.fixture(scope="session")
def invariant(make_model) -> sl.CifarVGG:
    """Tiny circular/APS model: exactly invariant to circular shifts."""
    return make_model("circular", "aps")


def extract_image_folder(tar_path: Path, root: Path, per_class: dict[str, int]) -> Path:
    """Copy the first ``per_class[split]`` images of each class and split from the course tar (ImageFolder layout)."""
    pattern = re.compile(r"(?:\./)?(train|test)/(\w+)/(\d+)\.jpg")
    with tarfile.open(tar_path, "r|xz") as archive:
        for member in archive:
            match = pattern.fullmatch(member.name)
            if match and int(match[3]) < per_class.get(match[1], 0):
                target = root / match[1] / match[2] / f"{match[3]}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
    return root


@pytest.fixture(scope="session")
def course_image_folder(tmp_path_factory):
    """Factory: ``course_image_folder(train=30, test=20)``, a root with train/ and test/ holding the first so
    many JPEGs of each class from the course's CIFAR-10 tar. The tar is part of the course: without it the
    test fails (it does not skip), so that a green run always means the real data was read."""

    def extract(**per_class: int) -> Path:
        if not DATA_TAR.is_file():
            pytest.fail(f"the course's CIFAR-10 tar {DATA_TAR} is missing: it belongs beside the repository "
                        f"(../shared/data, as in CI); see shiftlab.data.missing_data_message")
        name = "-".join(f"{split}{n}" for split, n in sorted(per_class.items()))
        return extract_image_folder(DATA_TAR, tmp_path_factory.mktemp(f"cifar10-jpeg-{name}"), per_class)

    return extract


@pytest.fixture(scope="session")
def tiny_image_folder(course_image_folder) -> Path:
    """Three JPEGs per class and split from the course's CIFAR-10 tar: root with train/ and test/."""
    return course_image_folder(train=3, test=3)


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened, so figures do not pile up across tests."""
    yield
    plt.close("all")
