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
