"""Project-level checks: the conda environment, CI, README, nbgrader config, pytest config, doctests
in src/ (``make test`` collects tests/ only), and the course-wide quick-mode switch."""

import doctest
import importlib
import re
import shlex
import tomllib
from pathlib import Path

import pytest

import shiftlab
from shiftlab import course

REPO = Path(__file__).resolve().parents[1]
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
    text = (REPO / "environment.yml").read_text()
    try:
        import yaml
    except ImportError:  # a parser for the flat subset environment.yml uses
        return parse_simple_yaml(text)
    return yaml.safe_load(text)


def parse_simple_yaml(text: str) -> dict:
    """Parse ``key: value``, ``key:`` + ``- item`` lists, and one nested ``- key:`` + ``- item`` list."""
    result, key, nested = {}, None, None
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        content = line.strip()
        if indent == 0:
            key, _, value = content.partition(":")
            result[key] = value.strip() or []
            nested = None
        elif content.startswith("- ") and content.endswith(":"):
            nested = []
            result[key].append({content[2:-1]: nested})
        elif content.startswith("- ") and nested is not None and indent > 4:
            nested.append(content[2:])
        else:
            nested = None
            result[key].append(content[2:])
    return result


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
    wanted = project["dependencies"] + project["optional-dependencies"]["course"] + project["optional-dependencies"]["test"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str) and requirement(d)[0] not in ("python", "pip")]
    assert sorted(requirement(d)[0] for d in conda) == sorted(requirement(d)[0] for d in wanted)
    assert dict(map(requirement, conda)) == dict(map(requirement, wanted)), "same lower bounds in both files"


def test_simple_yaml_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    text = (REPO / "environment.yml").read_text()
    assert parse_simple_yaml(text) == yaml.safe_load(text)


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


# ---------------------------------------------------------------- doctests in src/


PACKAGE = Path(shiftlab.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
# only modules with examples are imported (importing grading pulls in nbformat and takes seconds)
WITH_DOCTESTS = [m for m in MODULES if ">>>" in (PACKAGE / f"{m}.py").read_text()]


def test_every_module_is_here():
    assert {"data", "layers", "model", "shifts", "evaluate", "features", "flip", "checkpoints", "plots", "course"} <= set(MODULES)
    assert {"layers", "model", "flip"} <= set(WITH_DOCTESTS)


@pytest.mark.parametrize("module", WITH_DOCTESTS)
def test_doctests_in_src_pass(module):
    """``make test`` collects tests/ only, so --doctest-modules never reaches src/; run them here."""
    imported = importlib.import_module(f"shiftlab.{module}")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    examples = 0
    for test in finder.find(imported, imported.__name__):
        examples += len(test.examples)
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert examples > 0, f"no doctest found in shiftlab.{module}"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {module}"


# ---------------------------------------------------------------- course-wide switches


@pytest.mark.parametrize("value,quick", [("1", True), ("0", False), ("", False), ("yes", False)])
def test_quick_mode(monkeypatch, value, quick):
    monkeypatch.setenv(course.QUICK_ENV, value)
    assert shiftlab.quick_mode() is quick
    assert course.lesson_size(1017, 200) == (200 if quick else 1017)


def test_quick_mode_is_off_by_default(monkeypatch):
    monkeypatch.delenv(course.QUICK_ENV, raising=False)
    assert not shiftlab.quick_mode()
    assert course.lesson_size("full", "quick") == "full"


@pytest.mark.parametrize("env,enabled,shown", [("", True, True), ("", False, False), ("1", True, False), ("true", True, False), ("0", True, True)])
def test_progress_bar_honours_enabled_and_tqdm_disable(monkeypatch, env, enabled, shown):
    monkeypatch.setenv("TQDM_DISABLE", env)
    bar = course.progress_bar(range(3), enabled=enabled, desc="test")
    assert bar.disable is not shown
    assert list(bar) == [0, 1, 2]


def test_tqdm_disable_silences_a_sweep(monkeypatch, capsys, baseline, subset):
    """nbgrader_config.py and the solution builder set TQDM_DISABLE; a sweep must then print no bar."""
    images, labels = subset
    monkeypatch.setenv("TQDM_DISABLE", "1")
    shiftlab.translation_sweep(baseline, images[:8], labels[:8], dxs=[0, 1], dys=[0], progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    monkeypatch.setenv("TQDM_DISABLE", "0")
    shiftlab.translation_sweep(baseline, images[:8], labels[:8], dxs=[0, 1], dys=[0], progress=True)
    assert "sweep" in capsys.readouterr().err
