"""What a translation sweep's predictions say about robustness, with no further forward passes.

- ``correct_share`` and ``agreement_over``: image by image, the share of a set of shifts classified correctly, and
  the share of pairs of those shifts that agree on the top-1 class (per-image values for paired comparisons of
  shift methods or models measured on the same images, e.g. with ``comparison_table``).
- ``accuracy_over``: the accuracy pooled over a set of shifts, with its standard error over images.
- ``unchanged_share``: at every shift of the grid, the share of images whose top-1 class is the one they
  get at a reference shift (usually no shift): how many decisions a shift leaves alone.
- ``worst_case_error``: for each radius k, the share of images that at least one shift of the grid with
  |dx| <= k and |dy| <= k misclassifies. This is the translation part of the worst case of Engstrom et al.,
  "Exploring the landscape of spatial robustness" (ICML 2019), where an adversary picks, per image, the worst
  of a grid of translations (on CIFAR-10 up to 3 px each way) and rotations; an image counts as robust only
  if every transformation of the grid leaves it correctly classified.
- ``plot_unchanged_share`` and ``plot_worst_case`` draw them.

Percentages are in [0, 100], shifts in pixels; standard errors are binomial over the N images of a sweep.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

from .metrics import grid_agreement, robust_per_image, standard_error
from .sweeps import SweepResult


def _predictions_at(sweep: SweepResult, shifts, least: int = 1) -> torch.Tensor:
    """The sweep's predictions (S, N) at ``shifts`` [(dx, dy), ...] of its grid, in that order."""
    positions = [sweep.position(int(dx), int(dy)) for dx, dy in shifts]
    if len(positions) < least:
        raise ValueError(f"expected at least {least} (dx, dy) shifts of the sweep's grid, got {len(positions)}")
    return torch.stack([sweep.predictions[row, col] for row, col in positions])


def correct_share(sweep: SweepResult, shifts) -> torch.Tensor:
    """Image by image, the share (%) of ``shifts`` [(dx, dy), ...] of the grid at which the image is classified
    correctly; (N,) float64. Its mean is the accuracy pooled over those shifts."""
    return (_predictions_at(sweep, shifts) == sweep.labels).double().mean(0) * 100


def agreement_over(sweep: SweepResult, shifts) -> torch.Tensor:
    """Image by image, the share (%) of the pairs of distinct ``shifts`` [(dx, dy), ...] of the grid whose top-1
    classes agree (classification consistency over every pair of those shifts, no labels needed); (N,) float64."""
    return grid_agreement(_predictions_at(sweep, shifts, least=2))


def accuracy_over(sweep: SweepResult, shifts) -> tuple[float, float]:
    """Top-1 accuracy (%) pooled over ``shifts`` [(dx, dy), ...] of the grid, and its standard error in points.

    Each image's share of those shifts classified correctly (``correct_share``) is one value; the images, not the
    (image, shift) pairs, are the independent units (an image that fails at one shift tends to fail at its
    neighbours), so the standard error is the standard deviation of the N per-image values over sqrt(N).

    Returns (accuracy, standard error).
    """
    per_image = correct_share(sweep, shifts)  # (N,)
    return per_image.mean().item(), (per_image.std() / len(per_image) ** 0.5).item()


def unchanged_share(sweep: SweepResult, dx: int = 0, dy: int = 0) -> torch.Tensor:
    """Share (%) of images whose top-1 class at each shift of the grid equals their class at shift (dx, dy).

    Returns a float64 tensor (len(dys), len(dxs)); it is 100 at (dx, dy) itself.
    """
    row, col = sweep.position(dx, dy)
    reference = sweep.predictions[row, col]  # (N,)
    return (sweep.predictions == reference).double().mean(-1) * 100


def chebyshev_radii(sweep: SweepResult) -> list[int]:
    """The distinct radii max(|dx|, |dy|) of the grid's shifts, ascending: the k at which the worst case can change.

    >>> from types import SimpleNamespace
    >>> chebyshev_radii(SimpleNamespace(dxs=torch.tensor([-4, -2, 0, 2, 4]), dys=torch.tensor([0])))
    [0, 2, 4]
    """
    radius = torch.maximum(sweep.dys.abs()[:, None], sweep.dxs.abs()[None, :])
    return sorted(set(radius.flatten().tolist()))


def worst_case_error(sweep: SweepResult, radii=None) -> torch.Tensor:
    """For each k in ``radii`` (default ``chebyshev_radii(sweep)``), the share (%) of images that one or more
    shifts of the grid with |dx| <= k and |dy| <= k misclassify.

    With (0, 0) in the grid, k = 0 gives the plain error rate; the curve never decreases with k. Only the
    grid's shifts count: a one-row sweep (dys = [0]) gives the worst case over horizontal shifts, a lower
    bound of the worst case over all 2-D shifts within the same radius. Each value is 100 minus the mean of
    ``shiftlab.metrics.robust_per_image`` (per image, right under every such shift), which pairs models per image.

    Returns a float64 tensor (len(radii),).
    """
    radius = torch.maximum(sweep.dys.abs()[:, None], sweep.dxs.abs()[None, :])  # (Y, X)
    radii = chebyshev_radii(sweep) if radii is None else [int(k) for k in radii]
    reach = int(radius.max())
    for k in radii:
        if not radius.min() <= k <= reach:
            raise ValueError(f"radius {k} px is outside the grid's shifts, which reach from "
                             f"{int(radius.min())} to {reach} px (max(|dx|, |dy|))")
    return torch.stack([100 - robust_per_image(sweep, k).mean() for k in radii])


def plot_unchanged_share(sweep: SweepResult, period: int | None = None, ax=None, title: str = ""):
    """Bars of ``unchanged_share`` (reference: no shift) along a one-row sweep, bars at multiples of ``period``
    in green, each labelled with its value; the y axis starts just below the lowest bar (said in the label).

    Returns the axes.
    """
    if len(sweep.dys) != 1:
        raise ValueError(f"expected a one-row sweep (one dy), got dys {sweep.dys.tolist()}")
    if period is not None and (isinstance(period, bool) or not isinstance(period, int) or period < 1):
        raise ValueError(f"period must be a positive int number of pixels or None, got {period!r}")
    shares = unchanged_share(sweep, 0, int(sweep.dys[0]))[0]
    dxs = sweep.dxs.tolist()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    colours = ["tab:green" if period and dx % period == 0 else "tab:blue" for dx in dxs]
    bars = ax.bar(dxs, shares.numpy(), color=colours)
    ax.bar_label(bars, fmt="%.1f", rotation=90, fontsize=9, padding=2)
    bottom = max(0, 5 * math.floor((shares.min().item() - 3) / 5))  # zoom in on the differences
    top = 100 + 0.45 * (100 - bottom)  # room above the bars for their labels and the legend
    ax.set(xlabel="horizontal shift dx (px, + = right)", ylim=(bottom, top), title=title,
           ylabel=f"same top-1 class as at dx = 0 (%)\n(axis from {bottom}%)")
    ax.set_yticks([tick for tick in ax.get_yticks() if bottom <= tick <= 100])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if period:
        ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="tab:green", label=f"dx a multiple of {period} px"),
                           plt.Rectangle((0, 0), 1, 1, color="tab:blue", label="other shifts")],
                  loc="upper center", ncol=2)
    return ax


def plot_worst_case(sweeps: Mapping[str, SweepResult], ax=None, title: str = "",
                    styles: Mapping[str, dict] | None = None):
    """``worst_case_error`` against the radius k for each sweep, at every radius its grid has, with error bars
    of plus or minus one binomial standard error over its images.

    Args:
        sweeps: {legend label: SweepResult}; one-row sweeps give horizontal shifts only (say so in the label).
        styles: optional {label: matplotlib line options}.

    Returns the axes.
    """
    if not sweeps:
        raise ValueError("sweeps is empty: expected {label: SweepResult}")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for label, sweep in sweeps.items():
        radii = chebyshev_radii(sweep)
        errors = worst_case_error(sweep, radii)
        bars = [standard_error(value, sweep.predictions.shape[-1]) for value in errors.tolist()]
        ax.errorbar(radii, errors.numpy(), yerr=bars, marker="o", markersize=4, capsize=2, label=label,
                    **(styles or {}).get(label, {}))
    ax.set(xlabel="largest shift allowed, k (px): every shift of the sweep with |dx|, |dy| <= k",
           ylabel="images misclassified by\nat least one of those shifts (%)", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
