"""Figures that notebooks make in one line: shift heatmaps, feature-map grids and image rows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .checks import check_images
from .data import CLASSES


def shift_heatmap(values: torch.Tensor, dxs, dys, ax=None, title: str = "", colorbar_label: str = "",
                  cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None, annotate: bool | None = None):
    """Heatmap of a (len(dys), len(dxs)) grid over shifts in pixels; dy grows downwards, as on screen.

    Cells are annotated with their values when the grid is small (at most 11 x 11) unless ``annotate``
    says otherwise. Returns the axes.
    """
    values = torch.as_tensor(values).detach().cpu().float()
    dxs, dys = torch.as_tensor(dxs).tolist(), torch.as_tensor(dys).tolist()
    if values.shape != (len(dys), len(dxs)):
        raise ValueError(f"values must have shape (len(dys), len(dxs)) = ({len(dys)}, {len(dxs)}), got {tuple(values.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    step_x = (dxs[-1] - dxs[0]) / max(len(dxs) - 1, 1) or 1
    step_y = (dys[-1] - dys[0]) / max(len(dys) - 1, 1) or 1
    extent = (dxs[0] - step_x / 2, dxs[-1] + step_x / 2, dys[-1] + step_y / 2, dys[0] - step_y / 2)
    image = ax.imshow(values.numpy(), cmap=cmap, vmin=vmin, vmax=vmax, extent=extent, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    ax.set_xlabel("horizontal shift dx (px, + = right)")
    ax.set_ylabel("vertical shift dy (px, + = down)")
    ax.set_title(title)
    if annotate if annotate is not None else max(values.shape) <= 11:
        middle = (values.max() + values.min()) / 2
        for row, dy in enumerate(dys):
            for col, dx in enumerate(dxs):
                value = values[row, col].item()
                ax.text(dx, dy, f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}", ha="center", va="center",
                        fontsize=7, color="black" if value > middle else "white")
    return ax


def feature_grid(maps: torch.Tensor, title: str = "", ncols: int = 8, cmap: str = "magma",
                 symmetric: bool = False, max_maps: int = 32, colorbar_label: str = "activation"):
    """Plot the channels of one feature map (C, H, W) as a grid on one shared colour scale with a colour bar.

    ``symmetric`` centres the scale on 0 (for signed maps such as differences from a reference). Maps that
    are constant everywhere get a scale of +-1 around their value, so they show the scale's middle colour.
    Returns the figure.
    """
    maps = torch.as_tensor(maps).detach().cpu().float()
    if maps.ndim != 3:
        raise ValueError(f"expected feature maps (C, H, W), got shape {tuple(maps.shape)}")
    maps = maps[:max_maps]
    nrows = -(-len(maps) // ncols)
    ncols = min(ncols, len(maps))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols + 1, 1.3 * nrows + 0.6), squeeze=False)
    low, high = maps.min().item(), maps.max().item()
    if symmetric:
        low, high = -max(abs(low), abs(high)), max(abs(low), abs(high))
    if low == high:  # matplotlib would draw a flat map in the lowest colour
        low, high = low - 1.0, high + 1.0
    for index, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if index < len(maps):
            image = ax.imshow(maps[index].numpy(), cmap=cmap, vmin=low, vmax=high)
            ax.set_title(f"ch {index}", fontsize=7)
        else:
            ax.axis("off")
    fig.colorbar(image, ax=axes, shrink=0.8, label=colorbar_label)
    fig.suptitle(title)
    return fig


def show_images(images: torch.Tensor, titles=None, labels: torch.Tensor | None = None, ncols: int = 8):
    """Show float images (N, 3, H, W) in [0, 1] in a grid, titled by ``titles`` or class names. Returns the figure."""
    check_images(images)
    if titles is None:
        titles = [CLASSES[int(label)] for label in labels] if labels is not None else [""] * len(images)
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.5 * ncols, 1.7 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles):
        ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(title, fontsize=8)
    return fig
