"""Tests of shiftlab.train.build: the whitened frozen stem and airbench94's initialisation."""

import torch
from torch import nn

import shiftlab as sl
from shiftlab.train.build import build_model, whiten_stem
from shiftlab.train.recipe import Recipe

RECIPE = Recipe(whiten_images=512)


def test_the_stem_whitens_3x3_patches_of_real_images(sample):
    images = sample[0][:512]
    model = sl.CifarVGG()
    whiten_stem(model, images, RECIPE.whiten_eps)
    conv = model[0][1]
    assert not conv.weight.requires_grad
    half = conv.out_channels // 2
    assert torch.equal(conv.weight[half:], -conv.weight[:half])
    patches = nn.functional.unfold(model[0][0](sl.to_float(images)), 3)  # (N, 27, L)
    responses = torch.einsum("fk,nkl->nfl", conv.weight[:half].flatten(1), patches)  # (N, 12, L)
    covariance = torch.einsum("nfl,ngl->fg", responses, responses) / (responses.shape[0] * responses.shape[2])
    assert torch.allclose(covariance, torch.diag(covariance.diagonal()), atol=1e-3), "decorrelated filters"
    assert (covariance.diagonal() > 0.5).all() and (covariance.diagonal() <= 1 + 1e-4).all(), covariance.diagonal()


def test_build_model_is_reproducible_and_initialised_as_airbench(sample):
    first, again = (build_model({"padding_mode": "reflect", "downsampling": "blur"}, RECIPE, sample[0]) for _ in range(2))
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in first.state_dict().items())
    assert first.config == sl.ModelConfig(padding_mode="reflect", downsampling="blur")
    torch.manual_seed(RECIPE.seed)
    plain = sl.CifarVGG("reflect", "blur")
    assert torch.allclose(first[-1][-1].weight, plain[-1][-1].weight * RECIPE.head_scale)
    for module in first[1:].modules():
        if isinstance(module, nn.Conv2d):
            eye = torch.zeros_like(module.weight[: module.in_channels])
            nn.init.dirac_(eye)
            assert torch.equal(module.weight[: module.in_channels], eye)
        if isinstance(module, nn.BatchNorm2d):
            assert not module.weight.requires_grad
