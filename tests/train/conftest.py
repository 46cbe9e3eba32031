"""Fixtures of the training tests: a tiny ImageFolder from the course's CIFAR-10 tar (30 train and 20 test
JPEGs per class) and one run of ``python -m shiftlab.train`` on it, one epoch, shared by the module's tests.
Without the tar these tests fail, they do not skip (see ``course_image_folder``)."""

from pathlib import Path

import pytest

from shiftlab.train.__main__ import main

NAME = "tiny"


def tiny_args(data: Path, output_dir: Path, state_dir: Path, epochs: int = 1, padding_mode: str = "zeros") -> list[str]:
    """The command line of the tiny run, as a list for ``main``."""
    return [
        "--name", NAME, "--data", str(data), "--output-dir", str(output_dir), "--state-dir", str(state_dir),
        "--epochs", str(epochs), "--batch-size", "64", "--padding-mode", padding_mode, "--device", "cpu",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def train_args():
    """``train_args(data, output_dir, state_dir, epochs=1, padding_mode="zeros")``: the tiny run's command line
    (checkpoint name ``"tiny"``, batch 64, CPU)."""
    return tiny_args


@pytest.fixture(scope="session")
def tiny_data(course_image_folder) -> Path:
    """30 training and 20 test JPEGs per class (300 and 200 images), ImageFolder layout."""
    return course_image_folder(train=30, test=20)


@pytest.fixture(scope="session")
def trained(tiny_data, tmp_path_factory) -> dict:
    """One epoch on 300 images through the command line: the checkpoint's name, the paths it wrote and the
    manifest entry it returned."""
    folder = tmp_path_factory.mktemp("run")
    output_dir, state_dir = folder / "checkpoints", folder / "state"
    entry = main(tiny_args(tiny_data, output_dir, state_dir))
    return dict(name=NAME, entry=entry, output_dir=output_dir, state_dir=state_dir, data=tiny_data)
