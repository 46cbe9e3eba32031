"""The reading-group explorer: exhaustive 1-pixel shifts, pooled features and cosine-similarity heatmaps.

After Lee, Yang and Wang (ECCV workshop 2020): move one object over every 1-pixel position, take the
features of every shifted copy, and plot the cosine similarity of each position's features to those of
an anchor position as a heatmap over positions. A *locally* invariant network gives a smooth map
(neighbouring positions look alike); a *globally* invariant one gives 1.0 everywhere. Anti-aliasing
(BlurPool) improves the first, not the second.

Two data sets per bundled test image (``sl.load_sample``); all sizes in pixels:

- ``"paste"``: the image's central 16x16 patch pasted on a 32x32 canvas filled with the patch's mean
  colour, at all 17 x 17 = 289 positions of its top-left corner (x, y in 0..16). Only the object's
  position changes; its content and the background do not. Position (8, 8) is the centred one.
- ``"crop"``: the image upsampled 1.5x (bilinear) to 48x48, and every 32x32 window of it, at all
  17 x 17 = 289 offsets of the window's top-left corner. The content moves by minus the offset and
  real content (no padding, no mirror seams) enters at the border. Window (8, 8) is the centred one.

Quick mode (``sl.quick_mode()``) uses 24x24 canvases for ``"paste"`` and a 40x40 upsampling for
``"crop"``: 9 x 9 = 81 positions each, centred at (4, 4). Every model input keeps the model's own size range (the
network accepts any H, W >= 16 and ends in global max pooling).

Layers: ``"level 0"`` ... ``"level 3"`` are the outputs of the model's four feature levels averaged
over H and W (vectors of 24, 64, 256, 256 channels), ``"logits"`` the head's output (10,), and
``"probability"`` the softmax probability of the image's true class (a value, not compared with an
anchor). Positions are (x, y) = (column, row) of the top-left corner; heatmaps are (ny, nx) tensors,
row y, column x, as on screen.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import Normalize
from matplotlib.ticker import MultipleLocator
from torch import nn

from .checkpoints import available_checkpoints, load_pretrained
from .course import quick_mode
from .data import CLASSES, check_images, load_sample, to_float
from .evaluate import check_batch_size, inference_copy
from .layers import check_choice
from .shifts import crop_at_every_position, paste_at_every_position

LEVELS = ("level 0", "level 1", "level 2", "level 3")
LAYERS = LEVELS + ("logits", "probability")
DATASETS = ("paste", "crop")
ANCHORS = ("centre", "top-left", "top-right", "bottom-left", "bottom-right")
PREFERRED_PAIR = ("baseline", "blurpool")


# ---------------------------------------------------------------- data sets


@dataclass(frozen=True)
class DatasetSizes:
    """Sizes in pixels: a ``patch`` x ``patch`` centre crop pasted on a ``paste_canvas`` square, and
    ``window`` x ``window`` crops of the image upsampled to a ``crop_canvas`` square."""

    patch: int = 16
    paste_canvas: int = 32
    window: int = 32
    crop_canvas: int = 48


FULL_SIZES = DatasetSizes()
QUICK_SIZES = DatasetSizes(patch=16, paste_canvas=24, window=32, crop_canvas=40)


def dataset_sizes(quick: bool | None = None) -> DatasetSizes:
    """``QUICK_SIZES`` in quick mode (``quick=None`` asks ``sl.quick_mode()``), else ``FULL_SIZES``."""
    return QUICK_SIZES if (quick_mode() if quick is None else quick) else FULL_SIZES


@dataclass(frozen=True)
class ShiftedSet:
    """One image at every 1-pixel position.

    images: (P, 3, S, S) float in [0, 1], P = ny * nx, row-major over positions (y outer, x inner).
    positions: (P, 2) int64 (x, y) in pixels: the patch's top-left corner on the canvas (``"paste"``)
    or the window's top-left corner in the upsampled image (``"crop"``).
    """

    kind: str
    images: torch.Tensor
    positions: torch.Tensor
    label: int
    description: str

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(ny, nx): rows and columns of the grid of positions."""
        return int(self.positions[-1, 1]) + 1, int(self.positions[-1, 0]) + 1

    def index(self, x: int, y: int) -> int:
        """Row-major index into ``images`` of position (x, y); raises if it is off the grid."""
        check_position("position", (x, y), self.grid_shape)
        return y * self.grid_shape[1] + x


def _check_image(image: torch.Tensor) -> None:
    if not isinstance(image, torch.Tensor) or image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
        got = f"{image.dtype} {tuple(image.shape)}" if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a float tensor (3, H, W) in [0, 1], got {got}")


def paste_dataset(image: torch.Tensor, patch: int = 16, canvas: int = 32, label: int = -1) -> ShiftedSet:
    """The central ``patch`` x ``patch`` crop of ``image`` (3, H, W) pasted at every position of a
    ``canvas`` x ``canvas`` square of the patch's mean colour: (canvas - patch + 1) ** 2 images."""
    _check_image(image)
    height, width = image.shape[-2:]
    if not 1 <= patch <= min(height, width):
        raise ValueError(f"patch size {patch} must be between 1 and the image's {min(height, width)} px")
    top, left = (height - patch) // 2, (width - patch) // 2
    crop = image[:, top : top + patch, left : left + patch]
    background = tuple(crop.mean((1, 2)).tolist())
    images, positions = paste_at_every_position(crop, canvas, background)
    side = canvas - patch + 1
    description = (f"central {patch}x{patch} patch pasted on a {canvas}x{canvas} canvas (mean colour) "
                   f"at {side}x{side} positions")
    return ShiftedSet("paste", images, positions, label, description)


def crop_dataset(image: torch.Tensor, window: int = 32, canvas: int = 48, label: int = -1) -> ShiftedSet:
    """``image`` (3, H, W) upsampled (bilinear) to ``canvas`` x ``canvas``, then every ``window`` x
    ``window`` crop of it: (canvas - window + 1) ** 2 images of side ``window``."""
    _check_image(image)
    if canvas < max(image.shape[-2:]):
        raise ValueError(f"canvas {canvas} px must be at least the image's {max(image.shape[-2:])} px (this upsamples)")
    big = F.interpolate(image[None], size=(canvas, canvas), mode="bilinear", align_corners=False)[0]
    windows, positions = crop_at_every_position(big.clamp(0, 1), window)
    side = canvas - window + 1
    description = f"{window}x{window} windows of the image upsampled to {canvas}x{canvas}, at {side}x{side} offsets"
    return ShiftedSet("crop", windows, positions, label, description)


def make_dataset(kind: str, image: torch.Tensor, label: int = -1, sizes: DatasetSizes = FULL_SIZES) -> ShiftedSet:
    """The ``"paste"`` or ``"crop"`` data set of one image (3, H, W), with ``sizes``."""
    check_choice("data set", kind, DATASETS)
    if kind == "paste":
        return paste_dataset(image, sizes.patch, sizes.paste_canvas, label)
    return crop_dataset(image, sizes.window, sizes.crop_canvas, label)


# ---------------------------------------------------------------- features and heatmaps


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
        return self.pooled["logits"].argmax(1)


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Sequential) or len(model) != len(LEVELS) + 1:
        raise TypeError(f"expected a CifarVGG-like nn.Sequential of {len(LEVELS)} feature levels and a head, "
                        f"got {type(model).__name__}")


@torch.inference_mode()
def shift_features(model: nn.Module, shifted: ShiftedSet, batch_size: int = 128) -> ShiftFeatures:
    """Pooled level outputs, logits and true-class probability of every image of ``shifted``.

    One pass per batch through the levels (no second forward per layer), under ``inference_mode`` on
    a channels-last copy of ``model`` (``inference_copy``). The target is ``shifted.label``.
    """
    _check_model(model)
    check_images(shifted.images, "shifted images")
    check_batch_size(batch_size)
    if shifted.label < 0:
        raise ValueError(f"the data set's label {shifted.label} is not a class index: build it with the image's label")
    fast = inference_copy(model)
    names = LEVELS + ("logits",)
    chunks: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for batch in shifted.images.split(batch_size):
        x = batch.contiguous(memory_format=torch.channels_last)  # (B, 3, S, S)
        for name, level in zip(names, fast):
            x = level(x)
            chunks[name].append(x.float() if name == "logits" else x.float().mean((-2, -1)))  # (B, C)
    pooled = {name: torch.cat(parts) for name, parts in chunks.items()}
    classes = pooled["logits"].shape[1]
    if not 0 <= shifted.label < classes:
        raise ValueError(f"the data set's label {shifted.label} is not a class index 0..{classes - 1}")
    probability = pooled["logits"].softmax(1)[:, shifted.label]
    return ShiftFeatures(pooled, probability, shifted.label, shifted.grid_shape)


def check_position(what: str, position, grid_shape: tuple[int, int]) -> tuple[int, int]:
    """Return ``position`` as (x, y) ints; raise unless it lies on a (ny, nx) grid."""
    ny, nx = grid_shape
    if not isinstance(position, (tuple, list)) or len(position) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in position
    ):
        raise TypeError(f"{what} must be a pair of int pixels (x, y), got {position!r}")
    x, y = int(position[0]), int(position[1])
    if not (0 <= x < nx and 0 <= y < ny):
        raise ValueError(f"{what} (x, y) = ({x}, {y}) is off the {nx}x{ny} grid of positions: "
                         f"x must be in 0..{nx - 1} and y in 0..{ny - 1}")
    return x, y


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


# ---------------------------------------------------------------- cache


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
    """baseline and blurpool when both exist, else the first two names; one name is paired with itself."""
    names = list(names)
    if not names:
        raise ValueError("no trained models: train one with `python -m shiftlab.train` (see the README)")
    if all(name in names for name in PREFERRED_PAIR):
        return PREFERRED_PAIR
    return (names[0], names[1]) if len(names) > 1 else (names[0], names[0])


# ---------------------------------------------------------------- static figures


def layer_title(layer: str, anchor_xy: tuple[int, int] | None = None, target: int | None = None) -> str:
    """A short description of what a heatmap of ``layer`` shows."""
    if layer == "probability":
        return f"P({CLASSES[target]})" if target is not None and 0 <= target < len(CLASSES) else "P(true class)"
    return f"{layer}: cosine to anchor {anchor_xy}" if anchor_xy is not None else f"{layer}: cosine to anchor"


def _axis_labels(ax, kind: str, x: bool = True, y: bool = True) -> None:
    """Axis labels (on the outer panels of a grid: ``x``, ``y``) and integer ticks every 4 px."""
    what = "patch" if kind == "paste" else "window"
    ax.set_xlabel(f"{what} position x (px)" if x else "")
    ax.set_ylabel(f"{what} position y (px)" if y else "")
    ax.xaxis.set_major_locator(MultipleLocator(4))  # fixed steps: integer pixels, and quick to draw
    ax.yaxis.set_major_locator(MultipleLocator(4))


def compare_heatmaps(cache: FeatureCache, model_names, image_index: int, kinds, layers, anchor="centre",
                     vmin: float | None = None):
    """A static grid of heatmaps of one image: one row per model, one column per layer, all on one colour
    scale [vmin, 1] with one colour bar; the anchor is marked with a red cross.

    ``kinds`` is a data set for every column, or one per column. ``vmin`` defaults to ``DEFAULT_VMIN``
    of the layers' kind (the lower one if cosine maps and probabilities mix). Returns the figure.
    """
    model_names, layers = list(model_names), list(layers)
    kinds = [kinds] * len(layers) if isinstance(kinds, str) else list(kinds)
    if len(kinds) != len(layers):
        raise ValueError(f"need one data set per column: {len(layers)} layers, {len(kinds)} data sets")
    for kind, layer in zip(kinds, layers):
        check_choice("data set", kind, DATASETS)
        check_choice("layer", layer, LAYERS)
    if vmin is None:
        vmin = min(DEFAULT_VMIN[_scale_kind(layer)] for layer in layers)
    fig, axes = plt.subplots(len(model_names), len(layers), figsize=(2.7 * len(layers) + 1.2, 2.9 * len(model_names) + 0.5),
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
            _axis_labels(ax, kind, x=row == len(model_names) - 1, y=col == 0 or kinds[col - 1] != kind)
    kinds_of_scale = {_scale_kind(layer) for layer in layers}
    label = {"cosine": "cosine similarity to the anchor", "probability": "probability of the true class"}
    clipped = any(ax.images[0].get_array().min() < vmin for ax in axes.flat)
    fig.colorbar(image, ax=axes, shrink=0.8, extend="min" if clipped else "neither",  # arrow: values below vmin
                 label=" / ".join(label[k] for k in sorted(kinds_of_scale)))
    title = f"test image {image_index} ({CLASSES[int(cache.labels[image_index])]})"
    if len(set(kinds)) == 1:
        title += f", {kinds[0]}: {cache.dataset(image_index, kinds[0]).description}"
    fig.suptitle(title, fontsize=10)
    return fig


def show_dataset(shifted: ShiftedSet, anchors=ANCHORS):
    """The shifted images at the named anchor positions (corners and centre), titled with (x, y)."""
    from .plots import show_images

    points = [resolve_anchor(anchor, shifted.grid_shape) for anchor in anchors]
    images = shifted.images[[shifted.index(x, y) for x, y in points]]
    fig = show_images(images, titles=[f"{a} {p}" for a, p in zip(anchors, points)], ncols=len(points))
    fig.suptitle(f"{shifted.kind}: {shifted.description}", fontsize=9)
    return fig


def png_bytes(image: torch.Tensor, scale: int = 4) -> bytes:
    """A float image (3, H, W) in [0, 1] as PNG bytes, enlarged ``scale`` times (nearest neighbour)."""
    from PIL import Image

    _check_image(image)
    pixels = (image.detach().cpu().numpy().clip(0, 1) * 255).round().astype(np.uint8).transpose(1, 2, 0)  # (H, W, 3)
    big = pixels.repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


# ---------------------------------------------------------------- the interactive explorer


# Colour-scale minimum to start with: cosine similarities of pooled features mostly lie above 0.8,
# probabilities anywhere in [0, 1]. The maximum is always 1.0.
DEFAULT_VMIN = {"cosine": 0.8, "probability": 0.0}


def _scale_kind(layer: str) -> str:
    return "probability" if layer == "probability" else "cosine"


def _uses_ipympl() -> bool:
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend == "widget"


class ShiftExplorer:
    """Two models' heatmaps side by side, with controls (ipywidgets).

    Controls (attributes, each an ipywidget): ``model_a``, ``model_b``, ``dataset``, ``image``,
    ``layer``, ``anchor`` (a corner, the centre, or "custom" with ``anchor_x``, ``anchor_y``) and
    ``vmin``, the colour-scale minimum (the maximum is 1.0; cosine maps and probability maps each keep
    their own). ``cell_x``, ``cell_y``, or a click on a heatmap under the ipympl backend
    (``%matplotlib widget``), pick a cell: ``select(x, y)`` shows its shifted image and both models'
    values. Show the explorer as a cell's last expression or with ``display(explorer)``.

    A change of model, image or data set runs each model once per new (model, image, data set); a
    change of layer, anchor or colour scale only recomputes cosine similarities and updates the
    figure's image data in place.
    """

    def __init__(self, cache: FeatureCache | None = None, models=None, dataset: str = "paste", image_index: int = 0,
                 layer: str = "level 3", anchor="centre", vmin: float | None = None, n_images: int = 100):
        self.cache = cache or FeatureCache()
        pair = tuple(models) if models is not None else default_pair(self.cache.model_names)
        if len(pair) != 2:
            raise ValueError(f"models must be a pair of model names, got {pair!r}")
        for name in pair:
            self.cache.model(name)  # loads it; raises for an unknown name
        check_choice("data set", dataset, DATASETS)
        check_choice("layer", layer, LAYERS)
        index = self.cache.check_image_index(image_index)
        self._busy = False  # True while callbacks set controls themselves
        self.selection: dict | None = None
        self._vmins = dict(DEFAULT_VMIN)  # the colour minimum last used for cosine maps and for probabilities
        if vmin is not None:
            self._vmins[_scale_kind(layer)] = float(vmin)
        self._make_controls(pair, dataset, index, layer, anchor, n_images)
        self._build_figure()
        self.widget = self._layout()
        self._connect()
        self._redraw(select=self.anchor_position)

    # -- controls

    def _make_controls(self, pair, dataset: str, index: int, layer: str, anchor, n_images: int) -> None:
        import ipywidgets as widgets

        style = {"description_width": "initial"}
        names, labels = list(self.cache.model_names), self.cache.labels
        shown = sorted(set(range(min(n_images, len(labels)))) | {index})
        self.model_a = widgets.Dropdown(options=names, value=pair[0], description="left model", style=style)
        self.model_b = widgets.Dropdown(options=names, value=pair[1], description="right model", style=style)
        self.dataset = widgets.Dropdown(options=list(DATASETS), value=dataset, description="data set", style=style)
        self.image = widgets.Dropdown(options=[(f"{i}: {CLASSES[int(labels[i])]}", i) for i in shown], value=index,
                                      description="test image", style=style)
        self.layer = widgets.Dropdown(options=list(LAYERS), value=layer, description="layer", style=style)
        custom = not isinstance(anchor, str)
        self.anchor = widgets.Dropdown(options=list(ANCHORS) + ["custom"], value="custom" if custom else anchor,
                                       description="anchor", style=style)
        x, y = resolve_anchor(anchor, self._shifted().grid_shape)
        self.anchor_x, self.anchor_y = self._position_boxes("anchor x", x, y, disabled=not custom)
        self.vmin = widgets.FloatSlider(value=self._vmins[_scale_kind(layer)], min=-1.0, max=0.99, step=0.01,
                                        description="colour min", continuous_update=False, style=style)
        self.cell_x, self.cell_y = self._position_boxes("inspect x", x, y)
        self.cell_view = widgets.Image(format="png")
        self.info = widgets.HTML()

    def _position_boxes(self, label: str, x: int, y: int, disabled: bool = False):
        """Two integer boxes for a position (x, y) on the current grid."""
        import ipywidgets as widgets

        ny, nx = self._shifted().grid_shape
        style = {"description_width": "initial"}
        return (widgets.BoundedIntText(value=x, min=0, max=nx - 1, description=label, disabled=disabled,
                                       layout={"width": "130px"}, style=style),
                widgets.BoundedIntText(value=y, min=0, max=ny - 1, description="y", disabled=disabled,
                                       layout={"width": "90px"}, style=style))

    def _layout(self):
        import ipywidgets as widgets

        self._plot = self.figure.canvas if _uses_ipympl() else widgets.Image(format="png")
        inspect = widgets.VBox([widgets.HBox([self.cell_x, self.cell_y]), self.cell_view])
        return widgets.VBox([
            widgets.HBox([self.model_a, self.model_b, self.dataset, self.image]),
            widgets.HBox([self.layer, self.anchor, self.anchor_x, self.anchor_y, self.vmin]),
            self._plot,
            widgets.HBox([inspect, self.info]),
        ])

    def _connect(self) -> None:
        for control in (self.model_a, self.model_b, self.dataset, self.image):
            control.observe(self._on_data_change, names="value")
        for control in (self.layer, self.anchor, self.anchor_x, self.anchor_y, self.vmin):
            control.observe(self._on_view_change, names="value")
        for control in (self.cell_x, self.cell_y):
            control.observe(self._on_cell_change, names="value")
        self.figure.canvas.mpl_connect("button_press_event", self._on_click)

    @contextmanager
    def _quietly(self):
        """Set controls from inside a callback without triggering the callbacks again."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    # -- state

    @property
    def models(self) -> tuple[str, str]:
        """The names of the left and right models."""
        return self.model_a.value, self.model_b.value

    def _shifted(self) -> ShiftedSet:
        return self.cache.dataset(self.image.value, self.dataset.value)

    @property
    def anchor_position(self) -> tuple[int, int]:
        """The anchor as (x, y) on the current grid."""
        grid_shape = self._shifted().grid_shape
        if self.anchor.value == "custom":
            return check_position("anchor", (self.anchor_x.value, self.anchor_y.value), grid_shape)
        return resolve_anchor(self.anchor.value, grid_shape)

    def heatmaps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The two (ny, nx) heatmaps for the current controls."""
        image, kind, layer, anchor = self.image.value, self.dataset.value, self.layer.value, self.anchor_position
        return tuple(self.cache.heatmap(name, image, kind, layer, anchor) for name in self.models)

    # -- figure

    def _build_figure(self) -> None:
        """Two heatmaps and one colour bar, made once; redraws only change their data, limits and labels."""
        if _uses_ipympl():
            with plt.ioff():
                self.figure = plt.figure(figsize=(10, 4.3))
        else:  # a figure outside pyplot: the inline backend does not show it again at the end of the cell
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self.figure = Figure(figsize=(10, 4.3), dpi=80)
            FigureCanvasAgg(self.figure)
        self.axes = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.07, right=0.86, bottom=0.13, top=0.8, wspace=0.3)
        norm = Normalize(self.vmin.value, 1.0)  # shared: one colour scale for both maps
        self.artists = [ax.imshow(np.zeros((1, 1)), cmap="viridis", norm=norm, interpolation="nearest") for ax in self.axes]
        self._anchor_marks = [ax.plot([], [], "r+", ms=12, mew=2)[0] for ax in self.axes]
        self._cell_marks = [ax.plot([], [], "s", mfc="none", mec="white", ms=9, mew=1.5)[0] for ax in self.axes]
        self.colorbar = self.figure.colorbar(self.artists[0], cax=self.figure.add_axes((0.89, 0.13, 0.02, 0.67)),
                                             extend="min")  # values below the slider's minimum share its colour

    def _redraw(self, select: tuple[int, int] | None = None) -> None:
        shifted, anchor_xy, layer = self._shifted(), self.anchor_position, self.layer.value
        ny, nx = shifted.grid_shape
        extent = (-0.5, nx - 0.5, ny - 0.5, -0.5)
        for ax, artist, mark, name, values in zip(self.axes, self.artists, self._anchor_marks, self.models,
                                                  self.heatmaps()):
            artist.set_data(values.numpy())
            artist.set_extent(extent)
            artist.set_clim(self.vmin.value, 1.0)
            ax.set_xlim(extent[:2])
            ax.set_ylim(extent[2:])
            mark.set_data([anchor_xy[0]], [anchor_xy[1]])
            mark.set_visible(layer != "probability")
            ax.set_title(f"{name}\n{layer_title(layer, anchor_xy, shifted.label)}", fontsize=10)
            _axis_labels(ax, shifted.kind)
        self.colorbar.set_label(
            "probability of the true class" if layer == "probability" else "cosine similarity to the anchor")
        self.figure.suptitle(f"test image {self.image.value} ({CLASSES[shifted.label]}), {shifted.kind}: "
                             f"{shifted.description}", fontsize=10)
        self.select(*(select or (self.cell_x.value, self.cell_y.value)))  # new values there; draws the figure

    def _show(self) -> None:
        """Draw the figure: in place under ipympl, else as a PNG in an image widget (inline backend, tests)."""
        if _uses_ipympl():
            self.figure.canvas.draw_idle()
        else:
            buffer = io.BytesIO()
            self.figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
            self._plot.value = buffer.getvalue()

    # -- callbacks

    def _on_data_change(self, change) -> None:
        if self._busy:
            return
        ny, nx = self._shifted().grid_shape
        with self._quietly():  # the grid may have changed size: keep the anchor and the inspected cell on it
            for box, top in ((self.anchor_x, nx), (self.anchor_y, ny), (self.cell_x, nx), (self.cell_y, ny)):
                box.max = top - 1
            if self.anchor.value != "custom":
                self.anchor_x.value, self.anchor_y.value = self.anchor_position
        self._redraw()

    def _on_view_change(self, change) -> None:
        if self._busy:
            return
        old, new = change["old"], change["new"]
        if change["owner"] is self.layer and _scale_kind(old) != _scale_kind(new):
            self._vmins[_scale_kind(old)] = self.vmin.value  # each kind of map keeps its own colour minimum
            with self._quietly():
                self.vmin.value = self._vmins[_scale_kind(new)]
        self.anchor_x.disabled = self.anchor_y.disabled = self.anchor.value != "custom"
        if change["owner"] is self.anchor and new != "custom":
            with self._quietly():
                self.anchor_x.value, self.anchor_y.value = self.anchor_position
        self._redraw()

    def _on_cell_change(self, change) -> None:
        if not self._busy:
            self.select(self.cell_x.value, self.cell_y.value)

    def _on_click(self, event) -> None:
        """A click on a heatmap cell (ipympl backend) selects it."""
        if event.inaxes in list(self.axes) and event.xdata is not None:
            ny, nx = self._shifted().grid_shape
            x, y = int(round(event.xdata)), int(round(event.ydata))
            if 0 <= x < nx and 0 <= y < ny:
                self.select(x, y)

    # -- inspecting one cell

    def select(self, x: int, y: int) -> dict:
        """Show the shifted image at position (x, y) and both models' values there. Returns (and keeps as
        ``selection``) a dict: x, y, image (3, S, S), models, values (the two heatmaps at (x, y)),
        probabilities (of the true class) and predictions (top-1 class names)."""
        shifted = self._shifted()
        x, y = check_position("cell", (x, y), shifted.grid_shape)
        index = shifted.index(x, y)
        features = [self.cache.features(name, self.image.value, self.dataset.value) for name in self.models]
        self.selection = {
            "x": x, "y": y, "image": shifted.images[index], "models": self.models,
            "values": tuple(float(values[y, x]) for values in self.heatmaps()),
            "probabilities": tuple(float(f.probability[index]) for f in features),
            "predictions": tuple(CLASSES[int(f.predictions[index])] for f in features),
        }
        with self._quietly():
            self.cell_x.value, self.cell_y.value = x, y
        for mark in self._cell_marks:
            mark.set_data([x], [y])
        self.cell_view.value = png_bytes(shifted.images[index], scale=max(1, 128 // shifted.images.shape[-1]))
        self.info.value = self._info_html()
        self._show()
        return self.selection

    def _info_html(self) -> str:
        s, layer = self.selection, self.layer.value
        shown = "P(true class)" if layer == "probability" else f"{layer} cosine to anchor {self.anchor_position}"
        rows = "".join(
            f"<tr><td>{name}</td><td>{value:.4f}</td><td>{p:.4f}</td><td>{prediction}</td></tr>"
            for name, value, p, prediction in zip(s["models"], s["values"], s["probabilities"], s["predictions"])
        )
        return (f"<b>position ({s['x']}, {s['y']})</b>, true class {CLASSES[self._shifted().label]}<br>"
                f"<table><tr><th>model</th><th>shown: {shown}</th><th>P(true class)</th><th>top-1</th></tr>"
                f"{rows}</table>")

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
