"""The public API (``shiftlab.__all__``): every name resolves, no name hides a submodule, and every name the
course notebooks use is reachable from ``shiftlab`` itself."""

import pkgutil
import re

import nbformat
import pytest
from helpers import REPO_ROOT

import shiftlab as sl

NOTEBOOKS = sorted((REPO_ROOT / "course" / "source").glob("*/*.ipynb"))
SUBMODULES = {info.name for info in pkgutil.iter_modules(sl.__path__)}


def code_of(path) -> str:
    return "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")


def test_every_public_name_resolves_once():
    assert len(sl.__all__) == len(set(sl.__all__))
    missing = [name for name in sl.__all__ if not hasattr(sl, name)]
    assert not missing, missing


def test_no_public_name_equals_a_submodule():
    assert len(SUBMODULES) > 10, SUBMODULES  # the walk found the package's modules
    assert not set(sl.__all__) & SUBMODULES, "a public name would hide (or be hidden by) a submodule"


def test_every_public_function_and_class_says_what_it_does():
    undocumented = [name for name in sl.__all__ if callable(getattr(sl, name)) and not getattr(sl, name).__doc__]
    assert not undocumented, undocumented


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_use_only_public_names(notebook):
    """``sl.<name>`` and ``from shiftlab import <name>`` name public names (or, for the explorer, its module);
    no ``from shiftlab.<module> import``, no reaching into a submodule with ``sl.<module>.<name>``."""
    code = code_of(notebook)
    used = set(re.findall(r"\bsl\.(\w+)", code))
    imported = {name.strip().split(" as ")[0] for names in re.findall(r"from shiftlab import ([\w, ]+)", code) for name in names.split(",")}
    assert not re.findall(r"from shiftlab\.\w+ import", code)
    assert used - set(sl.__all__) == set(), f"not public: {sorted(used - set(sl.__all__))}"
    assert imported - set(sl.__all__) - {"explorer"} == set(), sorted(imported - set(sl.__all__))
