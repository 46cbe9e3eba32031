"""Tests of shiftlab.checks: every check accepts what it should and names the value it refuses."""

import numpy as np
import pytest
import torch

from shiftlab.checks import check_batch_size, check_choice, check_images, check_labels, check_shift_values
from shiftlab.padding import PADDING_MODES


def test_check_choice_lists_the_valid_choices():
    check_choice("padding mode", "zeros", PADDING_MODES)  # no error
    with pytest.raises(ValueError, match=r"^unknown padding mode 'same'; choose one of zeros, reflect, replicate, circular$"):
        check_choice("padding mode", "same", PADDING_MODES)


# ---------------------------------------------------------------- pad

NUMPY_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def test_check_images_names_the_argument():
    with pytest.raises(TypeError, match="^batch must be a torch.Tensor, got list"):
        check_images([1, 2], "batch")


def test_check_images_accepts_float_batches_of_any_size(subset):
    check_images(subset[0])  # (24, 3, 32, 32) float32
    check_images(torch.zeros(1, 3, 7, 40, dtype=torch.float64))


def test_check_images_hints_at_to_float_for_uint8(sample):
    with pytest.raises(TypeError, match=r"got dtype torch.uint8 \(convert uint8 images with shiftlab.to_float\)"):
        check_images(sample[0][:2].permute(0, 3, 1, 2))


@pytest.mark.parametrize("shape", [(3, 32, 32), (2, 1, 32, 32), (2, 32, 32, 3)])
def test_check_images_names_the_wrong_shape(shape):
    with pytest.raises(ValueError, match=r"images must have shape \(N, 3, H, W\), got " + str(shape).replace("(", r"\(").replace(")", r"\)")):
        check_images(torch.zeros(shape))


def test_check_labels_wants_int64_of_the_images_length(subset):
    images, labels = subset
    check_labels(labels, images)
    with pytest.raises(ValueError, match=r"int64 tensor of shape \(24,\), got torch.int32 \(24,\)"):
        check_labels(labels.int(), images)
    with pytest.raises(ValueError, match=r"shape \(24,\), got torch.int64 \(23,\)"):
        check_labels(labels[:-1], images)
    with pytest.raises(ValueError, match="got list"):
        check_labels(labels.tolist(), images)


@pytest.mark.parametrize("good", [1, 7, 256])
def test_check_batch_size_accepts_positive_ints(good):
    check_batch_size(good)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64", None])
def test_check_batch_size_refuses_the_rest(bad):
    with pytest.raises(ValueError, match="^batch_size must be a positive int, got " + repr(bad).replace(".", r"\.")):
        check_batch_size(bad)


@pytest.mark.parametrize("values", [range(-3, 4), [-3, -2, -1, 0, 1, 2, 3], np.arange(-3, 4), torch.arange(-3, 4), (-3, -2, -1, 0, 1, 2, 3)])
def test_check_shift_values_accepts_integer_sequences(values):
    assert check_shift_values(values, "dxs") == [-3, -2, -1, 0, 1, 2, 3]


@pytest.mark.parametrize("values", [[], [0.5, 1.0], [[1, 2]], [True, False], torch.tensor([1.0])])
def test_check_shift_values_refuses_others_naming_the_argument(values):
    with pytest.raises(ValueError, match="^dys must be a non-empty 1-D sequence of int pixel shifts, got "):
        check_shift_values(values, "dys")


def test_check_choice_accepts_each_choice():
    for mode in PADDING_MODES:
        check_choice("padding mode", mode, PADDING_MODES)
