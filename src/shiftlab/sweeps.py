"""Translation sweeps: accuracy, loss and predictions of a model over a grid of shifts (dx, dy).

Each image is padded once for the largest shift; every forward pass then takes a batch of windows of
that canvas, many shifts at once, so a sweep runs at the model's own throughput (``inference_copy``,
channels-last). Long sweeps show a ``tqdm`` progress bar unless ``progress=False``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import torch
import torch.nn.functional as F
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
    """

    dxs: torch.Tensor
    dys: torch.Tensor
    accuracy: torch.Tensor
    loss: torch.Tensor
    predictions: torch.Tensor
    method: str

    def at(self, dx: int, dy: int) -> tuple[float, float]:
        """(accuracy, loss) at shift (dx, dy)."""
        row, col = _grid_index(self.dys, dy, "dy"), _grid_index(self.dxs, dx, "dx")
        return self.accuracy[row, col].item(), self.loss[row, col].item()

    def consistency(self) -> float:
        """Exhaustive classification consistency (%): over all pairs of distinct shifts in the grid, how
        often an image gets the same top-1 class under both (averaged over images)."""
        return grid_consistency(self.predictions.flatten(0, 1))

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
        method=method,
    )


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
