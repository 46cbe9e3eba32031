"""``shiftlab.explorer.similarity``: features of every shifted copy, cosine to an anchor, heatmaps,
local and global similarity."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import shiftlab as sl
from shiftlab import explorer as ex
from shiftlab.features import pooled_level_names

IMAGE = 3  # an airplane of the bundled sample


def test_levels_are_the_pooled_walks_levels():
    assert ex.LEVELS == tuple(pooled_level_names(sl.CifarVGG())[:-1])
    assert ex.LAYERS == ex.LEVELS + ("logits", "probability")


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


def test_shift_features_are_the_core_pooled_walk(cache, model_names):
    """The explorer adds only the true-class probability to ``features.pooled_level_outputs``."""
    shifted = cache.dataset(IMAGE, "paste")
    features = cache.features(model_names[0], IMAGE, "paste")
    pooled = sl.pooled_level_outputs(sl.load_pretrained(model_names[0]), shifted.images)
    assert list(features.pooled) == list(pooled)
    for name, values in pooled.items():
        assert torch.equal(features.pooled[name], values), name
    assert torch.equal(features.probability, pooled["logits"].softmax(1)[:, shifted.label])


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


def test_bad_models_labels_and_layers(sample_float, cache, model_names):
    image = sample_float[0][IMAGE]
    with pytest.raises(TypeError, match="CifarVGG-like"):
        ex.shift_features(torch.nn.Linear(3, 3), ex.paste_dataset(image, label=1))
    with pytest.raises(ValueError, match="label -1 is not a class index: build it with the image.s label"):
        ex.shift_features(sl.CifarVGG().eval(), ex.paste_dataset(image, canvas=16))
    with pytest.raises(ValueError, match="feature layer"):
        ex.local_global_similarity(cache.features(model_names[0], IMAGE, "paste"), "probability")


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
