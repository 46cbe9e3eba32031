"""Tests of shiftlab.train.optim: parameter groups, the triangular schedule and lookahead."""

import pytest
import torch
from torch import nn

import shiftlab as sl
from shiftlab.train.optim import Lookahead, lr_factor, make_optimizer
from shiftlab.train.recipe import Recipe


def test_three_groups_cover_every_trainable_parameter_once():
    model, recipe = sl.CifarVGG(), Recipe()
    model[0][1].weight.requires_grad_(False)  # the whitened stem
    optimizer = make_optimizer(model, recipe)
    groups = optimizer.param_groups
    ids = [id(p) for group in groups for p in group["params"]]
    assert len(ids) == len(set(ids)) == sum(p.requires_grad for p in model.parameters())
    lr = recipe.lr * recipe.batch_size / 1024
    assert [g["base_lr"] for g in groups] == pytest.approx([lr, lr * recipe.bias_lr_scale, lr * recipe.head_scale**2])
    assert groups[2]["params"] == [model[-1][-1].weight]
    batchnorm_biases = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [id(p) for p in groups[1]["params"]] == [id(p) for p in batchnorm_biases]


def test_schedule_rises_then_falls_linearly():
    recipe, total = Recipe(), 1000
    values = [lr_factor(step, total, recipe) for step in range(total + 1)]
    peak = values.index(max(values))
    assert peak == 230 and values[peak] == pytest.approx(1.0)
    assert values[0] == pytest.approx(recipe.lr_start) and values[-1] == pytest.approx(recipe.lr_end)
    rises, falls = torch.tensor(values[: peak + 1]).diff(), torch.tensor(values[peak:]).diff()
    assert torch.allclose(rises, rises[0].expand_as(rises), atol=1e-6) and (falls < 0).all()


def test_lookahead_pulls_the_model_to_the_average():
    model = nn.Linear(3, 2)
    lookahead = Lookahead(model)
    before = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    lookahead.update(model, decay=0.75)
    assert torch.allclose(model.weight, before + 0.25)
    assert torch.equal(lookahead.ema["weight"], model.weight)
