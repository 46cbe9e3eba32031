"""Translation sweeps: accuracy, loss and predictions of a model over a grid of shifts (dx, dy).

Each image is padded once for the largest shift; every forward pass then takes a batch of windows of
that canvas, many shifts at once, so a sweep runs at the model's own throughput (``inference_copy``,
channels-last). Long sweeps show a ``tqdm`` progress bar unless ``progress=False``.
A ``SweepResult`` draws its grid as a heatmap (``.plot``) or prints it (``.table``); ``plot_shift_curves``
draws one-row sweeps as curves against the shift, with their standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import nn

from .checks import check_batch_size, check_choice, check_images, check_labels, check_shift_values
from .inference import forward_logits, inference_copy
from .lesson import progress_bar
from .metrics import grid_consistency
from .shifts import SHIFT_METHODS, pad_for_shifts, window


@dataclass(frozen=True)
class SweepResult:
    """A translation sweep: metrics for every (dx, dy) of a grid, rows indexed by dy, columns by dx.

    accuracy: (len(dys), len(dxs)) top-1 accuracy in percent.
    loss: (len(dys), len(dxs)) mean cross-entropy in nats.
    predictions: (len(dys), len(dxs), N) predicted class of every shifted image.
    labels: (N,) true classes of the N images, so that measures over shifts can be computed from the
        predictions alone (``shiftlab.robustness``) without running the model again.
    """

    dxs: torch.Tensor
    dys: torch.Tensor
    accuracy: torch.Tensor
    loss: torch.Tensor
    predictions: torch.Tensor
    labels: torch.Tensor
    method: str

    def position(self, dx: int, dy: int) -> tuple[int, int]:
        """(row, column) of shift (dx, dy) in the grids; a ValueError lists the grid's values if it is not there."""
        return _grid_index(self.dys, dy, "dy"), _grid_index(self.dxs, dx, "dx")

    def at(self, dx: int, dy: int) -> tuple[float, float]:
        """(accuracy, loss) at shift (dx, dy)."""
        row, col = self.position(dx, dy)
        return self.accuracy[row, col].item(), self.loss[row, col].item()

    def consistency(self) -> float:
        """Exhaustive classification consistency (%): over all pairs of distinct shifts in the grid, how
        often an image gets the same top-1 class under both (averaged over images)."""
        return grid_consistency(self.predictions.flatten(0, 1))

    def table(self, metric: str = "accuracy") -> str:
        """The grid of ``metric`` ('accuracy' in %, 'loss' in nats) as text: one row per dy, one column per dx.

        For reading exact values off a heatmap (its cell annotations are too small to read on large grids).
        """
        check_choice("metric", metric, ("accuracy", "loss"))
        values, digits = getattr(self, metric), (1 if metric == "accuracy" else 2)
        header = "dy \\ dx " + "".join(f"{dx:>7d}" for dx in self.dxs.tolist())
        rows = [f"{dy:>7d}  " + "".join(f"{v:>7.{digits}f}" for v in row.tolist())
                for dy, row in zip(self.dys.tolist(), values)]
        return "\n".join([header, *rows])

    def plot(self, metric: str = "accuracy", ax=None, **kwargs):
        """Heatmap of ``metric`` ('accuracy' or 'loss') over the grid, axes in pixels; returns the axes."""
        from .plots import shift_heatmap

        check_choice("metric", metric, ("accuracy", "loss"))
        label = "top-1 accuracy (%)" if metric == "accuracy" else "mean cross-entropy (nats)"
        title = kwargs.pop("title", f"{label.split(' (')[0].capitalize()} under {self.method} shifts")
        return shift_heatmap(getattr(self, metric), self.dxs, self.dys, ax=ax, colorbar_label=label, title=title, **kwargs)


def _grid_index(values: torch.Tensor, value: int, name: str) -> int:
    matches = (values == value).nonzero()
    if len(matches) == 0:
        raise ValueError(f"{name}={value} is not in the sweep's grid {values.tolist()}")
    return int(matches[0])


def shift_range(max_shift: int, step: int = 1) -> list[int]:
    """Symmetric shifts -max_shift..max_shift in steps of ``step``, always including 0.

    >>> shift_range(4, 2)
    [-4, -2, 0, 2, 4]
    """
    if max_shift < 0 or step < 1:
        raise ValueError(f"need max_shift >= 0 and step >= 1, got max_shift={max_shift}, step={step}")
    positive = list(range(step, max_shift + 1, step))
    return [-s for s in reversed(positive)] + [0] + positive


@torch.inference_mode()
def translation_sweep(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    dxs=tuple(range(-8, 9, 2)),
    dys=None,
    method: str = "affine",
    batch_size: int = 256,
    progress: bool = True,
) -> SweepResult:
    """Evaluate ``model`` on every shift (dx, dy) in dxs x dys (dys defaults to dxs) with ``method``."""
    check_images(images)
    check_labels(labels, images)
    check_choice("shift method", method, SHIFT_METHODS)
    check_batch_size(batch_size)
    dxs = check_shift_values(dxs, "dxs")
    dys = check_shift_values(dys if dys is not None else dxs, "dys")
    margin = (max(abs(v) for v in dxs), max(abs(v) for v in dys))
    canvas = pad_for_shifts(images, margin, method)  # also checks that every shift is in range
    shifts = list(product(dys, dxs))  # row-major: dy outer, dx inner
    predictions, losses = _sweep_all(inference_copy(model), canvas, labels, margin, shifts, images.shape[-2:],
                                     batch_size, progress_bar(total=len(shifts) * len(images), desc=f"{method} sweep",
                                                              unit="img", enabled=progress))
    predictions = predictions.view(len(dys), len(dxs), len(images))
    return SweepResult(
        dxs=torch.tensor(dxs),
        dys=torch.tensor(dys),
        accuracy=(predictions == labels).double().mean(-1).float() * 100,
        loss=losses.view(len(dys), len(dxs), len(images)).mean(-1),
        predictions=predictions,
        labels=labels.clone(),
        method=method,
    )


def plot_shift_curves(sweeps: Mapping[str, SweepResult], metric: str = "accuracy", ax=None, title: str = "",
                      styles: Mapping[str, dict] | None = None, period: int | None = None):
    """Curves of ``metric`` against the horizontal shift, one per one-row sweep (one dy, many dxs), on one axes.

    Accuracy curves carry a band of plus or minus one binomial standard error, 100 sqrt(p (1 - p) / N) for the
    N images of each sweep: curves whose bands overlap are not told apart by these images.

    Args:
        sweeps: {legend label: SweepResult with a single row}.
        metric: 'accuracy' (%) or 'loss' (nats).
        styles: optional {label: matplotlib line options}, e.g. {"twin": {"color": "tab:purple", "linestyle": "--"}}.
        period: if given, dotted vertical lines at the multiples of ``period`` pixels.

    Returns the axes.
    """
    check_choice("metric", metric, ("accuracy", "loss"))
    if not sweeps:
        raise ValueError("sweeps is empty: expected {label: SweepResult}")
    for label, sweep in sweeps.items():
        if len(sweep.dys) != 1:
            raise ValueError(f"sweep {label!r} has {len(sweep.dys)} rows (dys {sweep.dys.tolist()}); "
                             "expected a one-row sweep")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for label, sweep in sweeps.items():
        values, dxs = getattr(sweep, metric)[0].double(), sweep.dxs.numpy()
        line, = ax.plot(dxs, values.numpy(), marker=".", label=label, **(styles or {}).get(label, {}))
        if metric == "accuracy":
            error = 100 * ((values / 100) * (1 - values / 100) / sweep.predictions.shape[-1]).sqrt()
            ax.fill_between(dxs, (values - error).numpy(), (values + error).numpy(), color=line.get_color(),
                            alpha=0.15, linewidth=0)
    if period:
        low, high = ax.get_xlim()
        for multiple in range(math.ceil(low / period) * period, math.floor(high) + 1, period):
            ax.axvline(multiple, color="grey", linewidth=0.8, linestyle=":")
    label = "top-1 accuracy (%)" if metric == "accuracy" else "mean cross-entropy (nats)"
    ax.set(xlabel="horizontal shift dx (px, + = right)", ylabel=label, title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def _sweep_all(fast_model: nn.Module, canvas: torch.Tensor, labels: torch.Tensor, margin: tuple[int, int],
               shifts: list[tuple[int, int]], size: tuple[int, int], batch_size: int, bar) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions and losses (S * N,) of every (shift, image), shift-major, in batches that may span shifts."""
    n, total = len(labels), len(shifts) * len(labels)
    predictions = torch.empty(total, dtype=torch.int64)
    losses = torch.empty(total)
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        pieces = []
        for s in range(start // n, (stop - 1) // n + 1):  # the shifts this batch touches
            dy, dx = shifts[s]
            first, last = max(start - s * n, 0), min(stop - s * n, n)
            pieces.append(window(canvas[first:last], margin, dx, dy, *size))
        logits = forward_logits(fast_model, torch.cat(pieces))
        predictions[start:stop] = logits.argmax(1)
        losses[start:stop] = F.cross_entropy(logits, labels.repeat(len(shifts))[start:stop], reduction="none")
        bar.update(stop - start)
    bar.close()
    return predictions, losses
