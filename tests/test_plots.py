"""Tests of shiftlab.plots (matplotlib's Agg backend, set in conftest): titles, labels, colour bars, shapes."""

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import shiftlab as sl


def colorbars(fig: Figure, *image_axes: Axes) -> list[Axes]:
    """The axes of a figure that hold colour bars (every axes that is not an image axes)."""
    return [ax for ax in fig.axes if ax not in image_axes and not ax.images]


@pytest.fixture(scope="module")
def grid():
    """A (3, 5) grid of accuracies over dys -1..1 and dxs -4..4 step 2."""
    values = torch.arange(15, dtype=torch.float32).view(3, 5) * 6.5
    return values, [-4, -2, 0, 2, 4], [-1, 0, 1]


# ---------------------------------------------------------------- shift_heatmap


def test_shift_heatmap_labels_title_and_colour_bar(grid):
    values, dxs, dys = grid
    ax = sl.shift_heatmap(values, dxs, dys, title="Accuracy", colorbar_label="top-1 accuracy (%)")
    assert isinstance(ax, Axes)
    assert ax.get_title() == "Accuracy"
    assert ax.get_xlabel() == "horizontal shift dx (px, + = right)"
    assert ax.get_ylabel() == "vertical shift dy (px, + = down)"
    bars = colorbars(ax.figure, ax)
    assert len(bars) == 1 and bars[0].get_ylabel() == "top-1 accuracy (%)"


def test_shift_heatmap_draws_the_values_with_dy_downwards(grid):
    values, dxs, dys = grid
    ax = sl.shift_heatmap(values, dxs, dys)
    assert np.array_equal(ax.images[0].get_array(), values.numpy())
    left, right, bottom, top = ax.images[0].get_extent()
    assert (left, right) == (-5, 5) and (top, bottom) == (-1.5, 1.5)  # cells centred on the shifts
    assert ax.get_ylim()[0] > ax.get_ylim()[1], "dy grows downwards"


def test_shift_heatmap_annotates_small_grids_only(grid):
    values, dxs, dys = grid
    ax = sl.shift_heatmap(values, dxs, dys)
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert len(texts) == 15
    assert ((4, 1), f"{values[2, 4].item():.1f}") in texts and ((-4, -1), "0.00") in texts
    assert not sl.shift_heatmap(values, dxs, dys, annotate=False).texts
    big = torch.rand(12, 12)
    assert not sl.shift_heatmap(big, range(-11, 13, 2), range(-11, 13, 2)).texts
    assert len(sl.shift_heatmap(big, range(12), range(12), annotate=True).texts) == 144


def test_shift_heatmap_on_given_axes_with_limits(grid):
    values, dxs, dys = grid
    fig, (ax1, ax2) = matplotlib.pyplot.subplots(1, 2)
    assert sl.shift_heatmap(values, dxs, dys, ax=ax2, vmin=0, vmax=100, cmap="magma") is ax2
    assert ax2.images[0].get_clim() == (0, 100) and ax2.images[0].get_cmap().name == "magma"
    assert not ax1.images


def test_shift_heatmap_single_shift():
    ax = sl.shift_heatmap(torch.tensor([[87.5]]), [0], [0])
    assert ax.images[0].get_extent() == [-0.5, 0.5, 0.5, -0.5]


@pytest.mark.parametrize("shape", [(5, 3), (3,), (3, 5, 1)])
def test_shift_heatmap_shape_errors(grid, shape):
    _, dxs, dys = grid
    with pytest.raises(ValueError, match=r"\(len\(dys\), len\(dxs\)\) = \(3, 5\), got " + str(shape).replace("(", r"\(").replace(")", r"\)")):
        sl.shift_heatmap(torch.zeros(shape), dxs, dys)


def test_shift_heatmap_of_a_real_sweep(baseline, subset):
    images, labels = subset
    sweep = sl.translation_sweep(baseline, images[:6], labels[:6], [-2, 0, 2], method="roll", progress=False)
    ax = sl.shift_heatmap(sweep.loss, sweep.dxs, sweep.dys, title="loss")
    assert np.allclose(ax.images[0].get_array(), sweep.loss.numpy())


# ---------------------------------------------------------------- feature_grid


@pytest.fixture(scope="module")
def stem_maps(baseline, subset):
    return sl.feature_maps(baseline, subset[0][:1])["0.3"][0]  # (8, 32, 32) after the stem's GELU


def test_feature_grid_title_colour_bar_and_panels(stem_maps):
    fig = sl.feature_grid(stem_maps, title="stem", ncols=3)
    assert isinstance(fig, Figure)
    assert fig._suptitle.get_text() == "stem"
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 8
    assert [ax.get_title() for ax in panels] == [f"ch {i}" for i in range(8)]
    assert len(fig.axes) == 3 * 3 + 1  # a 3 x 3 grid (one empty) and the colour bar
    bars = colorbars(fig, *panels)
    assert [bar.get_ylabel() for bar in bars if bar.get_ylabel()] == ["activation"]


def test_feature_grid_shares_one_colour_scale(stem_maps):
    fig = sl.feature_grid(stem_maps)
    limits = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    assert limits == {(stem_maps.min().item(), stem_maps.max().item())}
    for index, ax in enumerate(ax for ax in fig.axes if ax.images):
        assert np.array_equal(ax.images[0].get_array(), stem_maps[index].numpy())


def test_feature_grid_symmetric_scale(stem_maps):
    signed = stem_maps - 0.1
    fig = sl.feature_grid(signed, symmetric=True)
    low, high = next(ax for ax in fig.axes if ax.images).images[0].get_clim()
    assert low == -high == -signed.abs().max().item()


def test_feature_grid_draws_flat_maps_in_the_middle_colour():
    """A map with no contrast (the normalised blank's first level minus its centre) must not look like a low value."""
    fig = sl.feature_grid(torch.zeros(8, 32, 32), symmetric=True, cmap="RdBu_r", colorbar_label="minus the centre")
    image = next(ax for ax in fig.axes if ax.images).images[0]
    assert image.get_clim() == (-1.0, 1.0)
    assert np.allclose(image.to_rgba(np.zeros((1, 1)))[0, 0], matplotlib.colormaps["RdBu_r"](0.5))
    assert [bar.get_ylabel() for bar in colorbars(fig, image.axes) if bar.get_ylabel()] == ["minus the centre"]


def test_feature_grid_caps_the_number_of_maps():
    fig = sl.feature_grid(torch.rand(40, 4, 4), max_maps=10, ncols=4)
    assert len([ax for ax in fig.axes if ax.images]) == 10


@pytest.mark.parametrize("shape", [(4, 4), (1, 8, 4, 4)])
def test_feature_grid_shape_errors(shape):
    with pytest.raises(ValueError, match=r"feature maps \(C, H, W\), got shape " + str(shape).replace("(", r"\(").replace(")", r"\)")):
        sl.feature_grid(torch.zeros(shape))


# ---------------------------------------------------------------- show_images


def test_show_images_titles_from_labels(subset):
    images, labels = subset
    fig = sl.show_images(images[:10], labels=labels[:10], ncols=4)
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10 and len(fig.axes) == 12
    assert [ax.get_title() for ax in shown] == [sl.CLASSES[int(c)] for c in labels[:10]]
    assert np.allclose(shown[3].images[0].get_array(), images[3].permute(1, 2, 0).numpy())


def test_show_images_explicit_titles_win(subset):
    images, labels = subset
    fig = sl.show_images(images[:2], titles=["left", "right"], labels=labels[:2])
    assert [ax.get_title() for ax in fig.axes] == ["left", "right"]


def test_show_images_clips_to_the_pixel_range(subset):
    images, _ = subset
    fig = sl.show_images(sl.normalize(images[:1]))
    shown = fig.axes[0].images[0].get_array()
    assert shown.min() >= 0 and shown.max() <= 1


def test_show_images_errors(sample):
    with pytest.raises(TypeError, match="to_float"):
        sl.show_images(sample[0][:2])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\), got \(3, 32, 32\)"):
        sl.show_images(torch.zeros(3, 32, 32))


# ---------------------------------------------------------------- exactness_bars


@pytest.fixture
def flip_errors():
    """Errors per (model, size) as assignment 1 measures them: round-off at some sizes, large at others, one 0."""
    return {("resnet18", 32): 0.4, ("resnet18", 33): 2e-7, ("CifarVGG", 24): 0.0, ("CifarVGG", 33): 0.9, ("CifarVGG", 32): 3e-7}


def test_exactness_bars_one_panel_per_model_in_order(flip_errors):
    fig = sl.exactness_bars(flip_errors, threshold=1e-5, ylabel="relative flip error")
    axes = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_title() for ax in axes] == ["resnet18", "CifarVGG"]
    assert [t.get_text() for t in axes[1].get_xticklabels()] == ["24", "33", "32"]
    assert axes[0].get_ylabel() == "relative flip error" and axes[0].get_yscale() == "log"
    assert all(ax.get_xlabel() == "input size (px, square)" for ax in axes)
    assert fig.get_size_inches()[0] <= 9.7, "at most 9.7 in wide: JupyterLab shows about 970 px unscaled"


def test_exactness_bars_colours_and_floor(flip_errors):
    fig = sl.exactness_bars(flip_errors, threshold=1e-5)
    vgg = [ax for ax in fig.axes if ax.get_title() == "CifarVGG"][0]
    heights = [bar.get_height() for bar in vgg.patches]
    colours = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in vgg.patches]
    assert heights == pytest.approx([1e-9, 0.9, 3e-7]), "an error of exactly 0 is drawn at the floor"
    green, red = matplotlib.colors.to_hex("tab:green"), matplotlib.colors.to_hex("tab:red")
    assert colours == [green, red, green]
    assert [line.get_ydata()[0] for line in vgg.lines] == [1e-5], "the threshold is drawn as a line"


def test_exactness_bars_legend_and_fonts(flip_errors):
    fig = sl.exactness_bars(flip_errors, threshold=1e-5)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts == ["threshold 1e-05", "below: exact up to round-off", "above: not exact"]
    assert min(t.get_fontsize() for t in fig.legends[0].get_texts()) >= 9


def test_exactness_bars_rejects_no_errors():
    with pytest.raises(ValueError, match="errors is empty"):
        sl.exactness_bars({}, threshold=1e-5)


# ---------------------------------------------------------------- lesson 4: filters, spectra, samples, interval bars


def test_frequency_response_plot_draws_each_gain_and_the_nyquist_line():
    freqs = torch.linspace(0, 0.5, 51)
    gains = {"3 taps": torch.cos(torch.pi * freqs) ** 2, "5 taps": torch.cos(torch.pi * freqs) ** 4}
    ax = sl.frequency_response_plot(freqs, gains, 0.25)
    curves = [line for line in ax.lines if line.get_label() in gains]
    assert [line.get_label() for line in curves] == ["3 taps", "5 taps"]
    assert np.allclose(curves[0].get_ydata(), gains["3 taps"].numpy())
    assert [text.get_text() for text in ax.texts] == ["0.50", "0.25"], "each filter's gain at the Nyquist line, written"
    assert any(line.get_label() == "new Nyquist f = 0.25" and list(line.get_xdata()) == [0.25, 0.25] for line in ax.lines)
    assert ax.get_xlabel() == "frequency f (cycles per input pixel)" and ax.get_ylabel() == "gain |H(f)|" and ax.get_title()


def test_spectrum_profile_plot_skips_the_mean_and_shades_what_is_folded():
    radii, shares = torch.tensor([0.0, 0.125, 0.25, 0.5]), torch.tensor([0.0, 60.0, 30.0, 10.0])
    ax = sl.spectrum_profile_plot({"maps": (radii, shares)}, 0.25)
    line = next(line for line in ax.lines if line.get_label() == "maps")
    assert list(line.get_xdata()) == [0.125, 0.25, 0.5] and list(line.get_ydata()) == [60, 30, 10]
    assert ax.get_yscale() == "log" and "power" in ax.get_ylabel() and "cycles per pixel" in ax.get_xlabel()
    assert any(patch.get_label() == "folded by subsampling" for patch in ax.patches)


def test_offset_samples_plot_reports_mean_and_max_of_each_grid():
    signal = torch.arange(16, dtype=torch.float64)
    fig = sl.offset_samples_plot({"ramp": signal, "other": -signal}, step=4)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "ramp" and fig.get_size_inches()[0] <= 9.7
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["signal", "grid + 0: mean 6.000, max 12.00", "grid + 0.5: mean 8.000, max 14.00"]


def test_estimate_bars_draws_intervals_values_and_marks():
    estimates = {"a": {"accuracy": sl.Estimate(92.0, 90.0, 94.0, 100)}, "b": {"accuracy": sl.Estimate(95.0, 93.5, 96.0, 100)}}
    fig = sl.estimate_bars(estimates, marks={"a": {"accuracy": 91.0}}, mark_label="manifest")
    ax = fig.axes[0]
    assert [round(bar.get_height(), 6) for bar in ax.patches] == [92.0, 95.0]
    errorbars = next(c for c in ax.containers if isinstance(c, matplotlib.container.ErrorbarContainer))
    caps = errorbars.lines[2][0].get_segments()
    assert [tuple(segment[:, 1]) for segment in caps] == [(90.0, 94.0), (93.5, 96.0)], "error bars span the intervals"
    assert [text.get_text() for text in ax.texts] == ["92.0", "95.0"] and all(t.get_fontsize() >= 9 for t in ax.texts)
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["a", "b"] and "100 images" in ax.get_title()
    assert any(line.get_label() == "manifest" for line in ax.lines) and fig.get_size_inches()[0] <= 9.7


def test_map_panels_share_one_scale_from_zero():
    maps = {f"m{i}": torch.full((4, 4), float(i)) for i in range(6)}
    fig = sl.map_panels(maps, title="blank", colorbar_label="deviation", ncols=4)
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == list(maps) and len(fig.axes) == 8 + 1  # 2 x 4 grid and the colour bar
    assert {ax.images[0].get_clim() for ax in panels} == {(0.0, 5.0)}
    assert fig._suptitle.get_text() == "blank" and fig.get_size_inches()[0] <= 9.7
    assert sl.map_panels({"flat": torch.zeros(3, 3)}, "t", "c").axes[0].images[0].get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"expected \(H, W\) maps, got shapes \[\(2, 3, 3\)\]"):
        sl.map_panels({"x": torch.zeros(2, 3, 3)}, "t", "c")
