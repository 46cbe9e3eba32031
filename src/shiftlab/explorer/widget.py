"""The interactive explorer (ipywidgets): two models' heatmaps side by side, with controls.

Pick the two models, the data set, the test image, the layer and the anchor, and move the colour
scale's minimum; click a heatmap cell (with ipympl) or type its position to see that shifted image
and both models' numbers there, as in Lee, Yang and Wang's tool.
"""

from __future__ import annotations

from base64 import b64encode
from contextlib import contextmanager

import torch

from ..checks import check_choice
from ..data import CLASSES
from ..variants import VARIANTS
from .cache import FeatureCache, default_pair
from .datasets import DATASETS, ShiftedSet, check_position
from .figures import DEFAULT_VMIN, SCALE_LABELS, layer_title, png_bytes, scale_kind
from .live_figure import FIGSIZE, LiveFigure, ipympl_usable
from .similarity import ANCHORS, LAYERS, resolve_anchor

STYLE = {"description_width": "initial"}
INSPECT_PX = 128  # the inspected image is enlarged (nearest neighbour) to about this many pixels


class ShiftExplorer:
    """Two models' heatmaps side by side, with controls (ipywidgets).

    Controls (attributes, each an ipywidget): ``model_a``, ``model_b``, ``dataset``, ``image``,
    ``layer``, ``anchor`` (a corner, the centre, or "custom" with ``anchor_x``, ``anchor_y``) and
    ``vmin``, the colour-scale minimum (the maximum is 1.0; cosine maps and probability maps each keep
    their own). A click on a heatmap cell (interactive figure), ``cell_x`` / ``cell_y``, or
    ``select(x, y)`` pick a cell: ``cell_view`` shows its shifted image and ``info`` both models' values.
    Show the explorer as a cell's last expression or with ``display(explorer)``.

    ``interactive``: draw the figure as an ipympl canvas that answers clicks and hovering (True), or as
    a PNG (False); None picks ipympl when it is installed and this runs in a Jupyter kernel.
    ``figsize``: the figure's size in inches (80 px per inch).

    A change of model, image or data set runs each model once per new (model, image, data set); a
    change of layer, anchor or colour scale only recomputes cosine similarities and updates the
    figure's image data in place.
    """

    def __init__(self, cache: FeatureCache | None = None, models=None, dataset: str = "paste", image_index: int = 0,
                 layer: str = "level 3", anchor="centre", vmin: float | None = None, n_images: int = 100,
                 interactive: bool | None = None, figsize: tuple[float, float] = FIGSIZE):
        self.cache = cache or FeatureCache()
        pair = tuple(models) if models is not None else default_pair(self.cache.model_names)
        if len(pair) != 2:
            raise ValueError(f"models must be a pair of model names, got {pair!r}")
        for name in pair:
            self.cache.model(name)  # loads it; raises for an unknown name
        check_choice("data set", dataset, DATASETS)
        check_choice("layer", layer, LAYERS)
        index = self.cache.check_image_index(image_index)
        self._busy = False  # True while callbacks set controls themselves
        self.selection: dict | None = None
        self._vmins = dict(DEFAULT_VMIN)  # the colour minimum last used for cosine maps and for probabilities
        if vmin is not None:
            self._vmins[scale_kind(layer)] = float(vmin)
        self._make_controls(pair, dataset, index, layer, anchor, n_images)
        interactive = ipympl_usable() if interactive is None else interactive
        self.plot = LiveFigure(interactive, figsize, self.vmin.value)
        self.widget = self._layout()
        self._connect()
        self._redraw(select=self.anchor_position)

    # -- controls

    def _make_controls(self, pair, dataset: str, index: int, layer: str, anchor, n_images: int) -> None:
        import ipywidgets as widgets

        names, labels = list(self.cache.model_names), self.cache.labels
        shown = sorted(set(range(min(n_images, len(labels)))) | {index})
        self.model_a = widgets.Dropdown(options=names, value=pair[0], description="left model", style=STYLE)
        self.model_b = widgets.Dropdown(options=names, value=pair[1], description="right model", style=STYLE)
        self.dataset = widgets.Dropdown(options=list(DATASETS), value=dataset, description="data set", style=STYLE)
        self.image = widgets.Dropdown(options=[(f"{i}: {CLASSES[int(labels[i])]}", i) for i in shown], value=index,
                                      description="test image", style=STYLE)
        self.layer = widgets.Dropdown(options=list(LAYERS), value=layer, description="layer", style=STYLE)
        custom = not isinstance(anchor, str)
        self.anchor = widgets.Dropdown(options=list(ANCHORS) + ["custom"], value="custom" if custom else anchor,
                                       description="anchor", style=STYLE)
        x, y = resolve_anchor(anchor, self._shifted().grid_shape)
        self.anchor_x, self.anchor_y = self._position_boxes("anchor x", x, y, disabled=not custom)
        self.vmin = widgets.FloatSlider(value=self._vmins[scale_kind(layer)], min=-1.0, max=0.99, step=0.01,
                                        description="colour min", continuous_update=False, style=STYLE)
        self.cell_x, self.cell_y = self._position_boxes("inspect x", x, y)
        self.cell_view = widgets.Image(format="png")
        self.info = widgets.HTML()

    def _position_boxes(self, label: str, x: int, y: int, disabled: bool = False):
        """Two integer boxes for a position (x, y) on the current grid."""
        import ipywidgets as widgets

        ny, nx = self._shifted().grid_shape
        return (widgets.BoundedIntText(value=x, min=0, max=nx - 1, description=label, disabled=disabled,
                                       layout={"width": "130px"}, style=STYLE),
                widgets.BoundedIntText(value=y, min=0, max=ny - 1, description="y", disabled=disabled,
                                       layout={"width": "90px"}, style=STYLE))

    def _layout(self):
        import ipywidgets as widgets

        hint = "click a cell to inspect it" if self.plot.interactive else "type a position to inspect it"
        inspect = widgets.VBox([widgets.HBox([self.cell_x, self.cell_y]), widgets.Label(hint), self.cell_view])
        return widgets.VBox([
            widgets.HBox([self.model_a, self.model_b, self.dataset, self.image]),
            widgets.HBox([self.layer, self.anchor, self.anchor_x, self.anchor_y, self.vmin]),
            self.plot.view,
            widgets.HBox([inspect, self.info]),
        ])

    def _connect(self) -> None:
        for control in (self.model_a, self.model_b, self.dataset, self.image):
            control.observe(self._on_data_change, names="value")
        for control in (self.layer, self.anchor, self.anchor_x, self.anchor_y, self.vmin):
            control.observe(self._on_view_change, names="value")
        for control in (self.cell_x, self.cell_y):
            control.observe(self._on_cell_change, names="value")
        self.plot.on_click(self.select)

    @contextmanager
    def _quietly(self):
        """Set controls from inside a callback without triggering the callbacks again."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    # -- state

    @property
    def models(self) -> tuple[str, str]:
        """The names of the left and right models."""
        return self.model_a.value, self.model_b.value

    def _shifted(self) -> ShiftedSet:
        return self.cache.dataset(self.image.value, self.dataset.value)

    @property
    def anchor_position(self) -> tuple[int, int]:
        """The anchor as (x, y) on the current grid."""
        grid_shape = self._shifted().grid_shape
        if self.anchor.value == "custom":
            return check_position("anchor", (self.anchor_x.value, self.anchor_y.value), grid_shape)
        return resolve_anchor(self.anchor.value, grid_shape)

    def heatmaps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The two (ny, nx) heatmaps for the current controls."""
        image, kind, layer, anchor = self.image.value, self.dataset.value, self.layer.value, self.anchor_position
        return tuple(self.cache.heatmap(name, image, kind, layer, anchor) for name in self.models)

    # -- drawing

    def _redraw(self, select: tuple[int, int] | None = None) -> None:
        """Put the current controls' heatmaps, titles and labels into the figure, then inspect a cell
        (``select``, else the current one), which draws the figure."""
        shifted, anchor_xy, layer = self._shifted(), self.anchor_position, self.layer.value
        self.plot.update(
            list(self.heatmaps()), self.vmin.value, anchor_xy, layer != "probability", shifted.kind,
            titles=[f"{name}\n{layer_title(layer, anchor_xy, shifted.label)}" for name in self.models],
            colour_label=SCALE_LABELS[scale_kind(layer)],
            suptitle=f"test image {self.image.value} ({CLASSES[shifted.label]}), {shifted.kind}: {shifted.description}",
        )
        self.select(*(select or (self.cell_x.value, self.cell_y.value)))

    # -- callbacks

    def _on_data_change(self, change) -> None:
        if self._busy:
            return
        ny, nx = self._shifted().grid_shape
        with self._quietly():  # the grid may have changed size: keep the anchor and the inspected cell on it
            for box, top in ((self.anchor_x, nx), (self.anchor_y, ny), (self.cell_x, nx), (self.cell_y, ny)):
                box.max = top - 1
            if self.anchor.value != "custom":
                self.anchor_x.value, self.anchor_y.value = self.anchor_position
        self._redraw()

    def _on_view_change(self, change) -> None:
        if self._busy:
            return
        old, new = change["old"], change["new"]
        if change["owner"] is self.layer and scale_kind(old) != scale_kind(new):
            self._vmins[scale_kind(old)] = self.vmin.value  # each kind of map keeps its own colour minimum
            with self._quietly():
                self.vmin.value = self._vmins[scale_kind(new)]
        self.anchor_x.disabled = self.anchor_y.disabled = self.anchor.value != "custom"
        if change["owner"] is self.anchor and new != "custom":
            with self._quietly():
                self.anchor_x.value, self.anchor_y.value = self.anchor_position
        self._redraw()

    def _on_cell_change(self, change) -> None:
        if not self._busy:
            self.select(self.cell_x.value, self.cell_y.value)

    # -- inspecting one cell

    def select(self, x: int, y: int) -> dict:
        """Show the shifted image at position (x, y) and both models' values there. Returns (and keeps as
        ``selection``) a dict: x, y, image (3, S, S), models, values (the two heatmaps at (x, y)),
        probabilities (of the true class) and predictions (top-1 class names)."""
        shifted = self._shifted()
        x, y = check_position("cell", (x, y), shifted.grid_shape)
        index = shifted.index(x, y)
        features = [self.cache.features(name, self.image.value, self.dataset.value) for name in self.models]
        self.selection = {
            "x": x, "y": y, "image": shifted.images[index], "models": self.models,
            "values": tuple(float(values[y, x]) for values in self.heatmaps()),
            "probabilities": tuple(float(f.probability[index]) for f in features),
            "predictions": tuple(CLASSES[int(f.predictions[index])] for f in features),
        }
        with self._quietly():
            self.cell_x.value, self.cell_y.value = x, y
        self.plot.mark_cell(x, y)
        self.cell_view.value = png_bytes(shifted.images[index], scale=max(1, INSPECT_PX // shifted.images.shape[-1]))
        self.info.value = self._info_html()
        self.plot.show()
        return self.selection

    def _info_html(self) -> str:
        """The inspected cell's numbers as an HTML table, and each model's idea in a line."""
        s, layer = self.selection, self.layer.value
        shown = "P(true class)" if layer == "probability" else f"{layer} cosine to anchor {self.anchor_position}"
        rows = "".join(
            f"<tr><td>{name}</td><td>{value:.4f}</td><td>{p:.4f}</td><td>{prediction}</td></tr>"
            for name, value, p, prediction in zip(s["models"], s["values"], s["probabilities"], s["predictions"])
        )
        ideas = "".join(f"<br><i>{name}</i>: {VARIANTS[name].idea}" for name in dict.fromkeys(s["models"])
                        if name in VARIANTS)
        return (f"<b>position ({s['x']}, {s['y']})</b>, true class {CLASSES[self._shifted().label]}<br>"
                f"<table><tr><th>model</th><th>shown: {shown}</th><th>P(true class)</th><th>top-1</th></tr>"
                f"{rows}</table>{ideas}")

    def summary(self) -> str:
        """One line naming what the explorer shows now."""
        return (f"ShiftExplorer: {' vs '.join(self.models)}, test image {self.image.value}, {self.dataset.value}, "
                f"{self.layer.value}, anchor {self.anchor_position}")

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """The explorer as a widget, with a PNG of its figure and a one-line summary beside it.

        Where widgets cannot be shown (a stored notebook opened untrusted or before its kernel runs,
        GitHub, nbviewer) a viewer falls back to the PNG, so it never shows a widget's ``VBox(...)`` repr.
        """
        bundle = self.widget._repr_mimebundle_()
        bundle["image/png"] = b64encode(self.plot.snapshot()).decode("ascii")
        bundle["text/plain"] = self.summary()
        return bundle
