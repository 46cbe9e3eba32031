"""What a finished run measures, with ``shiftlab.metrics``: accuracy per epoch, and the complete metrics of
the stored (float16-rounded) weights that go into the manifest entry."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..checkpoints import load_pretrained
from ..metrics import consistency_metrics, evaluate
from ..model import CifarVGG

EVAL_BATCH = 1000


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Single-view top-1 accuracy in percent, rounded to 2 decimals, of float images (N, 3, H, W) and int64
    labels (N,), both on the model's device; the model is left in its mode (``evaluate`` copies it)."""
    return round(evaluate(model, images, labels, batch_size=EVAL_BATCH).accuracy, 2)


def checkpoint_metrics(stored: CifarVGG, test: tuple[torch.Tensor, torch.Tensor],
                       sample: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """The manifest's metrics of a stored model (``checkpoints.as_stored``), all in percent: accuracy on the
    ``test`` split and on the bundled ``sample`` (float images, labels), and both consistency protocols of
    ``metrics.CONSISTENCY_PROTOCOLS`` on the sample images."""
    return dict(
        test_accuracy=accuracy(stored, *test),
        test_images=len(test[1]),
        sample_accuracy=accuracy(stored, *sample),
        **consistency_metrics(stored, sample[0]),
    )


def check_reload(name: str, directory: Path, expected: CifarVGG, sample: tuple[torch.Tensor, torch.Tensor],
                 sample_accuracy: float) -> None:
    """Reload checkpoint ``name`` with ``load_pretrained``; raise unless weights and sample accuracy match."""
    reloaded = load_pretrained(name, directory)
    expected_state = expected.state_dict()
    same = all(torch.equal(v, expected_state[k]) for k, v in reloaded.state_dict().items())
    measured = accuracy(reloaded, *sample)
    if not same or measured != sample_accuracy:
        raise RuntimeError(
            f"checkpoint {name!r} in {directory} does not reload as trained: weights equal {same}, "
            f"sample accuracy {measured}% after reloading, {sample_accuracy}% before"
        )
