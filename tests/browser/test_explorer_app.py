"""The explorer as a web app, as a reading group opens it: `make explorer`'s command serves it with
Voila on 127.0.0.1, and Debian's Chromium (the ``browser`` fixture of conftest.py) uses it.

It must show widgets and text only (no code), load nothing from the internet, redraw its figure after
a change to each control, and inspect the heatmap cell that is clicked: that cell's shifted image and
both models' numbers. The server runs in quick mode (81 positions per data set); on failure the page's
screenshot and text and Voila's log go to ``tests/browser/artifacts/<test>/``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SHIFTLAB_BROWSER_ARTIFACTS", Path(__file__).parent / "artifacts"))
START_S = 120  # Voila answered after about 10 s on a busy 2-core machine
RENDER_S = 180  # the page executes the app notebook first: about 15 s on a busy 2-core machine
REDRAW_S = 60
CONTROLS = ".widget-dropdown, .widget-text, .widget-slider"
CANVAS = ".jupyter-matplotlib-canvas-div canvas"
# A point on the right-hand heatmap, as fractions of the canvas (the maps span x 0.54..0.83, y 0.20..0.87)
RIGHT_MAP_POINT = (0.62, 0.62)
HOVER = re.compile(r"cell \(x, y\) = \((\d+), (\d+)\): (-?\d\.\d{4})")  # the footer's text over a cell


@dataclass
class App:
    """The running Voila server of `python -m shiftlab.explorer`: its address and log."""

    url: str
    process: subprocess.Popen
    log: Path
    started_s: float

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM to Voila's process group (it shuts its kernels down), SIGKILL after 20 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_environment(home: Path) -> dict[str, str]:
    """This environment with a temporary HOME and Jupyter folders, quick mode, no progress-bar switch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "TQDM_"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / ".jupyter"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
               MPLCONFIGDIR=str(home / "matplotlib"), SHIFTLAB_QUICK="1", PYTHONUNBUFFERED="1")
    return env


def start_app(home: Path) -> App:
    """Run `make explorer`'s command (test_serve checks that they agree) and wait until Voila listens."""
    port = free_port()
    log = home / "voila.log"
    start = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "shiftlab.explorer", "--port", str(port)], cwd=REPO,
                                   env=app_environment(home), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    app = App(f"http://127.0.0.1:{port}/", process, log, 0.0)
    while "is running at" not in app.log_text():
        if process.poll() is not None or time.monotonic() - start > START_S:
            app.stop()
            raise RuntimeError(f"Voila did not start within {START_S} s (exit {process.poll()}); its log:\n"
                               f"{app.log_text()}")
        time.sleep(0.2)
    socket.create_connection(("127.0.0.1", port), timeout=10).close()
    app.started_s = time.monotonic() - start
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = start_app(tmp_path_factory.mktemp("voila-home"))
    yield app
    app.stop()


@dataclass
class Page:
    """The app opened in one browser page: the page, every URL it requested, and the seconds it took
    from the request until the explorer's figure was on screen."""

    page: object
    requests: list
    seconds: float

    def explorer(self):
        return self.page.locator(".widget-vbox:has(.widget-dropdown):has(.jupyter-matplotlib)").first

    def canvas(self):
        """The figure's top canvas: the one that receives the mouse."""
        return self.page.locator(CANVAS).last


@pytest.fixture(scope="module")
def opened(app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    start = time.monotonic()
    page.goto(app.url, timeout=RENDER_S * 1000)
    page.locator(CANVAS).last.wait_for(timeout=RENDER_S * 1000)
    opened = Page(page, requests, time.monotonic() - start)
    print(f"\nexplorer app: Voila listening after {app.started_s:.1f} s, explorer shown {opened.seconds:.1f} s "
          "after opening the page")
    yield opened
    context.close()


@pytest.fixture(autouse=True)
def _artifacts_on_failure(request):
    """On a failed test: the page's screenshot and text, and Voila's log, in ARTIFACTS/<test>/."""
    yield
    report = getattr(request.node, "report_call", None)  # kept by conftest's pytest_runtest_makereport
    if report is None or not report.failed or "opened" not in request.fixturenames:
        return
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    opened, app = request.getfixturevalue("opened"), request.getfixturevalue("app")
    try:
        opened.page.screenshot(path=folder / "page.png", full_page=True)
        (folder / "page.txt").write_text(opened.page.locator("body").inner_text(timeout=5000))
    except Exception as error:  # a crashed page still leaves the log
        (folder / "page.error.txt").write_text(repr(error))
    (folder / "voila.log").write_text(app.log_text())
    report.sections.append(("browser artifacts", f"screenshot, page text and Voila's log: {folder}"))


def test_app_shows_widgets_and_text_but_no_code(opened):
    page = opened.page
    assert page.get_by_role("heading", name="Shift happens: the shift explorer").is_visible()
    explorer = opened.explorer()
    assert explorer.locator("select").count() == 6, "models, data set, image, layer and anchor choices"
    box = opened.canvas().bounding_box()
    assert box["width"] > 900 and box["height"] > 350, f"the figure is shown in full size: {box}"
    text = page.locator("body").inner_text()
    code = page.locator(".jp-CodeCell .jp-InputArea, .jp-CodeMirrorEditor, .cm-editor")
    assert "from shiftlab.explorer import app" not in text and code.count() == 0, "the app shows code"
    assert "children=(" not in text, "a widget is shown as text"
    assert "position (" in explorer.inner_text(), "the inspected cell's numbers"


def test_app_loads_nothing_from_the_internet(opened, app):
    foreign = [url for url in opened.requests if not url.startswith((app.url, "data:", "blob:"))]
    assert not foreign, f"the app requested these from elsewhere: {foreign}"
    assert any("jupyter-matplotlib" in url for url in opened.requests), "ipympl's browser code came from the app"
    assert any("jupyterlab-manager" in url for url in opened.requests), "ipywidgets' browser code came from the app"


def change(control) -> str:
    """Set ``control`` to another value as a person would; returns a description for messages."""
    classes = control.get_attribute("class")
    if "widget-dropdown" in classes:
        select = control.locator("select")
        current = select.locator("option:checked").inner_text().strip()
        options = [o.strip() for o in select.locator("option").all_inner_texts()[:20]]
        choice = next(o for o in options if o not in (current, "custom"))
        select.select_option(label=choice)
        return choice
    if "widget-text" in classes:
        box = control.locator("input")
        value, low = int(box.input_value()), int(box.get_attribute("min") or 0)
        new = str(value - 1 if value > low else value + 1)
        box.fill(new)
        box.press("Enter")
        return new
    readout = control.locator(".widget-readout")  # a slider: type into its readout
    new = f"{float(readout.inner_text()) - 0.05:.2f}"
    readout.fill(new)
    readout.press("Enter")
    return new


def label_of(control) -> str:
    labels = control.locator(".widget-label").all_inner_texts()
    return labels[0].strip() if labels else "(no label)"


def redraw_seconds(canvas, before: bytes) -> float | None:
    """Seconds until the figure's pixels differ from ``before``; None if they never did."""
    start = time.monotonic()
    while time.monotonic() - start < REDRAW_S:
        if canvas.screenshot() != before:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def test_each_control_redraws_the_figure(opened):
    explorer, canvas = opened.explorer(), opened.page.locator(CANVAS).first
    anchor = explorer.locator("select:has(option:text-is('custom'))")
    anchor.select_option(label="custom")  # enables the anchor's x and y boxes
    opened.page.wait_for_function("() => [...document.querySelectorAll('.widget-text input')].every(i => !i.disabled)")
    controls = [explorer.locator(CONTROLS).nth(i) for i in range(explorer.locator(CONTROLS).count())]
    results = {}
    for index, control in enumerate(controls):
        if control.locator("select:has(option:text-is('custom'))").count():
            continue  # the anchor: set to "custom" above, which changed the figure already
        before = canvas.screenshot()
        value = change(control)
        results[f"{index}: {label_of(control)} -> {value}"] = redraw_seconds(canvas, before)
    print(f"\nexplorer app: seconds from a change until the figure was redrawn: {results}")
    assert len(results) >= 10, f"only these controls were found: {sorted(results)}"
    unchanged = [control for control, seconds in results.items() if seconds is None]
    assert not unchanged, f"the figure did not change within {REDRAW_S} s after a change of: {unchanged}"


def hover_cell(opened, fraction=RIGHT_MAP_POINT) -> tuple[int, int, str]:
    """Move the mouse to ``fraction`` of the canvas; the cell's x, y and value that the figure's footer shows."""
    box = opened.canvas().bounding_box()
    opened.page.mouse.move(box["x"] + fraction[0] * box["width"], box["y"] + fraction[1] * box["height"])
    footer = opened.explorer().locator(".jupyter-matplotlib-footer").filter(has_text=HOVER)
    footer.wait_for(timeout=REDRAW_S * 1000)
    x, y, value = HOVER.search(footer.inner_text()).groups()
    return int(x), int(y), value


def inspected(opened) -> tuple[str, str, str]:
    """What the explorer shows of the inspected cell: the image's source, the boxes' x, y and the numbers."""
    explorer = opened.explorer()
    image = explorer.locator(".widget-image").last.get_attribute("src")
    boxes = explorer.locator(".widget-text input").all()
    return image, f"{boxes[-2].input_value()}, {boxes[-1].input_value()}", explorer.locator(".widget-html").inner_text()


def test_clicking_a_cell_shows_its_shifted_image_and_numbers(opened):
    start = time.monotonic()
    x, y, value = hover_cell(opened)
    before = inspected(opened)
    if before[1] == f"{x}, {y}":  # that cell is inspected already: pick its neighbour
        x, y, value = hover_cell(opened, (RIGHT_MAP_POINT[0] + 0.04, RIGHT_MAP_POINT[1]))
    opened.page.mouse.down()
    opened.page.mouse.up()
    opened.explorer().locator(".widget-html", has_text=f"position ({x}, {y})").wait_for(timeout=REDRAW_S * 1000)
    seconds = time.monotonic() - start
    image, boxes, numbers = inspected(opened)
    assert boxes == f"{x}, {y}", "the inspect boxes follow the click"
    assert image != before[0], "the shifted image of the clicked cell is shown"
    assert numbers != before[2] and value in numbers, f"the right model's value {value} at the cell, in {numbers!r}"
    print(f"\nexplorer app: hover, click and inspected cell ({x}, {y}) shown in {seconds:.2f} s")
