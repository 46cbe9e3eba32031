"""Tests of the training entry point ``python -m shiftlab.train``, on real CIFAR-10 JPEGs.

The training tests build a tiny ImageFolder (30 train and 20 test images per class) from the course's
tar (``../shared/data/cifar10-jpeg.tar.xz`` beside the repository, as in CI) and train for one epoch.
"""

import re
import shutil
import tarfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from shiftlab.checkpoints import load_pretrained, read_manifest, sha256
from shiftlab.data import load_sample, to_float
from shiftlab.train import STATE_FILE, main, random_translate

DATA_TAR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.tar.xz"
PER_CLASS = {"train": 30, "test": 20}
NAME = "tiny"


def extract_tiny_image_folder(tar_path: Path, root: Path) -> Path:
    """Copy the first images of each class and split out of the tar into ``root`` (ImageFolder layout)."""
    pattern = re.compile(r"(?:\./)?(train|test)/(\w+)/(\d+)\.jpg")
    with tarfile.open(tar_path, "r|xz") as archive:
        for member in archive:
            match = pattern.fullmatch(member.name)
            if match and int(match[3]) < PER_CLASS[match[1]]:
                target = root / match[1] / match[2] / f"{match[3]}.jpg"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.extractfile(member).read())
    return root


def train_args(data: Path, output_dir: Path, state_dir: Path, epochs: int = 1, padding_mode: str = "zeros") -> list[str]:
    return [
        "--name", NAME, "--data", str(data), "--output-dir", str(output_dir), "--state-dir", str(state_dir),
        "--epochs", str(epochs), "--batch-size", "64", "--padding-mode", padding_mode, "--device", "cpu",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    if not DATA_TAR.is_file():
        pytest.skip(f"the course's CIFAR-10 tar {DATA_TAR} is absent (it sits in ../shared/data beside the repository)")
    return extract_tiny_image_folder(DATA_TAR, tmp_path_factory.mktemp("cifar10-tiny"))


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory) -> dict:
    """One epoch on 300 images; the paths it wrote and the manifest entry it returned."""
    folder = tmp_path_factory.mktemp("run")
    output_dir, state_dir = folder / "checkpoints", folder / "state"
    entry = main(train_args(tiny_data, output_dir, state_dir))
    return dict(entry=entry, output_dir=output_dir, state_dir=state_dir, data=tiny_data)


@pytest.mark.slow
def test_training_writes_a_checkpoint_that_loads(trained):
    output_dir = trained["output_dir"]
    entry = read_manifest(output_dir)[NAME]
    assert entry == trained["entry"]
    assert sha256(output_dir / entry["file"]) == entry["sha256"]
    model = load_pretrained(NAME, output_dir)
    assert model.config.padding_mode == "zeros" and model.config.downsampling == "max"
    assert entry["recipe"]["epochs"] == 1 and entry["recipe"]["train_images"] == 300
    assert entry["training"]["epochs"] == 1 and entry["training"]["seconds"] > 0
    metrics = entry["metrics"]
    assert metrics["test_images"] == 200
    assert 0 <= metrics["test_accuracy"] <= 100 and 0 <= metrics["sample_accuracy"] <= 100


@pytest.mark.slow
def test_reported_sample_accuracy_equals_a_fresh_evaluation(trained):
    model = load_pretrained(NAME, trained["output_dir"])
    images, labels = load_sample()
    with torch.no_grad():
        correct = (model(to_float(images)).argmax(1) == labels).sum().item()
    assert trained["entry"]["metrics"]["sample_accuracy"] == round(100 * correct / len(labels), 2)


@pytest.mark.slow
def test_rerun_with_more_epochs_resumes_from_the_state(trained, tmp_path, capsys):
    state_dir = shutil.copytree(trained["state_dir"], tmp_path / "state")
    first = torch.load(state_dir / STATE_FILE, weights_only=True)
    entry = main(train_args(trained["data"], tmp_path / "checkpoints", state_dir, epochs=2))
    assert "after epoch 1" in capsys.readouterr().out
    state = torch.load(state_dir / STATE_FILE, weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert state["history"][0] == first["history"][0]  # epoch 1 was not trained again
    assert entry["training"]["epochs"] == 2 and entry["recipe"]["epochs"] == 2


@pytest.mark.slow
def test_resume_refuses_a_state_of_another_variant(trained, tmp_path):
    state_dir = shutil.copytree(trained["state_dir"], tmp_path / "state")
    with pytest.raises(SystemExit, match="cannot resume .*circular"):
        main(train_args(trained["data"], tmp_path / "checkpoints", state_dir, padding_mode="circular"))


def test_missing_data_names_the_unpack_command(tmp_path):
    missing = tmp_path / "cifar10-jpeg"
    with pytest.raises(SystemExit) as error:
        main(train_args(missing, tmp_path / "checkpoints", tmp_path / "state"))
    message = str(error.value)
    assert f"mkdir -p {missing} && tar xJf ../shared/data/cifar10-jpeg.tar.xz -C {missing}" in message
    assert "--download" in message
    assert not (tmp_path / "checkpoints").exists()


def test_random_translate_crops_the_reflect_padded_images():
    images = torch.rand(16, 3, 8, 8)
    shifted = random_translate(images, 2, torch.Generator().manual_seed(0))
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    crops = [[padded[..., dy : dy + 8, dx : dx + 8] for dx in range(5)] for dy in range(5)]
    for n in range(len(images)):
        assert any(torch.equal(shifted[n], crop[n]) for row in crops for crop in row)
    assert torch.equal(random_translate(images, 0, torch.Generator()), images)
