"""Tests of shiftlab.flip: 1-D correlation, kernel flipping, and flip equivariance where sampling grids align."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

import shiftlab as sl
from shiftlab.flip import TOY_KERNEL, TOY_SIGNAL
from shiftlab.padding import PADDING_MODES

EXACT = 1e-5  # "exactly equal" up to float32 rounding (absolute, on outputs of size about 0.01 to 10)
CLEAR = 1e-3  # a real difference, relative to the largest output (100x float32 rounding and more)


def correlate_loop(signal, kernel):
    """Oracle: out[i] = sum_j k[j] x[i + j], with Python floats."""
    return [sum(k * signal[i + j] for j, k in enumerate(kernel)) for i in range(len(signal) - len(kernel) + 1)]


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)


# ---------------------------------------------------------------- the 1-D toy


def test_toy_numbers():
    out = sl.correlate1d(torch.tensor(TOY_SIGNAL), torch.tensor(TOY_KERNEL))
    assert TOY_SIGNAL == (1.0, 3.0, 5.0, 4.0, 7.0) and TOY_KERNEL == (0.3, 0.5, 0.8)
    assert out.tolist() == pytest.approx(correlate_loop(TOY_SIGNAL, TOY_KERNEL))
    assert out.tolist() == pytest.approx([5.8, 6.6, 9.1])


def test_toy_numbers_on_the_flipped_input():
    out = sl.correlate1d(torch.tensor(TOY_SIGNAL).flip(0), torch.tensor(TOY_KERNEL))
    assert out.tolist() == pytest.approx(correlate_loop(TOY_SIGNAL[::-1], TOY_KERNEL))
    assert out.tolist() == pytest.approx([8.1, 6.1, 3.8])
    # not the flipped output: flipping the input alone changes what the correlation computes
    assert out.tolist() != pytest.approx(sl.correlate1d(torch.tensor(TOY_SIGNAL), torch.tensor(TOY_KERNEL)).flip(0).tolist())


@pytest.mark.parametrize("n,k", [(5, 3), (17, 4), (8, 8), (30, 1)])
def test_correlate1d_equals_conv1d(n, k):
    generator = torch.Generator().manual_seed(n * 100 + k)
    signal, kernel = torch.randn(n, generator=generator), torch.randn(k, generator=generator)
    expected = F.conv1d(signal.view(1, 1, n), kernel.view(1, 1, k)).flatten()
    out = sl.correlate1d(signal, kernel)
    assert out.shape == (n - k + 1,)
    assert torch.allclose(out, expected, atol=1e-5)


def test_flipping_input_and_kernel_flips_the_output():
    signal, kernel = torch.tensor(TOY_SIGNAL), torch.tensor(TOY_KERNEL)
    assert torch.allclose(sl.correlate1d(signal.flip(0), kernel.flip(0)), sl.correlate1d(signal, kernel).flip(0))


def test_correlate1d_errors():
    with pytest.raises(ValueError, match=r"1-D signal and kernel, got shapes \(1, 5\) and \(3,\)"):
        sl.correlate1d(torch.zeros(1, 5), torch.zeros(3))
    with pytest.raises(ValueError, match=r"kernel of length 6 is longer than the signal \(5\)"):
        sl.correlate1d(torch.zeros(5), torch.zeros(6))


# ---------------------------------------------------------------- flip_kernels


def test_flip_kernels_flips_every_conv_and_leaves_the_original(baseline):
    before = copy.deepcopy(baseline.state_dict())
    flipped = sl.flip_kernels(baseline)
    assert flipped is not baseline and type(flipped) is type(baseline)
    assert all(torch.equal(v, before[k]) for k, v in baseline.state_dict().items()), "the original changed"
    original = dict(baseline.named_modules())
    convs = [(name, m) for name, m in flipped.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 7
    for name, conv in convs:
        assert torch.equal(conv.weight, original[name].weight.flip(-1))
    # everything else is untouched
    for key, value in flipped.state_dict().items():
        if not any(key == f"{name}.weight" for name, _ in convs):
            assert torch.equal(value, before[key]), key


def test_flipping_twice_is_the_identity(baseline):
    twice = sl.flip_kernels(sl.flip_kernels(baseline))
    assert all(torch.equal(v, baseline.state_dict()[k]) for k, v in twice.state_dict().items())


def test_flip_kernels_errors():
    with pytest.raises(TypeError, match="torch.nn.Module, got Tensor"):
        sl.flip_kernels(torch.zeros(3))
    with pytest.raises(ValueError, match="Linear has no Conv2d layer"):
        sl.flip_kernels(nn.Linear(3, 3))


# ---------------------------------------------------------------- flip equivariance on CifarVGG


@pytest.fixture(scope="module")
def vgg(make_model):
    """The default-width baseline (zeros, max), BatchNorm calibrated on real images, eval mode."""
    return make_model("zeros", "max", width="default", probe=False)


@pytest.fixture(scope="module")
def photos(subset):
    return subset[0][:3]


def flip_difference(model: nn.Module, images: torch.Tensor, spatial: bool) -> float:
    with torch.no_grad():
        reference = model(images)
        flipped = sl.flip_kernels(model)(images.flip(-1))
    if spatial:
        reference = reference.flip(-1)
    return (flipped - reference).abs().max().item()


def test_cifarvgg_feature_maps_are_flip_equivariant_at_32(vgg, photos):
    trunk = vgg[:4]
    assert flip_difference(trunk, photos, spatial=True) < EXACT


def test_cifarvgg_feature_maps_differ_at_33(vgg, photos):
    x = resize(photos, 33)
    with torch.no_grad():
        scale = vgg[:4](x).abs().max().item()
    assert flip_difference(vgg[:4], x, spatial=True) > CLEAR * scale
    # the difference enters at the first stride-2 step, where 33 -> 16 drops the last column
    assert flip_difference(vgg[:1], x, spatial=True) < EXACT
    assert sl.flip_equivariance_error(vgg[:2], x) > 0.05


def test_cifarvgg_logits_are_flip_invariant_at_32_not_33(vgg, photos):
    with torch.no_grad():
        scale = vgg(photos).abs().max().item()
    assert scale > 1e-2
    assert flip_difference(vgg, photos, spatial=False) < EXACT
    assert flip_difference(vgg, resize(photos, 33), spatial=False) > CLEAR * scale


def test_without_flipping_the_kernels_the_logits_change(vgg, photos):
    with torch.no_grad():
        logits = vgg(photos)
        assert (vgg(photos.flip(-1)) - logits).abs().max() > CLEAR * logits.abs().max()


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
def test_every_padding_mode_is_flip_equivariant_at_aligned_sizes(make_model, padding_mode, photos):
    """Each 3x3 convolution pads one pixel on both sides, so every padding mode commutes with the flip."""
    model = make_model(padding_mode, "max")
    assert flip_difference(model[:4], photos, spatial=True) < EXACT
    assert sl.flip_equivariance_error(model, photos) < EXACT


def test_flip_equivariance_error_is_relative(vgg, photos):
    assert sl.flip_equivariance_error(vgg[:4], photos) < EXACT
    error33 = sl.flip_equivariance_error(vgg[:4], resize(photos, 33))
    with torch.no_grad():
        reference = vgg[:4](resize(photos, 33))
    assert error33 == pytest.approx(flip_difference(vgg[:4], resize(photos, 33), spatial=True) / reference.abs().max().item(), rel=1e-4)
    assert error33 > CLEAR


def test_flip_equivariance_error_leaves_the_model_in_its_mode(baseline, photos):
    model = copy.deepcopy(baseline).train()
    sl.flip_equivariance_error(model, photos)
    assert model.training


def test_flip_equivariance_error_rejects_non_batches(vgg):
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(3, 32, 32\)"):
        sl.flip_equivariance_error(vgg, torch.zeros(3, 32, 32))


# ---------------------------------------------------------------- flip equivariance on torchvision's ResNet-18


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
    assert sl.flip_equivariance_error(trunk, resize(x, aligned)) < EXACT
    assert sl.flip_equivariance_error(resnet, resize(x, aligned)) < EXACT
    assert sl.flip_equivariance_error(trunk, resize(x, misaligned)) > CLEAR
    assert sl.flip_equivariance_error(resnet, resize(x, misaligned)) > CLEAR
