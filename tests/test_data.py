"""Tests of shiftlab.data: the bundled sample, conversions, normalisation and the full-data loaders."""

import re
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SHARED_DATA
from PIL import Image

import shiftlab as sl
from shiftlab.data import (
    COURSE_DATA_TAR,
    DEFAULT_DATA_DIR,
    load_cifar10,
    load_cifar10_torchvision,
    load_image_folder,
    missing_data_message,
)

SHARED_SAMPLE = SHARED_DATA / "cifar10-test-raw-first1017.npz"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: the loaders must work (or fail) offline."""

    def refuse(*args, **kwargs):
        raise AssertionError("a data function tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---------------------------------------------------------------- the bundled sample


def test_load_sample_shapes_and_dtypes(sample):
    images, labels = sample
    assert images.shape == (1017, 32, 32, 3)
    assert images.dtype == torch.uint8
    assert labels.shape == (1017,)
    assert labels.dtype == torch.int64


def test_load_sample_returns_the_same_data_each_time(sample):
    images, labels = sl.load_sample()
    assert torch.equal(images, sample[0]) and torch.equal(labels, sample[1])
    images[0, 0, 0, 0] += 1  # a private copy: changing it changes nobody else's sample
    assert not torch.equal(images, sample[0])


def test_load_sample_has_every_class(sample):
    _, labels = sample
    counts = torch.bincount(labels, minlength=len(sl.CLASSES))
    assert len(counts) == len(sl.CLASSES) == 10
    assert (counts > 0).all(), f"class counts {counts.tolist()}"


def test_load_sample_is_real_varied_data(sample):
    images, _ = sample
    assert images.min() == 0 and images.max() == 255
    # 1017 distinct images, not one image repeated
    assert len(torch.unique(images.flatten(1), dim=0)) == len(images)


@pytest.mark.skipif(not SHARED_SAMPLE.is_file(), reason=f"the shared copy {SHARED_SAMPLE} is absent")
def test_load_sample_equals_the_shared_raw_file(sample):
    images, labels = sample
    with np.load(SHARED_SAMPLE) as archive:
        assert np.array_equal(images.numpy(), archive["images"])
        assert np.array_equal(labels.numpy(), archive["labels"])
        assert np.array_equal(labels.numpy(), archive["test_labels_all"][: len(labels)])


def test_cifar10_statistics_match_the_sample(sample_float):
    images, _ = sample_float
    # the constants are training-set statistics; the test-set sample agrees to about 0.01
    assert torch.allclose(images.mean((0, 2, 3)), torch.tensor(sl.CIFAR10_MEAN), atol=0.02)
    assert torch.allclose(images.std((0, 2, 3)), torch.tensor(sl.CIFAR10_STD), atol=0.02)


# ---------------------------------------------------------------- to_float / to_uint8


def test_to_float_layout_and_range(sample):
    images, _ = sample
    x = sl.to_float(images[:10])
    assert x.shape == (10, 3, 32, 32)
    assert x.dtype == torch.float32
    assert x.is_contiguous()
    assert 0 <= x.min() and x.max() <= 1
    # oracle: numpy's transpose and division
    expected = images[:10].numpy().transpose(0, 3, 1, 2).astype(np.float32) / 255
    assert np.array_equal(x.numpy(), expected)


def test_to_uint8_inverts_to_float_exactly(sample):
    images, _ = sample
    assert torch.equal(sl.to_uint8(sl.to_float(images)), images)


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([-0.5, 0.0, 0.2, 0.5, 1.0, 1.7]).view(1, 1, 1, 6).expand(1, 3, 1, 6)
    out = sl.to_uint8(x)
    assert out.shape == (1, 1, 6, 3)
    assert out.dtype == torch.uint8
    assert out[0, 0, :, 0].tolist() == [0, 0, round(0.2 * 255), round(0.5 * 255), 255, 255]


def test_to_float_rejects_non_tensors():
    with pytest.raises(TypeError, match="torch.Tensor.*ndarray"):
        sl.to_float(np.zeros((1, 32, 32, 3), dtype=np.uint8))


def test_to_float_rejects_float_images():
    with pytest.raises(TypeError, match=r"uint8.*got dtype torch.float32"):
        sl.to_float(torch.zeros(1, 32, 32, 3))


@pytest.mark.parametrize("shape", [(32, 32, 3), (1, 3, 32, 32), (1, 32, 32, 4)])
def test_to_float_rejects_wrong_shapes_naming_it(shape):
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\), got " + re.escape(str(shape))):
        sl.to_float(torch.zeros(shape, dtype=torch.uint8))


def test_to_uint8_rejects_uint8_with_a_hint(sample):
    images, _ = sample
    with pytest.raises(TypeError, match="to_float"):
        sl.to_uint8(images[:2])


def test_to_uint8_rejects_hwc_float_images():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(2, 32, 32, 3\)"):
        sl.to_uint8(torch.zeros(2, 32, 32, 3))


# ---------------------------------------------------------------- normalize / denormalize


def test_normalize_matches_the_formula(subset):
    images, _ = subset
    mean = torch.tensor(sl.CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(sl.CIFAR10_STD).view(1, 3, 1, 1)
    assert torch.allclose(sl.normalize(images), (images - mean) / std, atol=1e-6)


def test_normalize_standardises_real_images(sample_float):
    z = sl.normalize(sample_float[0])
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(3), atol=0.1)
    assert torch.allclose(z.std((0, 2, 3)), torch.ones(3), atol=0.1)


def test_denormalize_inverts_normalize(subset):
    images, _ = subset
    assert torch.allclose(sl.denormalize(sl.normalize(images)), images, atol=1e-6)
    z = torch.randn(4, 3, 8, 8)
    assert torch.allclose(sl.normalize(sl.denormalize(z)), z, atol=1e-5)


def test_normalize_keeps_dtype():
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    assert sl.normalize(x).dtype == torch.float64
    assert sl.denormalize(x).dtype == torch.float64


@pytest.mark.parametrize("function", [sl.normalize, sl.denormalize])
def test_normalize_errors(function, sample):
    with pytest.raises(TypeError, match="uint8.*to_float"):
        function(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(3, 4, 4\)"):
        function(torch.zeros(3, 4, 4))
    with pytest.raises(ValueError, match=r"got \(1, 1, 4, 4\)"):
        function(torch.zeros(1, 1, 4, 4))


# ---------------------------------------------------------------- ImageFolder and torchvision loaders


def test_load_image_folder_reads_the_jpeg_copy(tiny_image_folder):
    images, labels = load_image_folder(tiny_image_folder, "test")
    assert images.shape == (30, 32, 32, 3)
    assert images.dtype == torch.uint8
    assert labels.dtype == torch.int64
    assert labels.tolist() == [c for c in range(10) for _ in range(3)]
    # oracle: Pillow on the files themselves, in class then file order
    first_cat = Image.open(tiny_image_folder / "test" / "cat" / "0000.jpg").convert("RGB")
    assert np.array_equal(images[9].numpy(), np.asarray(first_cat))


def test_load_image_folder_train_split(tiny_image_folder):
    images, labels = load_image_folder(tiny_image_folder, "train")
    assert images.shape == (30, 32, 32, 3)
    assert torch.equal(torch.bincount(labels), torch.full((10,), 3))


def test_jpeg_copy_is_close_to_the_raw_sample(tiny_image_folder, sample):
    """test/<class>/0000.jpg is the first test image of that class: close to its raw pixels (JPEG, ~6 levels)."""
    jpegs, jpeg_labels = load_image_folder(tiny_image_folder, "test")
    raw, raw_labels = sample
    for c in range(10):
        first = int((raw_labels == c).nonzero()[0])
        jpeg = jpegs[jpeg_labels == c][0].float()
        error = (jpeg - raw[first].float()).abs().mean().item()
        other = (jpeg - raw[first + 1].float()).abs().mean().item()
        assert error < 15, f"class {sl.CLASSES[c]}: mean difference {error:.1f} grey levels"
        assert error < other / 2


def test_load_cifar10_uses_the_image_folder(tiny_image_folder):
    images, labels = load_cifar10(tiny_image_folder, "test")
    expected_images, expected_labels = load_image_folder(tiny_image_folder, "test")
    assert torch.equal(images, expected_images) and torch.equal(labels, expected_labels)


def test_load_image_folder_missing_folder_says_how_to_get_the_data(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_image_folder(tmp_path / "nowhere", "test")
    message = str(info.value)
    assert "tar xJf" in message and "cifar10-jpeg.tar.xz" in message
    assert "download=True" in message
    assert "'test' folder" in message


def test_load_image_folder_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'val'"):
        load_image_folder(tmp_path, "val")


def test_load_image_folder_rejects_wrong_class_folders(tmp_path):
    for name in ("cat", "dog"):
        (tmp_path / "test" / name).mkdir(parents=True)
    with pytest.raises(ValueError, match=r"one folder per class .*airplane.*found \('cat', 'dog'\)"):
        load_image_folder(tmp_path, "test")


def test_load_cifar10_torchvision_without_download_is_a_helpful_error(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10_torchvision(tmp_path, "test", download=False)
    message = str(info.value)
    assert "cifar-10-batches-py" in message
    assert "tar xJf" in message and "download=True" in message
    assert not any(tmp_path.iterdir()), "nothing may be written when nothing is downloaded"


def test_load_cifar10_torchvision_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_cifar10_torchvision(tmp_path, "validation")


def test_load_cifar10_on_an_empty_folder_explains(tmp_path):
    with pytest.raises(FileNotFoundError, match="tar xJf"):
        load_cifar10(tmp_path)


def test_missing_data_message_gives_the_unpack_command_and_the_download():
    message = missing_data_message("data/elsewhere", "'train' folder")
    assert message.startswith("no 'train' folder found under data/elsewhere")
    assert f"mkdir -p data/elsewhere && tar xJf {COURSE_DATA_TAR} -C data/elsewhere" in message
    assert "make data" in message and str(DEFAULT_DATA_DIR) in message
    assert "load_cifar10_torchvision(root, download=True)" in message


def test_the_course_data_paths_are_relative_to_the_repository():
    assert COURSE_DATA_TAR == Path("../shared/data/cifar10-jpeg.tar.xz")
    assert DEFAULT_DATA_DIR == Path("data/cifar10-jpeg")
