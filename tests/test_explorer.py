"""Tests of the reading-group explorer (``shiftlab.explorer``), on the bundled sample.

Models: the trained checkpoints when at least two exist (``sl.load_pretrained``); otherwise conftest's
small calibrated variants (max pooling and blur pooling) that the tests store themselves with
``save_checkpoint`` in a temporary folder named by ``SHIFTLAB_CHECKPOINTS``. Features are computed on
the quick-mode data sets (81 positions each) so the whole module runs in well under a minute.
"""

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.backend_bases import MouseEvent  # noqa: E402
from PIL import Image  # noqa: E402

import shiftlab as sl  # noqa: E402
from shiftlab import explorer as ex  # noqa: E402
from shiftlab.checkpoints import CHECKPOINTS_ENV, save_checkpoint  # noqa: E402

IMAGE = 3  # test images of the bundled sample: an airplane ...
OTHER_IMAGE = 7  # ... and a frog


@pytest.fixture(scope="module")
def model_names(tmp_path_factory, make_model):
    """Two checkpoint names that ``sl.load_pretrained`` can load while the module runs."""
    real = sl.available_checkpoints()
    if len(real) >= 2:
        yield ex.default_pair(real)
        return
    directory = tmp_path_factory.mktemp("checkpoints")
    for name, downsampling in (("baseline", "max"), ("blurpool", "blur")):
        save_checkpoint(make_model("zeros", downsampling), name, directory)  # calibrated, with a fitted probe
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CHECKPOINTS_ENV, str(directory))
        yield ("baseline", "blurpool")


@pytest.fixture(scope="module")
def cache(model_names):
    return ex.FeatureCache(sizes=ex.QUICK_SIZES)


@pytest.fixture
def explorer(cache, model_names):
    explorer = ex.ShiftExplorer(cache, models=model_names, dataset="paste", image_index=IMAGE, layer="level 3")
    yield explorer
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- data sets


@pytest.mark.parametrize("sizes, paste_shape, crop_shape", [
    (ex.FULL_SIZES, (289, 3, 32, 32), (289, 3, 32, 32)),
    (ex.QUICK_SIZES, (81, 3, 24, 24), (81, 3, 32, 32)),
])
def test_dataset_sizes_are_as_stated(sample_float, sizes, paste_shape, crop_shape):
    image = sample_float[0][IMAGE]
    paste, crop = ex.make_dataset("paste", image, 8, sizes), ex.make_dataset("crop", image, 8, sizes)
    assert paste.images.shape == paste_shape and crop.images.shape == crop_shape
    side = sizes.paste_canvas - sizes.patch + 1
    assert paste.grid_shape == (side, side) and f"{side}x{side} positions" in paste.description
    side = sizes.crop_canvas - sizes.window + 1
    assert crop.grid_shape == (side, side) and f"{side}x{side} offsets" in crop.description
    assert paste.positions[:3].tolist() == [[0, 0], [1, 0], [2, 0]], "positions are (x, y), row-major"


def test_dataset_sizes_follow_quick_mode(monkeypatch):
    monkeypatch.setenv("SHIFTLAB_QUICK", "1")
    assert ex.dataset_sizes() == ex.QUICK_SIZES
    monkeypatch.setenv("SHIFTLAB_QUICK", "0")
    assert ex.dataset_sizes() == ex.FULL_SIZES


@pytest.mark.parametrize("x, y", [(0, 0), (16, 0), (0, 16), (16, 16), (8, 8), (5, 11)])
def test_pasted_patch_sits_at_its_position_on_the_mean_colour(sample_float, x, y):
    image = sample_float[0][IMAGE]
    shifted = ex.paste_dataset(image, patch=16, canvas=32)
    patch = image[:, 8:24, 8:24]  # the central 16x16 crop
    canvas = shifted.images[shifted.index(x, y)]
    assert torch.equal(canvas[:, y : y + 16, x : x + 16], patch)
    outside = torch.ones(32, 32, dtype=torch.bool)
    outside[y : y + 16, x : x + 16] = False
    background = patch.mean((1, 2)).view(3, 1)
    torch.testing.assert_close(canvas[:, outside], background.expand(3, int(outside.sum())), rtol=0, atol=1e-7)


def test_crop_windows_are_windows_of_the_upsampled_image(sample_float):
    image = sample_float[0][IMAGE]
    shifted = ex.crop_dataset(image, window=32, canvas=48)
    big = F.interpolate(image[None], size=(48, 48), mode="bilinear", align_corners=False)[0]
    for x, y in [(0, 0), (16, 0), (3, 9), (16, 16)]:
        torch.testing.assert_close(shifted.images[shifted.index(x, y)], big[:, y : y + 32, x : x + 32])
    same_size = ex.crop_dataset(image, window=32, canvas=32)
    assert same_size.grid_shape == (1, 1)
    torch.testing.assert_close(same_size.images[0], image)


# ---------------------------------------------------------------- features and heatmaps


@pytest.mark.parametrize("kind", ex.DATASETS)
@pytest.mark.parametrize("layer", ex.LAYERS[:-1])
@pytest.mark.parametrize("anchor", ex.ANCHORS + ((3, 5),))
def test_anchor_cell_is_exactly_one(cache, model_names, kind, layer, anchor):
    values = cache.heatmap(model_names[0], IMAGE, kind, layer, anchor)
    x, y = ex.resolve_anchor(anchor, values.shape)
    assert values[y, x].item() == 1.0
    assert values.min() >= -1 and values.max() <= 1


@pytest.mark.parametrize("kind", ex.DATASETS)
def test_probability_heatmaps_match_a_direct_forward_pass(cache, model_names, kind):
    shifted = cache.dataset(IMAGE, kind)
    ny, nx = shifted.grid_shape
    for name in model_names:
        model = sl.load_pretrained(name)
        values = cache.heatmap(name, IMAGE, kind, "probability")
        with torch.no_grad():
            direct = model(shifted.images).softmax(1)[:, shifted.label].view(ny, nx)
            torch.testing.assert_close(values, direct, rtol=0, atol=1e-5)
            for x, y in [(0, 0), (nx - 1, ny - 1), (nx // 2, 1)]:
                single = model(shifted.images[shifted.index(x, y)][None]).softmax(1)[0, shifted.label]
                assert abs(values[y, x].item() - single.item()) <= 1e-5, f"{name} {kind} at ({x}, {y})"


def test_pooled_features_are_the_levels_outputs_averaged(cache, model_names):
    shifted = cache.dataset(IMAGE, "crop")
    features = cache.features(model_names[1], IMAGE, "crop")
    model = sl.load_pretrained(model_names[1])
    maps = sl.feature_maps(model, shifted.images)
    for level, name in enumerate(ex.LEVELS):
        last = f"{level}.{len(model[level]) - 1}"
        torch.testing.assert_close(features.pooled[name], maps[last].mean((-2, -1)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(features.pooled["logits"], maps[list(maps)[-1]], rtol=1e-4, atol=1e-5)


def test_cosine_to_anchor_matches_torch():
    vectors = torch.randn(50, 7)
    expected = F.cosine_similarity(vectors.double(), vectors[13:14].double(), dim=1)
    torch.testing.assert_close(ex.cosine_to_anchor(vectors, 13).double(), expected, rtol=0, atol=1e-6)


def test_local_and_global_similarity_match_a_loop():
    torch.manual_seed(0)
    vectors = torch.randn(12, 5)
    features = ex.ShiftFeatures({"level 1": vectors}, torch.zeros(12), 0, (3, 4))
    grid = F.normalize(vectors.double(), dim=1).view(3, 4, 5)
    neighbours = [(grid[y, x] @ grid[y, x + 1]).item() for y in range(3) for x in range(3)]
    neighbours += [(grid[y, x] @ grid[y + 1, x]).item() for y in range(2) for x in range(4)]
    flat = grid.view(12, 5)
    pairs = [(flat[i] @ flat[j]).item() for i in range(12) for j in range(12) if i != j]
    local, global_ = ex.local_global_similarity(features, "level 1")
    assert local == pytest.approx(np.mean(neighbours)) and global_ == pytest.approx(np.mean(pairs))
    same = ex.ShiftFeatures({"level 1": torch.ones(12, 5)}, torch.zeros(12), 0, (3, 4))
    assert ex.local_global_similarity(same, "level 1") == pytest.approx((1.0, 1.0))


def test_cache_hits_do_not_run_the_model(model_names):
    cache = ex.FeatureCache(sizes=ex.QUICK_SIZES)
    calls = []
    cache.model(model_names[0])[0].register_forward_pre_hook(lambda module, inputs: calls.append(len(inputs[0])))
    cache.features(model_names[0], OTHER_IMAGE, "paste")
    assert sum(calls) == 81 and cache.forward_passes == 1
    for layer in ex.LAYERS:
        for anchor in ex.ANCHORS + ((2, 7),):
            cache.heatmap(model_names[0], OTHER_IMAGE, "paste", layer, anchor)
    assert sum(calls) == 81 and cache.forward_passes == 1, "a new layer or anchor must not run the model again"
    cache.heatmap(model_names[0], OTHER_IMAGE, "crop", "level 2")
    assert sum(calls) == 162 and cache.forward_passes == 2


def test_default_pair():
    assert ex.default_pair(["aps-circular", "baseline", "blurpool"]) == ("baseline", "blurpool")
    assert ex.default_pair(["aps-circular", "baseline"]) == ("aps-circular", "baseline")
    assert ex.default_pair(["baseline"]) == ("baseline", "baseline")
    with pytest.raises(ValueError, match="no trained models"):
        ex.default_pair([])


# ---------------------------------------------------------------- the widget, without a browser


def shown(explorer):
    """The two heatmaps the figure holds now."""
    return [torch.from_numpy(np.asarray(artist.get_array())) for artist in explorer.artists]


def expected(explorer, cache, layer=None, anchor=None, kind=None, image=None, models=None):
    names = models or explorer.models
    return [cache.heatmap(name, image if image is not None else explorer.image.value, kind or explorer.dataset.value,
                          layer or explorer.layer.value, anchor or explorer.anchor_position) for name in names]


def assert_shows(explorer, maps):
    for got, want in zip(shown(explorer), maps):
        torch.testing.assert_close(got, want.float(), rtol=0, atol=0)


def test_explorer_starts_with_the_requested_view(explorer, cache, model_names):
    assert explorer.models == model_names
    assert_shows(explorer, expected(explorer, cache, "level 3", (4, 4)))  # the centre of the quick 9x9 grid
    assert explorer.artists[0].get_clim() == (ex.DEFAULT_VMIN["cosine"], 1.0)
    assert explorer.axes[0].get_title().startswith(model_names[0]) and "level 3" in explorer.axes[0].get_title()
    assert explorer.axes[1].get_title().startswith(model_names[1])
    assert explorer.axes[0].get_xlabel() == "patch position x (px)"
    assert explorer.axes[0].get_ylabel() == "patch position y (px)"
    assert len(explorer.figure.axes) == 3, "two heatmaps and one colour bar"
    assert Image.open(io.BytesIO(explorer._plot.value)).size[0] > 300, "the figure is rendered into the widget"


@pytest.mark.parametrize("layer", ex.LAYERS)
def test_layer_control_updates_both_heatmaps_and_titles(explorer, cache, layer):
    explorer.layer.value = layer
    assert_shows(explorer, expected(explorer, cache, layer))
    title = explorer.axes[1].get_title()
    assert (layer in title) if layer != "probability" else "P(" in title
    assert explorer._anchor_marks[0].get_visible() == (layer != "probability")


def test_anchor_control_moves_the_anchor(explorer, cache):
    before = explorer._plot.value
    explorer.anchor.value = "bottom-right"
    assert explorer.anchor_position == (8, 8) and (explorer.anchor_x.value, explorer.anchor_y.value) == (8, 8)
    assert_shows(explorer, expected(explorer, cache, anchor=(8, 8)))
    assert shown(explorer)[0][8, 8].item() == 1.0
    assert tuple(explorer._anchor_marks[1].get_xydata()[0]) == (8, 8)
    assert "(8, 8)" in explorer.axes[0].get_title()
    assert explorer._plot.value != before, "the rendered figure changed"
    explorer.anchor.value = "custom"
    assert not explorer.anchor_x.disabled
    explorer.anchor_x.value = 2
    explorer.anchor_y.value = 6
    assert explorer.anchor_position == (2, 6)
    assert_shows(explorer, expected(explorer, cache, anchor=(2, 6)))
    assert shown(explorer)[1][6, 2].item() == 1.0


def test_vmin_slider_sets_the_colour_scale_of_both_maps(explorer):
    explorer.vmin.value = 0.35
    assert explorer.artists[0].get_clim() == explorer.artists[1].get_clim() == (0.35, 1.0)
    assert explorer.colorbar.norm.vmin == 0.35
    assert explorer.colorbar.extend == "min"
    explorer.layer.value = "probability"  # probabilities keep their own minimum ...
    assert explorer.artists[0].get_clim() == (ex.DEFAULT_VMIN["probability"], 1.0)
    assert explorer.colorbar.ax.get_ylabel() == "probability of the true class"
    explorer.layer.value = "logits"  # ... and cosine maps get theirs back
    assert explorer.artists[1].get_clim() == (0.35, 1.0)


def test_dataset_control_switches_data_and_grid(explorer, cache):
    explorer.dataset.value = "crop"
    assert_shows(explorer, expected(explorer, cache, kind="crop"))
    assert shown(explorer)[0].shape == cache.dataset(IMAGE, "crop").grid_shape
    assert explorer.axes[0].get_xlabel() == "window position x (px)"
    assert "crop" in explorer.figure.get_suptitle()
    assert explorer.anchor_x.max == explorer.cell_x.max == cache.dataset(IMAGE, "crop").grid_shape[1] - 1


def test_image_control_switches_the_image(explorer, cache, sample_float):
    explorer.image.value = OTHER_IMAGE
    assert_shows(explorer, expected(explorer, cache, image=OTHER_IMAGE))
    assert f"test image {OTHER_IMAGE} ({sl.CLASSES[int(sample_float[1][OTHER_IMAGE])]})" in explorer.figure.get_suptitle()
    shifted = cache.dataset(OTHER_IMAGE, "paste")
    assert torch.equal(explorer.selection["image"], shifted.images[shifted.index(4, 4)])


def test_model_controls_switch_models(explorer, cache, model_names):
    explorer.model_b.value = model_names[0]
    assert_shows(explorer, expected(explorer, cache, models=(model_names[0],) * 2))
    assert explorer.axes[1].get_title().startswith(model_names[0])
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
    assert tuple(explorer._cell_marks[0].get_xydata()[0]) == (1, 7)
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
    ax = explorer.axes[1]
    px, py = ax.transData.transform((3, 5))
    MouseEvent("button_press_event", explorer.figure.canvas, px, py, button=1)._process()
    assert (explorer.selection["x"], explorer.selection["y"]) == (3, 5)


# ---------------------------------------------------------------- errors


def test_unknown_model_names_the_available_ones(cache, model_names):
    with pytest.raises(ValueError, match=f"unknown model 'nope'; available: .*{model_names[0]}"):
        cache.model("nope")
    with pytest.raises(ValueError, match="unknown model"):
        ex.ShiftExplorer(cache, models=(model_names[0], "nope"))
    with pytest.raises(ValueError, match="pair of model names"):
        ex.ShiftExplorer(cache, models=model_names[:1])


def test_bad_anchor_layer_dataset_and_index(cache, model_names, explorer):
    with pytest.raises(ValueError, match=r"anchor \(x, y\) = \(9, 0\) is off the 9x9 grid.*x must be in 0..8"):
        cache.heatmap(model_names[0], IMAGE, "paste", "level 1", (9, 0))
    with pytest.raises(ValueError, match="unknown anchor 'middle'; choose one of centre"):
        cache.heatmap(model_names[0], IMAGE, "paste", "level 1", "middle")
    with pytest.raises(TypeError, match="pair of int pixels"):
        cache.heatmap(model_names[0], IMAGE, "paste", "level 1", (1.5, 2))
    with pytest.raises(ValueError, match="unknown layer 'level 4'; choose one of level 0"):
        cache.heatmap(model_names[0], IMAGE, "paste", "level 4")
    with pytest.raises(ValueError, match="unknown data set 'rolled'"):
        cache.dataset(IMAGE, "rolled")
    with pytest.raises(ValueError, match=r"image index must be an int in 0..1016, got 5000"):
        cache.features(model_names[0], 5000, "paste")
    with pytest.raises(ValueError, match=r"cell \(x, y\) = \(3, 12\) is off the 9x9 grid"):
        explorer.select(3, 12)
    with pytest.raises(ValueError, match="unknown layer"):
        ex.ShiftExplorer(cache, models=model_names, layer="fc")
    with pytest.raises(ValueError, match="feature layer"):
        ex.local_global_similarity(cache.features(model_names[0], IMAGE, "paste"), "probability")


def test_bad_images_and_sizes(sample_float):
    image = sample_float[0][IMAGE]
    with pytest.raises(ValueError, match="float tensor"):
        ex.paste_dataset(sl.to_uint8(image[None])[0].permute(2, 0, 1))
    with pytest.raises(ValueError, match="patch size 40 must be between 1 and the image's 32 px"):
        ex.paste_dataset(image, patch=40, canvas=48)
    with pytest.raises(ValueError, match="canvas_size 12 is smaller than the 16x16 patch"):
        ex.paste_dataset(image, patch=16, canvas=12)
    with pytest.raises(ValueError, match="canvas 24 px must be at least the image's 32 px"):
        ex.crop_dataset(image, window=16, canvas=24)
    with pytest.raises(ValueError, match="window size 40 is larger"):
        ex.crop_dataset(image, window=40, canvas=32)
    with pytest.raises(TypeError, match="CifarVGG-like"):
        ex.shift_features(torch.nn.Linear(3, 3), ex.paste_dataset(image, label=1))
    with pytest.raises(ValueError, match="label -1 is not a class index: build it with the image.s label"):
        ex.shift_features(sl.CifarVGG().eval(), ex.paste_dataset(image, canvas=16))


def test_aps_circular_is_exactly_invariant_on_the_paste_set(sample_float, invariant):
    """On a plain canvas, pasting the patch elsewhere is a circular shift of the canvas, and APS with
    circular padding makes a network exactly invariant to circular shifts (Chaman and Dokmanic, 2021)."""
    image, label = sample_float[0][IMAGE], int(sample_float[1][IMAGE])
    features = ex.shift_features(invariant, ex.make_dataset("paste", image, label, ex.QUICK_SIZES))
    for layer in ex.LAYERS[:-1]:
        assert ex.heatmap(features, layer, "top-left").min() > 1 - 1e-5, layer
    torch.testing.assert_close(features.probability, features.probability[:1].expand(81), rtol=0, atol=1e-6)
    crop = ex.shift_features(invariant, ex.make_dataset("crop", image, label, ex.QUICK_SIZES))
    assert ex.heatmap(crop, "level 1", "top-left").min() < 0.99, "new content enters the crop windows"


def test_compare_heatmaps_draws_one_row_per_model_and_one_colour_bar(cache, model_names):
    fig = ex.compare_heatmaps(cache, model_names, IMAGE, ["paste", "crop", "paste"], ["level 2", "logits", "probability"])
    assert len(fig.axes) == 2 * 3 + 1
    assert fig.axes[0].get_title().startswith(f"{model_names[0]}, paste")
    assert fig.axes[-1].get_ylabel() == "cosine similarity to the anchor / probability of the true class"
    assert fig.axes[-1]._colorbar.extend == "neither"  # nothing below 0.0
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)
    torch.testing.assert_close(torch.from_numpy(np.asarray(fig.axes[4].images[0].get_array())),
                               cache.heatmap(model_names[1], IMAGE, "crop", "logits"))
    with pytest.raises(ValueError, match="one data set per column"):
        ex.compare_heatmaps(cache, model_names, IMAGE, ["paste"], ["level 2", "logits"])
    matplotlib.pyplot.close(fig)
    clipped = ex.compare_heatmaps(cache, model_names, IMAGE, "paste", ["level 3"], vmin=0.999)
    assert clipped.axes[-1]._colorbar.extend == "min"  # values below the scale's minimum share its colour, and it shows
    matplotlib.pyplot.close(clipped)


def test_one_model_is_paired_with_itself(sample_float, baseline):
    images, labels = sample_float[0][:5], sample_float[1][:5]
    cache = ex.FeatureCache(models={"only": baseline}, images=images, labels=labels, sizes=ex.QUICK_SIZES)
    explorer = ex.ShiftExplorer(cache, image_index=2)
    assert explorer.models == ("only", "only")
    assert_shows(explorer, expected(explorer, cache))
    with pytest.raises(ValueError, match=r"image index must be an int in 0..4, got 5"):
        ex.ShiftExplorer(cache, image_index=5)
    matplotlib.pyplot.close("all")


def test_cache_rejects_mismatched_labels(sample_float):
    with pytest.raises(ValueError, match="labels must be a tensor \\(5,\\)"):
        ex.FeatureCache(models={}, images=sample_float[0][:5], labels=sample_float[1][:4])
    with pytest.raises(ValueError, match="labels were given without images"):
        ex.FeatureCache(labels=sample_float[1])


@pytest.mark.slow
def test_notebook_executes_in_quick_mode(model_names, tmp_path, monkeypatch):
    """The reading-group notebook runs top to bottom (quick mode) with the checkpoints at hand."""
    from shiftlab.grading import execute, solution_notebook, source_path

    monkeypatch.setenv("SHIFTLAB_QUICK", "1")  # execute() sets it too; monkeypatch restores it afterwards
    notebook = execute(solution_notebook(source_path("05_explorer")), tmp_path, quick=True)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "\n".join(output.get("text", "") for output in outputs)
    assert "81 images of 24x24 px" in text and "81 images of 32x32 px" in text
    assert all(name in text for name in model_names)
    figures = sum("image/png" in output.get("data", {}) for output in outputs)
    assert figures >= 5, "two data-set strips and three heatmap figures"
