"""Every course notebook, run in JupyterLab with Run All, as a student or a reader runs it.

Released versions stop at their first exercise with a ``NotImplementedError`` that points at the
``# YOUR CODE HERE`` line (one without exercises runs to the end); solutions run with no error and no
stderr; progress bars render as widgets while a cell runs. Outputs are read from the saved notebook,
what a person sees from the page.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

STUB = "# YOUR CODE HERE"
FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
# What a widget looks like when the browser cannot render it: its repr, e.g. "VBox(children=(HBox(...".
WIDGET_AS_TEXT = re.compile(r"\b[A-Z]\w*\(children=\(")


def code_cells(notebook) -> list[tuple[int, object]]:
    """(index in the notebook, cell) of every non-empty code cell."""
    return [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code" and c.source.strip()]


def outputs_of_type(notebook, predicate) -> list[tuple[int, object]]:
    return [(i, o) for i, c in code_cells(notebook) for o in c.outputs if predicate(o)]


def is_error(output) -> bool:
    return output.output_type == "error"


def is_stderr(output) -> bool:
    return output.output_type == "stream" and output.name == "stderr"


def describe(outputs) -> str:
    """The last 600 characters (where the error is) of each (cell index, output), for a failure message."""
    def text(o):
        return "\n".join(o.traceback) if is_error(o) else o.get("text", "")
    return "\n".join(f"cell {i}: {plain(text(o))[-600:]}" for i, o in outputs)


def plain(text: str) -> str:
    """``text`` without ANSI colour codes (tracebacks carry them)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def assert_runs_cleanly(run) -> None:
    """Every code cell executed, no error and no stderr, in the saved notebook and on the page."""
    notebook = run.saved
    errors, stderr = outputs_of_type(notebook, is_error), outputs_of_type(notebook, is_stderr)
    if errors or stderr:
        run.show_cell(min(i for i, _ in errors + stderr))
    assert not errors, f"{run.path} raised:\n{describe(errors)}"
    assert not stderr, f"{run.path} wrote to stderr:\n{describe(stderr)}"
    unexecuted = [i for i, c in code_cells(notebook) if c.execution_count is None]
    assert not unexecuted, f"{run.path}: Run All left cells {unexecuted} unexecuted"
    assert not run.shown["stderr"], f"{run.path}: the page shows stderr or errors: {run.shown['stderr']}"
    assert not WIDGET_AS_TEXT.search(run.shown["text"]), f"{run.path}: a widget is shown as text, not rendered"


def test_released_notebook_stops_at_its_first_exercise(released, runs):
    run = runs(released)
    notebook = run.saved
    exercises = [(i, c) for i, c in code_cells(notebook) if STUB in c.source]
    if not exercises:  # an ungraded notebook (05): it must run to the end
        assert_runs_cleanly(run)
        return
    errors = outputs_of_type(notebook, is_error)
    if errors:
        run.show_cell(errors[0][0])
    assert len(errors) == 1, f"{released}: Run All must stop at the first error; errors:\n{describe(errors)}"
    failing_cell, error = errors[0]
    assert error.ename == "NotImplementedError", f"{released}: expected NotImplementedError:\n{describe(errors)}"

    # The innermost frame is the first exercise's stub: `raise NotImplementedError()` under the marker.
    frames = [f for f in map(plain, error.traceback) if FRAME.search(f)]
    execution_count, line = map(int, FRAME.search(frames[-1]).groups())
    first_index, first_exercise = exercises[0]
    assert execution_count == first_exercise.execution_count, (
        f"{released}: the error comes from In[{execution_count}], not from the first exercise (cell {first_index}, "
        f"In[{first_exercise.execution_count}]):\n{frames[-1]}")
    lines = first_exercise.source.splitlines()
    assert lines[line - 1].strip() == "raise NotImplementedError()" and lines[line - 2].strip() == STUB, (
        f"{released}: the traceback points at line {line} of the exercise, not at its stub:\n{frames[-1]}")
    assert STUB in frames[-1], f"{released}: the traceback does not show the {STUB!r} line:\n{frames[-1]}"

    # Run All stopped there: everything before ran, nothing after did.
    ran = [i for i, c in code_cells(notebook) if c.execution_count is not None]
    assert ran == [i for i, _ in code_cells(notebook) if i <= failing_cell], (
        f"{released}: cells run {ran}; expected every code cell up to the failing cell {failing_cell} and none after")

    # What the student sees: the traceback, with the stub line, under the failing cell, and nothing else.
    shown = run.shown["stderr"]
    assert list(shown) == [failing_cell], f"{released}: the page shows stderr under cells {list(shown)}"
    assert shown[failing_cell]["visible"], f"{released}: the error under cell {failing_cell} takes no space"
    text = shown[failing_cell]["text"]
    assert "NotImplementedError" in text and STUB in text, f"{released}: the page shows:\n{text}"


def test_solution_runs_without_errors_or_stderr(solution, runs):
    assert_runs_cleanly(runs(solution))


def test_progress_bars_render_as_widgets_while_cells_run(solution_paths, runs):
    """tqdm bars show as ipywidgets (not text, not switched off) and move while their cell runs."""
    states = {path: runs(path).progress_states for path in solution_paths}
    shown = {path: s for path, s in states.items() if s}
    assert shown, ("no solution notebook showed a progress bar in the lab: does TQDM_DISABLE reach the kernels, "
                   "or did the solutions fail before their long cells?")
    while_running = [s for path_states in shown.values() for s in path_states
                     if s["running"] and s["width"] != "100%" and re.search(r"\d+%", s["text"])]
    assert while_running, f"no progress bar was seen below 100% while its cell ran: {shown}"
    for path in solution_paths:
        as_text = outputs_of_type(runs(path).saved, lambda o: re.search(r"\d+%\|", o.get("text", "")))
        assert not as_text, f"{path}: progress bars printed as text:\n{describe(as_text)}"
