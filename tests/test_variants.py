"""Tests of shiftlab.variants: the one list of shipped variants, its models and the bundled checkpoints."""

from dataclasses import replace

import pytest

import shiftlab as sl
from shiftlab.checkpoints import BUNDLED_CHECKPOINTS, read_manifest
from shiftlab.variants import VARIANTS, Variant, describe_variants, get_variant, load_variants, missing_variants


def test_the_variants_are_the_course_lineup():
    assert list(VARIANTS) == ["baseline", "reflect", "replicate", "circular", "blurpool", "aps-circular", "no-translate"]
    assert all(isinstance(v, Variant) and v.name == name and v.idea for name, v in VARIANTS.items())


def test_blurpool_is_zhangs_tri3_padded_by_reflection():
    config = get_variant("blurpool").config()
    assert (config.padding_mode, config.downsampling, config.blur_size, config.blur_padding) == ("zeros", "blur", 3, "reflect")


def test_no_translate_is_the_baseline_model_with_one_recipe_change():
    from shiftlab.train.recipe import make_recipe

    assert get_variant("no-translate").config() == get_variant("baseline").config()
    assert get_variant("no-translate").recipe == {"translate": 0}
    assert make_recipe(get_variant("no-translate").recipe) == replace(make_recipe({}), translate=0)
    assert all(not VARIANTS[name].recipe for name in VARIANTS if name != "no-translate")


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_builds_its_model(name):
    variant = get_variant(name)
    model = sl.CifarVGG.from_config(variant.config())
    assert model.config == variant.config()
    assert all(getattr(model.config, option) == value for option, value in variant.model.items())


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_bundled_checkpoint_has_its_variants_options(name):
    entry = read_manifest(BUNDLED_CHECKPOINTS)[name]
    assert entry["model"] == get_variant(name).config().to_dict()


def test_every_variant_has_a_bundled_checkpoint():
    assert set(VARIANTS) <= set(read_manifest(BUNDLED_CHECKPOINTS))


def test_unknown_variant_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown variant 'blur'; variants: baseline, reflect, .*aps-circular"):
        get_variant("blur")


def test_load_variants_loads_what_exists_in_order_and_names_the_rest(tmp_path):
    entries = read_manifest(BUNDLED_CHECKPOINTS)
    (tmp_path / "manifest.json").write_text(
        '{"checkpoints": {"circular": ' + __import__("json").dumps(entries["circular"]) + "}}")
    (tmp_path / entries["circular"]["file"]).write_bytes((BUNDLED_CHECKPOINTS / entries["circular"]["file"]).read_bytes())
    models = load_variants(["baseline", "circular"], directory=tmp_path)
    assert list(models) == ["circular"] and models["circular"].config.padding_mode == "circular"
    assert not models["circular"].training
    assert missing_variants(["baseline", "circular"], directory=tmp_path) == ["baseline"]
    with pytest.raises(KeyError, match="unknown variant 'zeros'"):
        load_variants(["zeros"], directory=tmp_path)


def test_describe_variants_lists_options_recipe_and_recorded_metrics(tmp_path):
    table = describe_variants().splitlines()
    assert table[0].split()[:4] == ["variant", "padding", "downsampling", "recipe"]
    assert len(table) == 1 + len(VARIANTS)
    baseline = read_manifest(BUNDLED_CHECKPOINTS)["baseline"]["metrics"]
    assert table[1].split() == ["baseline", "zeros", "max", "shared", *(f"{baseline[key]:.2f}" for key in
                                ("test_accuracy", "sample_accuracy", "circular_consistency", "crop_consistency"))]
    assert "translate 0" in next(line for line in table if line.startswith("no-translate"))
    assert describe_variants(["circular"], directory=tmp_path).splitlines()[1].endswith("no checkpoint yet")
