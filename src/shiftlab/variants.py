"""The shipped model variants, listed once: training (``make train``), notebooks 04 and 05 and the
explorer all read this list.

Every variant is the same ``CifarVGG`` with other options (``model``); all share one training recipe
unless ``recipe`` names the fields that differ (``shiftlab.train.Recipe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import ModelConfig


@dataclass(frozen=True)
class Variant:
    """One shipped checkpoint: its model options, the recipe fields it changes, and its idea in a line."""

    name: str
    model: dict  # ModelConfig options, e.g. {"padding_mode": "circular", "downsampling": "aps"}
    idea: str
    recipe: dict = field(default_factory=dict)  # Recipe fields that differ from the shared recipe

    def config(self) -> ModelConfig:
        """The variant's ``ModelConfig`` (options it does not set keep their defaults)."""
        return ModelConfig(**self.model)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("baseline", {"padding_mode": "zeros", "downsampling": "max"},
                "zero padding and max pooling: the usual CNN, not shift invariant"),
        Variant("reflect", {"padding_mode": "reflect", "downsampling": "max"},
                "mirror padding: no new colour enters at the border"),
        Variant("replicate", {"padding_mode": "replicate", "downsampling": "max"},
                "edge padding: the border pixel is repeated"),
        Variant("circular", {"padding_mode": "circular", "downsampling": "max"},
                "wrap-around padding: the image is a torus, so circular shifts move no border"),
        Variant("blurpool", {"padding_mode": "zeros", "downsampling": "blur", "blur_size": 3},
                "anti-aliasing (Zhang 2019): max at stride 1, then a binomial blur before subsampling"),
        Variant("aps-circular", {"padding_mode": "circular", "downsampling": "aps"},
                "adaptive polyphase sampling with circular padding: exactly invariant to circular shifts"),
    )
}


def get_variant(name: str) -> Variant:
    """The variant called ``name``; a KeyError lists the known ones.

    >>> get_variant("aps-circular").config().downsampling
    'aps'
    """
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}; variants: {', '.join(VARIANTS)}")
    return VARIANTS[name]
