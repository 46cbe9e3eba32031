"""Project-level checks: the conda environment, CI, README, nbgrader config and the pytest configuration."""

import re
import shlex
import tomllib
from pathlib import Path

import pkgutil

import pytest
import yaml
from helpers import REPO_ROOT as REPO

import shiftlab
CONDA_NAMES = {"pytorch": "torch"}  # conda-forge name -> PyPI name, where they differ


def requirement(spec: str) -> tuple[str, str]:
    """('torch', '>=2.4') from 'torch>=2.4' (PyPI or conda match-spec; conda's '=' pins count as '==')."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    name, version = match[1].lower(), match[2].replace(" ", "")
    if re.fullmatch(r"=[^=].*", version):
        version = "=" + version
    return CONDA_NAMES.get(name, name), version


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


# ---------------------------------------------------------------- environment.yml


def test_environment_uses_conda_forge_only(environment):
    assert environment["channels"] == ["conda-forge"]
    assert "defaults" not in str(environment)


def test_environment_pins_python_311_and_pip_installs_the_package(environment):
    dependencies = environment["dependencies"]
    assert "python=3.11" in dependencies
    assert "pip" in dependencies
    pip_sections = [d["pip"] for d in dependencies if isinstance(d, dict) and "pip" in d]
    assert pip_sections == [["-e ."]]


def test_environment_names_the_pyproject_dependencies(environment, pyproject):
    project = pyproject["project"]
    wanted = project["dependencies"] + [spec for extra in project["optional-dependencies"].values() for spec in extra]
    conda = [d for d in environment["dependencies"] if isinstance(d, str) and requirement(d)[0] not in ("python", "pip")]
    assert sorted(requirement(d)[0] for d in conda) == sorted(requirement(d)[0] for d in wanted)
    assert dict(map(requirement, conda)) == dict(map(requirement, wanted)), "same lower bounds in both files"


def test_requirement_parser():
    assert requirement("pytorch>=2.4") == ("torch", ">=2.4")
    assert requirement("python=3.11") == ("python", "==3.11")
    assert requirement("pip") == ("pip", "")


# ---------------------------------------------------------------- CI, Makefile, README


def commands(script: str) -> list[str]:
    """The commands a shell script runs, without comments, blank lines, ``set`` options and ``cd``."""
    lines = [line.split("#")[0].strip() for line in script.splitlines() if not line.startswith("#!")]
    return [line for line in lines if line and not line.startswith(("set ", "cd "))]


def test_ci_runs_exactly_make_test():
    script = REPO / ".ci" / "run"
    assert script.stat().st_mode & 0o111, ".ci/run must be executable"
    assert commands(script.read_text()) == ["make test"]


def test_make_test_runs_pytest_on_the_whole_suite():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile needs a test target"
    lines = [shlex.split(line.strip()) for line in recipe[1].splitlines()]
    assert any(words[1:3] == ["-m", "pytest"] and "-m" not in words[3:] and "-k" not in words[3:] for words in lines), lines


def test_readme_test_command_is_make_test():
    readme = REPO / "README.md"
    if not readme.is_file():
        pytest.skip("README.md does not exist yet; once it does, its test command must be `make test`")
    text = readme.read_text()
    command_lines = [line.split("#")[0].strip().removeprefix("$ ") for line in text.splitlines()]
    assert "make test" in command_lines, "the README should show `make test` as a command line of its own"
    pytest_calls = [line for line in text.splitlines() if re.match(r"\s*(\$ )?(\S*python\S* -m )?pytest\b", line)]
    assert not pytest_calls, f"the README should say `make test`, not call pytest directly: {pytest_calls}"


def test_pytest_configuration(pyproject):
    options = pyproject["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"] and "--import-mode=importlib" in options["addopts"]
    assert any(marker.startswith("slow:") for marker in options["markers"])
    assert "src" in options["testpaths"], "pytest collects the doctests of src/ itself"


def test_extras_split_by_who_needs_them(pyproject):
    extras = {name: {requirement(spec)[0] for spec in specs} for name, specs in pyproject["project"]["optional-dependencies"].items()}
    assert extras == {
        "lab": {"jupyterlab", "ipywidgets", "ipympl", "voila", "ipykernel", "kornia"},
        "instructor": {"nbgrader", "nbformat", "nbclient", "distributed"},
        "test": {"pytest", "pyyaml", "playwright"},
    }
    dependencies = dict(map(requirement, pyproject["project"]["dependencies"]))
    assert dependencies["torch"] == ">=2.4" and dependencies["torchvision"] == ">=0.19"


def test_make_setup_installs_every_extra_editable():
    makefile = (REPO / "Makefile").read_text()
    assert '-m pip install --quiet -e ".[lab,instructor,test]"' in makefile


def test_the_checkpoints_are_package_data(pyproject):
    """load_pretrained reads them from the installed package, so the wheel must carry every file the manifest names."""
    patterns = pyproject["tool"]["setuptools"]["package-data"]["shiftlab"]
    bundled = Path(shiftlab.__file__).parent / "assets" / "checkpoints"
    files = sorted(p.relative_to(bundled.parent.parent) for p in bundled.iterdir())
    assert files, bundled
    assert all(any(path.match(pattern) for pattern in patterns) for path in files), (files, patterns)


# ---------------------------------------------------------------- tests mirror the modules


def mirror_test_file(module: str) -> Path:
    """tests/test_<module>.py for shiftlab.<module>; tests/<package>/test_<module>.py for shiftlab.<package>.<module>
    (``__main__`` is tested in test_main.py)."""
    *packages, name = module.split(".")[1:]
    return REPO / "tests" / Path(*packages) / f"test_{name.strip('_')}.py"


MODULES = sorted(info.name for info in pkgutil.walk_packages(shiftlab.__path__, "shiftlab.") if not info.ispkg)


@pytest.mark.parametrize("module", MODULES)
def test_every_module_has_its_test_file(module):
    assert mirror_test_file(module).is_file(), f"{module} has no {mirror_test_file(module).relative_to(REPO)}"


# ---------------------------------------------------------------- nbgrader_config.py


class Section(dict):
    """A stand-in for traitlets' Config: attributes create nested sections on first access."""

    def __getattr__(self, name):
        return self.setdefault(name, Section())

    def __setattr__(self, name, value):
        self[name] = value


@pytest.fixture(scope="module")
def nbgrader_config() -> Section:
    config = Section()
    source = (REPO / "nbgrader_config.py").read_text()
    exec(compile(source, "nbgrader_config.py", "exec"), {"get_config": lambda: config, "__file__": str(REPO / "nbgrader_config.py")})
    return config


def test_nbgrader_timeout(nbgrader_config):
    timeout = nbgrader_config["Execute"]["timeout"]
    assert isinstance(timeout, int) and 60 <= timeout <= 3600


def test_nbgrader_ignore_pattern(nbgrader_config):
    section = nbgrader_config["IgnorePattern"]
    assert section["enabled"] is True
    pattern = re.compile(section["pattern"])
    assert pattern.search("/lib/torch/nn/modules/conv.py:456: UserWarning: something about cuDNN")
    assert pattern.search(" 40%|████      | 4/10 [00:01<00:02]")
    assert not pattern.search("NameError: name 'translate' is not defined")


def test_nbgrader_course_root(nbgrader_config):
    assert Path(nbgrader_config["CourseDirectory"]["root"]) == REPO / "course"
