"""The reading-group explorer in the executed 05 solution, as a reader uses it in JupyterLab.

Its controls must render as widgets (never as ``VBox(children=(...`` text), and a change to each
control must redraw the figure: the figure's pixels before and after the change are compared.
Controls are found on the page (drop-downs, number boxes, sliders), not listed here, so a control
added later is tested too.
"""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow

EXPLORER = "solutions/05_explorer/05_explorer.ipynb"
REDRAW_S = 60  # a new model, image or data set computes features first (about 6 s for a new image in full mode)
CONTROLS = ".widget-dropdown, .widget-text, .widget-slider"


@pytest.fixture
def explorer(runs):
    """The output area that holds the explorer in the executed 05 solution (one per notebook; run once)."""
    run = runs(EXPLORER, live=True)  # its kernel answers the controls
    output = run.page.locator(".jp-Notebook .jp-OutputArea-output:has(.widget-dropdown)")
    assert output.count() == 1, f"{EXPLORER}: expected one output with the explorer's controls, found {output.count()}"
    return output


def figure_of(explorer):
    """The explorer's figure: its largest image (an ipywidgets Image, or an ipympl canvas)."""
    candidates = explorer.locator("img, canvas")
    areas = [(box["width"] * box["height"], i) for i in range(candidates.count())
             if (box := candidates.nth(i).bounding_box())]
    assert areas, "the explorer shows no image or canvas"
    return candidates.nth(max(areas)[1])


def label_of(control) -> str:
    labels = control.locator(".widget-label").all_inner_texts()
    return labels[0].replace("\xa0", " ").strip() if labels else "(no label)"


def change(control) -> str:
    """Set ``control`` to another value as a person would; returns the new value, for messages."""
    classes = control.get_attribute("class")
    if "widget-dropdown" in classes:
        select = control.locator("select")
        current = select.input_value()
        options = [o for o in select.locator("option").all_inner_texts() if o.strip() != current.strip()]
        choice = next(o for o in options if o.strip() != "custom")  # "custom" may keep the same anchor
        select.select_option(label=choice)
        return choice.replace("\xa0", " ")
    if "widget-text" in classes:
        box = control.locator("input")
        value, low = int(box.input_value()), int(box.get_attribute("min") or -10**9)
        new = value - 1 if value > low else value + 1
        box.fill(str(new))
        box.press("Enter")
        return str(new)
    readout = control.locator(".widget-readout")  # a slider: type into its readout
    new = f"{float(readout.inner_text()) - 0.05:.2f}"
    readout.fill(new)
    readout.press("Enter")
    return new


def wait_for_redraw(figure, before: bytes, timeout: float = REDRAW_S) -> float | None:
    """Seconds until the figure's pixels differ from ``before``; None if they never did."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if figure.screenshot() != before:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def test_explorer_controls_render_as_widgets(explorer):
    controls = explorer.locator(CONTROLS)
    assert controls.count() >= 6, f"expected the explorer's controls, found {controls.count()}"
    assert explorer.locator("select").count() >= 4, "the model, data set, image and layer choices are missing"
    figure = figure_of(explorer)
    figure.scroll_into_view_if_needed()
    box = figure.bounding_box()
    assert figure.is_visible() and box["width"] > 300 and box["height"] > 150, f"the figure is not shown: {box}"
    assert "children=(" not in explorer.inner_text(), "a widget is shown as text"


def test_each_explorer_control_redraws_the_figure(explorer):
    figure = figure_of(explorer)
    figure.scroll_into_view_if_needed()
    assert wait_for_redraw(figure, figure.screenshot(), timeout=1) is None, "the figure changes by itself"
    controls = [explorer.locator(CONTROLS).nth(i) for i in range(explorer.locator(CONTROLS).count())]
    enabled = [i for i, c in enumerate(controls) if is_enabled(c)]
    results = dict(redraw(figure, controls, i) for i in enabled)
    disabled = [i for i in range(len(controls)) if i not in enabled]
    if disabled:  # the anchor's x and y boxes: enabled by the anchor's "custom" choice
        explorer.locator("select:has(option:text-is('custom'))").select_option(label="custom")
        deadline = time.monotonic() + 10
        while not all(is_enabled(controls[i]) for i in disabled) and time.monotonic() < deadline:
            time.sleep(0.1)
        still = [name(controls, i) for i in disabled if not is_enabled(controls[i])]
        assert not still, f"these controls stay disabled after choosing a custom anchor: {still}"
        results.update(redraw(figure, controls, i) for i in disabled)
    print(f"\nexplorer: seconds from a change until the figure was redrawn: {results}")
    assert len(results) >= 6, f"only these controls were found: {sorted(results)}"
    unchanged = [control for control, seconds in results.items() if seconds is None]
    assert not unchanged, f"the figure did not change within {REDRAW_S} s after a change of: {unchanged}"


def is_enabled(control) -> bool:
    return control.locator("select, input, .widget-readout").first.is_enabled()


def name(controls, index: int) -> str:
    """The control's label; a bare "y" is named after the "x" box before it ("anchor x / y")."""
    label = label_of(controls[index])
    return f"{label_of(controls[index - 1])} / {label}" if label == "y" and index > 0 else label


def redraw(figure, controls, index: int) -> tuple[str, float | None]:
    """Change control ``index``: ("<label> -> <new value>", seconds until the figure's pixels changed or None)."""
    control = controls[index]
    control.scroll_into_view_if_needed()
    before = figure.screenshot()
    value = change(control)
    return f"{name(controls, index)} -> {value}", wait_for_redraw(figure, before)
