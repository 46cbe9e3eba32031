"""The training recipe: hyperparameters shared by every variant (a variant may change a few fields).

airbench94's recipe (Jordan, 2024, MIT) for this model: label smoothing 0.2, Nesterov SGD with a
triangular learning-rate schedule and weight decay, BatchNorm biases at 64x the learning rate, a stem
convolution initialised by patch whitening and frozen, identity-initialised convolutions, lookahead-EMA
of the weights, alternating horizontal flips and random 2-pixel translations. Training steps run under
bfloat16 autocast (about 2x faster on CPUs with bfloat16 instructions; ``precision="float32"``
elsewhere), evaluation in float32.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..checks import check_choice

PRECISIONS = ("bfloat16", "float32")


@dataclass(frozen=True)
class Recipe:
    """Training hyperparameters, the same for every variant (airbench94's, for PyTorch SGD on a mean loss).

    Learning rates are for a batch of 1024 images and scale linearly with ``batch_size``; the weight
    decay is PyTorch's coupled one, so each step shrinks the weights by ``lr * weight_decay`` as in
    airbench94 (its lr 11.5 and decay 0.0153 per 1024 images, decoupled). The fields and their order
    are stored in every manifest entry and training state: a resumed run must have the same ones.
    """

    epochs: int = 15  # the shipped checkpoints; airbench94 needs ~10 at its width, this narrower net more
    batch_size: int = 256
    seed: int = 0
    train_images: int = 50_000  # how many training images (all, unless --limit-train)
    lr: float = 1.5  # peak lr per 1024 images: airbench94's 11.5 / (1 + 1 / (1 - momentum))
    momentum: float = 0.85  # Nesterov
    weight_decay: float = 0.0153 / 11.5  # airbench94's decay per 1024 images / its lr
    lr_start: float = 0.2  # the lr rises linearly from lr_start * lr ...
    lr_peak_at: float = 0.23  # ... to lr at this fraction of the steps ...
    lr_end: float = 0.07  # ... then falls linearly to lr_end * lr; lookahead does the final averaging
    bias_lr_scale: float = 64.0  # BatchNorm biases: lr x64, decay /64 (BatchNorm weights stay frozen at 1)
    head_scale: float = 1 / 9  # airbench94's logit scale 1/9, folded into the head's initial weights and lr
    label_smoothing: float = 0.2
    bn_momentum: float = 0.6  # running-statistics decay per 1024 images
    lookahead_start: float = 0.3  # fraction of the steps before lookahead starts (airbench94: epoch 3 of 9.9)
    lookahead_decay: float = 0.95  # EMA decay per 1024 images, times progress ** lookahead_power,
    lookahead_power: float = 3.0
    lookahead_every: int = 5120  # applied every this many images
    whiten_images: int = 5000  # training images whose 3x3 patches set the stem convolution
    whiten_eps: float = 5e-4
    translate: int = 2  # random translation of up to this many pixels (reflect padding, then crop)
    flip: str = "alternating"  # per-image random flip in epoch 1, inverted every other epoch
    precision: str = "bfloat16"  # autocast dtype of training steps (float32: none); evaluation is float32

    def __post_init__(self):
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("epochs", "batch_size", "train_images"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if isinstance(self.translate, bool) or not isinstance(self.translate, int) or self.translate < 0:
            raise ValueError(f"translate must be an int number of pixels >= 0, got {self.translate!r}")


def make_recipe(overrides: dict, **settings) -> Recipe:
    """``Recipe()`` with a variant's ``overrides``, then ``settings`` (from the command line) on top.

    >>> make_recipe({"translate": 0}, epochs=3).translate, make_recipe({}, epochs=3).epochs
    (0, 3)
    """
    known = {f.name for f in fields(Recipe)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"unknown recipe field(s) {', '.join(unknown)}; fields: {', '.join(sorted(known))}")
    return replace(Recipe(), **{**overrides, **settings})
