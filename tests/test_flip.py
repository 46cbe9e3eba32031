"""Tests of shiftlab.flip (the toy, band_limit, half_step_interpolation) and of the claims lesson 1 makes
with them: kernel-flipped networks are exactly flip-equivariant where every stride-2 grid is symmetric,
which is Mind the Pad's no-uneven-padding condition.

The package ships no answer to the lesson's exercises (issue 14), so the kernel flip and the flip error
are written here, as test oracles, from their definitions.
"""

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

import shiftlab as sl
from shiftlab.padding import PADDING_MODES

EXACT = 1e-5  # "exactly equal" up to float32 rounding (relative to the largest output)
CLEAR = 1e-3  # a real difference, relative to the largest output (100x float32 rounding and more)


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


def flipped_kernels(model: nn.Module) -> nn.Module:
    """Oracle: a deep copy with every Conv2d weight (C_out, C_in, kH, kW) mirrored along kW."""
    flipped = copy.deepcopy(model)
    with torch.no_grad():
        for module in flipped.modules():
            if isinstance(module, nn.Conv2d):
                module.weight.copy_(module.weight.flip(-1))
    return flipped


@torch.no_grad()
def flip_error(model: nn.Module, images: torch.Tensor) -> float:
    """Oracle: max |flipped_kernels(m)(flip x) - flip(m(x))| / max |m(x)|; spatial outputs are mirrored."""
    model = copy.deepcopy(model).eval()
    reference = model(images)
    if reference.ndim == 4:
        reference = reference.flip(-1)
    return ((flipped_kernels(model)(images.flip(-1)) - reference).abs().max() / reference.abs().max()).item()


def window_starts(n: int, kernel: int, padding: int, stride: int = 2) -> list[int]:
    """Oracle: first input index of every window (negative: in the left padding), as Conv2d places them."""
    return list(range(-padding, n + padding - kernel + 1, stride))


# ---------------------------------------------------------------- the toy


def test_toy_is_the_course_example():
    assert sl.TOY_SIGNAL == (1.0, 3.0, 5.0, 4.0, 7.0) and sl.TOY_KERNEL == (0.3, 0.5, 0.8)
    out = F.conv1d(torch.tensor([[sl.TOY_SIGNAL]]), torch.tensor([[sl.TOY_KERNEL]]))
    assert out.flatten().tolist() == pytest.approx([5.8, 6.6, 9.1])  # the numbers the lesson works by hand


def test_toy_at_stride_2_mirrors_at_five_samples_not_four():
    """The lesson's 1-D case: with padding 1, flipping signal and kernel mirrors the output at 5 samples;
    at 4 the flip selects the other grid, and the right zero is never read."""
    kernel = torch.tensor([[sl.TOY_KERNEL]])
    for n, mirrored in ((5, True), (4, False)):
        x = torch.tensor([[sl.TOY_SIGNAL[:n]]])
        out = F.conv1d(x, kernel, stride=2, padding=1)
        both = F.conv1d(x.flip(-1), kernel.flip(-1), stride=2, padding=1).flip(-1)
        assert torch.allclose(out, both) is mirrored, n
        left_only = F.conv1d(F.pad(x, (1, 0)), kernel, stride=2)
        assert (left_only.shape == out.shape and torch.allclose(left_only, out)) is not mirrored, n
    assert F.conv1d(torch.tensor([[sl.TOY_SIGNAL]]), kernel, stride=2, padding=1).flatten().tolist() == pytest.approx([2.9, 6.6, 4.7])


# ---------------------------------------------------------------- band_limit and half_step_interpolation


def cosines(n: int, frequencies, offset: float = 0.5) -> torch.Tensor:
    """A periodic test signal (n,): an offset plus unit cosines at the given frequencies (cycles per n samples)."""
    t = torch.arange(n, dtype=torch.float64)
    return offset + sum(torch.cos(2 * math.pi * f * t / n + f) for f in frequencies)


def test_band_limit_keeps_frequencies_below_the_cut_and_removes_the_rest():
    low, high = cosines(32, [2, 5]), cosines(32, [8, 11], offset=0.0)
    assert torch.allclose(sl.band_limit(low + high, 8), low, atol=1e-12)
    assert torch.allclose(sl.band_limit(low, 6), low, atol=1e-12)
    assert torch.allclose(sl.band_limit(low, 5), cosines(32, [2]), atol=1e-12), "5 is not below 5: removed"
    assert sl.band_limit(low.float(), 8).dtype == torch.float32


def test_band_limit_matches_an_fft_oracle_on_random_signals():
    x = torch.randn(30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    spectrum = torch.fft.rfft(x)
    spectrum[7:] = 0  # keep 0..6 cycles per 30 samples
    assert torch.allclose(sl.band_limit(x, 7), torch.fft.irfft(spectrum, n=30), atol=1e-12)


@pytest.mark.parametrize("frequencies", [[1], [3, 5], [0, 2, 7]])
def test_half_step_interpolation_recovers_the_other_grid_of_band_limited_signals(frequencies):
    x = cosines(32, frequencies)  # below 8 cycles per 32 samples: the stride-2 grid's Nyquist frequency
    even, odd = x[0::2], x[1::2]
    assert (even - odd).abs().max() > 0.1, "the two grids hold different numbers"
    assert torch.allclose(sl.half_step_interpolation(even), odd, atol=1e-12)
    assert torch.allclose(sl.half_step_interpolation(odd), even.roll(-1), atol=1e-12)
    assert even.mean().item() == pytest.approx(odd.mean().item(), abs=1e-12), "average pooling sees no difference"


def test_half_step_interpolation_fails_for_aliased_signals():
    x = cosines(32, [3, 11])  # 11 cycles per 32 samples folds onto 5 on the 16-sample grid
    even, odd = x[0::2], x[1::2]
    assert (sl.half_step_interpolation(even) - odd).abs().max() > 0.5
    relu = cosines(32, [3, 5]).relu()  # a nonlinearity creates frequencies the grid cannot hold
    assert (sl.half_step_interpolation(relu[0::2]) - relu[1::2]).abs().max() > 0.1
    assert abs(relu[0::2].mean() - relu[1::2].mean()) > 1e-3, "the two grids' averages differ"
    smooth = sl.band_limit(relu, 8)  # the ideal low-pass filter restores it
    assert torch.allclose(sl.half_step_interpolation(smooth[0::2]), smooth[1::2], atol=1e-12)


def test_half_step_interpolation_of_the_nyquist_frequency_is_zero():
    alternating = torch.tensor([1.0, -1.0] * 4)  # cos(pi j): its half-step values cos(pi (j + 1/2)) are 0
    assert sl.half_step_interpolation(alternating).abs().max() < 1e-6
    assert sl.half_step_interpolation(torch.ones(5)).tolist() == pytest.approx([1.0] * 5)
    assert sl.half_step_interpolation(torch.zeros(4, dtype=torch.float64)).dtype == torch.float64


def test_half_step_interpolation_is_the_images_phase_ramp_by_minus_half_a_pixel():
    row = cosines(16, [1, 3, 8])  # the Nyquist frequency too (8 cycles per 16 samples)
    images = row.expand(1, 3, 4, 16)  # the same row in every line of a tiny image
    assert torch.allclose(sl.half_step_interpolation(row), sl.translate_fourier(images, -0.5, 0)[0, 0, 0], atol=1e-12)


@pytest.mark.parametrize("function", [sl.band_limit, sl.half_step_interpolation])
def test_fourier_tools_reject_what_is_not_a_float_signal(function):
    arguments = (8,) if function is sl.band_limit else ()
    with pytest.raises(ValueError, match=r"1-D with at least 2 samples, got shape \(2, 4\)"):
        function(torch.zeros(2, 4), *arguments)
    with pytest.raises(ValueError, match=r"got shape \(1,\)"):
        function(torch.zeros(1), *arguments)
    with pytest.raises(TypeError, match="float torch.Tensor, got torch.int64"):
        function(torch.arange(4), *arguments)
    with pytest.raises(TypeError, match="got list"):
        function([1.0, 2.0], *arguments)


def test_band_limit_rejects_a_non_positive_cut():
    with pytest.raises(ValueError, match=r"positive frequency \(cycles per 4 samples\), got 0"):
        sl.band_limit(torch.zeros(4), 0)


# ---------------------------------------------------------------- symmetric grids = no uneven padding (Mind the Pad)


@pytest.mark.parametrize("kernel,padding", [(3, 1), (2, 0), (7, 3), (1, 0), (4, 1), (3, 0)])
def test_symmetric_grid_is_even_padding(kernel, padding):
    """The flip maps a stride-2 layer's windows onto themselves exactly when (n + 2p - k) is even, that is
    when the last window ends at the end of the right padding: both pads are read as far (Alsallakh et al.,
    ICLR 2021). A single such layer is then exactly flip-equivariant with flipped kernels."""
    torch.manual_seed(kernel * 10 + padding)
    layer = nn.Conv2d(2, 3, kernel_size=(1, kernel), stride=(1, 2), padding=(0, padding)).eval()
    for n in range(max(kernel, 4), 14):
        starts = window_starts(n, kernel, padding)
        symmetric = sorted(n - 1 - (s + kernel - 1) for s in starts) == starts
        right_pad_read = starts[-1] + kernel - 1 - (n - 1)  # pad columns read on the right
        assert symmetric == ((n + 2 * padding - kernel) % 2 == 0) == (right_pad_read == padding), (n, starts)
        error = flip_error(layer, torch.rand(2, 2, 3, n))
        assert (error < EXACT) is symmetric, f"k={kernel}, p={padding}, n={n}: error {error:.2g}"


def test_at_even_sizes_a_3x3_stride_2_layer_never_reads_its_right_pad():
    for n in (4, 32, 224):
        starts = window_starts(n, 3, 1)
        assert starts[0] == -1 and starts[-1] + 2 == n - 1, n  # left pad read, right pad (index n) never
    assert window_starts(5, 3, 1)[-1] + 2 == 5  # odd: the right pad too


# ---------------------------------------------------------------- the lesson's networks


@pytest.fixture(scope="module")
def vgg(make_model):
    """The default-width baseline (zeros, max), BatchNorm calibrated on real images, eval mode."""
    return make_model("zeros", "max", width="default", probe=False)


@pytest.fixture(scope="module")
def photos(subset):
    return subset[0][:3]


def test_cifarvgg_feature_maps_are_flip_equivariant_at_32_not_33(vgg, photos):
    assert flip_error(vgg[:4], photos) < EXACT
    x = resize(photos, 33)
    assert flip_error(vgg[:4], x) > CLEAR
    # the difference enters at the first stride-2 step, where 33 -> 16 drops the last column
    assert flip_error(vgg[:1], x) < EXACT
    assert flip_error(vgg[:2], x) > 0.05


def test_cifarvgg_logits_are_flip_invariant_at_32_not_33(vgg, photos):
    assert flip_error(vgg, photos) < EXACT
    assert flip_error(vgg, resize(photos, 33)) > CLEAR


def test_without_flipping_the_kernels_the_logits_change(vgg, photos):
    with torch.no_grad():
        logits = vgg(photos)
        assert (vgg(photos.flip(-1)) - logits).abs().max() > CLEAR * logits.abs().max()


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_every_padding_mode_is_flip_equivariant_at_aligned_sizes(make_model, padding_mode, photos):
    """Each 3x3 convolution pads one pixel on both sides, so every padding mode commutes with the flip."""
    model = make_model(padding_mode, "max")
    assert flip_error(model[:4], photos) < EXACT
    assert flip_error(model, photos) < EXACT


def test_flip_error_oracle_leaves_the_model_as_it_was(baseline, photos):
    model = copy.deepcopy(baseline).train()
    before = copy.deepcopy(model.state_dict())
    flip_error(model, photos)
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.fixture(scope="module")
def resnet(sample_float):
    torch.manual_seed(0)
    model = resnet18(weights=None)
    images = sample_float[0][512:640]
    model.train()
    with torch.no_grad():  # BatchNorm statistics of real images, as for the VGG
        for batch in resize(sl.normalize(images), 65).split(64):
            model(batch)
    return model.eval()


@pytest.mark.parametrize("aligned,misaligned", [(65, 64), (33, 32)])
def test_resnet18_is_flip_equivariant_only_at_aligned_sizes(resnet, photos, aligned, misaligned):
    """Stride-2 layers (7x7 conv, 3x3 max pool, 3x3 and 1x1 convs) sample symmetric grids on odd sizes."""
    trunk = nn.Sequential(*list(resnet.children())[:-2])  # up to layer4: (N, 512, h, w)
    x = sl.normalize(photos)
    assert flip_error(trunk, resize(x, aligned)) < EXACT
    assert flip_error(resnet, resize(x, aligned)) < EXACT
    assert flip_error(trunk, resize(x, misaligned)) > CLEAR
    assert flip_error(resnet, resize(x, misaligned)) > CLEAR
