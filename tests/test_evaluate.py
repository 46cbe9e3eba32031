"""Tests of shiftlab.evaluate: logits, accuracy, translation sweeps and classification consistency.

Oracles are plain loops: translate the images with ``shiftlab.translate``, run the model forward in
the default (NCHW) layout in eval mode, and count.
"""

import copy
from itertools import combinations

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F

import shiftlab as sl
from shiftlab.evaluate import (
    CONSISTENCY_PROTOCOLS,
    Evaluation,
    SweepResult,
    consistency_metrics,
    grid_consistency,
    inference_copy,
    shift_range,
    translation_sweep,
)
from shiftlab.shifts import SHIFT_METHODS


@pytest.fixture(scope="module")
def data(sample_float):
    """20 real images and labels (held out from the models' probes)."""
    images, labels = sample_float
    return images[:20], labels[:20]


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


# ---------------------------------------------------------------- predict_logits and evaluate


def test_predict_logits_equals_a_plain_forward(baseline, data):
    images, _ = data
    logits = sl.predict_logits(baseline, images)
    assert logits.shape == (20, 10) and logits.dtype == torch.float32
    assert torch.allclose(logits, plain_logits(baseline, images), atol=1e-5)


def test_predict_logits_does_not_depend_on_batch_size(baseline, data):
    images, _ = data
    assert torch.allclose(sl.predict_logits(baseline, images, batch_size=7), sl.predict_logits(baseline, images), atol=1e-6)


def test_predict_logits_leaves_the_model_alone(fresh_baseline, data):
    model = fresh_baseline
    model.train()
    before = copy.deepcopy(model.state_dict())
    logits = sl.predict_logits(model, data[0])
    assert model.training, "predict_logits must not switch the caller's model to eval mode"
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), "BatchNorm statistics changed"
    assert all(p.is_contiguous() for p in model.parameters()), "the caller's model was made channels-last"
    model.eval()
    assert torch.allclose(logits, plain_logits(model, data[0]), atol=1e-5), "logits must come from eval mode"


@pytest.fixture
def fresh_baseline(baseline):
    return copy.deepcopy(baseline)


def test_inference_copy_is_an_eval_channels_last_copy(fresh_baseline, data):
    model = fresh_baseline.train()
    fast = inference_copy(model)
    assert fast is not model and not fast.training and model.training
    conv = fast[1][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert model[1][0].weight.is_contiguous()
    with torch.no_grad():
        assert torch.allclose(fast(data[0]), model.eval()(data[0]), atol=1e-5)


def test_evaluate_equals_manual_accuracy_and_loss(baseline, sample_float):
    images, labels = sample_float[0][:200], sample_float[1][:200]
    result = sl.evaluate(baseline, images, labels, batch_size=64)
    assert isinstance(result, Evaluation)
    logits = plain_logits(baseline, images)
    assert result.accuracy == pytest.approx((logits.argmax(1) == labels).double().mean().item() * 100)
    assert result.loss == pytest.approx(F.cross_entropy(logits, labels).item(), abs=1e-5)
    assert 10 < result.accuracy < 60, "the probed baseline is above chance on held-out images"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "64"])
def test_batch_size_must_be_a_positive_int(baseline, data, bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int, got " + repr(bad).replace(".", r"\.")):
        sl.predict_logits(baseline, data[0], batch_size=bad)


def test_evaluate_label_errors(baseline, data):
    images, labels = data
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


# ---------------------------------------------------------------- translation_sweep


@pytest.mark.parametrize("method", SHIFT_METHODS)
@pytest.mark.parametrize("batch_size", [7, 256])
def test_sweep_equals_a_plain_loop(baseline, data, method, batch_size):
    images, labels = data
    dxs, dys = [-3, 0, 2], [-1, 0, 4, 5]  # a non-square grid catches rows and columns swapped
    sweep = translation_sweep(baseline, images, labels, dxs, dys, method=method, batch_size=batch_size, progress=False)
    accuracy, loss, predictions = plain_sweep(baseline, images, labels, dxs, dys, method)
    assert sweep.accuracy.shape == sweep.loss.shape == (4, 3)
    assert sweep.predictions.shape == (4, 3, 20)
    assert torch.equal(sweep.predictions, predictions)
    assert torch.allclose(sweep.accuracy, accuracy)
    assert torch.allclose(sweep.loss, loss, atol=1e-5)
    assert sweep.dxs.tolist() == dxs and sweep.dys.tolist() == dys and sweep.method == method


@pytest.mark.parametrize("padding_mode,downsampling", [("reflect", "blur"), ("circular", "aps"), ("replicate", "max")])
def test_sweep_equals_a_plain_loop_for_other_models(make_model, data, padding_mode, downsampling):
    model = make_model(padding_mode, downsampling)
    images, labels = data[0][:8], data[1][:8]
    sweep = translation_sweep(model, images, labels, [-2, 1], method="crop", batch_size=5, progress=False)
    accuracy, loss, predictions = plain_sweep(model, images, labels, [-2, 1], [-2, 1], "crop")
    assert torch.equal(sweep.predictions, predictions)
    assert torch.allclose(sweep.loss, loss, atol=1e-5)


def test_sweep_without_shift_equals_evaluate(baseline, data):
    images, labels = data
    sweep = translation_sweep(baseline, images, labels, [0], progress=False)
    plain = sl.evaluate(baseline, images, labels)
    assert sweep.at(0, 0) == pytest.approx((plain.accuracy, plain.loss), abs=1e-4)


def test_circular_aps_sweep_under_roll_is_flat(invariant, data):
    images, labels = data
    sweep = translation_sweep(invariant, images, labels, [-3, 0, 5], method="roll", progress=False)
    assert (sweep.predictions == sweep.predictions[1, 1]).all()
    assert torch.allclose(sweep.loss, sweep.loss[1, 1].expand(3, 3), atol=1e-5)
    assert sweep.consistency() == 100.0


@pytest.mark.parametrize("kind", ["tensor", "numpy"])
def test_sweep_accepts_integer_tensors_and_arrays(baseline, data, kind):
    images, labels = data[0][:2], data[1][:2]
    first = translation_sweep(baseline, images, labels, [-1, 1], progress=False)
    dxs = first.dxs if kind == "tensor" else first.dxs.numpy()
    again = translation_sweep(baseline, images, labels, dxs, progress=False)
    assert torch.equal(again.predictions, first.predictions)


def test_sweep_default_grid_is_square(baseline, data):
    sweep = translation_sweep(baseline, data[0][:2], data[1][:2], [-1, 1], progress=False)
    assert sweep.dys.tolist() == [-1, 1] and sweep.accuracy.shape == (2, 2)


def test_sweep_errors(baseline, data):
    images, labels = data
    with pytest.raises(ValueError, match="choose one of affine, roll, crop"):
        translation_sweep(baseline, images, labels, [0], method="bilinear", progress=False)
    with pytest.raises(ValueError, match=r"out of range.*\|dx\| <= 31"):
        translation_sweep(baseline, images, labels, [0, 32], method="crop", progress=False)
    with pytest.raises(ValueError, match="dxs must be a non-empty 1-D sequence of int pixel shifts"):
        translation_sweep(baseline, images, labels, [], progress=False)
    with pytest.raises(ValueError, match="dys must be a non-empty 1-D sequence of int"):
        translation_sweep(baseline, images, labels, [0], [0.5], progress=False)
    with pytest.raises(ValueError, match=r"labels must be an int64 tensor of shape \(20,\)"):
        translation_sweep(baseline, images, labels[:3], [0], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        translation_sweep(baseline, images, labels, [0], batch_size=0, progress=False)


@pytest.fixture(scope="module")
def sweep(baseline, data) -> SweepResult:
    return translation_sweep(baseline, data[0], data[1], [-4, -2, 0, 2], [-1, 0, 1], method="affine", progress=False)


def test_sweep_at_reads_the_grid(sweep):
    for row, dy in enumerate([-1, 0, 1]):
        for col, dx in enumerate([-4, -2, 0, 2]):
            assert sweep.at(dx, dy) == (sweep.accuracy[row, col].item(), sweep.loss[row, col].item())


def test_sweep_at_outside_the_grid_lists_it(sweep):
    with pytest.raises(ValueError, match=r"dx=1 is not in the sweep's grid \[-4, -2, 0, 2\]"):
        sweep.at(1, 0)
    with pytest.raises(ValueError, match=r"dy=2 is not in the sweep's grid \[-1, 0, 1\]"):
        sweep.at(0, 2)


def test_sweep_consistency_equals_pair_counting(sweep):
    expected = pair_counting_consistency(sweep.predictions.flatten(0, 1))
    assert sweep.consistency() == pytest.approx(expected)
    assert 0 < sweep.consistency() < 100, "the baseline changes some predictions under shifts"


@pytest.mark.parametrize("metric,label", [("accuracy", "top-1 accuracy (%)"), ("loss", "mean cross-entropy (nats)")])
def test_sweep_plot(sweep, metric, label):
    ax = sweep.plot(metric)
    assert ax.get_title() == f"{label.split(' (')[0].capitalize()} under affine shifts"
    assert "dx" in ax.get_xlabel() and "px" in ax.get_xlabel()
    assert "dy" in ax.get_ylabel() and "px" in ax.get_ylabel()
    colorbars = [a for a in ax.figure.axes if a is not ax]
    assert len(colorbars) == 1 and colorbars[0].get_ylabel() == label
    assert (ax.images[0].get_array() == getattr(sweep, metric).numpy()).all()


def test_sweep_plot_on_given_axes_with_a_title(sweep):
    fig, (left, right) = plt.subplots(1, 2)
    assert sweep.plot("loss", ax=right, title="baseline") is right
    assert right.get_title() == "baseline" and not left.images


def test_sweep_plot_rejects_unknown_metrics(sweep):
    with pytest.raises(ValueError, match="^unknown metric 'consistency'; choose one of accuracy, loss$"):
        sweep.plot("consistency")


# ---------------------------------------------------------------- shift_range and grid_consistency


@pytest.mark.parametrize(
    "args,expected",
    [((4, 2), [-4, -2, 0, 2, 4]), ((0,), [0]), ((3,), [-3, -2, -1, 0, 1, 2, 3]), ((5, 2), [-4, -2, 0, 2, 4]),
     ((2, 5), [0])],
)  # fmt: skip
def test_shift_range(args, expected):
    assert shift_range(*args) == expected


@pytest.mark.parametrize("max_shift,step", [(8, 1), (8, 3), (31, 4)])
def test_shift_range_is_symmetric_and_holds_zero(max_shift, step):
    values = shift_range(max_shift, step)
    assert values == sorted(values) and values == [-v for v in reversed(values)] and 0 in values
    assert max(values) <= max_shift and all(b - a == step for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("args", [(-1,), (4, 0), (4, -2)])
def test_shift_range_errors(args):
    with pytest.raises(ValueError, match="need max_shift >= 0 and step >= 1"):
        shift_range(*args)


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


def test_consistency_converges_to_the_agreement_rate_of_the_sweep(baseline, data):
    """Oracle: with shifts drawn uniformly from a grid, the expected agreement of two draws is, per image,
    the sum over classes of (fraction of grid shifts predicting that class) squared. Many random pairs
    must land within 5 standard errors of it."""
    images, labels = data[0][:8], data[1][:8]
    values = [-2, 0, 1]
    _, _, predictions = plain_sweep(baseline, images, labels, values, values, "roll")
    counts = F.one_hot(predictions.flatten(0, 1), 10).double().mean(0)  # (N, classes): class frequencies
    expected = 100 * counts.pow(2).sum(1).mean().item()
    pairs = 150
    value = sl.consistency(baseline, images, method="roll", shift_values=values, pairs_per_image=pairs, seed=1)
    standard_error = 100 * (expected / 100 * (1 - expected / 100) / (pairs * len(images))) ** 0.5
    assert expected < 99, "the oracle needs a model whose predictions change with the shift"
    assert abs(value - expected) < 5 * standard_error + 1e-9, (value, expected, standard_error)


def test_consistency_errors(baseline, data):
    images, _ = data
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
