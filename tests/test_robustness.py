"""Tests of shiftlab.robustness: agreement with a reference shift and the worst case over shifts, computed from a
sweep's predictions, checked on hand-made grids with known answers and against plain loops on real sweeps; and
their charts."""

import matplotlib.colors as mcolors
import pytest
import torch

import shiftlab as sl
from shiftlab.robustness import chebyshev_radii
from shiftlab.sweeps import SweepResult


def hand_made(predictions, labels, dxs, dys=(0,)) -> SweepResult:
    """A SweepResult with given predictions (len(dys), len(dxs), N) and labels (N,); accuracy from them, loss 0."""
    predictions, labels = torch.tensor(predictions), torch.tensor(labels)
    accuracy = (predictions == labels).double().mean(-1).float() * 100
    return SweepResult(dxs=torch.tensor(dxs), dys=torch.tensor(dys), accuracy=accuracy,
                       loss=torch.zeros_like(accuracy), predictions=predictions, labels=labels, method="roll")


# One row, shifts -2..2, four images with true classes 0, 1, 2, 3:
#   image 0 is right everywhere; image 1 is wrong only at dx = +2; image 2 only at dx = -1; image 3 everywhere.
LINE = hand_made([[[0, 1, 2, 0], [0, 1, 7, 0], [0, 1, 2, 0], [0, 1, 2, 0], [0, 5, 2, 0]]],
                 [0, 1, 2, 3], [-2, -1, 0, 1, 2])


@pytest.fixture(scope="module")
def real_line(baseline, held_out) -> SweepResult:
    images, labels = held_out
    return sl.translation_sweep(baseline, images, labels, dxs=list(range(-5, 6)), dys=[0], method="affine",
                                progress=False)


@pytest.fixture(scope="module")
def real_grid(baseline, held_out) -> SweepResult:
    images, labels = held_out
    return sl.translation_sweep(baseline, images, labels, dxs=[-4, -2, 0, 2, 4], dys=[-2, 0, 2], method="crop",
                                progress=False)


# ---------------------------------------------------------------- correct_share, agreement_over, accuracy_over


def test_correct_share_counts_each_images_correct_shifts():
    # Over dx in (-1, 0, 1, 2): image 0 always right, image 1 wrong at +2, image 2 wrong at -1, image 3 never right.
    shifts = [(-1, 0), (0, 0), (1, 0), (2, 0)]
    assert sl.correct_share(LINE, shifts).tolist() == [100.0, 75.0, 75.0, 0.0]
    assert sl.correct_share(LINE, [(0, 0)]).tolist() == [100.0, 100.0, 100.0, 0.0]


def test_agreement_over_counts_agreeing_pairs_of_shifts_per_image():
    # Over dx in (-1, 0, 1): image 2 has classes 7, 2, 2: 1 of its 3 pairs agrees; the others keep one class.
    assert sl.agreement_over(LINE, [(-1, 0), (0, 0), (1, 0)]).tolist() == pytest.approx([100.0, 100.0, 100 / 3, 100.0])
    with pytest.raises(ValueError, match=r"at least 2 \(dx, dy\) shifts of the sweep's grid, got 1"):
        sl.agreement_over(LINE, [(0, 0)])


def test_agreement_over_equals_a_loop_on_a_real_grid(real_grid):
    shifts = [(-2, -2), (0, 0), (4, 2), (2, 0)]
    columns = [real_grid.predictions[real_grid.position(dx, dy)] for dx, dy in shifts]
    pairs = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    expected = [100 * sum(int(columns[a][n] == columns[b][n]) for a, b in pairs) / len(pairs) for n in range(20)]
    assert sl.agreement_over(real_grid, shifts).tolist() == pytest.approx(expected)


def test_accuracy_over_is_the_mean_of_the_correct_shares_with_their_standard_error():
    shifts = [(-1, 0), (0, 0), (1, 0), (2, 0)]
    accuracy, error = sl.accuracy_over(LINE, shifts)
    assert accuracy == pytest.approx(62.5)  # (100 + 75 + 75 + 0) / 4
    per_image = torch.tensor([100.0, 75.0, 75.0, 0.0], dtype=torch.float64)
    assert error == pytest.approx((per_image.std() / 2).item())
    with pytest.raises(ValueError, match="at least 1"):
        sl.accuracy_over(LINE, [])


# ---------------------------------------------------------------- unchanged_share


def test_unchanged_share_counts_images_keeping_their_class():
    # Image 3 keeps its (wrong) class 0 everywhere; image 2 changes at dx = -1, image 1 at dx = +2.
    assert sl.unchanged_share(LINE).tolist() == [[100.0, 75.0, 100.0, 100.0, 75.0]]
    assert sl.unchanged_share(LINE, dx=-1).tolist() == [[75.0, 100.0, 75.0, 75.0, 50.0]]


def test_unchanged_share_equals_a_loop_on_a_real_grid(real_grid):
    shares = sl.unchanged_share(real_grid, dx=2, dy=-2)
    row, col = real_grid.position(2, -2)
    for r in range(3):
        for c in range(5):
            same = sum(int(real_grid.predictions[r, c, n] == real_grid.predictions[row, col, n]) for n in range(20))
            assert shares[r, c].item() == pytest.approx(100 * same / 20)
    assert shares[row, col] == 100 and shares.shape == (3, 5) and shares.dtype == torch.float64


def test_unchanged_share_under_roll_is_100_for_an_invariant_model(invariant, held_out):
    images, labels = held_out
    sweep = sl.translation_sweep(invariant, images, labels, dxs=[-3, 0, 2, 5], dys=[-1, 0], method="roll",
                                 progress=False)
    assert (sl.unchanged_share(sweep) == 100).all()


def test_unchanged_share_rejects_a_reference_outside_the_grid():
    with pytest.raises(ValueError, match=r"dx=3 is not in the sweep's grid \[-2, -1, 0, 1, 2\]"):
        sl.unchanged_share(LINE, dx=3)


# ---------------------------------------------------------------- worst_case_error


def test_worst_case_error_of_a_hand_made_line():
    # k = 0: image 3 only (25%); k = 1 adds image 2 (dx = -1); k = 2 adds image 1 (dx = +2).
    assert sl.worst_case_error(LINE).tolist() == [25.0, 50.0, 75.0]
    assert sl.worst_case_error(LINE, radii=[2, 0]).tolist() == [75.0, 25.0]


def test_worst_case_error_in_two_dimensions_uses_the_square_of_radius_k():
    # Grid dys (-1, 0, 1) x dxs (-1, 0, 1), one image of class 0, wrong only at the corner (1, 1): |dx|, |dy| <= 1.
    predictions = torch.zeros(3, 3, 1, dtype=torch.int64)
    predictions[2, 2, 0] = 4
    sweep = hand_made(predictions.tolist(), [0], [-1, 0, 1], [-1, 0, 1])
    assert sl.worst_case_error(sweep).tolist() == [0.0, 100.0]


def test_worst_case_error_equals_a_loop_and_never_decreases(real_line):
    radii = list(range(6))
    errors = sl.worst_case_error(real_line, radii)
    labels, dxs = real_line.labels, real_line.dxs.tolist()
    for k, error in zip(radii, errors.tolist()):
        wrong = [any(int(real_line.predictions[0, dxs.index(dx), n]) != int(labels[n]) for dx in range(-k, k + 1))
                 for n in range(len(labels))]
        assert error == pytest.approx(100 * sum(wrong) / len(labels))
    assert (errors[1:] >= errors[:-1]).all()
    assert errors[0].item() == pytest.approx(100 - real_line.at(0, 0)[0], abs=1e-4), "k = 0 is the plain error rate"


def test_worst_case_error_of_an_invariant_model_under_roll_is_flat(invariant, held_out):
    images, labels = held_out
    sweep = sl.translation_sweep(invariant, images, labels, dxs=list(range(-4, 5)), dys=[0], method="roll",
                                 progress=False)
    errors = sl.worst_case_error(sweep)
    assert (errors == errors[0]).all(), errors


@pytest.mark.parametrize("radius", [-1, 3])
def test_worst_case_error_rejects_radii_outside_the_grid(radius):
    message = rf"radius {radius} px is outside the grid's shifts, which reach from 0 to 2 px"
    with pytest.raises(ValueError, match=message):
        sl.worst_case_error(LINE, radii=[radius])


def test_chebyshev_radii():
    assert chebyshev_radii(LINE) == [0, 1, 2]
    grid = hand_made(torch.zeros(2, 3, 1, dtype=torch.int64).tolist(), [0], [-4, 0, 4], [1, 6])
    assert chebyshev_radii(grid) == [1, 4, 6]


# ---------------------------------------------------------------- charts


def test_plot_unchanged_share_colours_multiples_of_the_period(real_line):
    ax = sl.plot_unchanged_share(real_line, period=4, title="agreement")
    bars = ax.patches[: len(real_line.dxs)]
    assert [bar.get_x() + bar.get_width() / 2 for bar in bars] == pytest.approx(real_line.dxs.tolist())
    green = mcolors.to_rgba("tab:green")
    assert [bar.get_facecolor() == green for bar in bars] == [dx % 4 == 0 for dx in real_line.dxs.tolist()]
    assert [bar.get_height() for bar in bars] == pytest.approx(sl.unchanged_share(real_line)[0].tolist())
    labels = ax.texts
    assert len(labels) == len(bars) and min(text.get_fontsize() for text in labels) >= 9
    assert ax.get_ylim()[0] <= min(bar.get_height() for bar in bars) and ax.get_title() == "agreement"
    assert "px" in ax.get_xlabel() and "%" in ax.get_ylabel()


def test_plot_unchanged_share_rejects_a_grid_with_several_rows(real_grid):
    with pytest.raises(ValueError, match=r"expected a one-row sweep \(one dy\), got dys \[-2, 0, 2\]"):
        sl.plot_unchanged_share(real_grid)


def test_plot_worst_case_draws_one_curve_per_sweep_with_error_bars(real_line, real_grid):
    ax = sl.plot_worst_case({"line": real_line, "grid": real_grid}, title="worst case",
                            styles={"grid": {"linestyle": "--"}})
    assert [container.get_label() for container in ax.containers] == ["line", "grid"]
    data = [container.lines[0] for container in ax.containers]  # the curves (the rest are the error bars)
    assert data[0].get_xdata().tolist() == list(range(6))
    assert data[0].get_ydata().tolist() == pytest.approx(sl.worst_case_error(real_line).tolist())
    assert data[1].get_xdata().tolist() == [0, 2, 4] and data[1].get_linestyle() == "--"
    assert len(ax.collections) == 2, "one set of error bars per curve"
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["line", "grid"]
    assert "k (px)" in ax.get_xlabel() and "%" in ax.get_ylabel() and ax.get_title() == "worst case"


def test_plot_worst_case_rejects_no_sweeps():
    with pytest.raises(ValueError, match="sweeps is empty"):
        sl.plot_worst_case({})
