"""The explorer's live figure: two heatmaps side by side on one colour scale, updated in place.

It is drawn one of two ways:

- **interactive** (ipympl, the ecosystem's interactive matplotlib backend): the figure is an ipympl
  canvas widget. A click on a cell calls back with that cell's position, hovering shows the cell and
  its value under the figure. Needs the ``ipympl`` package and a Jupyter kernel (JupyterLab, Voila);
  the notebook's own backend may stay ``%matplotlib inline``.
- **static**: the figure is rendered with Agg into a PNG shown by an ``ipywidgets.Image`` (tests,
  scripts, or no ipympl). Positions are then chosen with the explorer's number boxes.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from base64 import b64encode
from collections.abc import Callable
from functools import partial
from unittest import mock

import matplotlib
import numpy as np
import torch
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .figures import axis_labels, figure_png

FIGSIZE = (8, 3.44)  # inches; at DPI that is 800 x 344 px, room for two maps, a colour bar and titles
DPI = 100  # the course's figure scale: 9 pt text reads as 9 pt at 100% zoom


def ipympl_usable() -> bool:
    """True when ipympl is installed and this code runs in a Jupyter kernel that can show its canvas."""
    if importlib.util.find_spec("ipympl") is None:
        return False
    from IPython import get_ipython

    return getattr(get_ipython(), "kernel", None) is not None


def ipympl_backend():
    """ipympl's backend module, imported without switching this session's matplotlib backend.

    Importing ``ipympl`` calls ``matplotlib.use("module://ipympl.backend_nbagg")``, which would turn every
    later pyplot figure of the notebook into a widget (and close the open ones); the explorer needs only
    its own canvas.
    """
    with mock.patch.object(matplotlib, "use"):
        return importlib.import_module("ipympl.backend_nbagg")


class LiveFigure:
    """Two heatmaps (``axes``, ``artists``), one colour bar, anchor crosses and inspected-cell squares.

    ``view`` is the widget that shows the figure: the ipympl canvas (``interactive=True``) or an
    ``ipywidgets.Image`` holding its PNG. ``show()`` draws the current state into it.
    """

    def __init__(self, interactive: bool, figsize: tuple[float, float] = FIGSIZE, vmin: float = 0.8):
        self.interactive = interactive
        self.figure = Figure(figsize=figsize, dpi=DPI)  # outside pyplot: never shown again at a cell's end
        self.view = self._interactive_canvas() if interactive else self._png_view()
        self.axes = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.07, right=0.86, bottom=0.13, top=0.8, wspace=0.3)
        norm = Normalize(vmin, 1.0)  # shared: one colour scale for both maps
        self.artists = [ax.imshow(np.zeros((1, 1)), cmap="viridis", norm=norm, interpolation="nearest")
                        for ax in self.axes]
        self.anchor_marks = [ax.plot([], [], "r+", ms=12, mew=2)[0] for ax in self.axes]
        self.cell_marks = [ax.plot([], [], "s", mfc="none", mec="white", ms=9, mew=1.5)[0] for ax in self.axes]
        self.colorbar = self.figure.colorbar(self.artists[0], cax=self.figure.add_axes((0.89, 0.13, 0.02, 0.67)),
                                             extend="min")  # values below the slider's minimum share its colour
        for ax, artist in zip(self.axes, self.artists):
            ax.format_coord = partial(self.hover_text, artist)  # shown under an interactive figure
            artist.get_cursor_data = lambda event: None  # the hover text has the value already

    @staticmethod
    def hover_text(artist, x: float, y: float) -> str:
        """What hovering at data point (x, y) of a map shows: the cell and its value (4 decimals)."""
        values = artist.get_array()
        col, row = round(x), round(y)
        if not (0 <= row < values.shape[0] and 0 <= col < values.shape[1]):
            return ""
        return f"cell (x, y) = ({col}, {row}): {float(values[row, col]):.4f}"

    def _interactive_canvas(self):
        """An ipympl canvas for the figure: no header or toolbar (a click selects a cell, nothing else),
        a footer that shows the hovered cell and its value, a fixed size."""
        backend = ipympl_backend()
        canvas = backend.Canvas(self.figure)
        with warnings.catch_warnings():  # ipympl's toolbar passes its canvas on to traitlets, which warns
            warnings.filterwarnings("ignore", "Passing unrecognized arguments", DeprecationWarning)
            backend.FigureManager(canvas, 0)  # the canvas's manager: it relays the browser's events to matplotlib
        canvas.header_visible = False
        canvas.toolbar_visible = False
        canvas.resizable = False
        return canvas

    def _png_view(self):
        import ipywidgets as widgets
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(self.figure)
        return widgets.Image(format="png")

    def update(self, maps: list[torch.Tensor], vmin: float, anchor_xy: tuple[int, int], show_anchor: bool,
               kind: str, titles: list[str], colour_label: str, suptitle: str) -> None:
        """Set both (ny, nx) ``maps`` of data set ``kind`` on the colour scale [vmin, 1], the anchor's
        cross at ``anchor_xy`` (hidden unless ``show_anchor``), titles and labels. Does not draw."""
        ny, nx = maps[0].shape
        extent = (-0.5, nx - 0.5, ny - 0.5, -0.5)
        for ax, artist, mark, values, title in zip(self.axes, self.artists, self.anchor_marks, maps, titles):
            artist.set_data(values.numpy())
            artist.set_extent(extent)
            artist.set_clim(vmin, 1.0)
            ax.set_xlim(extent[:2])
            ax.set_ylim(extent[2:])
            mark.set_data([anchor_xy[0]], [anchor_xy[1]])
            mark.set_visible(show_anchor)
            ax.set_title(title, fontsize=10)
            axis_labels(ax, kind)
        self.colorbar.set_label(colour_label)
        self.figure.suptitle(suptitle, fontsize=10)

    def mark_cell(self, x: int, y: int) -> None:
        """Frame cell (x, y) with a white square on both maps."""
        for mark in self.cell_marks:
            mark.set_data([x], [y])

    def on_click(self, callback: Callable[[int, int], None]) -> None:
        """Call ``callback(x, y)`` when a cell of either map is clicked (interactive figures only)."""
        def clicked(event) -> None:
            if event.inaxes in list(self.axes) and event.xdata is not None:
                ny, nx = self.artists[0].get_array().shape
                x, y = int(round(event.xdata)), int(round(event.ydata))
                if 0 <= x < nx and 0 <= y < ny:
                    callback(x, y)

        self.figure.canvas.mpl_connect("button_press_event", clicked)

    def show(self) -> None:
        """Draw the figure into ``view``: in place on the ipympl canvas, else as a new PNG."""
        if self.interactive:
            self.figure.canvas.draw_idle()
        else:
            self.view.value = figure_png(self.figure)

    def snapshot(self) -> bytes:
        """The figure as PNG bytes now. An interactive canvas also keeps it as its stored image, so that
        a saved notebook shows the figure before its kernel runs."""
        png = figure_png(self.figure)
        if self.interactive:
            self.view._data_url = f"data:image/png;base64,{b64encode(png).decode('ascii')}"
            width, height = self.figure.get_size_inches() * self.figure.dpi
            self.view._size = (width, height)
        return png
