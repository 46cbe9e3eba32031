"""The reading-group notebook (05) runs top to bottom with the explorer, and its stored explorer output
shows a figure where widgets cannot render."""

import base64

import pytest

from helpers import REPO_ROOT

pytestmark = pytest.mark.slow

EXPLORER_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed(model_names, tmp_path_factory):
    """The 05 solution notebook executed in quick mode, as `make solutions` stores it."""
    from shiftlab_instructor.course import Course
    from shiftlab_instructor.release import execute, solution_notebook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SHIFTLAB_QUICK", "1")  # execute() sets it for the kernel too
        source = Course.locate(REPO_ROOT / "course").source_notebook("05_explorer")
        return execute(solution_notebook(source), tmp_path_factory.mktemp("05"), quick=True)


def outputs_of(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]


def test_notebook_executes_in_quick_mode(executed, model_names):
    """The reading-group notebook runs top to bottom (quick mode) with the checkpoints at hand."""
    outputs = outputs_of(executed)
    text = "\n".join(output.get("text", "") for output in outputs)
    assert "81 images of 24x24 px" in text and "81 images of 32x32 px" in text
    assert all(name in text for name in model_names)
    figures = sum("image/png" in output.get("data", {}) for output in outputs)
    assert figures >= 5, "two data-set strips and three heatmap figures"


def test_stored_explorer_falls_back_to_its_figure(executed):
    """The explorer's output carries a PNG and a one-line text beside the widget, and the notebook keeps
    the widgets' state, so a stored, unexecuted 05 shows controls or a figure, never `VBox(children=(...`."""
    explorers = [output for output in outputs_of(executed) if EXPLORER_VIEW in output.get("data", {})]
    assert len(explorers) == 1
    data = explorers[0]["data"]
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert data["text/plain"].startswith("ShiftExplorer: ")
    state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert data[EXPLORER_VIEW]["model_id"] in state, "the explorer's widget state is stored"
    canvases = [model["state"] for model in state.values() if model["model_name"] == "MPLCanvasModel"]
    assert canvases and canvases[0]["_data_url"].startswith("data:image/png;base64,"), "the figure is stored too"
