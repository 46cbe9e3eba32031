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
