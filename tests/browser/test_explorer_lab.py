"""The explorer of notebook 05 in JupyterLab (conftest's student lab): click to inspect on its interactive
(ipympl) figure after Run All, and the stored solution, opened before any kernel runs, shows a figure
rather than widget text."""

from __future__ import annotations

import os
import re
import shutil
import time
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("SHIFTLAB_BROWSER_ARTIFACTS", Path(__file__).parent / "artifacts"))
EXPLORER = "solutions/05_explorer/05_explorer.ipynb"
CANVAS = ".jupyter-matplotlib-canvas-div canvas"
INSPECT_S = 60
RIGHT_MAP_POINT = (0.62, 0.62)  # a point on the right-hand heatmap, as fractions of the canvas


@pytest.fixture(scope="module")
def explorer(runs):
    """The output area of the explorer in the 05 solution after Run All (one per notebook)."""
    run = runs(EXPLORER)
    output = run.page.locator(".jp-Notebook .jp-OutputArea-output:has(.widget-dropdown)")
    assert output.count() == 1, f"{EXPLORER}: expected one output with the explorer's controls, found {output.count()}"
    output.scroll_into_view_if_needed()
    return output


def test_the_figure_is_interactive_in_the_lab(explorer):
    canvas = explorer.locator(CANVAS)
    assert canvas.count() == 2, "ipympl's figure (an image canvas and the canvas that takes the mouse)"
    assert canvas.last.bounding_box()["width"] > 600
    assert "click a cell to inspect it" in explorer.inner_text()


def test_clicking_a_cell_shows_its_shifted_image_and_numbers(explorer, runs):
    page = runs(EXPLORER).page
    canvas = explorer.locator(CANVAS).last
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    image_before = explorer.locator(".widget-image").last.get_attribute("src")
    page.mouse.move(box["x"] + RIGHT_MAP_POINT[0] * box["width"], box["y"] + RIGHT_MAP_POINT[1] * box["height"])
    hover = re.compile(r"cell \(x, y\) = \((\d+), (\d+)\): (-?\d\.\d{4})")
    footer = explorer.locator(".jupyter-matplotlib-footer").filter(has_text=hover)
    footer.wait_for(timeout=INSPECT_S * 1000)
    x, y, value = hover.search(footer.inner_text()).groups()
    x, y = int(x), int(y)
    start = time.monotonic()
    page.mouse.down()
    page.mouse.up()
    explorer.locator(".widget-html", has_text=f"position ({x}, {y})").wait_for(timeout=INSPECT_S * 1000)
    print(f"\nJupyterLab explorer: cell ({x}, {y}) inspected {time.monotonic() - start:.2f} s after the click")
    boxes = explorer.locator(".widget-text input").all()
    assert (boxes[-2].input_value(), boxes[-1].input_value()) == (str(x), str(y)), "the inspect boxes follow the click"
    assert (x, y) == (4, 4) or explorer.locator(".widget-image").last.get_attribute("src") != image_before, \
        "the clicked cell's shifted image is shown"
    assert value in explorer.locator(".widget-html").inner_text(), "the hovered value is among the cell's numbers"


def test_stored_solution_shows_a_figure_before_its_kernel_runs(browser, lab):
    """The committed 05 solution, opened as a reader opens a downloaded notebook (not trusted here, no
    cell run), shows the explorer's figure in place of its widgets, never ``VBox(children=(...`` text."""
    copy = "stored/05_explorer.ipynb"  # the committed file: the Run All of other tests saves the served one
    (lab.root / "stored").mkdir(exist_ok=True)
    shutil.copy(REPO / EXPLORER, lab.root / copy)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{lab.url}/lab/tree/{urllib.parse.quote(copy)}?reset&token={lab.token}")
        cell = page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell").filter(
            has=page.locator(".jp-InputArea", has_text="ShiftExplorer("))
        cell.wait_for(timeout=90_000)
        cell.scroll_into_view_if_needed()
        output = cell.locator(".jp-OutputArea-output")
        shown = output.locator("img, select, canvas")
        try:  # a figure or controls, or the widget's text
            shown.or_(output.filter(has_text="children=(")).first.wait_for(timeout=30_000)
        except PlaywrightTimeout:
            pass  # the assertions below say what is shown instead
        text = output.first.inner_text()
        if "children=(" in text or not shown.count():
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=ARTIFACTS / "stored-05-explorer.png")
        assert "children=(" not in text, f"the stored explorer shows widget text: {text[:200]} (see {ARTIFACTS})"
        assert shown.count() >= 1 and shown.first.bounding_box()["width"] > 300, \
            f"neither a figure nor the controls are shown (screenshot in {ARTIFACTS})"
    finally:
        context.close()
