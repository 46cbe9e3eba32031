"""``shiftlab.explorer.serve``: the app notebook, its explorer, and the Voila command of `make explorer`
(the app itself is served and clicked in tests/browser/test_explorer_app.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import nbformat
import pytest

from helpers import REPO_ROOT
from shiftlab.explorer import serve


def test_voila_serves_the_app_notebook_on_localhost_without_code():
    command = serve.voila_command(8870)
    assert command[:4] == [sys.executable, "-m", "voila", str(serve.APP_NOTEBOOK)]
    for option in ("--no-browser", "--Voila.ip=127.0.0.1", "--port=8870", "--Voila.port_retries=0",
                   "--strip_sources=True"):
        assert option in command
    assert serve.voila_command()[serve.voila_command().index("--Voila.ip=127.0.0.1") + 1] == "--port=8866"


@pytest.mark.parametrize("port", [0, 70000, "8866", True])
def test_bad_ports_are_named(port):
    with pytest.raises(ValueError, match=f"port must be an int in 1..65535, got {port!r}"):
        serve.voila_command(port)


def test_make_explorer_runs_the_module_with_its_port():
    """`make explorer PORT=<n>` (setup taken as done) is `python -m shiftlab.explorer --port <n>`."""
    for args, port in (([], 8866), (["PORT=8871"], 8871)):
        dry_run = subprocess.run(["make", "-n", "-s", "-o", ".venv/.installed", "explorer", *args], cwd=REPO_ROOT,
                                 capture_output=True, text=True, check=True).stdout.strip()
        assert dry_run == f".venv/bin/python -m shiftlab.explorer --port {port}"


def test_main_replaces_itself_with_voila(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(serve.os, "execve", lambda path, args, env: calls.append((path, args, env)))
    serve.main(["--port", "8872"])
    assert calls == [(sys.executable, serve.voila_command(8872), serve.voila_environment())]
    assert "http://127.0.0.1:8872" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        serve.main(["--port", "eighty"])


def test_the_app_template_is_found_and_loads_nothing_from_a_cdn():
    from voila.paths import collect_template_paths

    env = serve.voila_environment({"JUPYTER_PATH": "/elsewhere"})
    assert env["JUPYTER_PATH"] == f"{serve.TEMPLATES_ROOT}{os.pathsep}/elsewhere"
    template = serve.TEMPLATES_ROOT / "voila" / "templates" / serve.TEMPLATE
    assert json.loads((template / "conf.json").read_text()) == {"base_template": "lab"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
        paths = collect_template_paths(["voila", "nbconvert"], serve.TEMPLATE, prune=True)
    assert paths[0] == str(template) and any(path.endswith("voila/templates/lab") for path in paths)
    lab = Path(paths[paths.index(str(template)) + 1]) / "index.html.j2"
    cdn_links = [line.strip() for line in lab.read_text().splitlines() if "https://" in line and "<link" in line]
    ours = (template / "index.html.j2").read_text()
    assert cdn_links and all(link in ours for link in cdn_links), "every CDN link of Voila's lab template is removed"


def test_the_app_notebook_only_calls_app():
    notebook = nbformat.read(serve.APP_NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert code == ["from shiftlab.explorer import app\n\napp()"]
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "stored unexecuted"


def test_app_is_the_explorer_in_full_size(sample_float, baseline):
    images, labels = sample_float[0][:12], sample_float[1][:12]
    cache = serve.FeatureCache(models={"baseline": baseline}, images=images, labels=labels)
    explorer = serve.app(cache)
    assert tuple(explorer.plot.figure.get_size_inches()) == serve.APP_FIGSIZE
    assert len(explorer.image.options) == 12, "every test image can be chosen"
    assert explorer.cache.sizes == cache.sizes
    matplotlib.pyplot.close("all")
