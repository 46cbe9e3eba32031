"""What padding leaves at the border of feature maps: the bookkeeping and figures around notebook 03's measures.

Notebook 03 asks students to write the measures themselves (border contrast, its value per layer, the
profile over the distance from the edge); nothing here computes them. These helpers take the students'
per-layer values and do the rest: deviation maps from the centre, profiles put on the input's pixel
scale, how far in a pattern reaches, and the figures. Layers are named ``"level.layer"`` as in
``shiftlab.features``; dicts keep the forward order.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import LogNorm

from .plots import feature_grid


def centre_deviation(maps: torch.Tensor) -> torch.Tensor:
    """Each map minus its own value at the centre pixel (H // 2, W // 2): (..., H, W) -> (..., H, W).

    Zero where a pixel is as in the centre; a map that is constant per channel becomes all zeros, so
    small border patterns show on a shared colour scale even when channels sit at different levels.

    >>> centre_deviation(torch.tensor([[[1.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 5.0]]]))
    tensor([[[-1., -1., -1.],
             [-1.,  0., -1.],
             [-1., -1.,  3.]]])
    """
    if maps.ndim < 2:
        raise ValueError(f"expected maps (..., H, W), got shape {tuple(maps.shape)}")
    height, width = maps.shape[-2:]
    return maps - maps[..., height // 2, width // 2, None, None]


def show_layers(maps: dict[str, torch.Tensor], title: str, max_maps: int = 32, **grid_options) -> list:
    """One ``feature_grid`` of the first ``max_maps`` channels per layer of ``maps`` ({layer: (C, H, W)}, in the
    order given), titled "<title>: layer <name>, <H>x<W> px" plus how many channels are shown when not all are.

    ``grid_options`` go to ``feature_grid`` (``ncols``, ``cmap``, ``symmetric``, ``colorbar_label``).
    Returns the figures (the notebook shows them at the end of the cell).
    """
    figures = []
    for name, output in maps.items():
        if output.ndim != 3:
            raise ValueError(f"layer {name}: expected one map (C, H, W), got shape {tuple(output.shape)}")
        shown = min(len(output), max_maps)
        extent = f"{title}: layer {name}, {output.shape[-2]}x{output.shape[-1]} px"
        figures.append(feature_grid(output, title=extent + (f", first {shown} of {len(output)} channels"
                                                            if shown < len(output) else ""), max_maps=max_maps,
                                    **grid_options))
    return figures


def input_pixel_profiles(profiles: dict[str, torch.Tensor], input_size: int, map_sizes: dict[str, int],
                         width: int) -> torch.Tensor:
    """Put per-layer edge profiles on the input's pixel scale: a (layers, width) table.

    profiles: {layer: (D,)} one value per distance from the nearest edge, in the layer's own pixels;
    map_sizes: {layer: side of its map in pixels}. A pixel of a map of side s covers input_size // s
    input pixels, so each value is repeated that often; columns are input pixels from the edge, 0 to
    width - 1 (beyond a profile's end: 0).
    """
    table = torch.zeros(len(profiles), width)
    for row, (name, profile) in enumerate(profiles.items()):
        spread = torch.as_tensor(profile, dtype=torch.float32).repeat_interleave(input_size // map_sizes[name])
        table[row, : min(width, len(spread))] = spread[:width]
    return table


def border_reach(profiles: dict[str, torch.Tensor], input_size: int, map_sizes: dict[str, int],
                 threshold: float = 1e-3) -> dict[str, int]:
    """How many input pixels, counted from the edge, differ from the centre, per layer.

    For a profile (D,) of a map of side s: (the largest distance d with a value above ``threshold``, plus 1)
    times input_size // s, the input pixels per map pixel; 0 when no value is above the threshold.

    >>> border_reach({"a": torch.tensor([0.5, 0.01, 0.0]), "b": torch.zeros(2)}, 12, {"a": 6, "b": 4})
    {'a': 4, 'b': 0}
    """
    reach = {}
    for name, profile in profiles.items():
        above = (torch.as_tensor(profile) > threshold).nonzero()
        reach[name] = (int(above.max()) + 1) * (input_size // map_sizes[name]) if len(above) else 0
    return reach


def median_from(curve: dict[str, float], first: str) -> float:
    """The median of a per-layer curve ({layer: value}, forward order) over layer ``first`` and every later one
    (for an even count, the lower of the two middle values, as ``torch.median``).

    >>> median_from({"0.0": 9.0, "1.0": 1.0, "1.1": 3.0, "2.0": 2.0}, "1.0")
    2.0
    """
    layers = list(curve)
    if first not in curve:
        raise KeyError(f"no layer {first!r} in the curve; its layers run from {layers[0]!r} to {layers[-1]!r}")
    return torch.tensor(list(curve.values())[layers.index(first):]).median().item()


def plot_layer_curves(curves: dict[str, dict[str, float]], title: str, ylabel: str, first: str | None = None,
                      ax=None, **line_options):
    """One line per entry of ``curves`` ({label: {layer: value}}) over the layers of the first curve, in
    forward order (deeper to the right), from layer ``first`` on (default: all). Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(9.6, 4.2))
    layers = list(next(iter(curves.values())))
    if first is not None:
        if first not in layers:
            raise KeyError(f"no layer {first!r} in the curves; their layers run from {layers[0]!r} to {layers[-1]!r}")
        layers = layers[layers.index(first):]
    for label, curve in curves.items():
        ax.plot(range(len(layers)), [curve[name] for name in layers], marker="o", markersize=3, label=label,
                **line_options)
    ax.set_xticks(range(len(layers)), layers, rotation=90, fontsize=9)
    ax.set(xlabel="layer 'level.layer' (deeper to the right)", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return ax


def plot_edge_profiles(table: torch.Tensor, row_labels: list[str], title: str, floor: float = 1e-4):
    """Heatmap of a (layers, distance) table of edge profiles on a logarithmic colour scale; values below
    ``floor`` are drawn in the lowest colour. Draws nothing and returns None when no value reaches
    ``floor`` (a logarithmic scale needs a positive maximum); else returns the figure."""
    table = torch.as_tensor(table, dtype=torch.float32)
    if len(row_labels) != len(table):
        raise ValueError(f"need one label per row: {len(table)} rows, {len(row_labels)} labels")
    if not float(table.max()) > floor:
        return None
    fig, ax = plt.subplots(figsize=(9, 6.5))
    image = ax.imshow(table.clamp(min=floor).numpy(), norm=LogNorm(vmin=floor, vmax=float(table.max())),
                      cmap="magma", aspect="auto")
    fig.colorbar(image, ax=ax, label="deviation from the centre (edge profile, no unit)")
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=9)
    ax.set(xlabel="distance from the nearest edge (input pixels)", ylabel="layer (map size)", title=title)
    return fig
