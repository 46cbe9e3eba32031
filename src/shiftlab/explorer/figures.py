"""Static figures of the explorer: heatmap grids, a strip of shifted images, and PNG bytes for widgets.

Every heatmap uses one colour scale [vmin, 1] (cosine similarities of pooled features mostly lie
above 0.8, probabilities anywhere in [0, 1]) and marks the anchor with a red cross.
"""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MultipleLocator

from ..checks import check_choice
from ..data import CLASSES
from .cache import FeatureCache
from .datasets import DATASETS, ShiftedSet, check_image
from .similarity import ANCHORS, LAYERS, resolve_anchor

# Colour-scale minimum to start with: cosine similarities of pooled features mostly lie above 0.8,
# probabilities anywhere in [0, 1]. The maximum is always 1.0.
DEFAULT_VMIN = {"cosine": 0.8, "probability": 0.0}
SCALE_LABELS = {"cosine": "cosine similarity to the anchor", "probability": "probability of the true class"}


def scale_kind(layer: str) -> str:
    """The kind of colour scale a layer's heatmap uses: ``"probability"`` or ``"cosine"``."""
    return "probability" if layer == "probability" else "cosine"


def layer_title(layer: str, anchor_xy: tuple[int, int] | None = None, target: int | None = None) -> str:
    """A short description of what a heatmap of ``layer`` shows.

    >>> layer_title("level 2", (8, 8)), layer_title("probability", target=0)
    ('level 2: cosine to anchor (8, 8)', 'P(airplane)')
    """
    if layer == "probability":
        return f"P({CLASSES[target]})" if target is not None and 0 <= target < len(CLASSES) else "P(true class)"
    return f"{layer}: cosine to anchor {anchor_xy}" if anchor_xy is not None else f"{layer}: cosine to anchor"


def axis_labels(ax, kind: str, x: bool = True, y: bool = True) -> None:
    """Axis labels (on the outer panels of a grid: ``x``, ``y``) and integer ticks every 4 px."""
    what = "patch" if kind == "paste" else "window"
    ax.set_xlabel(f"{what} position x (px)" if x else "")
    ax.set_ylabel(f"{what} position y (px)" if y else "")
    ax.xaxis.set_major_locator(MultipleLocator(4))  # fixed steps: integer pixels, and quick to draw
    ax.yaxis.set_major_locator(MultipleLocator(4))


def _check_columns(kinds, layers) -> list[str]:
    """One data set per column (a single name is used for every column), each valid; the list of them."""
    kinds = [kinds] * len(layers) if isinstance(kinds, str) else list(kinds)
    if len(kinds) != len(layers):
        raise ValueError(f"need one data set per column: {len(layers)} layers, {len(kinds)} data sets")
    for kind, layer in zip(kinds, layers):
        check_choice("data set", kind, DATASETS)
        check_choice("layer", layer, LAYERS)
    return kinds


def compare_heatmaps(cache: FeatureCache, model_names, image_index: int, kinds, layers, anchor="centre",
                     vmin: float | None = None):
    """A static grid of heatmaps of one image: one row per model, one column per layer, all on one colour
    scale [vmin, 1] with one colour bar; the anchor is marked with a red cross.

    ``kinds`` is a data set for every column, or one per column. ``vmin`` defaults to ``DEFAULT_VMIN``
    of the layers' kind (the lower one if cosine maps and probabilities mix). Returns the figure.
    """
    model_names, layers = list(model_names), list(layers)
    kinds = _check_columns(kinds, layers)
    if vmin is None:
        vmin = min(DEFAULT_VMIN[scale_kind(layer)] for layer in layers)
    fig, axes = plt.subplots(len(model_names), len(layers), figsize=(min(2.7 * len(layers) + 1.2, 9.6), 2.9 * len(model_names) + 0.5),
                             squeeze=False, layout="constrained")
    for col, (kind, layer) in enumerate(zip(kinds, layers)):
        shifted = cache.dataset(image_index, kind)
        anchor_xy = resolve_anchor(anchor, shifted.grid_shape)
        ny, nx = shifted.grid_shape
        for row, name in enumerate(model_names):
            ax = axes[row, col]
            values = cache.heatmap(name, image_index, kind, layer, anchor_xy)
            image = ax.imshow(values.numpy(), cmap="viridis", vmin=vmin, vmax=1.0, extent=(-0.5, nx - 0.5, ny - 0.5, -0.5))
            if layer != "probability":
                ax.plot(*anchor_xy, "r+", ms=10, mew=2)
            ax.set_title(f"{name}, {kind}\n{layer_title(layer, anchor_xy, shifted.label)}", fontsize=9)
            axis_labels(ax, kind, x=row == len(model_names) - 1, y=col == 0 or kinds[col - 1] != kind)
    clipped = any(ax.images[0].get_array().min() < vmin for ax in axes.flat)
    fig.colorbar(image, ax=axes, shrink=0.8, extend="min" if clipped else "neither",  # arrow: values below vmin
                 label=" / ".join(SCALE_LABELS[k] for k in sorted({scale_kind(layer) for layer in layers})))
    title = f"test image {image_index} ({CLASSES[int(cache.labels[image_index])]})"
    if len(set(kinds)) == 1:
        title += f", {kinds[0]}: {cache.dataset(image_index, kinds[0]).description}"
    fig.suptitle(title, fontsize=10)
    return fig


def show_dataset(shifted: ShiftedSet, anchors=ANCHORS):
    """The shifted images at the named anchor positions (corners and centre), titled with (x, y)."""
    from ..plots import show_images

    points = [resolve_anchor(anchor, shifted.grid_shape) for anchor in anchors]
    images = shifted.images[[shifted.index(x, y) for x, y in points]]
    fig = show_images(images, titles=[f"{a} {p}" for a, p in zip(anchors, points)], ncols=len(points))
    fig.suptitle(f"{shifted.kind}: {shifted.description}", fontsize=9)
    return fig


def png_bytes(image: torch.Tensor, scale: int = 4) -> bytes:
    """A float image (3, H, W) in [0, 1] as PNG bytes, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    check_image(image)
    pixels = (image.detach().cpu().numpy().clip(0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)  # (H, W, 3)
    big = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


def figure_png(figure) -> bytes:
    """A matplotlib figure rendered as PNG bytes at its own dpi (fast, lightly compressed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()
