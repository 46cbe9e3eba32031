"""The explorer as a web app for reading groups: a small notebook (``app.ipynb``) served by Voila.

Voila runs the notebook in a fresh kernel for each visitor and shows only its widgets and text, no
code. Everything it loads comes from the local server (ipywidgets and ipympl ship their browser
code in their Python packages), so the app works offline.

    make explorer                         # http://127.0.0.1:8866; PORT=<n> for another port
    python -m shiftlab.explorer --port N  # the same command, also from an installed package
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .cache import FeatureCache
from .widget import ShiftExplorer

APP_NOTEBOOK = Path(__file__).with_name("app.ipynb")
# A Jupyter data folder with the app's Voila template "shiftlab": Voila's lab template, nothing from a CDN.
TEMPLATES_ROOT = Path(__file__).with_name("jupyter")  # holds voila/templates/shiftlab/
TEMPLATE = "shiftlab"
DEFAULT_PORT = 8866
APP_FIGSIZE = (10.4, 4.48)  # inches at 100 px each: 1040 x 448 px, for a projector or a shared screen


def app(cache: FeatureCache | None = None) -> ShiftExplorer:
    """The explorer as the app shows it: the default model pair, a large figure, every bundled test
    image to choose from, and an interactive figure (clicks and hovering) when ipympl is installed."""
    cache = cache or FeatureCache()
    return ShiftExplorer(cache, n_images=len(cache.images), figsize=APP_FIGSIZE)


def voila_command(port: int = DEFAULT_PORT, notebook: Path = APP_NOTEBOOK) -> list[str]:
    """The command that serves ``notebook`` with Voila on 127.0.0.1:``port``: sources stripped, the app's
    template (run it with ``voila_environment()``), no browser opened, and an error (not another port)
    when the port is taken."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an int in 1..65535, got {port!r}")
    return [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
            "--Voila.port_retries=0", "--strip_sources=True", "--theme=light", f"--template={TEMPLATE}"]


def voila_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with the app's template folder first on ``JUPYTER_PATH``."""
    environ = dict(os.environ if environ is None else environ)
    environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(TEMPLATES_ROOT), environ.get("JUPYTER_PATH")]))
    return environ


def main(argv: list[str] | None = None) -> None:
    """``python -m shiftlab.explorer [--port N]``: replace this process with the Voila server."""
    parser = argparse.ArgumentParser(prog="python -m shiftlab.explorer",
                                     description="Serve the shift explorer as a web app on 127.0.0.1 (Voila).")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    try:
        command = voila_command(args.port)
    except ValueError as error:
        parser.error(str(error))  # exits with status 2 and the usage line
    print(f"Serving the shift explorer at http://127.0.0.1:{args.port} (Ctrl-C stops it)", flush=True)
    os.execve(command[0], command, voila_environment())
