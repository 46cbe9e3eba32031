"""Tests of shiftlab.sweeps: translation sweeps against a plain loop (``oracles.py``), the result's
accessors and plots, and ``shift_range``."""

import matplotlib.pyplot as plt
import pytest
import torch
from oracles import pair_counting_consistency, plain_sweep

import shiftlab as sl
from shiftlab.shifts import SHIFT_METHODS
from shiftlab.sweeps import SweepResult, shift_range, translation_sweep


# ---------------------------------------------------------------- translation_sweep


@pytest.mark.parametrize("method", SHIFT_METHODS)
@pytest.mark.parametrize("batch_size", [7, 256])
def test_sweep_equals_a_plain_loop(baseline, held_out, method, batch_size):
    images, labels = held_out
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
def test_sweep_equals_a_plain_loop_for_other_models(make_model, held_out, padding_mode, downsampling):
    model = make_model(padding_mode, downsampling)
    images, labels = held_out[0][:8], held_out[1][:8]
    sweep = translation_sweep(model, images, labels, [-2, 1], method="crop", batch_size=5, progress=False)
    accuracy, loss, predictions = plain_sweep(model, images, labels, [-2, 1], [-2, 1], "crop")
    assert torch.equal(sweep.predictions, predictions)
    assert torch.allclose(sweep.loss, loss, atol=1e-5)


def test_sweep_without_shift_equals_evaluate(baseline, held_out):
    images, labels = held_out
    sweep = translation_sweep(baseline, images, labels, [0], progress=False)
    plain = sl.evaluate(baseline, images, labels)
    assert sweep.at(0, 0) == pytest.approx((plain.accuracy, plain.loss), abs=1e-4)


def test_circular_aps_sweep_under_roll_is_flat(invariant, held_out):
    images, labels = held_out
    sweep = translation_sweep(invariant, images, labels, [-3, 0, 5], method="roll", progress=False)
    assert (sweep.predictions == sweep.predictions[1, 1]).all()
    assert torch.allclose(sweep.loss, sweep.loss[1, 1].expand(3, 3), atol=1e-5)
    assert sweep.consistency() == 100.0


@pytest.mark.parametrize("kind", ["tensor", "numpy"])
def test_sweep_accepts_integer_tensors_and_arrays(baseline, held_out, kind):
    images, labels = held_out[0][:2], held_out[1][:2]
    first = translation_sweep(baseline, images, labels, [-1, 1], progress=False)
    dxs = first.dxs if kind == "tensor" else first.dxs.numpy()
    again = translation_sweep(baseline, images, labels, dxs, progress=False)
    assert torch.equal(again.predictions, first.predictions)


def test_sweep_default_grid_is_square(baseline, held_out):
    sweep = translation_sweep(baseline, held_out[0][:2], held_out[1][:2], [-1, 1], progress=False)
    assert sweep.dys.tolist() == [-1, 1] and sweep.accuracy.shape == (2, 2)


def test_sweep_errors(baseline, held_out):
    images, labels = held_out
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
def sweep(baseline, held_out) -> SweepResult:
    return translation_sweep(baseline, held_out[0], held_out[1], [-4, -2, 0, 2], [-1, 0, 1], method="affine", progress=False)


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


# ---------------------------------------------------------------- shift_range


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
