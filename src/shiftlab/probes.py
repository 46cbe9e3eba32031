"""Linear probes: how much of a quantity (here, an object's position) a linear readout finds in features.

A probe is ridge regression from features (M, F) to targets (M, K), fitted on some objects and scored
on others it never saw (hold-out by *group*: every shifted copy of one image is one group, so the
probe cannot succeed by recognising an image it was fitted on). Scores are in the targets' own units
(pixels for positions) beside the chance level: predicting the training targets' mean for every sample.

The course uses it on the explorer's paste set (an image's central patch pasted at every position of a
plain canvas) with features averaged over the whole map (``pooled_level_outputs``): after a global
average, position can be read only from what the network wrote into the features themselves
(Islam, Jia and Bruce, ICLR 2020, read position from full feature maps with a trained readout;
Kayhan and van Gemert, CVPR 2020, show that boundary effects let convolutions encode absolute location).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch

ALPHAS = tuple(10.0**k for k in range(-2, 6))  # ridge strengths tried, on standardised features


def _check_rows(features: torch.Tensor, targets: torch.Tensor) -> None:
    if not isinstance(features, torch.Tensor) or features.ndim != 2:
        raise ValueError(f"features must be a tensor (M, F), got {getattr(features, 'shape', type(features))}")
    if not isinstance(targets, torch.Tensor) or targets.ndim != 2 or len(targets) != len(features):
        raise ValueError(f"targets must be a tensor (M, K) with M = {len(features)} rows like the features, "
                         f"got {getattr(targets, 'shape', type(targets))}")


@dataclass(frozen=True)
class LinearProbe:
    """A fitted linear readout: ``predict(f) = ((f - mean) / scale) @ weight + bias``.

    mean, scale: (F,) the training features' mean and standard deviation (standardisation, so that one
    ridge strength treats every channel alike); weight: (F, K); bias: (K,), the training targets' mean.
    """

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Predicted targets (M, K) for features (M, F), float64."""
        if features.ndim != 2 or features.shape[1] != len(self.mean):
            raise ValueError(f"features must have shape (M, {len(self.mean)}), got {tuple(features.shape)}")
        return ((features.double() - self.mean) / self.scale) @ self.weight + self.bias


def _standardise(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean, scale, z): float64 features standardised channel by channel; channels that are constant over the
    samples (up to rounding, which must not be scaled up to unit variance) get scale 1 and z = 0."""
    x = features.double()
    mean, scale = x.mean(0), x.std(0, unbiased=False)
    constant = scale <= 1e-6 * (x.abs().mean(0) + 1e-30)
    scale = torch.where(constant, torch.ones_like(scale), scale)
    return mean, scale, ((x - mean) / scale).masked_fill(constant, 0.0)


def _ridge_weights(z: torch.Tensor, centred: torch.Tensor, alphas) -> list[torch.Tensor]:
    """Ridge weights (F, K) for every alpha from one eigendecomposition of the Gram matrix z^T z = V diag(l) V^T:
    W = V diag(1 / (l + alpha)) V^T z^T y; directions with l ~ 0 get no weight (the minimum-norm least-squares
    solution at alpha = 0)."""
    eigenvalues, vectors = torch.linalg.eigh(z.T @ z)
    projected = vectors.T @ (z.T @ centred)  # (F, K)
    keep = eigenvalues > eigenvalues.max().clamp(min=1e-300) * len(eigenvalues) * 1e-12
    return [vectors @ (torch.where(keep, 1 / (eigenvalues + alpha), torch.zeros_like(eigenvalues))[:, None] * projected)
            for alpha in alphas]


def fit_linear_probe(features: torch.Tensor, targets: torch.Tensor, alpha: float = 1.0) -> LinearProbe:
    """Ridge regression of targets (M, K) on standardised features (M, F), penalty ``alpha`` (>= 0).

    Minimises |Z W - (Y - mean(Y))|^2 + alpha |W|^2 in float64; channels that are constant over the samples
    (up to rounding) get weight 0. A large ``alpha`` shrinks the probe towards predicting the mean target.
    """
    _check_rows(features, targets)
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    mean, scale, z = _standardise(features)
    bias = targets.double().mean(0)
    return LinearProbe(mean, scale, _ridge_weights(z, targets.double() - bias, [alpha])[0], bias)


def _group_folds(groups: torch.Tensor, folds: int) -> list[torch.Tensor]:
    """Boolean masks (M,) of ``folds`` validation folds, each holding whole groups."""
    unique = groups.unique()
    if len(unique) < folds:
        raise ValueError(f"need at least {folds} groups to choose alpha by {folds}-fold validation, got {len(unique)}")
    return [torch.isin(groups, unique[fold::folds]) for fold in range(folds)]


def choose_alpha(features: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor, alphas=ALPHAS,
                 folds: int = 4) -> float:
    """The ridge strength from ``alphas`` with the smallest mean absolute error in grouped ``folds``-fold
    validation (each fold holds out whole groups, as the final test does)."""
    _check_rows(features, targets)
    alphas = list(alphas)
    errors = torch.zeros(len(alphas), dtype=torch.float64)
    for held in _group_folds(groups, folds):
        mean, scale, z = _standardise(features[~held])
        bias = targets[~held].double().mean(0)
        validation = (features[held].double() - mean) / scale
        for index, weight in enumerate(_ridge_weights(z, targets[~held].double() - bias, alphas)):
            errors[index] += (validation @ weight + bias - targets[held].double()).abs().mean()
    return alphas[int(errors.argmin())]


@dataclass(frozen=True)
class ProbeScore:
    """A probe scored on held-out groups. Distances are in the targets' units (pixels for positions).

    r2: coefficient of determination on the test samples, averaged over the K targets (1 = perfect, 0 = no
        better than predicting the test targets' own mean, negative = worse).
    mae: mean absolute error over test samples and targets; chance_mae: the same for predicting the
        training targets' mean everywhere.
    group_mae: (G,) mean absolute error of each held-out group, in the order of ``test_groups`` (the held-out
        groups, sorted), for standard errors and paired comparisons over the same groups.
    predictions, targets: (M_test, K) the test samples' predictions and true targets.
    alpha: the ridge strength chosen on the training groups.
    """

    r2: float
    mae: float
    chance_mae: float
    group_mae: torch.Tensor
    test_groups: torch.Tensor
    predictions: torch.Tensor
    targets: torch.Tensor
    alpha: float

    @property
    def mae_se(self) -> float:
        """Standard error of ``mae`` over the test groups (groups are the independent units)."""
        return (self.group_mae.std() / len(self.group_mae) ** 0.5).item()


def score_probe(features: torch.Tensor, targets: torch.Tensor, groups: torch.Tensor, test_groups,
                alphas=ALPHAS, folds: int = 4) -> ProbeScore:
    """Fit a probe on every group not in ``test_groups`` (alpha chosen there by grouped validation) and
    score it on the groups in ``test_groups``.

    features (M, F), targets (M, K), groups (M,) int: which object each sample shows.
    """
    _check_rows(features, targets)
    groups, test_groups = torch.as_tensor(groups), torch.as_tensor(test_groups)
    if groups.shape != (len(features),):
        raise ValueError(f"groups must have shape ({len(features)},), got {tuple(groups.shape)}")
    test = torch.isin(groups, test_groups)
    if not test.any() or test.all():
        raise ValueError("test_groups must name some, but not all, of the groups")
    alpha = choose_alpha(features[~test], targets[~test], groups[~test], alphas, folds)
    probe = fit_linear_probe(features[~test], targets[~test], alpha)
    predicted, true = probe.predict(features[test]), targets[test].double()
    chance = targets[~test].double().mean(0)
    r2 = 1 - ((predicted - true) ** 2).sum(0) / ((true - true.mean(0)) ** 2).sum(0).clamp(min=1e-12)
    errors = (predicted - true).abs().mean(1)  # (M_test,)
    test_ids = groups[test].unique()
    group_mae = torch.stack([errors[groups[test] == g].mean() for g in test_ids])
    return ProbeScore(r2.mean().item(), errors.mean().item(), (chance - true).abs().mean().item(), group_mae,
                      test_ids, predicted, true, alpha)


def sample_positions(images: torch.Tensor, positions: torch.Tensor, per_object: int,
                     seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``per_object`` random positions of each object, drawn without replacement.

    images: (N, P, 3, S, S) every object at every one of P positions; positions: (P, 2) the (x, y) of
    each position in pixels. Returns images (N * per_object, 3, S, S), their positions (N * per_object, 2)
    as float, and groups (N * per_object,): the index of the object each image shows.
    """
    if images.ndim != 5 or images.shape[1] != len(positions):
        raise ValueError(f"images must have shape (N, P, 3, S, S) with P = {len(positions)} positions, "
                         f"got {tuple(images.shape)}")
    if not 1 <= per_object <= len(positions):
        raise ValueError(f"per_object must be between 1 and the {len(positions)} positions, got {per_object}")
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.stack([torch.randperm(len(positions), generator=generator)[:per_object] for _ in images])
    groups = torch.arange(len(images)).repeat_interleave(per_object)
    return images[groups, chosen.flatten()], positions[chosen.flatten()].double(), groups


def score_levels(pooled: dict[str, torch.Tensor], targets: torch.Tensor, groups: torch.Tensor,
                 test_groups) -> dict[str, ProbeScore]:
    """``score_probe`` for every level of ``pooled`` ({name: (M, F)}, e.g. ``pooled_level_outputs``)."""
    return {name: score_probe(features, targets, groups, test_groups) for name, features in pooled.items()}


def plot_probe_scores(scores: dict[str, dict[str, ProbeScore]], coordinate: int = 0, level: str | None = None):
    """Two panels: held-out error per level for each model (mean +- standard error over test objects, with
    the chance level), and, at ``level`` (default: the best level of the first model), the mean prediction
    of target ``coordinate`` (0 = x) against its true value. ``scores``: {model: {level: ProbeScore}}.
    Returns the figure."""
    first = next(iter(scores.values()))
    level = level or min(first, key=lambda name: first[name].mae)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.0), gridspec_kw={"width_ratios": [1.25, 1]})
    names = list(first)
    for offset, (model, by_level) in enumerate(scores.items()):
        xs = [i + 0.08 * (offset - (len(scores) - 1) / 2) for i in range(len(names))]
        left.errorbar(xs, [by_level[n].mae for n in names], yerr=[by_level[n].mae_se for n in names],
                      marker="o", capsize=3, label=model)
        score = by_level[level]
        true = score.targets[:, coordinate]
        values = true.unique()
        mean = torch.stack([score.predictions[true == v, coordinate].mean() for v in values])
        spread = torch.stack([score.predictions[true == v, coordinate].std() for v in values]).nan_to_num()
        right.errorbar(values.numpy(), mean.numpy(), yerr=spread.numpy(), marker="o", markersize=3, capsize=2,
                       label=model)
    chance = first[names[0]].chance_mae
    left.axhline(chance, color="grey", linestyle="--", label=f"chance ({chance:.2f} px)")
    left.set_xticks(range(len(names)), names)
    left.set(xlabel="features (global average of the level's output)", ylabel="held-out mean |error| (px)",
             title="Position read from pooled features", ylim=(0, None))
    left.legend(fontsize=9)
    axis = "xy"[coordinate] if coordinate < 2 else str(coordinate)
    low, high = float(first[level].targets[:, coordinate].min()), float(first[level].targets[:, coordinate].max())
    right.plot([low, high], [low, high], color="grey", linestyle=":", label="perfect")
    right.set(xlabel=f"true {axis} of the patch (px)", ylabel=f"predicted {axis} (px), mean ± SD",
              title=f"Held-out predictions at {level}")
    right.legend(fontsize=9)
    fig.tight_layout()
    return fig
