"""``shiftlab.explorer.widget``: the ShiftExplorer's controls, figure and inspected cell, without a browser
(static PNG figure; the interactive ipympl figure is tested in test_live_figure.py)."""

import base64
import io

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.backend_bases import MouseEvent
from PIL import Image

import shiftlab as sl
from shiftlab import explorer as ex

IMAGE = 3  # the explorer fixture's image: an airplane ...
OTHER_IMAGE = 7  # ... and a frog


def shown(explorer):
    """The two heatmaps the figure holds now."""
    return [torch.from_numpy(np.asarray(artist.get_array())) for artist in explorer.plot.artists]


def expected(explorer, cache, layer=None, anchor=None, kind=None, image=None, models=None):
    names = models or explorer.models
    return [cache.heatmap(name, image if image is not None else explorer.image.value, kind or explorer.dataset.value,
                          layer or explorer.layer.value, anchor or explorer.anchor_position) for name in names]


def assert_shows(explorer, maps):
    for got, want in zip(shown(explorer), maps):
        torch.testing.assert_close(got, want.float(), rtol=0, atol=0)


def test_explorer_starts_with_the_requested_view(explorer, cache, model_names):
    plot = explorer.plot
    assert explorer.models == model_names
    assert_shows(explorer, expected(explorer, cache, "level 3", (4, 4)))  # the centre of the quick 9x9 grid
    assert plot.artists[0].get_clim() == (ex.DEFAULT_VMIN["cosine"], 1.0)
    assert plot.axes[0].get_title().startswith(model_names[0]) and "level 3" in plot.axes[0].get_title()
    assert plot.axes[1].get_title().startswith(model_names[1])
    assert plot.axes[0].get_xlabel() == "patch position x (px)"
    assert plot.axes[0].get_ylabel() == "patch position y (px)"
    assert len(plot.figure.axes) == 3, "two heatmaps and one colour bar"
    assert Image.open(io.BytesIO(plot.view.value)).size[0] > 300, "the figure is rendered into the widget"


@pytest.mark.parametrize("layer", ex.LAYERS)
def test_layer_control_updates_both_heatmaps_and_titles(explorer, cache, layer):
    explorer.layer.value = layer
    assert_shows(explorer, expected(explorer, cache, layer))
    title = explorer.plot.axes[1].get_title()
    assert (layer in title) if layer != "probability" else "P(" in title
    assert explorer.plot.anchor_marks[0].get_visible() == (layer != "probability")


def test_anchor_control_moves_the_anchor(explorer, cache):
    before = explorer.plot.view.value
    explorer.anchor.value = "bottom-right"
    assert explorer.anchor_position == (8, 8) and (explorer.anchor_x.value, explorer.anchor_y.value) == (8, 8)
    assert_shows(explorer, expected(explorer, cache, anchor=(8, 8)))
    assert shown(explorer)[0][8, 8].item() == 1.0
    assert tuple(explorer.plot.anchor_marks[1].get_xydata()[0]) == (8, 8)
    assert "(8, 8)" in explorer.plot.axes[0].get_title()
    assert explorer.plot.view.value != before, "the rendered figure changed"
    explorer.anchor.value = "custom"
    assert not explorer.anchor_x.disabled
    explorer.anchor_x.value = 2
    explorer.anchor_y.value = 6
    assert explorer.anchor_position == (2, 6)
    assert_shows(explorer, expected(explorer, cache, anchor=(2, 6)))
    assert shown(explorer)[1][6, 2].item() == 1.0


def test_vmin_slider_sets_the_colour_scale_of_both_maps(explorer):
    plot = explorer.plot
    explorer.vmin.value = 0.35
    assert plot.artists[0].get_clim() == plot.artists[1].get_clim() == (0.35, 1.0)
    assert plot.colorbar.norm.vmin == 0.35
    assert plot.colorbar.extend == "min"
    explorer.layer.value = "probability"  # probabilities keep their own minimum ...
    assert plot.artists[0].get_clim() == (ex.DEFAULT_VMIN["probability"], 1.0)
    assert plot.colorbar.ax.get_ylabel() == "probability of the true class"
    explorer.layer.value = "logits"  # ... and cosine maps get theirs back
    assert plot.artists[1].get_clim() == (0.35, 1.0)


def test_dataset_control_switches_data_and_grid(explorer, cache):
    explorer.dataset.value = "crop"
    assert_shows(explorer, expected(explorer, cache, kind="crop"))
    assert shown(explorer)[0].shape == cache.dataset(IMAGE, "crop").grid_shape
    assert explorer.plot.axes[0].get_xlabel() == "window position x (px)"
    assert "crop" in explorer.plot.figure.get_suptitle()
    assert explorer.anchor_x.max == explorer.cell_x.max == cache.dataset(IMAGE, "crop").grid_shape[1] - 1


def test_image_control_switches_the_image(explorer, cache, sample_float):
    explorer.image.value = OTHER_IMAGE
    assert_shows(explorer, expected(explorer, cache, image=OTHER_IMAGE))
    suptitle = explorer.plot.figure.get_suptitle()
    assert f"test image {OTHER_IMAGE} ({sl.CLASSES[int(sample_float[1][OTHER_IMAGE])]})" in suptitle
    shifted = cache.dataset(OTHER_IMAGE, "paste")
    assert torch.equal(explorer.selection["image"], shifted.images[shifted.index(4, 4)])


def test_model_controls_switch_models(explorer, cache, model_names):
    explorer.model_b.value = model_names[0]
    assert_shows(explorer, expected(explorer, cache, models=(model_names[0],) * 2))
    assert explorer.plot.axes[1].get_title().startswith(model_names[0])
    assert explorer.selection["values"][0] == explorer.selection["values"][1]
    explorer.model_a.value = model_names[1]
    assert_shows(explorer, expected(explorer, cache, models=(model_names[1], model_names[0])))


def test_select_shows_the_shifted_image_and_both_values(explorer, cache, model_names):
    explorer.layer.value = "level 2"
    selection = explorer.select(1, 7)
    shifted = cache.dataset(IMAGE, "paste")
    index = shifted.index(1, 7)
    assert torch.equal(selection["image"], shifted.images[index])
    maps = expected(explorer, cache)
    assert selection["values"] == (maps[0][7, 1].item(), maps[1][7, 1].item())
    for name, probability, prediction in zip(model_names, selection["probabilities"], selection["predictions"]):
        features = cache.features(name, IMAGE, "paste")
        assert probability == features.probability[index].item()
        assert prediction == sl.CLASSES[int(features.predictions[index])]
    assert (explorer.cell_x.value, explorer.cell_y.value) == (1, 7)
    assert tuple(explorer.plot.cell_marks[0].get_xydata()[0]) == (1, 7)
    for value, name in zip(selection["values"], model_names):
        assert f"{value:.4f}" in explorer.info.value and name in explorer.info.value
    assert "position (1, 7)" in explorer.info.value
    picture = np.asarray(Image.open(io.BytesIO(explorer.cell_view.value)).convert("RGB"))
    scale = picture.shape[0] // 24
    expected_pixels = sl.to_uint8(shifted.images[index][None])[0].numpy()
    assert np.array_equal(picture[::scale, ::scale], expected_pixels), "the shown image is the shifted one"


def test_changing_the_layer_updates_the_values_shown(explorer, cache):
    explorer.select(2, 3)
    explorer.layer.value = "probability"
    maps = expected(explorer, cache)
    assert explorer.selection["values"] == (maps[0][3, 2].item(), maps[1][3, 2].item())
    assert "P(true class)" in explorer.info.value


def test_cell_controls_and_clicks_select(explorer):
    explorer.cell_x.value = 6
    assert (explorer.selection["x"], explorer.selection["y"]) == (6, 4)
    ax = explorer.plot.axes[1]
    px, py = ax.transData.transform((3, 5))
    MouseEvent("button_press_event", explorer.plot.figure.canvas, px, py, button=1)._process()
    assert (explorer.selection["x"], explorer.selection["y"]) == (3, 5)


def test_info_names_each_shipped_models_idea(explorer, model_names):
    for name in model_names:
        if name in sl.VARIANTS:
            assert sl.VARIANTS[name].idea in explorer.info.value


def test_display_falls_back_to_the_figure_never_to_widget_text(explorer, model_names):
    """Where widgets cannot render (a stored notebook opened untrusted, GitHub), viewers show the PNG;
    the text is one line that names the view, not ``VBox(children=(...``."""
    bundle = explorer._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.jupyter.widget-view+json", "image/png", "text/plain"}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.widget.model_id
    figure = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert figure.size == Image.open(io.BytesIO(explorer.plot.view.value)).size
    assert not bundle["text/plain"].startswith("VBox") and "children=" not in bundle["text/plain"]
    assert bundle["text/plain"] == f"ShiftExplorer: {model_names[0]} vs {model_names[1]}, test image {IMAGE}, paste, " \
                                   "level 3, anchor (4, 4)"


# ---------------------------------------------------------------- errors


def test_bad_explorer_arguments(cache, model_names, explorer):
    with pytest.raises(ValueError, match="unknown model"):
        ex.ShiftExplorer(cache, models=(model_names[0], "nope"))
    with pytest.raises(ValueError, match="pair of model names"):
        ex.ShiftExplorer(cache, models=model_names[:1])
    with pytest.raises(ValueError, match=r"cell \(x, y\) = \(3, 12\) is off the 9x9 grid"):
        explorer.select(3, 12)
    with pytest.raises(ValueError, match="unknown layer"):
        ex.ShiftExplorer(cache, models=model_names, layer="fc")


def test_one_model_is_paired_with_itself(sample_float, baseline):
    images, labels = sample_float[0][:5], sample_float[1][:5]
    cache = ex.FeatureCache(models={"only": baseline}, images=images, labels=labels, sizes=ex.QUICK_SIZES)
    explorer = ex.ShiftExplorer(cache, image_index=2)
    assert explorer.models == ("only", "only")
    assert_shows(explorer, expected(explorer, cache))
    with pytest.raises(ValueError, match=r"image index must be an int in 0..4, got 5"):
        ex.ShiftExplorer(cache, image_index=5)
    matplotlib.pyplot.close("all")
