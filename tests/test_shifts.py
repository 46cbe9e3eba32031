"""Tests of shiftlab.shifts: the three translations, their sign convention, the padded-canvas windows,
and the exhaustive shifted data sets."""

import kornia
import numpy as np
import pytest
import torch

import shiftlab as sl
from shiftlab.shifts import (
    SHIFT_METHODS,
    check_shift,
    crop_at_every_position,
    fourier_shift,
    max_shift,
    pad_for_shifts,
    paste_at_every_position,
    translate,
    translate_affine,
    translate_crop,
    translate_roll,
    window,
)

SHIFTS = [(0, 0), (1, 0), (0, -1), (-5, 3), (7, -2), (-8, -8), (13, 20), (-31, 0), (0, 31)]


@pytest.fixture(scope="module")
def images(subset):
    return subset[0][:4]


def interior(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The pixels of an image shifted by (dx, dy) whose source lies inside the original image."""
    height, width = x.shape[-2:]
    return x[..., max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)]


def crop_oracle(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Reflect-pad with numpy by the shift itself, then cut the window that shows the shifted image."""
    height, width = x.shape[-2:]
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (abs(dy), abs(dy)), (abs(dx), abs(dx))), mode="reflect")
    top, left = abs(dy) - dy, abs(dx) - dx
    return torch.from_numpy(padded[..., top : top + height, left : left + width])


# ---------------------------------------------------------------- sign convention


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_minus5_3_moves_content_5_left_and_3_down(images, method):
    out = translate(images, -5, 3, method)
    # the pixel at (row y, column x) lands at (row y + 3, column x - 5)
    assert torch.equal(out[..., 3:, :-5], images[..., :-3, 5:])


def test_a_single_bright_pixel_moves_left_and_down():
    x = torch.zeros(1, 3, 32, 32)
    x[..., 10, 10] = 1.0
    for method in SHIFT_METHODS:
        out = translate(x, -5, 3, method)
        assert (out[0, 0] == 1).nonzero().tolist() == [[13, 5]], method


def test_affine_fills_the_uncovered_border_with_black(images):
    out = translate(images, -5, 3, "affine")
    assert (out[..., :3, :] == 0).all(), "top 3 rows must be black"
    assert (out[..., :, -5:] == 0).all(), "right 5 columns must be black"
    assert (out[..., 3:, :-5] > 0).any()


def test_roll_wraps_what_leaves_one_side(images):
    out = translate(images, -5, 3, "roll")
    assert torch.equal(out[..., :3, :-5], images[..., -3:, 5:])
    assert torch.equal(out[..., 3:, -5:], images[..., :-3, :5])


def test_crop_reflects_the_border(images):
    out = translate(images, -5, 3, "crop")
    # out[y, x] = in[y - 3, x + 5]; index -k reflects to k, index 31 + k to 31 - k
    assert torch.equal(out[..., 2, :-5], images[..., 1, 5:])
    assert torch.equal(out[..., 0, :-5], images[..., 3, 5:])
    assert torch.equal(out[..., 3:, 31], images[..., :-3, 26])


# ---------------------------------------------------------------- oracles


@pytest.mark.parametrize("dx,dy", SHIFTS)
def test_roll_equals_torch_roll(images, dx, dy):
    assert torch.equal(translate_roll(images, dx, dy), torch.roll(images, (dy, dx), (-2, -1)))


@pytest.mark.parametrize("dx,dy", SHIFTS)
def test_affine_equals_kornia_translate(images, dx, dy):
    expected = kornia.geometry.transform.translate(images, torch.tensor([[float(dx), float(dy)]]).expand(len(images), 2))
    assert torch.allclose(translate_affine(images, dx, dy), expected, atol=1e-5)


@pytest.mark.parametrize("dx,dy", SHIFTS)
def test_crop_equals_numpy_reflect_padding(images, dx, dy):
    assert torch.equal(translate_crop(images, dx, dy), crop_oracle(images, dx, dy))


@pytest.mark.parametrize("dx,dy", SHIFTS)
def test_the_three_methods_agree_on_the_interior(images, dx, dy):
    shifted = {method: translate(images, dx, dy, method) for method in SHIFT_METHODS}
    for method in ("roll", "crop"):
        assert torch.equal(interior(shifted[method], dx, dy), interior(shifted["affine"], dx, dy)), method
    # and the interior is the original content, moved
    height, width = images.shape[-2:]
    source = images[..., max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)]
    assert torch.equal(interior(shifted["affine"], dx, dy), source)


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_methods_differ_outside_the_interior(images, method):
    others = [translate(images, -5, 3, m) for m in SHIFT_METHODS if m != method]
    mine = translate(images, -5, 3, method)
    assert all(not torch.equal(mine, other) for other in others)


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_zero_shift_is_the_identity(images, method):
    assert torch.equal(translate(images, 0, 0, method), images)


@pytest.mark.parametrize("dx,dy", [(3, -4), (-11, 7)])
def test_roll_back_and_forth_is_the_identity(images, dx, dy):
    assert torch.equal(translate_roll(translate_roll(images, dx, dy), -dx, -dy), images)


def test_extreme_shifts(images):
    assert (translate_affine(images, 32, 0) == 0).all()
    assert (translate_affine(images, 0, -32) == 0).all()
    assert torch.equal(translate_roll(images, 32, -32), images)
    assert torch.equal(translate_crop(images, 31, 0)[..., 0], images[..., 31])


def test_dispatch_equals_the_named_functions(images):
    functions = {"affine": translate_affine, "roll": translate_roll, "crop": translate_crop}
    for method, function in functions.items():
        assert torch.equal(translate(images, 2, -3, method), function(images, 2, -3))
    assert torch.equal(translate(images, 2, -3), translate_affine(images, 2, -3))  # affine is the default


# ---------------------------------------------------------------- canvas and windows


@pytest.mark.parametrize("method", SHIFT_METHODS)
@pytest.mark.parametrize("margin", [1, 4, 9])
def test_pad_for_shifts_then_window_equals_translate(images, method, margin):
    canvas = pad_for_shifts(images, margin, method)
    assert canvas.shape == (4, 3, 32 + 2 * margin, 32 + 2 * margin)
    for dy in range(-margin, margin + 1):
        for dx in range(-margin, margin + 1):
            assert torch.equal(window(canvas, margin, dx, dy, 32, 32), translate(images, dx, dy, method)), (dx, dy)


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_pad_for_shifts_on_non_square_images(images, method):
    x = images[..., :20, :]  # (4, 3, 20, 32)
    canvas = pad_for_shifts(x, 6, method)
    for dx, dy in [(-6, 6), (5, -2), (0, 0)]:
        assert torch.equal(window(canvas, 6, dx, dy, 20, 32), translate(x, dx, dy, method))


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_pad_for_shifts_rejects_margins_out_of_range(images, method):
    with pytest.raises(ValueError, match="out of range"):
        pad_for_shifts(images, 40, method)


def test_crop_on_non_square_images_accepts_every_shift_in_range(images):
    x = images[..., :16, :]  # (4, 3, 16, 32): |dx| <= 31 and |dy| <= 15 are in range
    check_shift(20, 0, "crop", 16, 32)
    assert torch.equal(translate_crop(x, 20, 0), crop_oracle(x, 20, 0))


# ---------------------------------------------------------------- input checks


def test_max_shift_per_method():
    assert max_shift("affine", 32) == 32
    assert max_shift("roll", 32) == 32
    assert max_shift("crop", 32) == 31  # reflect padding needs a pad smaller than the image


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_out_of_range_shift_says_the_limits(images, method):
    limit = max_shift(method, 32)
    translate(images, limit, -limit, method)  # the limit itself is fine
    with pytest.raises(ValueError) as info:
        translate(images, limit + 1, 0, method)
    message = str(info.value)
    assert f"({limit + 1}, 0)" in message and f"|dx| <= {limit}" in message and f"|dy| <= {limit}" in message
    assert "32x32" in message and repr(method) in message
    with pytest.raises(ValueError, match=r"out of range"):
        translate(images, 0, -(limit + 1), method)


@pytest.mark.parametrize("bad", [1.0, 2.5, True, "3", None])
def test_non_integer_shifts_are_type_errors(images, bad):
    with pytest.raises(TypeError, match=r"dx must be an int number of pixels, got " + repr(bad).replace(".", r"\.")):
        translate(images, bad, 0)
    with pytest.raises(TypeError, match=r"^dy must be an int"):
        translate_roll(images, 0, bad)


def test_unknown_method_lists_the_valid_ones(images):
    with pytest.raises(ValueError, match="^unknown shift method 'wrap'; choose one of affine, roll, crop$"):
        translate(images, 1, 1, "wrap")
    with pytest.raises(ValueError, match="choose one of affine, roll, crop"):
        pad_for_shifts(images, 1, "wrap")


@pytest.mark.parametrize("function", [translate_affine, translate_roll, translate_crop])
def test_translations_reject_uint8_and_wrong_shapes(sample, function):
    with pytest.raises(TypeError, match="to_float"):
        function(sample[0][:2].permute(0, 3, 1, 2), 1, 1)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(2, 32, 32, 3\)"):
        function(sl.to_float(sample[0][:2]).permute(0, 2, 3, 1), 1, 1)


# ---------------------------------------------------------------- exhaustive data sets


def test_paste_at_every_position(images):
    patch = images[0, :, 8:18, 4:16]  # (3, 10, 12)
    pasted, positions = paste_at_every_position(patch, 20, background=(0.1, 0.2, 0.3))
    assert pasted.shape == (11 * 9, 3, 20, 20)
    assert positions.shape == (99, 2) and positions.dtype == torch.int64
    assert positions[:3].tolist() == [[0, 0], [1, 0], [2, 0]]  # row-major, (x, y)
    assert positions[-1].tolist() == [8, 10]
    for image, (x, y) in zip(pasted, positions.tolist()):  # oracle: build each image by hand
        expected = torch.tensor([0.1, 0.2, 0.3]).view(3, 1, 1).repeat(1, 20, 20)
        expected[:, y : y + 10, x : x + 12] = patch
        assert torch.equal(image, expected)


def test_paste_with_a_grey_background_and_a_full_size_patch(images):
    pasted, positions = paste_at_every_position(images[0], 32)
    assert pasted.shape == (1, 3, 32, 32) and torch.equal(pasted[0], images[0])
    small, _ = paste_at_every_position(images[0, :, :2, :2], 3)
    assert (small[0, :, 2, :] == 0.5).all()


def test_pasted_patches_are_shifts_of_each_other(images):
    """Moving the patch by (dx, dy) on a plain canvas is an affine shift with the background let in."""
    patch = images[1, :, :8, :8]
    pasted, positions = paste_at_every_position(patch, 16)
    index = positions.tolist().index([5, 3])
    expected = translate(pasted[:1] - 0.5, 5, 3, "affine") + 0.5
    assert torch.allclose(pasted[index : index + 1], expected, atol=1e-6)


def test_paste_errors(images):
    with pytest.raises(ValueError, match=r"float tensor \(3, h, w\).*got torch.float32 \(1, 3, 8, 8\)"):
        paste_at_every_position(images[:1, :, :8, :8], 16)
    with pytest.raises(ValueError, match=r"torch.uint8 \(3, 8, 8\)"):
        paste_at_every_position(torch.zeros(3, 8, 8, dtype=torch.uint8), 16)
    with pytest.raises(ValueError, match="canvas_size 7 is smaller than the 8x8 patch"):
        paste_at_every_position(images[0, :, :8, :8], 7)


def test_crop_at_every_position(images):
    image = images[2]
    windows, positions = crop_at_every_position(image, 28)
    assert windows.shape == (25, 3, 28, 28) and windows.is_contiguous()
    assert positions.shape == (25, 2)
    assert positions[:6].tolist() == [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [0, 1]]
    for crop, (x, y) in zip(windows, positions.tolist()):  # oracle: slicing
        assert torch.equal(crop, image[:, y : y + 28, x : x + 28])


def test_crop_at_every_position_non_square(images):
    windows, positions = crop_at_every_position(images[0, :, :20, :], 16)
    assert windows.shape == (5 * 17, 3, 16, 16)
    assert positions[:, 0].max() == 16 and positions[:, 1].max() == 4


def test_crop_at_every_position_errors(images):
    with pytest.raises(ValueError, match="window size 33 is larger than the 32x32 image"):
        crop_at_every_position(images[0], 33)
    with pytest.raises(ValueError, match=r"float tensor \(3, H, W\).*\(4, 3, 32, 32\)"):
        crop_at_every_position(images, 8)


# ---------------------------------------------------------------- sub-pixel shifts in the Fourier domain


@pytest.mark.parametrize("shift", [(0, 0), (1, 0), (0, -1), (-5, 3), (7, -2), (32, 0), (40, -33)])
def test_an_integer_fourier_shift_is_a_roll(images, shift):
    dx, dy = shift
    assert torch.allclose(sl.translate_fourier(images, dx, dy), torch.roll(images, (dy, dx), (-2, -1)), atol=1e-6)


def test_a_fourier_shift_moves_a_cosine_by_a_fraction_of_a_pixel():
    x = torch.arange(32, dtype=torch.float64)
    wave = lambda offset: (0.5 + 0.4 * torch.cos(2 * np.pi * 3 * (x - offset) / 32)).expand(1, 3, 32, 32)  # noqa: E731
    assert torch.allclose(sl.translate_fourier(wave(0), 0.5, 0), wave(0.5), atol=1e-12)
    vertical = sl.translate_fourier(wave(0).transpose(-1, -2), 0, -0.25)
    assert torch.allclose(vertical, wave(-0.25).transpose(-1, -2), atol=1e-12)


def test_two_half_pixel_shifts_make_one_pixel_without_the_nyquist_column(images):
    spectrum = torch.fft.fft2(images.double())
    spectrum[..., :, 16] = 0  # the Nyquist column, which a half-pixel shift scales by cos(pi / 2) = 0
    band_limited = torch.fft.ifft2(spectrum).real
    twice = sl.translate_fourier(sl.translate_fourier(band_limited, 0.5, 0), 0.5, 0)
    assert torch.allclose(twice, translate_roll(band_limited, 1, 0), atol=1e-12)


def test_a_half_pixel_shift_removes_the_nyquist_pattern_and_keeps_the_mean(images):
    stripes = torch.arange(32).remainder(2).float().expand(1, 3, 32, 32)  # 0, 1, 0, 1, ... along x
    assert torch.allclose(sl.translate_fourier(stripes, 0.5, 0), torch.full_like(stripes, 0.5), atol=1e-6)
    shifted = sl.translate_fourier(images, 0.3, -1.7)
    assert torch.allclose(shifted.mean(dim=(-2, -1)), images.mean(dim=(-2, -1)), atol=1e-6)
    assert shifted.dtype == images.dtype and shifted.shape == images.shape


def test_fourier_shift_of_a_1d_signal_matches_a_sum_of_shifted_cosines():
    n, shift = 10, 0.3  # odd length: no Nyquist bin
    t = torch.arange(n, dtype=torch.float64)
    wave = lambda offset: 1.0 + torch.cos(2 * np.pi * 2 * (t - offset) / n) - 0.5 * torch.sin(2 * np.pi * 4 * (t - offset) / n)  # noqa: E731
    assert torch.allclose(fourier_shift(wave(0), (shift,)), wave(shift), atol=1e-12)
    assert fourier_shift(wave(0).float(), (shift,)).dtype == torch.float32


@pytest.mark.parametrize("bad, error", [("1", TypeError), (True, TypeError), (float("nan"), ValueError),
                                        (float("inf"), ValueError)])
def test_a_fourier_shift_rejects_what_is_not_a_finite_number(images, bad, error):
    with pytest.raises(error, match="dx"):
        sl.translate_fourier(images, bad, 0)
