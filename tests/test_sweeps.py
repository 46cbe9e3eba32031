"""Tests of shiftlab.sweeps: translation sweeps against a plain loop (``oracles.py``), the result's
accessors, table and plots, curves of one-row sweeps, and ``shift_range``."""

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


def test_sweep_keeps_its_labels_and_finds_positions(sweep, held_out):
    assert torch.equal(sweep.labels, held_out[1])
    assert sweep.position(2, -1) == (0, 3) and sweep.position(-4, 1) == (2, 0)
    with pytest.raises(ValueError, match=r"dy=5 is not in the sweep's grid \[-1, 0, 1\]"):
        sweep.position(0, 5)


def test_sweep_table_prints_the_grid(sweep):
    lines = sweep.table("accuracy").splitlines()
    assert lines[0].split()[-4:] == ["-4", "-2", "0", "2"] and len(lines) == 4
    for line, dy, row in zip(lines[1:], [-1, 0, 1], sweep.accuracy):
        assert line.split() == [str(dy)] + [f"{value:.1f}" for value in row.tolist()]
    assert sweep.table("loss").splitlines()[2].split()[1:] == [f"{value:.2f}" for value in sweep.loss[1].tolist()]
    with pytest.raises(ValueError, match="unknown metric 'consistency'"):
        sweep.table("consistency")


# ---------------------------------------------------------------- plot_shift_curves


@pytest.fixture(scope="module")
def lines(baseline, held_out) -> dict[str, SweepResult]:
    images, labels = held_out
    return {method: translation_sweep(baseline, images, labels, list(range(-9, 10)), [0], method=method, progress=False)
            for method in ("affine", "roll")}


def test_shift_curves_draw_one_line_per_sweep_with_standard_error_bands(lines):
    ax = sl.plot_shift_curves(lines, title="baseline", styles={"roll": {"color": "tab:orange", "linestyle": "--"}})
    curves = ax.get_lines()
    assert [line.get_label() for line in curves] == ["affine", "roll"]
    assert curves[0].get_xdata().tolist() == list(range(-9, 10))
    assert curves[0].get_ydata().tolist() == pytest.approx(lines["affine"].accuracy[0].tolist())
    assert curves[1].get_linestyle() == "--" and curves[1].get_color() == "tab:orange"
    band = ax.collections[0].get_paths()[0].vertices[:, 1]  # the first band, +- one standard error of 20 images
    p = lines["affine"].accuracy[0, 9].item() / 100
    assert band.max() >= 100 * p + 100 * (p * (1 - p) / 20) ** 0.5 - 1e-3
    assert len(ax.collections) == 2 and ax.get_title() == "baseline" and ax.get_ylabel() == "top-1 accuracy (%)"
    assert "dx (px" in ax.get_xlabel() and ax.get_legend() is not None


def test_shift_curves_of_the_loss_have_no_bands_and_period_lines_stay_inside(lines):
    ax = sl.plot_shift_curves(lines, metric="loss", period=8)
    assert not ax.collections and ax.get_ylabel() == "mean cross-entropy (nats)"
    verticals = [line.get_xdata()[0] for line in ax.get_lines() if line.get_label().startswith("_")]
    assert sorted(verticals) == [-8, 0, 8]


def test_shift_curves_reject_grids_and_nothing(sweep, lines):
    with pytest.raises(ValueError, match=r"sweep 'grid' has 3 rows \(dys \[-1, 0, 1\]\); expected a one-row sweep"):
        sl.plot_shift_curves({"grid": sweep})
    with pytest.raises(ValueError, match="sweeps is empty"):
        sl.plot_shift_curves({})
    with pytest.raises(ValueError, match="unknown metric 'consistency'"):
        sl.plot_shift_curves(lines, metric="consistency")


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
