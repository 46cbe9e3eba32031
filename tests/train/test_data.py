"""Tests of shiftlab.train.data: splits in a seeded order, the missing-data error, unpacking the course copy."""

import tarfile

import pytest
import torch

from shiftlab.data import load_cifar10
from shiftlab.train.data import load_split, shuffled, unpack_course_data


def test_shuffled_is_a_seeded_permutation_cut_to_the_limit(sample):
    images, labels = sample
    first, again = shuffled(images, labels, 100, seed=3), shuffled(images, labels, 100, seed=3)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert len(first[1]) == 100 and not torch.equal(first[1], labels[:100])
    everything = shuffled(images, labels, None, seed=3)
    assert torch.equal(everything[1].sort().values, labels.sort().values)
    assert torch.equal(everything[0][:100], first[0])


def test_an_empty_subset_is_refused(sample):
    with pytest.raises(ValueError, match="a subset needs at least one image, got a limit of 0"):
        shuffled(*sample, 0, seed=0)


def test_load_split_reads_the_image_folder(tiny_image_folder):
    images, labels = load_split(tiny_image_folder, "train")
    expected = load_cifar10(tiny_image_folder, "train")
    assert torch.equal(images, expected[0]) and torch.equal(labels, expected[1]) and images.shape == (30, 32, 32, 3)


def test_load_split_without_data_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mkdir -p .* && tar xJf \.\./shared/data/cifar10-jpeg\.tar\.xz"):
        load_split(tmp_path / "nothing", "train")


def test_unpack_course_data_unpacks_a_course_tar_once(tiny_image_folder, tmp_path):
    tar = tmp_path / "copy.tar.xz"
    with tarfile.open(tar, "w:xz") as archive:
        for split in ("train", "test"):
            archive.add(tiny_image_folder / split, arcname=split)
    root = tmp_path / "data"
    assert unpack_course_data(root, tar) is True
    for split in ("train", "test"):
        assert torch.equal(load_cifar10(root, split)[0], load_cifar10(tiny_image_folder, split)[0])
    assert unpack_course_data(root, tar) is False, "a second call finds the data there"


def test_unpack_course_data_without_the_tar_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="the course copy .*missing.tar.xz is missing"):
        unpack_course_data(tmp_path / "data", tmp_path / "missing.tar.xz")
