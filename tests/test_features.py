"""Tests of shiftlab.features: layer names, the feature-map walk, mean maps and blank inputs."""

import copy

import pytest
import torch
from torch import nn
from torchvision.models import resnet18

import shiftlab as sl
from shiftlab.features import BLANK_KINDS, pooled_level_names
from shiftlab.layers import DOWNSAMPLINGS
from shiftlab.padding import PADDING_MODES

OPTIONS = [("zeros", "max"), ("reflect", "blur"), ("circular", "aps"), ("replicate", "aps")]


@pytest.fixture(scope="module")
def images(subset):
    return subset[0][:5]


def hooked_outputs(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Oracle: run the model as a whole and capture every layer's output with forward hooks."""
    captured, handles = {}, []
    for i, level in enumerate(model):
        for j, layer in enumerate(level):
            handles.append(layer.register_forward_hook(lambda m, args, out, name=f"{i}.{j}": captured.setdefault(name, out)))
    try:
        with torch.no_grad():
            logits = model(images)
    finally:
        for handle in handles:
            handle.remove()
    return captured, logits


# ---------------------------------------------------------------- names and layers


def test_layer_names_of_cifarvgg():
    model = sl.CifarVGG()
    names = sl.layer_names(model)
    assert len(names) == 4 + 3 * 7 + 3 == len(list(model.modules())) - 1 - 5  # every leaf layer, once
    assert names[:5] == ["0.0", "0.1", "0.2", "0.3", "1.0"]
    assert names[-1] == "4.2"
    assert names == [f"{i}.{j}" for i in range(5) for j in range(len(model[i]))]


def test_get_layer_is_nested_indexing():
    model = sl.CifarVGG()
    assert sl.get_layer(model, "2.3") is model[2][3]
    assert sl.get_layer(model, "0.1") is model[0][1]
    for name in sl.layer_names(model):
        level, layer = map(int, name.split("."))
        assert sl.get_layer(model, name) is model[level][layer]


@pytest.mark.parametrize("name", ["5.0", "2.9", "2", "a.b", "", "1.1.1"])
def test_get_layer_unknown_name_says_the_range(name):
    with pytest.raises(KeyError, match=r"no layer .*from '0\.0' to '4\.2'"):
        sl.get_layer(sl.CifarVGG(), name)


@pytest.mark.parametrize("model", [nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), resnet18(weights=None), nn.Linear(2, 2)])
def test_models_without_levels_are_rejected(model):
    with pytest.raises(TypeError, match=f"nn.Sequential of nn.Sequential levels.*got {type(model).__name__}"):
        sl.layer_names(model)


def test_plain_nested_sequentials_work(images):
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), nn.Sequential(nn.Flatten()))
    assert sl.layer_names(model) == ["0.0", "0.1", "1.0"]
    assert sl.feature_maps(model, images)["1.0"].shape == (5, 4 * 30 * 30)


# ---------------------------------------------------------------- feature_maps


@pytest.mark.parametrize("padding_mode,downsampling", OPTIONS)
def test_feature_maps_equal_forward_hooks(make_model, images, padding_mode, downsampling):
    model = make_model(padding_mode, downsampling)
    maps = sl.feature_maps(model, images)
    hooked, logits = hooked_outputs(model, images)
    assert list(maps) == sl.layer_names(model) == list(hooked)
    for name in maps:
        assert torch.allclose(maps[name], hooked[name], atol=1e-6), name
    assert torch.allclose(maps["4.2"], logits, atol=1e-6)


def test_feature_map_shapes_of_the_default_model(images):
    maps = sl.feature_maps(sl.CifarVGG().eval(), images[:2])
    assert maps["0.0"].shape == (2, 3, 32, 32)
    assert maps["0.1"].shape == (2, 24, 32, 32)
    assert maps["1.0"].shape == (2, 64, 32, 32) and maps["1.1"].shape == (2, 64, 16, 16)
    assert maps["2.6"].shape == (2, 256, 8, 8) and maps["3.6"].shape == (2, 256, 4, 4)
    assert maps["4.0"].shape == (2, 256, 1, 1) and maps["4.1"].shape == (2, 256) and maps["4.2"].shape == (2, 10)


def test_first_feature_map_is_the_normalised_input(baseline, images):
    assert torch.allclose(sl.feature_maps(baseline, images)["0.0"], sl.normalize(images), atol=1e-6)


def test_feature_maps_need_no_gradient(baseline, images):
    maps = sl.feature_maps(baseline, images.requires_grad_(False))
    assert not any(m.requires_grad for m in maps.values())


def test_feature_maps_of_a_train_mode_model_leave_it_unchanged(baseline, images):
    model = copy.deepcopy(baseline).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    maps = sl.feature_maps(model, images)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), "BatchNorm statistics changed"
    assert torch.allclose(maps["4.2"], baseline(images), atol=1e-5), "features must be the eval-mode ones"


def test_feature_maps_input_errors(baseline, sample):
    with pytest.raises(TypeError, match="to_float"):
        sl.feature_maps(baseline, sample[0][:2].permute(0, 3, 1, 2))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(3, 32, 32\)"):
        sl.feature_maps(baseline, torch.zeros(3, 32, 32))


# ---------------------------------------------------------------- mean_feature_maps


@pytest.mark.parametrize("batch_size", [7, 256])
def test_mean_feature_maps_equal_a_manual_mean(baseline, subset, batch_size):
    images = subset[0][:20]
    means = sl.mean_feature_maps(baseline, images, batch_size=batch_size, progress=False)
    maps = sl.feature_maps(baseline, images)
    assert list(means) == list(maps)
    for name, output in maps.items():
        assert means[name].shape == output.shape[1:]
        assert torch.allclose(means[name], output.mean(0), atol=1e-5), name


def test_mean_feature_maps_need_an_image(baseline):
    with pytest.raises(ValueError, match="at least one image"):
        sl.mean_feature_maps(baseline, torch.zeros(0, 3, 32, 32), progress=False)


def test_mean_feature_maps_input_errors(baseline):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        sl.mean_feature_maps(baseline, torch.zeros(4, 1, 32, 32), progress=False)


# ---------------------------------------------------------------- blank images


def test_blank_kinds():
    assert BLANK_KINDS == ("pixel-zeros", "normalized-zeros")


def test_pixel_zeros_is_black():
    blank = sl.blank_images("pixel-zeros", size=40, n=3)
    assert blank.shape == (3, 3, 40, 40) and blank.dtype == torch.float32
    assert (blank == 0).all()
    # far from zero after normalisation: -mean / std per channel, about -2
    normalised = sl.normalize(blank)
    expected = -torch.tensor(sl.CIFAR10_MEAN) / torch.tensor(sl.CIFAR10_STD)
    assert torch.allclose(normalised[0, :, 0, 0], expected) and (normalised < -1.5).all()


def test_normalized_zeros_normalises_to_exactly_zero():
    blank = sl.blank_images("normalized-zeros", size=32, n=2)
    assert blank.shape == (2, 3, 32, 32)
    assert 0 < blank.min() and blank.max() < 1  # a valid image: the mean colour
    assert (sl.normalize(blank) == 0).all()
    assert (sl.CifarVGG()[0][0](blank) == 0).all()  # the model's own Normalize agrees
    blank[0, 0, 0, 0] = 1.0
    assert blank[1, 0, 0, 0] != 1.0, "the n images must not share memory"


def test_blank_images_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="^unknown blank kind 'grey'; choose one of pixel-zeros, normalized-zeros$"):
        sl.blank_images("grey")


@pytest.mark.parametrize("padding_mode", PADDING_MODES)
@pytest.mark.parametrize("downsampling", DOWNSAMPLINGS)
def test_only_zero_padding_draws_borders_on_a_blank_input(make_model, padding_mode, downsampling):
    """A normalised-zero input is uniform; reflect, replicate and circular padding keep every feature map
    spatially uniform, zero padding makes the border differ from the interior (the course's lesson 3)."""
    model = make_model(padding_mode, downsampling, probe=False)
    maps = sl.feature_maps(model, sl.blank_images("normalized-zeros"))
    spatial = {name: m for name, m in maps.items() if m.ndim == 4}
    spread = {name: (m.amax((-2, -1)) - m.amin((-2, -1))).max().item() for name, m in spatial.items()}
    if padding_mode == "zeros":
        assert spread["0.1"] == 0, "zero input, zero padding, no bias: the stem convolution is all zero"
        first_border = spatial["1.0"]  # first convolution that sees a non-zero (BatchNorm-shifted) input
        inner = first_border[..., 1:-1, 1:-1]
        assert (inner.amax((-2, -1)) - inner.amin((-2, -1))).max() < 1e-5, "the interior stays uniform"
        assert spread["1.0"] > 1e-3, "the border differs"
    else:
        assert max(spread.values()) < 1e-4, {k: v for k, v in spread.items() if v >= 1e-4}


# ---------------------------------------------------------------- pooled_level_outputs


@pytest.mark.parametrize("padding_mode,downsampling", OPTIONS)
def test_pooled_level_outputs_are_the_level_outputs_averaged(make_model, images, padding_mode, downsampling):
    model = make_model(padding_mode, downsampling)
    pooled = sl.pooled_level_outputs(model, images, batch_size=2)
    maps = sl.feature_maps(model, images)
    assert list(pooled) == pooled_level_names(model) == ["level 0", "level 1", "level 2", "level 3", "logits"]
    for i in range(4):
        last = f"{i}.{len(model[i]) - 1}"
        assert pooled[f"level {i}"].shape == (5, maps[last].shape[1])
        assert torch.allclose(pooled[f"level {i}"], maps[last].mean((-2, -1)), atol=1e-5), i
    assert torch.allclose(pooled["logits"], maps["4.2"], atol=1e-5)
    assert all(v.dtype == torch.float32 for v in pooled.values())


def test_pooled_level_outputs_of_the_default_model_have_the_documented_widths(images):
    pooled = sl.pooled_level_outputs(sl.CifarVGG(), images[:2])
    assert [v.shape[1] for v in pooled.values()] == [24, 64, 256, 256, 10]


def test_pooled_level_outputs_do_not_depend_on_the_batch_size(baseline, images):
    one, all_at_once = sl.pooled_level_outputs(baseline, images, 1), sl.pooled_level_outputs(baseline, images, 128)
    assert all(torch.allclose(one[k], all_at_once[k], atol=1e-5) for k in one)


def test_pooled_level_outputs_leave_a_train_mode_model_alone(baseline, images):
    model = copy.deepcopy(baseline).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pooled = sl.pooled_level_outputs(model, images)
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert torch.allclose(pooled["logits"], baseline(images), atol=1e-5), "eval-mode outputs"


def test_pooled_level_outputs_errors(baseline, images):
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        sl.pooled_level_outputs(baseline, images, 0)
    with pytest.raises(TypeError, match="nn.Sequential of nn.Sequential levels"):
        sl.pooled_level_outputs(nn.Linear(2, 2), images)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        sl.pooled_level_outputs(baseline, images[0])
