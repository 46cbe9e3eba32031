"""Tests of shiftlab.borders: centre deviation, profiles on the input's pixel scale, reach, and the figures."""

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.colors import LogNorm

import shiftlab as sl


def test_centre_deviation_against_a_loop(maps):
    result = sl.centre_deviation(maps)  # (2, 6, 32, 32) real feature-like maps
    for n in range(2):
        for c in range(6):
            assert torch.equal(result[n, c], maps[n, c] - maps[n, c, 16, 16])
    assert result[..., 16, 16].abs().max() == 0


def test_centre_deviation_of_maps_constant_per_channel_is_zero():
    flat = torch.stack([torch.full((5, 7), 2.5), torch.full((5, 7), -4.0)])
    assert torch.equal(sl.centre_deviation(flat), torch.zeros(2, 5, 7))


def test_centre_deviation_needs_two_dimensions():
    with pytest.raises(ValueError, match=r"expected maps \(\.\.\., H, W\), got shape \(5,\)"):
        sl.centre_deviation(torch.zeros(5))


def test_input_pixel_profiles_repeat_by_stride_and_cut_at_width():
    profiles = {"a": torch.tensor([3.0, 2.0, 1.0, 0.0]), "b": torch.tensor([5.0, 4.0])}
    table = sl.input_pixel_profiles(profiles, input_size=8, map_sizes={"a": 8, "b": 4}, width=6)
    expected = torch.tensor([[3.0, 2.0, 1.0, 0.0, 0.0, 0.0], [5.0, 5.0, 4.0, 4.0, 0.0, 0.0]])
    assert torch.equal(table, expected)
    assert sl.input_pixel_profiles(profiles, 8, {"a": 8, "b": 4}, width=3).shape == (2, 3)


def test_border_reach_in_input_pixels():
    profiles = {"full": torch.tensor([0.2, 0.1, 0.0, 0.0]), "pooled": torch.tensor([0.5, 0.002, 0.0005]),
                "flat": torch.zeros(3)}
    sizes = {"full": 96, "pooled": 48, "flat": 24}
    assert sl.border_reach(profiles, 96, sizes) == {"full": 2, "pooled": 4, "flat": 0}
    assert sl.border_reach(profiles, 96, sizes, threshold=0.01)["pooled"] == 2


def test_median_from_skips_earlier_layers():
    curve = {"0.0": 100.0, "0.1": 100.0, "1.0": 1.0, "1.1": 2.0, "2.0": 3.0}
    assert sl.median_from(curve, "1.0") == 2.0
    assert sl.median_from(curve, "2.0") == 3.0
    with pytest.raises(KeyError, match="from '0.0' to '2.0'"):
        sl.median_from(curve, "9.9")


def test_show_layers_one_titled_readable_grid_per_layer(maps):
    figures = sl.show_layers({"0.3": maps[0], "1.6": maps[1, :4, :16, :16]}, title="one photo", max_maps=3, ncols=3)
    assert len(figures) == 2
    assert figures[0]._suptitle.get_text() == "one photo: layer 0.3, 32x32 px, first 3 of 6 channels"
    assert figures[1]._suptitle.get_text() == "one photo: layer 1.6, 16x16 px, first 3 of 4 channels"
    for figure in figures:
        assert figure.get_figwidth() <= 9.7
        assert min(ax.title.get_fontsize() for ax in figure.axes if ax.get_title()) >= 9
        plt.close(figure)
    everything = sl.show_layers({"2.6": maps[0, :2]}, title="blank")
    assert everything[0]._suptitle.get_text() == "blank: layer 2.6, 32x32 px"
    plt.close(everything[0])
    with pytest.raises(ValueError, match=r"layer 0.3: expected one map \(C, H, W\)"):
        sl.show_layers({"0.3": maps}, title="batch")


def test_plot_layer_curves_in_forward_order():
    curves = {"zeros": {"1.0": 0.2, "1.1": 0.5, "2.0": 0.9}, "circular": {"1.0": 0.0, "1.1": 0.1, "2.0": 0.05}}
    ax = sl.plot_layer_curves(curves, title="Border contrast", ylabel="contrast (no unit)")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1.0", "1.1", "2.0"]
    assert [line.get_label() for line in ax.get_lines()] == ["zeros", "circular"]
    assert list(ax.get_lines()[1].get_ydata()) == [0.0, 0.1, 0.05]
    assert ax.figure.get_figwidth() <= 9.7 and ax.get_ylabel() == "contrast (no unit)"
    plt.close(ax.figure)
    later = sl.plot_layer_curves(curves, title="from 1.1", ylabel="contrast", first="1.1")
    assert [t.get_text() for t in later.get_xticklabels()] == ["1.1", "2.0"]
    assert list(later.get_lines()[0].get_ydata()) == [0.5, 0.9]
    plt.close(later.figure)
    with pytest.raises(KeyError, match="no layer '9.9'"):
        sl.plot_layer_curves(curves, title="x", ylabel="y", first="9.9")


def test_plot_edge_profiles_log_scale_and_nothing_for_an_empty_table():
    table = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.01, 0.0]])
    fig = sl.plot_edge_profiles(table, ["0.0 (96 px)", "1.0 (96 px)"], title="reach")
    image = fig.axes[0].images[0]
    assert isinstance(image.norm, LogNorm) and image.norm.vmin == 1e-4 and image.norm.vmax == pytest.approx(0.5)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0.0 (96 px)", "1.0 (96 px)"]
    assert fig.get_figwidth() <= 9.7 and len(fig.axes) == 2  # the heatmap and its colour bar
    plt.close(fig)
    figures_before = plt.get_fignums()
    assert sl.plot_edge_profiles(torch.zeros(2, 3), ["a", "b"], title="empty") is None
    assert plt.get_fignums() == figures_before, "an empty table draws nothing (no LogNorm error)"
    with pytest.raises(ValueError, match="2 rows, 1 labels"):
        sl.plot_edge_profiles(table, ["a"], title="x")
