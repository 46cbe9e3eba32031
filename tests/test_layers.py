"""Tests of shiftlab.layers: blur pooling, adaptive polyphase sampling and the option factory."""

import kornia
import numpy as np
import pytest
import torch
from torch import nn

from shiftlab.layers import (
    DOWNSAMPLINGS,
    APSPool2d,
    BlurPool2d,
    MaxBlurPool2d,
    aps_downsample,
    binomial_filter,
    blur,
    blur_downsample,
    make_downsample,
    polyphase_view,
)
from shiftlab.padding import PADDING_MODES, pad


def crop(maps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A (2, 6, height, width) piece of real maps, for any size up to 64 x 64."""
    tiled = torch.cat([maps, maps.flip(-1)], -1)
    tiled = torch.cat([tiled, tiled.flip(-2)], -2)
    return tiled[..., :height, :width].contiguous()


def test_the_downsampling_options_are_the_documented_ones():
    assert DOWNSAMPLINGS == ("max", "blur", "aps")


# ---------------------------------------------------------------- binomial filter and blur


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_binomial_filter_is_a_normalised_symmetric_outer_product(size):
    kernel = binomial_filter(size)
    assert kernel.shape == (size, size)
    assert torch.isclose(kernel.sum(), torch.tensor(1.0))
    assert torch.equal(kernel, kernel.T) and torch.equal(kernel, kernel.flip(0))
    assert torch.linalg.matrix_rank(kernel) == 1


def test_binomial_filter_5_is_pascals_row():
    row = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    assert torch.allclose(binomial_filter(5), torch.outer(row, row) / 256)


def test_binomial_filter_rejects_size_0():
    with pytest.raises(ValueError, match="at least 1, got 0"):
        binomial_filter(0)


@pytest.mark.parametrize("size", [(32, 32), (33, 33), (16, 7), (5, 6)])
def test_blur_downsample_shape_is_ceil_half(maps, size):
    x = crop(maps, *size)
    assert blur_downsample(x).shape == (2, 6, -(-size[0] // 2), -(-size[1] // 2))


@pytest.mark.parametrize("width", [32, 31])
def test_blur_downsample_zeros_equals_kornia(maps, width):
    x = crop(maps, 32, width)
    expected = kornia.filters.BlurPool2D(kernel_size=3, stride=2)(x)
    assert torch.allclose(blur_downsample(x, "zeros"), expected, atol=1e-6)


def test_blur_downsample_equals_a_direct_sum(maps):
    """Oracle: out[y, x] = sum of kernel * padded input around (2y, 2x), written as loops."""
    x = maps[:1, :2, :9, :9]
    kernel = binomial_filter(3)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    out = blur_downsample(x, "reflect")
    for y in range(out.shape[-2]):
        for x_ in range(out.shape[-1]):
            patch = padded[0, :, 2 * y : 2 * y + 3, 2 * x_ : 2 * x_ + 3]
            assert np.allclose(out[0, :, y, x_].numpy(), (patch * kernel.numpy()).sum((1, 2)), atol=1e-6)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_blur_equals_a_depthwise_convolution(maps, size, stride, padding_mode):
    """Oracle: F.pad with the mode, then one binomial filter per channel with the stride (conv2d, groups=C)."""
    x = crop(maps, 15, 16)
    before, after = (size - 1) // 2, size // 2
    padded = pad(x, (before, after, before, after), padding_mode)
    expected = nn.functional.conv2d(padded, binomial_filter(size).expand(6, 1, size, size), stride=stride, groups=6)
    out = blur(x, padding_mode, size, stride)
    assert out.shape == expected.shape == (2, 6, -(-15 // stride), -(-16 // stride))
    assert torch.allclose(out, expected, atol=1e-6)


def test_blur_downsample_is_blur_at_stride_2(maps):
    assert torch.equal(blur_downsample(maps, "reflect", 5), blur(maps, "reflect", 5, stride=2))


@pytest.mark.parametrize("size,stride,message", [(0, 1, "filter size must be an int of at least 1, got 0"),
                                                 (3, 3, "stride must be 1 or 2, got 3")])
def test_blur_rejects_bad_options(maps, size, stride, message):
    with pytest.raises(ValueError, match=message):
        blur(maps, "zeros", size, stride)


@pytest.mark.parametrize("width", [32, 31])
def test_blur_downsample_5_taps_zeros_equals_kornia(maps, width):
    x = crop(maps, 32, width)
    expected = kornia.filters.BlurPool2D(kernel_size=5, stride=2)(x)
    assert torch.allclose(blur_downsample(x, "zeros", 5), expected, atol=1e-6)


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_blur_keeps_constant_maps_constant(padding_mode):
    x = torch.full((1, 2, 10, 10), 0.7)
    assert torch.allclose(blur_downsample(x, padding_mode), torch.full((1, 2, 5, 5), 0.7))


def test_blur_zero_padding_darkens_the_border():
    out = blur_downsample(torch.ones(1, 1, 8, 8), "zeros")
    assert torch.allclose(out[..., 1:, 1:], torch.ones(1, 1, 3, 3))
    assert out[0, 0, 0, 0] == pytest.approx(9 / 16)


def test_blur_downsample_rejects_non_batches():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(6, 32, 32\)"):
        blur_downsample(torch.zeros(6, 32, 32))


def test_blurpool_module_equals_the_function(maps):
    layer = BlurPool2d("reflect")
    assert torch.equal(layer(maps), blur_downsample(maps, "reflect"))
    assert "padding_mode='reflect'" in repr(layer) and "size=3" in repr(layer)
    assert len(list(layer.parameters())) == 0 and len(layer.state_dict()) == 0


@pytest.mark.parametrize("width", [32, 33])
def test_maxblurpool_zeros_equals_kornia(maps, width):
    x = crop(maps, 32, width)
    expected = kornia.filters.MaxBlurPool2D(kernel_size=3)(x)
    out = MaxBlurPool2d("zeros")(x)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-6)


def test_maxblurpool_circular_commutes_with_even_circular_shifts(maps):
    layer = MaxBlurPool2d("circular")
    shifted = torch.roll(maps, (2, -4), (-2, -1))
    assert torch.allclose(layer(shifted), torch.roll(layer(maps), (1, -2), (-2, -1)), atol=1e-6)


def test_maxpool_and_aps_commute_with_even_circular_shifts(maps):
    """As for MaxBlurPool2d above: the other stride-2 layers keep even circular shifts as shifts."""
    shifted = torch.roll(maps, (2, -4), (-2, -1))
    for layer in (nn.MaxPool2d(2), APSPool2d("circular")):
        assert torch.equal(layer(shifted), torch.roll(layer(maps), (1, -2), (-2, -1)))


# ---------------------------------------------------------------- polyphase view and APS


def test_polyphase_view_shape_and_order(maps):
    phases = polyphase_view(maps)
    assert phases.shape == (2, 6, 16, 2, 16, 2)
    assert phases.data_ptr() == maps.data_ptr(), "a view, not a copy"
    for i in (0, 1):
        for j in (0, 1):
            assert torch.equal(phases[..., i, :, j], maps[..., i::2, j::2])


def test_polyphase_view_matches_pixel_unshuffle(maps):
    """pixel_unshuffle stacks the same four components, channel by channel, as (N, C * 4, h, w)."""
    components = polyphase_view(maps).permute(0, 1, 3, 5, 2, 4).flatten(1, 3)
    assert torch.equal(components, nn.functional.pixel_unshuffle(maps, 2))


@pytest.mark.parametrize("shape", [(2, 6, 31, 32), (2, 6, 32, 31), (6, 32, 32)])
def test_polyphase_view_rejects_odd_or_unbatched(shape):
    with pytest.raises(ValueError, match=r"even H and W, got shape " + str(shape).replace("(", r"\(").replace(")", r"\)")):
        polyphase_view(torch.zeros(shape))


def test_aps_downsample_keeps_the_largest_norm_component(maps):
    x = maps * torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)
    out = aps_downsample(x)
    assert out.shape == (2, 6, 16, 16)
    for n in range(2):  # oracle: each image's four components and their L2 norms, in a loop
        candidates = [x[n, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]
        best = max(candidates, key=lambda c: torch.linalg.vector_norm(c).item())
        assert torch.equal(out[n], best)


def test_aps_downsample_chooses_per_image():
    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 1, 0] = 5.0  # component 2 (rows 1::2, cols 0::2)
    x[1, 0, 0, 3] = 5.0  # component 1 (rows 0::2, cols 1::2)
    out = aps_downsample(x)
    assert out[0, 0, 0, 0] == 5.0 and out[1, 0, 0, 1] == 5.0


@pytest.mark.parametrize("size", [(31, 31), (33, 32), (7, 9)])
@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_aps_downsample_odd_sizes_pad_with_the_mode(maps, size, padding_mode):
    x = crop(maps, *size)
    out = aps_downsample(x, padding_mode)
    assert out.shape == (2, 6, -(-size[0] // 2), -(-size[1] // 2))
    padded = pad(x, (0, size[1] % 2, 0, size[0] % 2), padding_mode)
    assert torch.equal(out, aps_downsample(padded, padding_mode))


def test_aps_downsample_rejects_non_batches():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(32, 32\)"):
        aps_downsample(torch.zeros(32, 32))


@pytest.mark.parametrize("shift", [(0, 1), (1, 0), (1, 1), (3, -5), (-7, 2)])
def test_aps_downsample_output_is_a_shift_of_the_unshifted_output(maps, shift):
    """APS picks the same samples wherever the input moves: out(roll(x)) is a roll of out(x)."""
    x = maps[:1]
    out = aps_downsample(x)
    shifted_out = aps_downsample(torch.roll(x, shift, (-2, -1)))
    matches = [
        (a, b) for a in range(16) for b in range(16) if torch.equal(shifted_out, torch.roll(out, (a, b), (-2, -1)))
    ]
    assert len(matches) == 1, f"output shifts matching: {matches}"


def test_plain_subsampling_is_not_shift_equivariant(maps):
    """Control for the APS property: fixed stride-2 sampling of a 1-px shifted input is no shift of the output."""
    x = maps[:1]
    out = x[..., ::2, ::2]
    shifted_out = torch.roll(x, (0, 1), (-2, -1))[..., ::2, ::2]
    assert not any(
        torch.allclose(shifted_out, torch.roll(out, (a, b), (-2, -1))) for a in range(16) for b in range(16)
    )


@pytest.mark.parametrize("size", [(32, 32), (33, 35), (16, 17)])
def test_apspool_shapes(maps, size):
    x = crop(maps, *size)
    assert APSPool2d("circular")(x).shape == (2, 6, -(-size[0] // 2), -(-size[1] // 2))


def test_apspool_equals_wrapped_max_then_aps(maps):
    expected = aps_downsample(nn.functional.max_pool2d(pad(maps, (0, 1, 0, 1), "circular"), 2, stride=1))
    assert torch.equal(APSPool2d("circular")(maps), expected)
    assert "padding_mode='circular'" in repr(APSPool2d("circular"))


@pytest.mark.parametrize("dy,dx", [(1, 0), (0, 3), (5, 7), (-9, 14)])
def test_apspool_circular_commutes_with_any_circular_shift(maps, dy, dx):
    layer = APSPool2d("circular")
    out = layer(maps[:1])
    shifted = layer(torch.roll(maps[:1], (dy, dx), (-2, -1)))
    assert any(torch.equal(shifted, torch.roll(out, (a, b), (-2, -1))) for a in range(16) for b in range(16))


def test_apspool_rejects_unknown_padding():
    with pytest.raises(ValueError, match="unknown padding mode 'wrap'; choose one of"):
        APSPool2d("wrap")


def test_blurpool_rejects_unknown_padding():
    with pytest.raises(ValueError, match="unknown padding mode 'wrap'; choose one of"):
        BlurPool2d("wrap")


# ---------------------------------------------------------------- make_downsample


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("downsampling", DOWNSAMPLINGS)
def test_make_downsample_builds_the_layer(maps, downsampling, padding_mode):
    layer = make_downsample(downsampling, padding_mode)
    expected_type = {"max": nn.MaxPool2d, "blur": MaxBlurPool2d, "aps": APSPool2d}[downsampling]
    assert type(layer) is expected_type
    if downsampling != "max":
        assert layer.padding_mode == padding_mode
    assert layer(maps).shape == (2, 6, 16, 16)
    assert len(list(layer.parameters())) == 0


def test_make_downsample_rejects_unknown_options():
    with pytest.raises(ValueError, match="^unknown downsampling 'avg'; choose one of max, blur, aps$"):
        make_downsample("avg")
    with pytest.raises(ValueError, match="^unknown padding mode 'same'; choose one of zeros, reflect, replicate, circular$"):
        make_downsample("max", "same")
