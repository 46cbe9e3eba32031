"""Features of every shifted copy, and how similar they are: cosine to an anchor, local and global similarity.

After Lee, Yang and Wang (ECCV workshop 2020): take the features of every shifted copy of one object
and colour each position by the cosine similarity of its features to those of an anchor position. A
*locally* invariant network gives a smooth map (neighbouring positions look alike); a *globally*
invariant one gives 1.0 everywhere.

Layers: ``"level 0"`` ... ``"level 3"`` are the outputs of the model's four feature levels averaged
over H and W (vectors of 24, 64, 256, 256 channels), ``"logits"`` the head's output (10,), and
``"probability"`` the softmax probability of the image's true class (a value, not compared with an
anchor). Heatmaps are (ny, nx) tensors over the grid of positions, row y, column x, as on screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_choice
from ..features import LOGITS, pooled_level_outputs
from .datasets import ShiftedSet, check_position

LEVELS = ("level 0", "level 1", "level 2", "level 3")  # == features.pooled_level_names(CifarVGG())[:-1]
LAYERS = LEVELS + (LOGITS, "probability")
ANCHORS = ("centre", "top-left", "top-right", "bottom-left", "bottom-right")


@dataclass(frozen=True)
class ShiftFeatures:
    """What one batched pass over a ``ShiftedSet`` yields, per position (P = ny * nx, row-major).

    pooled: ``{"level 0": (P, 24), ..., "level 3": (P, 256), "logits": (P, classes)}``; the levels'
    outputs averaged over H and W.
    probability: (P,) softmax probability of class ``target``, in [0, 1].
    """

    pooled: dict[str, torch.Tensor]
    probability: torch.Tensor
    target: int
    grid_shape: tuple[int, int]

    @property
    def predictions(self) -> torch.Tensor:
        """(P,) top-1 class at every position."""
        return self.pooled[LOGITS].argmax(1)


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Sequential) or len(model) != len(LEVELS) + 1:
        raise TypeError(f"expected a CifarVGG-like nn.Sequential of {len(LEVELS)} feature levels and a head, "
                        f"got {type(model).__name__}")


@torch.inference_mode()
def shift_features(model: nn.Module, shifted: ShiftedSet, batch_size: int = 128) -> ShiftFeatures:
    """Pooled level outputs, logits and true-class probability of every image of ``shifted``.

    One pass per batch through the levels (``features.pooled_level_outputs``: no second forward per
    layer, a channels-last inference copy of ``model``). The target is ``shifted.label``.
    """
    _check_model(model)
    if shifted.label < 0:
        raise ValueError(f"the data set's label {shifted.label} is not a class index: build it with the image's label")
    pooled = pooled_level_outputs(model, shifted.images, batch_size)
    classes = pooled[LOGITS].shape[1]
    if not 0 <= shifted.label < classes:
        raise ValueError(f"the data set's label {shifted.label} is not a class index 0..{classes - 1}")
    probability = pooled[LOGITS].softmax(1)[:, shifted.label]
    return ShiftFeatures(pooled, probability, shifted.label, shifted.grid_shape)


def resolve_anchor(anchor, grid_shape: tuple[int, int]) -> tuple[int, int]:
    """An anchor name from ``ANCHORS`` or a position (x, y) -> (x, y) on a (ny, nx) grid.

    >>> resolve_anchor("bottom-left", (17, 17)), resolve_anchor("centre", (17, 17))
    ((0, 16), (8, 8))
    """
    ny, nx = grid_shape
    if isinstance(anchor, str):
        check_choice("anchor", anchor, ANCHORS)
        return {"centre": (nx // 2, ny // 2), "top-left": (0, 0), "top-right": (nx - 1, 0),
                "bottom-left": (0, ny - 1), "bottom-right": (nx - 1, ny - 1)}[anchor]
    return check_position("anchor", anchor, grid_shape)


def cosine_to_anchor(vectors: torch.Tensor, anchor_index: int) -> torch.Tensor:
    """Cosine similarity (P,) of every row of ``vectors`` (P, C) to row ``anchor_index``, in [-1, 1].

    Computed in float64 (with NumPy: for a few hundred rows it is far quicker than a torch call);
    the anchor's own value is exactly 1.0, and a zero vector has similarity 0 to everything else.
    """
    if vectors.ndim != 2 or not 0 <= anchor_index < len(vectors):
        raise ValueError(f"need vectors (P, C) and an anchor index in 0..P-1, "
                         f"got {tuple(vectors.shape)} and {anchor_index}")
    v = vectors.detach().cpu().numpy().astype(np.float64)
    norms = np.linalg.norm(v, axis=1)
    similarity = (v @ v[anchor_index]) / np.maximum(norms * norms[anchor_index], 1e-300)
    similarity = np.clip(similarity, -1.0, 1.0)
    similarity[anchor_index] = 1.0
    return torch.from_numpy(similarity.astype(np.float32))


def heatmap(features: ShiftFeatures, layer: str, anchor="centre") -> torch.Tensor:
    """The (ny, nx) map of ``layer`` over positions: cosine similarity to the anchor's features for
    levels and logits, the true-class probability for ``"probability"`` (the anchor is then unused)."""
    check_choice("layer", layer, LAYERS)
    ny, nx = features.grid_shape
    x, y = resolve_anchor(anchor, features.grid_shape)
    if layer == "probability":
        return features.probability.view(ny, nx)
    return cosine_to_anchor(features.pooled[layer], y * nx + x).view(ny, nx)


def local_global_similarity(features: ShiftFeatures, layer: str) -> tuple[float, float]:
    """(local, global) invariance of a feature layer: the mean cosine similarity between positions
    1 px apart (horizontal and vertical neighbours), and between all pairs of distinct positions."""
    check_choice("feature layer", layer, LAYERS[:-1])
    ny, nx = features.grid_shape
    unit = F.normalize(features.pooled[layer].double(), dim=1)  # (P, C)
    grid = unit.view(ny, nx, -1)
    neighbours = torch.cat([(grid[:, 1:] * grid[:, :-1]).sum(-1).flatten(), (grid[1:] * grid[:-1]).sum(-1).flatten()])
    pairs = unit @ unit.T  # (P, P)
    p = len(unit)
    global_mean = (pairs.sum() - pairs.diagonal().sum()) / (p * (p - 1)) if p > 1 else torch.tensor(1.0)
    return neighbours.mean().item(), global_mean.item()
