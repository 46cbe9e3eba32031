"""Tests of shiftlab.train.recipe: the shared recipe, a variant's overrides, and the fields every manifest
entry and training state store."""

from dataclasses import asdict, fields

import pytest

from shiftlab.checkpoints import BUNDLED_CHECKPOINTS, read_manifest
from shiftlab.train.recipe import PRECISIONS, Recipe, make_recipe
from shiftlab.variants import VARIANTS


def test_overrides_then_settings():
    recipe = make_recipe({"translate": 0, "epochs": 20}, epochs=3, seed=7)
    assert (recipe.translate, recipe.epochs, recipe.seed) == (0, 3, 7)
    assert make_recipe({}) == Recipe()


def test_unknown_override_names_the_fields():
    with pytest.raises(ValueError, match="unknown recipe field.* translation; fields: .*translate"):
        make_recipe({"translation": 0})


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_overrides_only_recipe_fields(name):
    assert set(VARIANTS[name].recipe) <= {f.name for f in fields(Recipe)}
    make_recipe(VARIANTS[name].recipe)


@pytest.mark.parametrize("name", sorted(read_manifest(BUNDLED_CHECKPOINTS)))
def test_the_bundled_checkpoints_were_trained_with_these_fields(name):
    """A state or manifest entry of today's recipe has exactly these fields, in this order (resume compares them)."""
    assert list(read_manifest(BUNDLED_CHECKPOINTS)[name]["recipe"]) == list(asdict(Recipe()))


@pytest.mark.parametrize("field,value,message", [
    ("precision", "float16", "unknown precision 'float16'; choose one of " + ", ".join(PRECISIONS)),
    ("epochs", 0, "epochs must be a positive int, got 0"),
    ("batch_size", 2.5, "batch_size must be a positive int, got 2.5"),
    ("translate", -1, "translate must be an int number of pixels >= 0, got -1"),
])  # fmt: skip
def test_bad_values_are_refused(field, value, message):
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.") + "$"):
        Recipe(**{field: value})
