"""Tests of shiftlab.probes: ridge fit against least squares, hold-out by group, chance level, sampling, figure."""

import matplotlib.pyplot as plt
import pytest
import torch

import shiftlab as sl
from shiftlab import explorer as ex
from shiftlab.probes import ALPHAS, choose_alpha


def positions_grid(side: int = 9) -> torch.Tensor:
    """(side * side, 2) float64 (x, y) positions, row-major."""
    ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], 1).double()


def grouped(features_of, objects: int = 12, side: int = 9, seed: int = 0):
    """Every object at every position: features (objects * side^2, F), targets, groups."""
    generator = torch.Generator().manual_seed(seed)
    grid = positions_grid(side)
    features = torch.cat([features_of(grid, generator) for _ in range(objects)])
    return features, grid.repeat(objects, 1), torch.arange(objects).repeat_interleave(len(grid))


# ---------------------------------------------------------------- fit_linear_probe


def test_unpenalised_probe_is_least_squares_with_an_intercept():
    generator = torch.Generator().manual_seed(0)
    features, targets = torch.randn(60, 5, generator=generator), torch.randn(60, 2, generator=generator)
    probe = sl.fit_linear_probe(features, targets, alpha=0.0)
    design = torch.cat([features.double(), torch.ones(60, 1, dtype=torch.float64)], 1)
    oracle = design @ torch.linalg.lstsq(design, targets.double()).solution
    assert torch.allclose(probe.predict(features), oracle, atol=1e-9)


def test_strong_penalty_predicts_the_mean_target():
    generator = torch.Generator().manual_seed(1)
    features, targets = torch.randn(40, 3, generator=generator), torch.randn(40, 2, generator=generator)
    probe = sl.fit_linear_probe(features, targets, alpha=1e9)
    assert torch.allclose(probe.predict(features), targets.double().mean(0).expand(40, 2), atol=1e-6)


def test_constant_channels_get_no_weight_even_with_rounding_noise():
    generator = torch.Generator().manual_seed(2)
    signal = torch.randn(50, 1, generator=generator)
    constant = 3.0 + 1e-9 * torch.randn(50, 1, generator=generator)  # constant up to rounding
    probe = sl.fit_linear_probe(torch.cat([signal, constant], 1), 2 * signal, alpha=1e-3)
    assert probe.weight[1].abs().max() == 0
    assert torch.allclose(probe.predict(torch.cat([signal, constant], 1)), 2 * signal.double(), atol=1e-3)


@pytest.mark.parametrize(("features", "targets", "alpha", "message"), [
    (torch.zeros(5), torch.zeros(5, 1), 1.0, "features must be a tensor (M, F)"),
    (torch.zeros(5, 2), torch.zeros(4, 1), 1.0, "M = 5 rows"),
    (torch.zeros(5, 2), torch.zeros(5, 1), -1.0, "alpha must be >= 0"),
])
def test_fit_rejects_bad_input(features, targets, alpha, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sl.fit_linear_probe(features, targets, alpha)


def test_predict_checks_the_number_of_channels():
    probe = sl.fit_linear_probe(torch.randn(10, 3), torch.randn(10, 2))
    with pytest.raises(ValueError, match=r"shape \(M, 3\)"):
        probe.predict(torch.randn(4, 2))


# ---------------------------------------------------------------- score_probe: the behaviours that matter


def test_a_linear_position_code_is_recovered_on_held_out_objects():
    """Features = a fixed linear code of (x, y) in 4 channels beside 12 channels of object content (a
    different level per object), all with noise: the probe reads the position back on unseen objects."""
    code = torch.randn(2, 4, generator=torch.Generator().manual_seed(3)).double()

    def features_of(grid, generator):
        content = 5 * torch.randn(1, 12, generator=generator, dtype=torch.float64).expand(len(grid), 12)
        noise = 0.05 * torch.randn(len(grid), 16, generator=generator, dtype=torch.float64)
        return torch.cat([grid @ code, content], 1) + noise

    features, targets, groups = grouped(features_of)
    score = sl.score_probe(features, targets, groups, test_groups=[0, 3, 6, 9])
    assert score.r2 > 0.99 and score.mae < 0.1, (score.r2, score.mae)
    assert score.chance_mae == pytest.approx(20 / 9, rel=1e-6)  # mean |x - 4| over x = 0..8, the same for y


def test_position_free_features_score_at_chance():
    def features_of(grid, generator):
        return torch.randn(len(grid), 16, generator=generator, dtype=torch.float64)

    features, targets, groups = grouped(features_of, objects=16)
    score = sl.score_probe(features, targets, groups, test_groups=torch.arange(0, 16, 4))
    assert abs(score.r2) < 0.02, score.r2
    assert score.mae == pytest.approx(score.chance_mae, rel=0.02)
    assert score.alpha == max(ALPHAS), "grouped validation should shrink a probe on noise to the mean"


def test_the_hold_out_is_by_object():
    """Features that name the object and targets that are one position per object: perfect in sample,
    worthless on objects the probe never saw."""
    objects = 24
    groups = torch.arange(objects).repeat_interleave(10)
    features = torch.nn.functional.one_hot(groups, objects).double()
    targets = torch.rand(objects, 2, generator=torch.Generator().manual_seed(4)).double()[groups] * 16
    assert (sl.fit_linear_probe(features, targets, 1e-6).predict(features) - targets).abs().max() < 1e-3
    score = sl.score_probe(features, targets, groups, test_groups=torch.arange(0, objects, 3))
    assert score.r2 < 0.05 and score.mae >= 0.95 * score.chance_mae, (score.r2, score.mae, score.chance_mae)
    assert score.test_groups.tolist() == list(range(0, objects, 3))
    assert score.group_mae.shape == (8,) and len(score.predictions) == len(score.targets) == 80


def test_standard_error_is_over_test_objects():
    def features_of(grid, generator):
        return grid + torch.randn(len(grid), 2, generator=generator, dtype=torch.float64)

    features, targets, groups = grouped(features_of)
    score = sl.score_probe(features, targets, groups, test_groups=[1, 2, 5, 7])
    assert score.mae_se == pytest.approx((score.group_mae.std() / 2).item())
    assert score.mae == pytest.approx(score.group_mae.mean().item())  # equal numbers of samples per object


@pytest.mark.parametrize("test_groups", [[], list(range(12)), [99]])
def test_score_needs_some_but_not_all_groups_held_out(test_groups):
    features, targets, groups = grouped(lambda grid, g: grid.clone(), objects=12, side=3)
    with pytest.raises(ValueError, match="some, but not all"):
        sl.score_probe(features, targets, groups, test_groups)


def test_choose_alpha_needs_enough_groups():
    with pytest.raises(ValueError, match="at least 4 groups"):
        choose_alpha(torch.randn(6, 2), torch.randn(6, 2), torch.tensor([0, 0, 1, 1, 2, 2]))


# ---------------------------------------------------------------- sampling and levels


def test_sample_positions_keeps_images_and_positions_together():
    image = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(5))
    sets = [ex.paste_dataset(image * scale, patch=16, canvas=20) for scale in (1.0, 0.5, 0.25)]
    stacked, grid = torch.stack([s.images for s in sets]), sets[0].positions
    images, positions, groups = sl.sample_positions(stacked, grid, per_object=7, seed=1)
    assert images.shape == (21, 3, 20, 20) and positions.shape == (21, 2) and groups.tolist() == [0] * 7 + [1] * 7 + [2] * 7
    for picture, (x, y), group in zip(images, positions.long().tolist(), groups.tolist()):
        assert torch.equal(picture, sets[group].images[sets[group].index(x, y)])
    for group in range(3):
        assert len({tuple(p) for p in positions[groups == group].tolist()}) == 7, "positions drawn without replacement"
    again = sl.sample_positions(stacked, grid, per_object=7, seed=1)
    assert torch.equal(again[1], positions), "the same seed draws the same positions"


@pytest.mark.parametrize(("shape", "per_object", "message"), [
    ((2, 25, 3, 8, 8), 26, "between 1 and the 25 positions"),
    ((2, 24, 3, 8, 8), 3, r"shape \(N, P, 3, S, S\) with P = 25"),
])
def test_sample_positions_rejects_bad_input(shape, per_object, message):
    with pytest.raises(ValueError, match=message):
        sl.sample_positions(torch.zeros(shape), positions_grid(5), per_object)


def test_score_levels_scores_every_level():
    features, targets, groups = grouped(lambda grid, g: grid + torch.randn(len(grid), 2, generator=g, dtype=torch.float64))
    scores = sl.score_levels({"a": features, "b": torch.randn(len(features), 3)}, targets, groups, [0, 4, 8])
    assert list(scores) == ["a", "b"] and scores["a"].mae < scores["b"].mae


@pytest.mark.slow
def test_trained_zero_padding_encodes_position_and_circular_padding_does_not():
    """The course's claim on real data: on the paste set (whose canvas is one colour, so pasting is a circular
    roll), the baseline's pooled level-2 features place the patch far better than chance; the circular
    network's cannot, since a roll changes only their stride phase."""
    images, _ = sl.load_sample()
    sets = [ex.paste_dataset(image, patch=16, canvas=24) for image in sl.to_float(images[:16])]
    pictures, positions, groups = sl.sample_positions(torch.stack([s.images for s in sets]), sets[0].positions, 24)
    scores = {}
    for name in ("baseline", "circular"):
        pooled = sl.pooled_level_outputs(sl.load_pretrained(name), pictures)
        scores[name] = sl.score_probe(pooled["level 2"], positions, groups, torch.arange(0, 16, 4))
    assert scores["baseline"].mae < 0.8 * scores["baseline"].chance_mae, scores["baseline"]
    assert scores["circular"].mae > 0.95 * scores["circular"].chance_mae, scores["circular"]


# ---------------------------------------------------------------- the figure


def test_plot_probe_scores_two_panels_with_chance_and_units():
    def features_of(grid, generator):
        return grid + torch.randn(len(grid), 2, generator=generator, dtype=torch.float64)

    features, targets, groups = grouped(features_of)
    noise = torch.randn(len(features), 4, generator=torch.Generator().manual_seed(6))
    scores = {"coded": sl.score_levels({"l0": noise, "l1": features}, targets, groups, [0, 5, 10]),
              "noise": sl.score_levels({"l0": noise, "l1": noise}, targets, groups, [0, 5, 10])}
    fig = sl.plot_probe_scores(scores)
    left, right = fig.axes
    assert fig.get_figwidth() <= 9.7
    assert "(px)" in left.get_ylabel() and "(px)" in right.get_xlabel() and "(px)" in right.get_ylabel()
    assert [t.get_text() for t in left.get_xticklabels()] == ["l0", "l1"]
    assert right.get_title() == "Held-out predictions at l1", "the default level is the first model's best"
    assert any("chance" in t.get_text() for t in left.get_legend().get_texts())
    plt.close(fig)
