"""``shiftlab.explorer.live_figure``: the interactive (ipympl) figure, driven headless.

The browser's ipympl front end sends mouse events to the kernel as messages on the canvas widget:
``{"type": "button_press", "x", "y", ...}`` in canvas pixels, y from the top. These tests send the
same messages to the canvas, so matplotlib's own event machinery delivers the click or the hover to
the explorer, as in JupyterLab or Voila (tests/browser/test_explorer_*.py click in a real page).
"""

import base64
import importlib.util
import io
import subprocess
import sys

import matplotlib
import pytest
from PIL import Image

from shiftlab import explorer as ex
from shiftlab.explorer.live_figure import LiveFigure, ipympl_usable

pytestmark = pytest.mark.skipif(importlib.util.find_spec("ipympl") is None,
                                reason="ipympl (the `lab` extra) draws the interactive figure")

IMAGE = 3  # an airplane of the bundled sample


@pytest.fixture
def interactive(cache, model_names):
    """An explorer whose figure is an ipympl canvas (no kernel: its messages go nowhere)."""
    explorer = ex.ShiftExplorer(cache, models=model_names, dataset="paste", image_index=IMAGE, interactive=True)
    yield explorer
    matplotlib.pyplot.close("all")


def send_mouse(explorer, kind: str, ax_index: int, x: float, y: float) -> None:
    """Send the message ipympl's front end sends for a mouse event at data point (x, y) of a map."""
    canvas = explorer.plot.view
    px, py = explorer.plot.axes[ax_index].transData.transform((x, y))  # pixels from the bottom left
    height = canvas.get_renderer().height
    message = {"type": kind, "x": px, "y": height - py, "button": 0, "buttons": int(kind == "button_press"),
               "modifiers": [], "guiEvent": {}}
    canvas._handle_message(canvas, message, [])


def test_the_figure_is_an_ipympl_canvas_without_header_or_toolbar(interactive):
    from ipympl.backend_nbagg import Canvas

    canvas = interactive.plot.view
    assert isinstance(canvas, Canvas) and canvas.figure is interactive.plot.figure
    assert canvas in interactive.widget.children, "the canvas is part of the explorer's layout"
    assert not canvas.header_visible and not canvas.toolbar_visible and not canvas.resizable
    assert canvas.footer_visible, "the footer shows the hovered cell"


@pytest.mark.parametrize("ax_index", [0, 1])
def test_a_click_on_a_cell_inspects_it(interactive, cache, model_names, ax_index):
    before = interactive.cell_view.value
    send_mouse(interactive, "button_press", ax_index, 3, 5)
    selection = interactive.selection
    assert (selection["x"], selection["y"]) == (3, 5)
    assert (interactive.cell_x.value, interactive.cell_y.value) == (3, 5)
    assert tuple(interactive.plot.cell_marks[1 - ax_index].get_xydata()[0]) == (3, 5), "both maps mark the cell"
    shifted = cache.dataset(IMAGE, "paste")
    assert (selection["image"] == shifted.images[shifted.index(3, 5)]).all()
    assert interactive.cell_view.value != before, "the inspected image changed"
    assert "position (3, 5)" in interactive.info.value
    maps = interactive.heatmaps()
    for name, values in zip(model_names, maps):
        assert f"{values[5, 3].item():.4f}" in interactive.info.value and name in interactive.info.value


def test_a_click_rounds_to_the_nearest_cell_and_ignores_the_colour_bar(interactive):
    send_mouse(interactive, "button_press", 0, 6.4, 1.6)
    assert (interactive.selection["x"], interactive.selection["y"]) == (6, 2)
    colour_bar = interactive.plot.colorbar.ax
    px, py = colour_bar.transAxes.transform((0.5, 0.5))
    canvas = interactive.plot.view
    canvas._handle_message(canvas, {"type": "button_press", "x": px, "y": canvas.get_renderer().height - py,
                                    "button": 0, "buttons": 1, "modifiers": [], "guiEvent": {}}, [])
    assert (interactive.selection["x"], interactive.selection["y"]) == (6, 2), "a click off the maps selects nothing"


def test_hovering_shows_the_cell_and_its_value(interactive):
    send_mouse(interactive, "motion_notify", 1, 2, 7)
    value = interactive.heatmaps()[1][7, 2].item()
    assert interactive.plot.view._message == f"cell (x, y) = (2, 7): {value:.4f}"
    send_mouse(interactive, "motion_notify", 0, 8.4, -0.3)
    assert interactive.plot.view._message == f"cell (x, y) = (8, 0): {interactive.heatmaps()[0][0, 8].item():.4f}"


def test_the_notebooks_own_backend_and_figures_stay():
    """Importing ipympl switches matplotlib's backend (and closes open figures); the explorer must not."""
    script = ("import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; figure = plt.figure(); "
              "from shiftlab.explorer.live_figure import LiveFigure; LiveFigure(True); "
              "print(matplotlib.get_backend(), plt.fignum_exists(figure.number), type(plt.figure().canvas).__name__)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["Agg", "True", "FigureCanvasAgg"]


def test_snapshot_is_stored_in_the_canvas_for_saved_notebooks(interactive):
    png = interactive.plot.snapshot()
    canvas = interactive.plot.view
    assert canvas._data_url == "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    assert tuple(canvas._size) == Image.open(io.BytesIO(png)).size == (800, 344)
    bundle = interactive._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_are_static_outside_a_kernel(cache, model_names):
    assert not ipympl_usable(), "no Jupyter kernel runs these tests"
    explorer = ex.ShiftExplorer(cache, models=model_names, image_index=IMAGE)
    assert not explorer.plot.interactive and explorer.plot.view.value[:4] == b"\x89PNG"
    assert not LiveFigure(False).interactive
    matplotlib.pyplot.close("all")
