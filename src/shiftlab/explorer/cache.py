"""The explorer's memory: models, data sets and features, each computed once per key.

A change of layer, anchor or colour scale in the explorer then costs only cosine similarities; a new
(model, image, data set) runs the model once on that data set.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..checkpoints import available_checkpoints, load_pretrained
from ..checks import check_choice, check_images
from ..data import load_sample, to_float
from .datasets import DATASETS, DatasetSizes, ShiftedSet, dataset_sizes, make_dataset
from .similarity import ShiftFeatures, heatmap, shift_features

# The pair shown first: the usual CNN and its anti-aliased twin (names in shiftlab.variants.VARIANTS).
PREFERRED_PAIR = ("baseline", "blurpool")


class FeatureCache:
    """Models, data sets and features, each computed once.

    Features are keyed by (model name, image index, data set); asking again for a key, with any layer
    or anchor, only recomputes the cosine similarities. ``forward_passes`` counts the batched passes run.

    Args:
        models: ``{name: model}`` to use; default: the checkpoints present now (``available_checkpoints``),
            each loaded on first use with ``load_pretrained``.
        images, labels: float (N, 3, H, W) in [0, 1] and int64 (N,); default: the bundled sample.
        sizes: data-set sizes; default ``dataset_sizes()`` (smaller in quick mode).
    """

    def __init__(self, models: dict[str, nn.Module] | None = None, images: torch.Tensor | None = None,
                 labels: torch.Tensor | None = None, sizes: DatasetSizes | None = None, batch_size: int = 128):
        if images is None:
            if labels is not None:
                raise ValueError("labels were given without images: pass both, or neither for the bundled sample")
            sample_images, labels = load_sample()
            images = to_float(sample_images)
        check_images(images)
        if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be a tensor ({len(images)},), one class per image, got {labels!r:.60}")
        self.images, self.labels = images, labels
        self.sizes = sizes or dataset_sizes()
        self.batch_size = batch_size
        self._models = dict(models or {})
        self._names = tuple(self._models) if models else tuple(available_checkpoints())
        self._datasets: dict[tuple[int, str], ShiftedSet] = {}
        self._features: dict[tuple[str, int, str], ShiftFeatures] = {}
        self.forward_passes = 0

    @property
    def model_names(self) -> tuple[str, ...]:
        """The names a model can be asked for."""
        return self._names

    def model(self, name: str) -> nn.Module:
        """The model called ``name``, loaded once."""
        if name not in self._names:
            known = ", ".join(self._names) or "none (train one with `python -m shiftlab.train`)"
            raise ValueError(f"unknown model {name!r}; available: {known}")
        if name not in self._models:
            self._models[name] = load_pretrained(name)
        return self._models[name]

    def check_image_index(self, index: int) -> int:
        """``index`` as an int, if it names one of the cache's images; else a ValueError with the range."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.images):
            raise ValueError(f"image index must be an int in 0..{len(self.images) - 1}, got {index!r}")
        return int(index)

    def dataset(self, image_index: int, kind: str) -> ShiftedSet:
        """The ``kind`` data set of image ``image_index``, built once."""
        check_choice("data set", kind, DATASETS)
        key = (self.check_image_index(image_index), kind)
        if key not in self._datasets:
            label = int(self.labels[key[0]])
            self._datasets[key] = make_dataset(kind, self.images[key[0]], label, self.sizes)
        return self._datasets[key]

    def features(self, model_name: str, image_index: int, kind: str) -> ShiftFeatures:
        """``shift_features`` of a model on a data set, computed once per (model, image, data set)."""
        key = (model_name, self.check_image_index(image_index), kind)
        if key not in self._features:
            model, shifted = self.model(model_name), self.dataset(image_index, kind)
            self._features[key] = shift_features(model, shifted, self.batch_size)
            self.forward_passes += 1
        return self._features[key]

    def heatmap(self, model_name: str, image_index: int, kind: str, layer: str, anchor="centre") -> torch.Tensor:
        """``heatmap`` (ny, nx) of cached features; only the first call per (model, image, data set) runs the model."""
        return heatmap(self.features(model_name, image_index, kind), layer, anchor)


def default_pair(names) -> tuple[str, str]:
    """baseline and blurpool when both exist, else the first two names; one name is paired with itself.

    >>> default_pair(["aps-circular", "baseline", "blurpool"])
    ('baseline', 'blurpool')
    """
    names = list(names)
    if not names:
        raise ValueError("no trained models: train one with `python -m shiftlab.train` (see the README)")
    if all(name in names for name in PREFERRED_PAIR):
        return PREFERRED_PAIR
    return (names[0], names[1]) if len(names) > 1 else (names[0], names[0])
