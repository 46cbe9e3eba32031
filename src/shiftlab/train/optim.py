"""Optimiser, learning-rate schedule and lookahead of the recipe (airbench94's, for PyTorch SGD)."""

from __future__ import annotations

import torch
from torch import nn

from ..model import CifarVGG
from .recipe import Recipe


def make_optimizer(model: CifarVGG, recipe: Recipe) -> torch.optim.SGD:
    """Nesterov SGD with three groups: weights, BatchNorm biases, head (each keeps its ``base_lr``)."""
    lr = recipe.lr * recipe.batch_size / 1024
    biases = [m.bias for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    head = model[-1][-1].weight
    special = {id(p) for p in [*biases, head]}
    weights = [p for p in model.parameters() if p.requires_grad and id(p) not in special]
    head_lr = recipe.head_scale**2  # SGD on w * head_scale, expressed for the stored (scaled) weights
    groups = [
        dict(params=weights, base_lr=lr, weight_decay=recipe.weight_decay),
        dict(params=biases, base_lr=lr * recipe.bias_lr_scale, weight_decay=recipe.weight_decay / recipe.bias_lr_scale),
        dict(params=[head], base_lr=lr * head_lr, weight_decay=recipe.weight_decay / head_lr),
    ]
    return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=True)


def lr_factor(step: int, total_steps: int, recipe: Recipe) -> float:
    """Triangular schedule: ``lr_start`` -> 1 at ``lr_peak_at`` of the steps -> ``lr_end`` at the end.

    >>> [round(lr_factor(s, 100, Recipe()), 3) for s in (0, 23, 100)]
    [0.2, 1.0, 0.07]
    """
    peak = recipe.lr_peak_at * total_steps
    if step < peak:
        return recipe.lr_start + (1 - recipe.lr_start) * step / peak
    return 1 + (recipe.lr_end - 1) * (step - peak) / (total_steps - peak)


class Lookahead:
    """An EMA of every float tensor in the state dict, copied back into the model at each update."""

    def __init__(self, model: nn.Module, state: dict | None = None):
        source = state if state is not None else model.state_dict()
        self.ema = {k: v.detach().clone() for k, v in source.items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float) -> None:
        """ema <- decay * ema + (1 - decay) * model, then model <- ema."""
        for key, value in model.state_dict().items():
            if key in self.ema:
                self.ema[key].lerp_(value, 1 - decay)
                value.copy_(self.ema[key])
