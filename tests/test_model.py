"""Tests of shiftlab.model: layout, options, input checks, configs, and the shift invariance of the fixes."""

import dataclasses
import json

import pytest
import torch
from torch import nn

import shiftlab as sl
from shiftlab.layers import DOWNSAMPLINGS, APSPool2d, MaxBlurPool2d
from shiftlab.model import MIN_SIZE, Normalize, check_model_input
from shiftlab.padding import PADDING_MODES

ALL_OPTIONS = [(p, d) for p in PADDING_MODES for d in DOWNSAMPLINGS]
TINY = {"stem_width": 8, "widths": (16, 32, 32)}


def roll(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    return torch.roll(x, (dy, dx), (-2, -1))


# ---------------------------------------------------------------- layout and size


def test_parameter_count_is_about_two_million():
    assert 1.8e6 <= sl.count_parameters(sl.CifarVGG()) <= 2.2e6


def test_count_parameters_counts_only_trainable_ones():
    model = sl.CifarVGG(**TINY)
    total = sum(p.numel() for p in model.parameters())
    assert sl.count_parameters(model) == total
    model[4][2].weight.requires_grad_(False)
    assert sl.count_parameters(model) == total - 32 * 10


@pytest.mark.parametrize("downsampling", DOWNSAMPLINGS)
def test_downsampling_adds_no_parameters(downsampling):
    assert sl.count_parameters(sl.CifarVGG(downsampling=downsampling)) == sl.count_parameters(sl.CifarVGG())


def test_levels_and_nested_indexing():
    model = sl.CifarVGG()
    assert len(model) == 5
    assert all(type(level) is nn.Sequential for level in model)
    assert isinstance(model[0][0], Normalize)
    stem_conv = model[0][1]
    assert isinstance(stem_conv, nn.Conv2d) and (stem_conv.in_channels, stem_conv.out_channels) == (3, 24)
    assert [model[i][0].out_channels for i in (1, 2, 3)] == [64, 256, 256]
    assert all(isinstance(model[i][1], nn.MaxPool2d) for i in (1, 2, 3))
    assert isinstance(model[4][0], nn.AdaptiveMaxPool2d)
    assert isinstance(model[4][2], nn.Linear) and model[4][2].out_features == 10
    assert model[2][3] is list(model)[2][3]
    assert model[-1] is list(model)[4]


def test_slice_is_a_plain_sequential_that_runs(subset):
    model = sl.CifarVGG().eval()
    images, _ = subset
    front = model[:3]
    assert type(front) is nn.Sequential
    assert len(front) == 3 and front[2] is model[2]  # shares the layers, does not copy them
    with torch.no_grad():
        out = front(images[:2])
        expected = model[2](model[1](model[0](images[:2])))
    assert out.shape == (2, 256, 8, 8)
    assert torch.equal(out, expected)


def test_levels_compose_to_the_model(subset):
    model = sl.CifarVGG(**TINY).eval()
    x = subset[0][:3]
    with torch.no_grad():
        assert torch.equal(model[3:](model[:3](x)), model(x))


@pytest.mark.parametrize("size", [(32, 32), (33, 35), (16, 16)])
@pytest.mark.parametrize("padding_mode,downsampling", ALL_OPTIONS)
def test_every_option_builds_and_runs(padding_mode, downsampling, size, subset):
    model = sl.CifarVGG(padding_mode, downsampling).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 7 and all(c.padding_mode == padding_mode for c in convs)
    assert all(layer.padding_mode == padding_mode for layer in model.modules() if isinstance(layer, APSPool2d))
    x = torch.nn.functional.interpolate(subset[0][:2], size=size, mode="bilinear")
    with torch.no_grad():
        out = model(x)
        level3 = model[:4](x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    expected_side = list(size)
    wraps = padding_mode == "circular" and downsampling != "max"  # their stride-1 max keeps the size
    for _ in range(3):  # otherwise the stride-1 max (or max pool) drops a row of odd sizes
        expected_side = [-(-s // 2) if wraps else s // 2 for s in expected_side]
    assert level3.shape == (2, 256, *expected_side)


@pytest.mark.parametrize("downsampling", DOWNSAMPLINGS)
def test_downsample_layer_follows_the_option(downsampling):
    model = sl.CifarVGG("reflect", downsampling)
    expected = {"max": nn.MaxPool2d, "blur": MaxBlurPool2d, "aps": APSPool2d}[downsampling]
    assert all(type(model[i][1]) is expected for i in (1, 2, 3))


def test_custom_widths_and_classes(subset):
    model = sl.CifarVGG(stem_width=4, widths=(8, 8, 12), num_classes=3).eval()
    assert model[0][1].out_channels == 4 and model[3][4].out_channels == 12
    with torch.no_grad():
        assert model(subset[0][:2]).shape == (2, 3)


def test_normalize_layer_equals_shiftlab_normalize(subset):
    images, _ = subset
    assert torch.allclose(Normalize()(images), sl.normalize(images), atol=1e-6)
    assert len(Normalize().state_dict()) == 0  # fixed statistics, not stored in checkpoints


def test_forward_is_batch_independent_in_eval_mode(baseline, subset):
    images, _ = subset
    with torch.no_grad():
        together = baseline(images[:6])
        one_by_one = torch.cat([baseline(images[i : i + 1]) for i in range(6)])
    assert torch.allclose(together, one_by_one, atol=1e-5)


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    "shape,why",
    [((3, 32, 32), "ndim"), ((2, 1, 32, 32), "channels"), ((2, 4, 32, 32), "channels"),
     ((2, 32, 32, 3), "channels-last"), ((2, 3, 15, 32), "too small"), ((2, 3, 32, 8), "too small")],
)  # fmt: skip
def test_wrong_input_shape_names_what_it_got_and_wants(shape, why):
    model = sl.CifarVGG(**TINY)
    with pytest.raises(ValueError) as info:
        model(torch.zeros(shape))
    message = str(info.value)
    assert str(shape) in message, message
    assert "(N, 3, H, W)" in message and f">= {MIN_SIZE}" in message


def test_uint8_input_is_a_type_error_with_a_hint(sample):
    model = sl.CifarVGG(**TINY)
    x = sample[0][:2].permute(0, 3, 1, 2)  # right shape, wrong dtype
    with pytest.raises(TypeError, match="uint8.*to_float"):
        model(x)


def test_check_model_input_accepts_the_minimum_size():
    check_model_input(torch.zeros(1, 3, MIN_SIZE, MIN_SIZE))


def test_non_tensor_input_names_its_type():
    with pytest.raises((TypeError, ValueError), match="list"):
        check_model_input([[0.0]])


# ---------------------------------------------------------------- ModelConfig


@pytest.mark.parametrize("padding_mode,downsampling", ALL_OPTIONS)
def test_config_round_trip(padding_mode, downsampling):
    model = sl.CifarVGG(padding_mode, downsampling, **TINY)
    options = model.config.to_dict()
    assert options == json.loads(json.dumps(options))  # JSON-ready, as the manifest stores it
    assert options["padding_mode"] == padding_mode and options["downsampling"] == downsampling
    for config in (model.config, options, json.loads(json.dumps(options))):
        rebuilt = sl.CifarVGG.from_config(config)
        assert rebuilt.config == model.config
        rebuilt.load_state_dict(model.state_dict())  # the same architecture, parameter for parameter


def test_config_widths_become_a_tuple_and_config_is_frozen():
    config = sl.ModelConfig(widths=[8, 16, 16])
    assert config.widths == (8, 16, 16)
    assert config.to_dict()["widths"] == [8, 16, 16]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.padding_mode = "circular"


def test_config_defaults_are_the_baseline():
    config = sl.CifarVGG().config
    assert (config.padding_mode, config.downsampling, config.stem_width, config.widths, config.num_classes) == (
        "zeros", "max", 24, (64, 256, 256), 10)  # fmt: skip


def test_unknown_padding_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="^unknown padding mode 'same'; choose one of zeros, reflect, replicate, circular$"):
        sl.CifarVGG(padding_mode="same")


def test_unknown_downsampling_lists_the_valid_ones():
    with pytest.raises(ValueError, match="^unknown downsampling 'avg'; choose one of max, blur, aps$"):
        sl.ModelConfig(downsampling="avg")


def test_unknown_option_name_is_rejected():
    with pytest.raises(TypeError, match="depth"):
        sl.CifarVGG(depth=3)


# ---------------------------------------------------------------- shift invariance


@pytest.fixture(scope="module")
def two_images(sample_float):
    return sample_float[0][[3, 10]]  # a cat and an airplane


def test_circular_aps_is_exactly_invariant_to_every_circular_shift(invariant, two_images):
    """All 32 x 32 circular shifts of a real image give the logits of the unshifted image (the slow test
    below does two images on the default-width model)."""
    image = two_images[:1]
    shifted = torch.cat([roll(image, dy, dx) for dy in range(32) for dx in range(32)])  # (1024, 3, 32, 32)
    with torch.no_grad():
        reference = invariant(image)
        logits = torch.cat([invariant(batch) for batch in shifted.split(256)])
    assert reference.abs().max() > 1e-2, "logits too small for the tolerance to mean anything"
    assert (logits - reference).abs().max() < 1e-5


@pytest.mark.slow
def test_default_width_circular_aps_is_exactly_invariant(make_model, two_images):
    model = make_model("circular", "aps", width="default")
    shifts = [(dy, dx) for dy in range(32) for dx in range(32)]
    with torch.no_grad():
        reference = model(two_images)
        for start in range(0, len(shifts), 64):
            batch = torch.cat([roll(two_images, dy, dx) for dy, dx in shifts[start : start + 64]])
            assert (model(batch).view(-1, 2, 10) - reference).abs().max() < 1e-5, shifts[start]


def test_baseline_is_not_invariant_to_circular_shifts(baseline, two_images):
    with torch.no_grad():
        reference = baseline(two_images)
        differences = [(baseline(roll(two_images, dy, dx)) - reference).abs().max().item() for dy, dx in [(0, 1), (1, 0), (3, 5)]]
    assert min(differences) > 1e-3, differences


@pytest.mark.parametrize("padding_mode,downsampling", [("zeros", "aps"), ("circular", "max"), ("circular", "blur")])
def test_only_circular_aps_is_invariant_to_one_pixel_shifts(make_model, padding_mode, downsampling, two_images):
    model = make_model(padding_mode, downsampling)
    with torch.no_grad():
        difference = (model(roll(two_images, 1, 1)) - model(two_images)).abs().max().item()
    assert difference > 1e-4


@pytest.mark.parametrize(
    "downsampling",
    ["max", "aps", "blur"],
)  # fmt: skip
def test_circular_models_are_invariant_to_shifts_by_the_total_stride(make_model, downsampling, two_images):
    model = make_model("circular", downsampling)
    with torch.no_grad():
        reference = model(two_images)
        for dy, dx in [(8, 0), (0, 16), (-8, 24)]:
            assert (model(roll(two_images, dy, dx)) - reference).abs().max() < 1e-5
