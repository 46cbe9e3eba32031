"""Tests of shiftlab.train.augment: random crop shifts (windows of the reflect-padded image) and flips."""

import torch
import torch.nn.functional as F

from shiftlab.data import to_float
from shiftlab.shifts import translate_crop
from shiftlab.train.augment import augment, random_translate


def test_random_translate_crops_the_reflect_padded_images():
    images = torch.rand(16, 3, 8, 8)
    shifted = random_translate(images, 2, torch.Generator().manual_seed(0))
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    crops = [[padded[..., dy : dy + 8, dx : dx + 8] for dx in range(5)] for dy in range(5)]
    for n in range(len(images)):
        assert any(torch.equal(shifted[n], crop[n]) for row in crops for crop in row)
    assert torch.equal(random_translate(images, 0, torch.Generator()), images)


def test_random_translate_is_a_crop_shift_of_the_course(subset):
    """Each image moves by its own (dx, dy) in -2..2, exactly as shiftlab.translate_crop moves it."""
    images = subset[0][:12]
    shifted = random_translate(images, 2, torch.Generator().manual_seed(3))
    moves = set()
    for n in range(len(images)):
        matches = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
                   if torch.equal(shifted[n], translate_crop(images[n : n + 1], dx, dy)[0])]
        assert matches, f"image {n} is no crop shift of -2..2 px"
        moves.add(matches[0])
    assert len(moves) > 3, "the shifts are drawn per image"


def test_augment_flips_where_asked_and_returns_channels_last_floats(sample):
    images = sample[0][:8]
    flip = torch.tensor([True, False] * 4)
    x = augment(images, flip, 0, torch.Generator())
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    expected = to_float(images)
    expected[flip] = expected[flip].flip(-1)
    assert torch.equal(x, expected)
