"""``shiftlab.explorer.datasets``: the paste and crop sets, their sizes, positions and input checks."""

import pytest
import torch
import torch.nn.functional as F

import shiftlab as sl
from shiftlab import explorer as ex

IMAGE = 3  # an airplane of the bundled sample


@pytest.mark.parametrize("sizes, paste_shape, crop_shape", [
    (ex.FULL_SIZES, (289, 3, 32, 32), (289, 3, 32, 32)),
    (ex.QUICK_SIZES, (81, 3, 24, 24), (81, 3, 32, 32)),
])
def test_dataset_sizes_are_as_stated(sample_float, sizes, paste_shape, crop_shape):
    image = sample_float[0][IMAGE]
    paste, crop = ex.make_dataset("paste", image, 8, sizes), ex.make_dataset("crop", image, 8, sizes)
    assert paste.images.shape == paste_shape and crop.images.shape == crop_shape
    side = sizes.paste_canvas - sizes.patch + 1
    assert paste.grid_shape == (side, side) and f"{side}x{side} positions" in paste.description
    side = sizes.crop_canvas - sizes.window + 1
    assert crop.grid_shape == (side, side) and f"{side}x{side} offsets" in crop.description
    assert paste.positions[:3].tolist() == [[0, 0], [1, 0], [2, 0]], "positions are (x, y), row-major"


def test_dataset_sizes_follow_quick_mode(monkeypatch):
    monkeypatch.setenv("SHIFTLAB_QUICK", "1")
    assert ex.dataset_sizes() == ex.QUICK_SIZES
    monkeypatch.setenv("SHIFTLAB_QUICK", "0")
    assert ex.dataset_sizes() == ex.FULL_SIZES


@pytest.mark.parametrize("x, y", [(0, 0), (16, 0), (0, 16), (16, 16), (8, 8), (5, 11)])
def test_pasted_patch_sits_at_its_position_on_the_mean_colour(sample_float, x, y):
    image = sample_float[0][IMAGE]
    shifted = ex.paste_dataset(image, patch=16, canvas=32)
    patch = image[:, 8:24, 8:24]  # the central 16x16 crop
    canvas = shifted.images[shifted.index(x, y)]
    assert torch.equal(canvas[:, y : y + 16, x : x + 16], patch)
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[y : y + 16, x : x + 16] = False
    background = patch.mean((1, 2)).view(3, 1)
    torch.testing.assert_close(canvas[:, outside], background.expand(3, int(outside.sum())), rtol=0, atol=1e-7)


def test_crop_windows_are_windows_of_the_upsampled_image(sample_float):
    image = sample_float[0][IMAGE]
    shifted = ex.crop_dataset(image, window=32, canvas=48)
    big = F.interpolate(image[None], size=(48, 48), mode="bilinear", align_corners=False)[0]
    for x, y in [(0, 0), (16, 0), (3, 9), (16, 16)]:
        torch.testing.assert_close(shifted.images[shifted.index(x, y)], big[:, y : y + 32, x : x + 32])
    same_size = ex.crop_dataset(image, window=32, canvas=32)
    assert same_size.grid_shape == (1, 1)
    torch.testing.assert_close(same_size.images[0], image)


def test_bad_images_and_sizes(sample_float):
    image = sample_float[0][IMAGE]
    with pytest.raises(ValueError, match="float tensor"):
        ex.paste_dataset(sl.to_uint8(image[None])[0].permute(2, 0, 1))
    with pytest.raises(ValueError, match="patch size 40 must be between 1 and the image's 32 px"):
        ex.paste_dataset(image, patch=40, canvas=48)
    with pytest.raises(ValueError, match="canvas_size 12 is smaller than the 16x16 patch"):
        ex.paste_dataset(image, patch=16, canvas=12)
    with pytest.raises(ValueError, match="canvas 24 px must be at least the image's 32 px"):
        ex.crop_dataset(image, window=16, canvas=24)
    with pytest.raises(ValueError, match="window size 40 is larger"):
        ex.crop_dataset(image, window=40, canvas=32)


def test_positions_off_the_grid_are_named(sample_float):
    shifted = ex.paste_dataset(sample_float[0][IMAGE], patch=16, canvas=24)
    with pytest.raises(ValueError, match=r"position \(x, y\) = \(9, 0\) is off the 9x9 grid.*x must be in 0..8"):
        shifted.index(9, 0)
    with pytest.raises(TypeError, match="pair of int pixels"):
        ex.check_position("cell", (1, True), (9, 9))
