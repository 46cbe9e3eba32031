"""Tests of shiftlab.metrics: accuracy and loss, grid and random-pair consistency, the checkpoints'
consistency protocols, and standard errors. Oracles are plain loops (``oracles.py``)."""

import pytest
import torch
import torch.nn.functional as F
from oracles import pair_counting_consistency, plain_logits, plain_sweep

import shiftlab as sl
from shiftlab.metrics import CONSISTENCY_PROTOCOLS, Evaluation, consistency_metrics, grid_consistency
from shiftlab.shifts import SHIFT_METHODS


# ---------------------------------------------------------------- evaluate


def test_evaluate_equals_manual_accuracy_and_loss(baseline, sample_float):
    images, labels = sample_float[0][:200], sample_float[1][:200]
    result = sl.evaluate(baseline, images, labels, batch_size=64)
    assert isinstance(result, Evaluation)
    logits = plain_logits(baseline, images)
    assert result.accuracy == pytest.approx((logits.argmax(1) == labels).double().mean().item() * 100)
    assert result.loss == pytest.approx(F.cross_entropy(logits, labels).item(), abs=1e-5)
    assert 10 < result.accuracy < 60, "the probed baseline is above chance on held-out images"


def test_evaluate_label_errors(baseline, held_out):
    images, labels = held_out
    with pytest.raises(ValueError, match=r"int64 tensor of shape \(20,\), got torch.int32 \(20,\)"):
        sl.evaluate(baseline, images, labels.int())
    with pytest.raises(ValueError, match=r"shape \(20,\), got torch.int64 \(19,\)"):
        sl.evaluate(baseline, images, labels[:19])
    with pytest.raises(ValueError, match="got list"):
        sl.evaluate(baseline, images, labels.tolist())


def test_evaluate_image_errors(baseline, sample):
    images, labels = sample
    with pytest.raises(TypeError, match="to_float"):
        sl.evaluate(baseline, images[:4], labels[:4])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(4, 32, 32, 3\)"):
        sl.predict_logits(baseline, images[:4].float())


# ---------------------------------------------------------------- grid_consistency


def test_grid_consistency_equals_pair_counting():
    generator = torch.Generator().manual_seed(0)
    for shifts, n, classes in [(2, 5, 3), (7, 11, 10), (25, 4, 2)]:
        predictions = torch.randint(classes, (shifts, n), generator=generator)
        assert grid_consistency(predictions) == pytest.approx(pair_counting_consistency(predictions))


def test_grid_consistency_extremes():
    assert grid_consistency(torch.tensor([[3, 1], [3, 1], [3, 1]])) == 100.0
    assert grid_consistency(torch.tensor([[0, 9], [1, 8], [2, 7]])) == 0.0
    assert grid_consistency(torch.tensor([[0], [0], [1]])) == pytest.approx(100 / 3)


@pytest.mark.parametrize("shape", [(1, 5), (5,), (2, 3, 4)])
def test_grid_consistency_errors(shape):
    with pytest.raises(ValueError, match=r"S >= 2 shifts, got shape " + str(shape).replace("(", r"\(").replace(")", r"\)")):
        grid_consistency(torch.zeros(shape, dtype=torch.int64))


# ---------------------------------------------------------------- consistency


def test_consistency_of_the_invariant_model_is_100(invariant, sample_float):
    images = sample_float[0][:40]
    assert sl.consistency(invariant, images, method="roll", shift_values=range(-8, 9), pairs_per_image=3) == 100.0


def test_consistency_of_the_baseline_is_below_100(baseline, sample_float):
    images = sample_float[0][:40]
    value = sl.consistency(baseline, images, method="roll", pairs_per_image=3)
    assert 0 < value < 100
    assert value * 40 * 3 / 100 == pytest.approx(round(value * 40 * 3 / 100)), "a fraction of the 120 pairs"


@pytest.mark.parametrize("method", SHIFT_METHODS)
def test_consistency_is_reproducible_with_a_seed(baseline, sample_float, method):
    images = sample_float[0][:30]
    values = range(1, 5) if method == "crop" else range(-3, 4)
    first = sl.consistency(baseline, images, method=method, shift_values=values, pairs_per_image=2, seed=5)
    again = sl.consistency(baseline, images, method=method, shift_values=values, pairs_per_image=2, seed=5, batch_size=7)
    assert first == again


def test_consistency_with_a_single_shift_value_is_100(baseline, sample_float):
    """Both copies get the same shift, so they always agree, whatever the model."""
    assert sl.consistency(baseline, sample_float[0][:10], method="affine", shift_values=[3], pairs_per_image=1) == 100.0


def test_consistency_converges_to_the_agreement_rate_of_the_sweep(baseline, held_out):
    """Oracle: with shifts drawn uniformly from a grid, the expected agreement of two draws is, per image,
    the sum over classes of (fraction of grid shifts predicting that class) squared. Many random pairs
    must land within 5 standard errors of it."""
    images, labels = held_out[0][:8], held_out[1][:8]
    values = [-2, 0, 1]
    _, _, predictions = plain_sweep(baseline, images, labels, values, values, "roll")
    counts = F.one_hot(predictions.flatten(0, 1), 10).double().mean(0)  # (N, classes): class frequencies
    expected = 100 * counts.pow(2).sum(1).mean().item()
    pairs = 150
    value = sl.consistency(baseline, images, method="roll", shift_values=values, pairs_per_image=pairs, seed=1)
    standard_error = 100 * (expected / 100 * (1 - expected / 100) / (pairs * len(images))) ** 0.5
    assert expected < 99, "the oracle needs a model whose predictions change with the shift"
    assert abs(value - expected) < 5 * standard_error + 1e-9, (value, expected, standard_error)


def test_consistency_errors(baseline, held_out):
    images, _ = held_out
    with pytest.raises(ValueError, match="pairs_per_image must be at least 1, got 0"):
        sl.consistency(baseline, images, pairs_per_image=0)
    with pytest.raises(ValueError, match="choose one of affine, roll, crop"):
        sl.consistency(baseline, images, method="shift")
    with pytest.raises(ValueError, match="shift_values must be a non-empty 1-D sequence"):
        sl.consistency(baseline, images, shift_values=[])
    with pytest.raises(ValueError, match="out of range"):
        sl.consistency(baseline, images, method="crop", shift_values=[32])
    with pytest.raises(TypeError, match="to_float"):
        sl.consistency(baseline, (images * 255).to(torch.uint8))


def test_consistency_metrics_are_the_two_protocols(make_model, sample_float):
    images = sample_float[0][:16]
    model = make_model("circular", "aps")
    metrics = consistency_metrics(model, images, seed=3)
    assert set(metrics) == set(CONSISTENCY_PROTOCOLS) == {"circular_consistency", "crop_consistency"}
    for name, protocol in CONSISTENCY_PROTOCOLS.items():
        assert metrics[name] == round(sl.consistency(model, images, seed=3, **protocol), 2)
    assert metrics["circular_consistency"] == 100.0
    assert CONSISTENCY_PROTOCOLS["crop_consistency"] == {"method": "crop", "shift_values": (1, 2, 3, 4)}


@pytest.mark.parametrize("helper,protocol", [(sl.circular_consistency, "circular_consistency"), (sl.crop_consistency, "crop_consistency")])
def test_protocol_helpers_run_the_named_protocol(baseline, sample_float, helper, protocol):
    images = sample_float[0][:24]
    expected = sl.consistency(baseline, images, pairs_per_image=2, seed=4, **CONSISTENCY_PROTOCOLS[protocol])
    assert helper(baseline, images, pairs_per_image=2, seed=4) == expected
    assert round(helper(baseline, images), 2) == consistency_metrics(baseline, images)[protocol]


# ---------------------------------------------------------------- standard_error


def test_standard_error_is_the_binomial_formula():
    assert sl.standard_error(95.0, 128) == pytest.approx(100 * (0.95 * 0.05 / 128) ** 0.5)
    assert sl.standard_error(100.0, 10) == 0.0 and sl.standard_error(50.0, 1) == 50.0


def test_standard_error_matches_the_spread_of_simulated_measurements():
    """Oracle: 4,000 simulated measurements of 200 Bernoulli(0.9) trials each; their spread is the standard error."""
    draws = (torch.rand(4000, 200, generator=torch.Generator().manual_seed(0)) < 0.9).double().mean(1) * 100
    assert draws.std().item() == pytest.approx(sl.standard_error(90.0, 200), rel=0.05)


@pytest.mark.parametrize("percent,trials,message", [(95, 0, "trials must be a positive int, got 0"),
                                                    (95, 2.5, "trials must be a positive int, got 2.5"),
                                                    (101, 10, r"percent must be in \[0, 100\], got 101")])
def test_standard_error_errors(percent, trials, message):
    with pytest.raises(ValueError, match=message):
        sl.standard_error(percent, trials)


# ---------------------------------------------------------------- per-image outcomes


def test_grid_agreement_is_per_image_pair_counting():
    predictions = torch.tensor([[0, 1, 2], [0, 1, 3], [0, 2, 4], [1, 1, 5]])  # 4 shifts, 3 images
    assert sl.grid_agreement(predictions).tolist() == pytest.approx([50.0, 50.0, 0.0])
    for column in range(3):
        assert sl.grid_agreement(predictions)[column] == pytest.approx(pair_counting_consistency(predictions[:, [column]]))


def test_pair_agreement_averages_to_consistency(baseline, sample_float):
    images = sample_float[0][:30]
    per_image = sl.pair_agreement(baseline, images, method="crop", shift_values=range(1, 5), pairs_per_image=3, seed=2)
    assert per_image.shape == (30,) and set(per_image.mul(3).round().div(100).tolist()) <= {0.0, 1.0, 2.0, 3.0}
    assert per_image.mean().item() == pytest.approx(
        sl.consistency(baseline, images, method="crop", shift_values=range(1, 5), pairs_per_image=3, seed=2))


def test_per_image_accuracy_is_right_or_wrong(baseline, held_out):
    images, labels = held_out
    right = sl.per_image_accuracy(baseline, images, labels)
    assert set(right.tolist()) <= {0.0, 100.0}
    assert right.mean().item() == pytest.approx(sl.evaluate(baseline, images, labels).accuracy)


def test_per_image_metrics_measure_every_protocol_on_the_same_pairs(make_model, sample_float):
    images, labels = sample_float[0][:24], sample_float[1][:24]
    model = make_model("circular", "aps")
    outcomes = sl.per_image_metrics(model, images, labels, consistency_images=12, seed=1)
    assert list(outcomes) == ["accuracy", *CONSISTENCY_PROTOCOLS]
    assert outcomes["accuracy"].shape == (24,) and outcomes["crop_consistency"].shape == (12,)
    assert outcomes["circular_consistency"].eq(100).all(), "APS with circular padding agrees on every circular pair"
    expected = sl.pair_agreement(model, images[:12], pairs_per_image=1, seed=1, **CONSISTENCY_PROTOCOLS["crop_consistency"])
    assert torch.equal(outcomes["crop_consistency"], expected)
    with pytest.raises(ValueError, match=r"consistency_images must be in \[2, 24\], got 30"):
        sl.per_image_metrics(model, images, labels, consistency_images=30)


# ---------------------------------------------------------------- intervals, paired comparisons, McNemar


def test_bootstrap_interval_matches_the_normal_approximation():
    """Oracle: for 2,000 independent 0/100 outcomes the bootstrap interval is close to mean +- 1.96 sd / sqrt(n)."""
    values = (torch.rand(2000, generator=torch.Generator().manual_seed(0)) < 0.9).double() * 100
    estimate = sl.bootstrap_interval(values)
    half_width = 1.96 * values.std().item() / 2000**0.5
    assert estimate.value == pytest.approx(values.mean().item())
    assert estimate.low == pytest.approx(estimate.value - half_width, abs=0.15 * half_width)
    assert estimate.high == pytest.approx(estimate.value + half_width, abs=0.15 * half_width)
    assert estimate.n == 2000 and not estimate.excludes(estimate.value) and estimate.excludes(0)


def test_bootstrap_interval_covers_the_truth_about_95_percent_of_the_time():
    """Simulation: 300 samples of 200 Bernoulli(0.8) outcomes; their 95 % intervals contain 80 in 90-99 % of cases."""
    generator = torch.Generator().manual_seed(1)
    hits = sum(not sl.bootstrap_interval((torch.rand(200, generator=generator) < 0.8).double() * 100,
                                         resamples=500, seed=s).excludes(80.0) for s in range(300))
    assert 0.90 * 300 <= hits <= 0.99 * 300


def test_clustered_pairs_widen_the_interval():
    """5 pairs per image that all agree or all disagree carry the information of one pair: the cluster
    bootstrap over images is sqrt(5) times wider than a binomial over the 5 N pairs would say."""
    per_image = (torch.rand(1000, generator=torch.Generator().manual_seed(2)) < 0.95).double() * 100
    estimate = sl.bootstrap_interval(per_image)
    naive = 1.96 * sl.standard_error(estimate.value, 5 * 1000)
    assert (estimate.high - estimate.low) / 2 == pytest.approx(5**0.5 * naive, rel=0.15)


def test_paired_bootstrap_cancels_what_the_images_share():
    """b = a + 2 points on every image, with a varying a lot between images: the paired interval is exactly 2,
    while the two unpaired intervals overlap widely."""
    a = torch.rand(300, generator=torch.Generator().manual_seed(3)).double() * 60 + 20
    difference = sl.paired_bootstrap(a + 2, a)
    assert (difference.value, difference.low, difference.high) == pytest.approx((2, 2, 2))
    assert sl.bootstrap_interval(a + 2).low < sl.bootstrap_interval(a).high


def test_paired_bootstrap_errors():
    with pytest.raises(ValueError, match=r"same images, got shapes \(3,\) and \(4,\)"):
        sl.paired_bootstrap(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"one value per image, shape \(N,\) with N >= 2, got \(1,\)"):
        sl.bootstrap_interval(torch.zeros(1))


def test_estimate_formats_all_three_numbers_alike():
    estimate = sl.Estimate(1.234, -0.5, 3.0, 10)
    assert str(estimate) == "1.23 [-0.50, 3.00]" and f"{estimate:+.1f}" == "+1.2 [-0.5, +3.0]"


def brute_force_mcnemar(only_a: int, only_b: int) -> float:
    """Oracle: enumerate every way the n discordant images could have split, each with probability 1 / 2 ** n,
    and add those at least as far from an even split as the observed one."""
    n = only_a + only_b
    observed = abs(only_a - n / 2)
    extreme = sum(1 for signs in range(2**n) if abs(bin(signs).count("1") - n / 2) >= observed)
    return extreme / 2**n


@pytest.mark.parametrize("only_a,only_b", [(0, 0), (1, 0), (3, 3), (9, 1), (2, 7), (0, 12), (5, 8)])
def test_mcnemar_exact_equals_the_brute_force_test(only_a, only_b):
    a = torch.tensor([100.0] * only_a + [0.0] * only_b + [100.0] * 4 + [0.0] * 2)  # 4 right and 2 wrong for both
    b = torch.tensor([0.0] * only_a + [100.0] * only_b + [100.0] * 4 + [0.0] * 2)
    assert sl.mcnemar_exact(a, b) == pytest.approx(brute_force_mcnemar(only_a, only_b))


def test_mcnemar_exact_errors():
    with pytest.raises(ValueError, match=r"two outcomes \(right / wrong\), got values \[0.0, 50.0, 100.0\]"):
        sl.mcnemar_exact(torch.tensor([0.0, 50.0]), torch.tensor([100.0, 0.0]))
    with pytest.raises(ValueError, match=r"same shape \(N,\), got \(2,\) and \(3,\)"):
        sl.mcnemar_exact(torch.zeros(2), torch.zeros(3))


def test_comparison_table_reports_intervals_differences_and_mcnemar():
    right = torch.tensor([100.0] * 80 + [0.0] * 20)
    better = right.clone()
    better[80:92] = 100.0  # 12 images more right, none fewer
    outcomes = {"old": {"accuracy": right, "consistency": right * 0.9}, "new": {"accuracy": better, "consistency": right * 0.9}}
    table = sl.comparison_table(outcomes, reference="old").splitlines()
    assert table[0].startswith("accuracy (%), 100 images")
    assert table[1].split() == ["old", "80.00", *str(sl.bootstrap_interval(right)).split()[1:]]
    assert f"{sl.paired_bootstrap(better, right):+.2f}" in table[2]
    assert f"McNemar p = {sl.mcnemar_exact(better, right):.2g}" in table[2]
    assert "McNemar" not in table[5], "per-image values other than 0 / 100 get no McNemar test"
    with pytest.raises(KeyError, match="reference 'zeros' is not among the models: old, new"):
        sl.comparison_table(outcomes, reference="zeros")


def test_robust_per_image_is_right_under_every_shift_within_the_radius(baseline, held_out):
    images, labels = held_out[0][:12], held_out[1][:12]
    sweep = sl.translation_sweep(baseline, images, labels, dxs=[-2, -1, 0, 1, 2], dys=[0, 1], method="roll", progress=False)
    accuracy, _, predictions = plain_sweep(baseline, images, labels, [-2, -1, 0, 1, 2], [0, 1], "roll")
    for k in (0, 1, 2):
        oracle = [all(predictions[row, col, n] == labels[n] for row, dy in enumerate([0, 1]) for col, dx in enumerate([-2, -1, 0, 1, 2])
                      if max(abs(dx), abs(dy)) <= k) for n in range(12)]
        assert sl.robust_per_image(sweep, k).tolist() == [100.0 * ok for ok in oracle]
    assert sl.robust_per_image(sweep, 0).mean().item() == pytest.approx(accuracy[0, 2].item())
    assert sl.robust_per_image(sweep, 2).mean().item() == pytest.approx(100 - sl.worst_case_error(sweep, [2]).item())
    unshifted = predictions[0, 2]
    for k in (0, 2):
        oracle = [all(predictions[0, col, n] == unshifted[n] for col, dx in enumerate([-2, -1, 0, 1, 2]) if abs(dx) <= k)
                  and (k < 1 or all(predictions[1, col, n] == unshifted[n] for col, dx in enumerate([-2, -1, 0, 1, 2]) if abs(dx) <= k))
                  for n in range(12)]
        assert sl.robust_per_image(sweep, k, reference="unshifted").tolist() == [100.0 * ok for ok in oracle]
    with pytest.raises(ValueError, match="reference"):
        sl.robust_per_image(sweep, 1, reference="labels")
    shifted = sl.translation_sweep(baseline, images, labels, dxs=[3], dys=[3], method="roll", progress=False)
    with pytest.raises(ValueError, match="no shift of the sweep is within 2 px; its shifts reach 3 to 3 px"):
        sl.robust_per_image(shifted, 2)
