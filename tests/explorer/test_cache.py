"""``shiftlab.explorer.cache``: models, data sets and features computed once; the default model pair."""

import pytest

from shiftlab import explorer as ex
from shiftlab.variants import VARIANTS

IMAGE = 3  # an airplane of the bundled sample ...
OTHER_IMAGE = 7  # ... and a frog


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


def test_preferred_pair_names_shipped_variants():
    assert all(name in VARIANTS for name in ex.PREFERRED_PAIR)


def test_unknown_model_names_the_available_ones(cache, model_names):
    with pytest.raises(ValueError, match=f"unknown model 'nope'; available: .*{model_names[0]}"):
        cache.model("nope")


def test_bad_anchor_layer_dataset_and_index(cache, model_names):
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


def test_cache_rejects_mismatched_labels(sample_float):
    with pytest.raises(ValueError, match="labels must be a tensor \\(5,\\)"):
        ex.FeatureCache(models={}, images=sample_float[0][:5], labels=sample_float[1][:4])
    with pytest.raises(ValueError, match="labels were given without images"):
        ex.FeatureCache(labels=sample_float[1])
