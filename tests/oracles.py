"""Plain-loop oracles shared by the tests of inference, metrics and sweeps.

Each computes the slow, obvious way what a package function computes fast: translate the images with
``shiftlab.translate``, run the model forward in the default (NCHW) layout in eval mode, and count.
"""

from itertools import combinations

import torch
import torch.nn.functional as F

import shiftlab as sl


def plain_logits(model, images):
    with torch.no_grad():
        return model.eval()(images)


def plain_sweep(model, images, labels, dxs, dys, method):
    """Oracle: for each shift, translate all images, forward them, and measure."""
    accuracy = torch.empty(len(dys), len(dxs))
    loss = torch.empty(len(dys), len(dxs))
    predictions = torch.empty(len(dys), len(dxs), len(images), dtype=torch.int64)
    for row, dy in enumerate(dys):
        for col, dx in enumerate(dxs):
            logits = plain_logits(model, sl.translate(images, dx, dy, method))
            predictions[row, col] = logits.argmax(1)
            accuracy[row, col] = (logits.argmax(1) == labels).float().mean() * 100
            loss[row, col] = F.cross_entropy(logits, labels)
    return accuracy, loss, predictions


def pair_counting_consistency(predictions):
    """Oracle: for each image, the fraction of unordered pairs of distinct shifts that agree; mean over images (%)."""
    shifts, n = predictions.shape
    fractions = []
    for image in range(n):
        pairs = list(combinations(range(shifts), 2))
        agree = sum(int(predictions[a, image] == predictions[b, image]) for a, b in pairs)
        fractions.append(agree / len(pairs))
    return 100 * sum(fractions) / n
