"""Figures that notebooks make in one line: shift heatmaps, feature-map grids and image rows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from .checks import check_images
from .data import CLASSES


def shift_heatmap(values: torch.Tensor, dxs, dys, ax=None, title: str = "", colorbar_label: str = "",
                  cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None, annotate: bool | None = None):
    """Heatmap of a (len(dys), len(dxs)) grid over shifts in pixels; dy grows downwards, as on screen.

    Cells are annotated with their values when the grid is small (at most 9 x 9) unless ``annotate``
    says otherwise (9 pt text fits a 9 x 9 grid). Returns the axes.
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
    if annotate if annotate is not None else max(values.shape) <= 9:
        middle = (values.max() + values.min()) / 2
        for row, dy in enumerate(dys):
            for col, dx in enumerate(dxs):
                value = values[row, col].item()
                ax.text(dx, dy, f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}", ha="center", va="center",
                        fontsize=9, color="black" if value > middle else "white")
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
            ax.set_title(f"ch {index}", fontsize=9)
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
        ax.set_title(title, fontsize=9)
    return fig


def exactness_bars(errors: dict, threshold: float, ylabel: str = "relative error", floor: float = 1e-9):
    """Bars of errors per input size, one panel per model, green below ``threshold`` (exact up to
    round-off) and red above, on a log scale with the threshold as a dashed line. Returns the figure.

    Args:
        errors: {(model name, input size in px): error}, e.g. assignment 1's flip errors; panels follow
            the order in which model names first appear, bars the order of their sizes.
        threshold: errors below it count as exact (e.g. 1e-5 for float32 round-off).
        ylabel: label of the shared y axis (what the error measures).
        floor: errors below it (e.g. exactly 0) are drawn at ``floor``, which a log scale can show.
    """
    if not errors:
        raise ValueError("errors is empty: expected {(model name, size): error} with at least one entry")
    models = list(dict.fromkeys(name for name, _ in errors))
    fig, axes = plt.subplots(1, len(models), figsize=(min(4.8 * len(models), 9.6), 3.6), sharey=True, squeeze=False)
    for ax, model in zip(axes[0], models):
        sizes = [size for name, size in errors if name == model]
        values = [max(errors[model, size], floor) for size in sizes]
        ax.bar([str(size) for size in sizes], values, color=["tab:green" if v < threshold else "tab:red" for v in values])
        ax.axhline(threshold, color="black", linestyle="--", linewidth=1)
        ax.set(yscale="log", xlabel="input size (px, square)", title=model)
    axes[0, 0].set_ylabel(ylabel)
    handles = [plt.Line2D([], [], color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:g}"),
               plt.Rectangle((0, 0), 1, 1, color="tab:green", label="below: exact up to round-off"),
               plt.Rectangle((0, 0), 1, 1, color="tab:red", label="above: not exact")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend under the panels
    return fig


# ---------------------------------------------------------------- lesson 4: sampling, comparisons with intervals
# Each draws data computed elsewhere (shiftlab.spectra, shiftlab.metrics); figures stay within 9.7 x 4 inches.


def frequency_response_plot(freqs, gains: dict, nyquist: float, ax=None):
    """Gain |H(f)| of filters against frequency (cycles per input pixel), one line per entry of ``gains``
    ({label: (F,) gains at ``freqs``}), with a dashed line at the new grid's Nyquist frequency ``nyquist`` and each
    filter's gain there written beside its marker. Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.6))
    freqs = torch.as_tensor(freqs, dtype=torch.float64)
    at_nyquist = int((freqs - nyquist).abs().argmin())
    for index, (label, gain) in enumerate(gains.items()):
        gain = torch.as_tensor(gain, dtype=torch.float64)
        line, = ax.plot(freqs.numpy(), gain.numpy(), label=label)
        value = gain[at_nyquist].item()
        ax.plot([nyquist], [value], "o", color=line.get_color())
        ax.annotate(f"{value:.2f}", (nyquist, value), xytext=(6, 2 - 9 * index), textcoords="offset points", fontsize=9,
                    color=line.get_color())
    ax.axvline(nyquist, color="black", linestyle="--", linewidth=1, label=f"new Nyquist f = {nyquist:g}")
    ax.set(xlabel="frequency f (cycles per input pixel)", ylabel="gain |H(f)|", xlim=(0, freqs.max().item()), ylim=(0, 1.05),
           title="Blur filters: what passes to the subsampled grid")
    ax.legend(fontsize=9)
    return ax


def spectrum_profile_plot(profiles: dict, nyquist: float, ax=None):
    """Share of the power (%, log scale) at each radius max(|fy|, |fx|) (cycles per pixel), one line per entry of
    ``profiles`` ({label: (radii, shares)}, e.g. ``shiftlab.spectra.spectrum_profile``), with the frequencies that
    subsampling by 2 folds (radius >= ``nyquist``) shaded. Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.6))
    for label, (radii, shares) in profiles.items():
        radii, shares = torch.as_tensor(radii), torch.as_tensor(shares)
        keep = radii > 0  # the mean (radius 0) holds no power: each map's mean is removed
        ax.plot(radii[keep].numpy(), shares[keep].clamp_min(1e-6).numpy(), marker=".", label=label)
    ax.axvspan(nyquist, 0.5, color="grey", alpha=0.15, label="folded by subsampling")
    ax.axvline(nyquist, color="black", linestyle="--", linewidth=1)
    ax.set(xlabel="frequency max(|fy|, |fx|) (cycles per pixel)", ylabel="share of the power (%)", yscale="log",
           xlim=(0, 0.5), title="Feature-map spectra before subsampling")
    ax.legend(fontsize=9)
    return ax


def offset_samples_plot(signals: dict, step: int, offsets=(0, None)):
    """One panel per entry of ``signals`` ({label: (L,) finely sampled periodic signal}): the signal as a line and
    every ``step``-th sample at two offsets (default 0 and ``step // 2``, i.e. grids half a coarse sample apart),
    with the mean and the maximum of each set of samples in the legend. x in coarse samples. Returns the figure."""
    offsets = [step // 2 if offset is None else offset for offset in offsets]
    fig, axes = plt.subplots(1, len(signals), figsize=(min(4.8 * len(signals), 9.6), 3.4), squeeze=False, sharey=True)
    for ax, (label, signal) in zip(axes[0], signals.items()):
        signal = torch.as_tensor(signal, dtype=torch.float64)
        x = torch.arange(len(signal)) / step
        ax.plot(x.numpy(), signal.numpy(), color="grey", linewidth=1, label="signal")
        for offset, marker in zip(offsets, ("o", "s")):
            samples = signal[offset::step]
            ax.plot(x[offset::step].numpy(), samples.numpy(), marker, markersize=4,
                    label=f"grid + {offset / step:g}: mean {samples.mean():.3f}, max {samples.max():.2f}")
        ax.set(title=label, xlabel="position (coarse samples)")
        ax.legend(fontsize=9, loc="lower right")
    axes[0, 0].set_ylabel("value")
    fig.tight_layout()
    return fig


def estimate_bars(estimates: dict, marks: dict | None = None, mark_label: str = "", ylabel: str = "%"):
    """One panel per metric: a bar per model with its interval as an error bar, the value above it (9 pt).

    Args:
        estimates: {model: {metric: Estimate}} (``shiftlab.metrics.Estimate``: value, low, high, n).
        marks: optional {model: {metric: value}} drawn as black dots (e.g. the manifest's measurements).
        mark_label: legend entry for the dots.
        ylabel: unit of the y axis.
    The y axis does not start at 0 (its range is printed in the label). Returns the figure.
    """
    models = list(estimates)
    metrics = list(dict.fromkeys(metric for values in estimates.values() for metric in values))
    fig, axes = plt.subplots(1, len(metrics), figsize=(9.6, 3.9), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        shown = [m for m in models if metric in estimates[m]]
        values = [estimates[m][metric] for m in shown]
        heights = [v.value for v in values]
        errors = [[v.value - v.low for v in values], [v.high - v.value for v in values]]
        ax.bar(range(len(shown)), heights, color=[f"C{models.index(m)}" for m in shown], yerr=errors, capsize=3)
        for index, v in enumerate(values):
            ax.text(index, v.high + 0.3, f"{v.value:.1f}", ha="center", va="bottom", fontsize=9)
        if marks:
            dots = [(i, marks[m][metric]) for i, m in enumerate(shown) if metric in marks.get(m, {})]
            if dots:
                ax.plot(*zip(*dots), "ko", markersize=4, label=mark_label)
        bottom = min(80.0, 5 * ((min(v.low for v in values) - 3) // 5))
        ax.set_xticks(range(len(shown)), shown, rotation=40, ha="right", fontsize=9)
        ax.set(ylim=(bottom, 102), ylabel=f"{ylabel} (axis from {bottom:g})",
               title=f"{metric.replace('_', ' ')}\n({values[0].n} images)")
    if marks and any(ax.get_legend_handles_labels()[0] for ax in axes[0]):
        handles, labels = next(ax.get_legend_handles_labels() for ax in axes[0] if ax.get_legend_handles_labels()[0])
        fig.legend(handles, labels, loc="lower center", fontsize=9, frameon=False)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
    else:
        fig.tight_layout()
    return fig



def map_panels(maps: dict, title: str, colorbar_label: str, ncols: int = 4, cmap: str = "magma"):
    """One panel per entry of ``maps`` ({label: (H, W) map}), all on one colour scale from 0 to the largest value
    (1 if every map is 0), in rows of ``ncols``, with one colour bar. Returns the figure."""
    if not maps:
        raise ValueError("maps is empty: expected {label: (H, W) map}")
    values = {label: torch.as_tensor(m).detach().cpu().float() for label, m in maps.items()}
    if any(v.ndim != 2 for v in values.values()):
        raise ValueError(f"expected (H, W) maps, got shapes {[tuple(v.shape) for v in values.values()]}")
    vmax = max(v.max().item() for v in values.values()) or 1.0
    nrows = -(-len(values) // ncols)
    fig, axes = plt.subplots(nrows, min(ncols, len(values)), figsize=(9.6, 2.5 * nrows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, value) in zip(axes.flat, values.items()):
        image = ax.imshow(value.numpy(), cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(label, fontsize=10)
    fig.colorbar(image, ax=axes.ravel().tolist(), label=colorbar_label)
    fig.suptitle(title)
    return fig
