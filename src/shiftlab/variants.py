"""The shipped model variants, listed once: training (``make train``), notebooks 04 and 05 and the
explorer all read this list; ``load_variants`` loads those whose checkpoints exist.

Every variant is the same ``CifarVGG`` with other options (``model``); all share one training recipe
unless ``recipe`` names the fields that differ (``shiftlab.train.Recipe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .checkpoints import available_checkpoints, load_pretrained, read_manifest
from .model import CifarVGG, ModelConfig


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
        Variant("blurpool", {"padding_mode": "zeros", "downsampling": "blur", "blur_size": 3, "blur_padding": "reflect"},
                "anti-aliasing (Zhang 2019, his Tri-3): max at stride 1, then a 3-tap binomial blur before subsampling"),
        Variant("aps-circular", {"padding_mode": "circular", "downsampling": "aps"},
                "adaptive polyphase sampling with circular padding: exactly invariant to circular shifts"),
        Variant("no-translate", {"padding_mode": "zeros", "downsampling": "max"},
                "the baseline trained without random translations (flips kept): what augmentation buys",
                recipe={"translate": 0}),
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


def load_variants(names=None, directory: str | Path | None = None) -> dict[str, CifarVGG]:
    """The trained model of every variant in ``names`` (default: all of ``VARIANTS``, in order) whose checkpoint
    exists, hash-verified, in eval mode; variants without a checkpoint yet are left out (``missing_variants``
    names them). Checkpoints are looked up as ``load_pretrained`` does."""
    available = set(available_checkpoints(directory))
    return {name: load_pretrained(name, directory) for name in _names(names) if name in available}


def missing_variants(names=None, directory: str | Path | None = None) -> list[str]:
    """The variants in ``names`` (default: all) that have no checkpoint yet (training them takes hours)."""
    available = set(available_checkpoints(directory))
    return [name for name in _names(names) if name not in available]


def _names(names) -> list[str]:
    names = list(VARIANTS) if names is None else list(names)
    for name in names:
        get_variant(name)  # unknown names raise, listing the known ones
    return names


def describe_variants(names=None, directory: str | Path | None = None) -> str:
    """A text table of the variants' options, recipe changes and the metrics their manifest entries record:
    accuracy on the CIFAR-10 test split (JPEG) and on the bundled sample (raw), and both consistency protocols
    on the sample (percent). Variants without a checkpoint are listed as such."""
    entries = read_manifest(directory)
    columns = (("test_accuracy", "test acc", 8), ("sample_accuracy", "sample acc", 10),
               ("circular_consistency", "circular cons.", 14), ("crop_consistency", "crop cons.", 10))
    lines = [f"{'variant':<13} {'padding':<9} {'downsampling':<19} {'recipe':<12} "
             + " ".join(f"{title:>{width}}" for _, title, width in columns)]
    for name in _names(names):
        variant, config = VARIANTS[name], VARIANTS[name].config()
        pooling = config.downsampling + (f" {config.blur_size}-tap, {config.blur_padding}" if config.blur_size else "")
        recipe = ", ".join(f"{key} {value}" for key, value in variant.recipe.items()) or "shared"
        line = f"{name:<13} {config.padding_mode:<9} {pooling:<19} {recipe:<12} "
        if name not in entries:
            lines.append(line + "no checkpoint yet")
            continue
        metrics = entries[name].get("metrics", {})
        line += " ".join(f"{metrics.get(key, float('nan')):>{width}.2f}" for key, _, width in columns)
        differing = {key: value for key, value in entries[name]["model"].items() if config.to_dict().get(key) != value}
        if differing:
            line += "  (checkpoint trained with " + ", ".join(f"{key} {value}" for key, value in differing.items()) + ")"
        lines.append(line)
    return "\n".join(lines)
