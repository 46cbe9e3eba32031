"""Student versions, executed solutions and validation: the trusted side of the course build.

Sources are the instructor's own notebooks, so they run without the grading sandbox; what students
submit never runs here (see ``autograde``).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests
from shiftlab.lesson import quiet_environment

from .course import VALIDATION_PASSED, Course, nbgrader

SOLUTION_MARKER = re.compile(r"^\s*(#+|<!--)?\s*(BEGIN|END) SOLUTION\s*(-->)?\s*$")


def release(course: Course, assignment: str, destination: Path) -> Path:
    """``nbgrader generate_assignment`` and a copy of the student version in ``destination/<id>/``."""
    nbgrader(["generate_assignment", assignment, "--force"], course)
    target = destination / assignment
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(course.release_dir(assignment), target)
    return target / f"{assignment}.ipynb"


def strip_solution_markers(source: str) -> str:
    """Remove the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, keeping what is between them.

    >>> strip_solution_markers("def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION")
    'def f():\\n    return 1'
    """
    return "\n".join(line for line in source.split("\n") if not SOLUTION_MARKER.match(line))


def solution_notebook(source: Path) -> nbformat.NotebookNode:
    """The source notebook as a reading group sees it: solutions in, markers and hidden tests out."""
    notebook = nbformat.read(source, as_version=4)
    notebook, _ = ClearHiddenTests().preprocess(notebook, {})
    for cell in notebook.cells:
        cell.source = strip_solution_markers(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def execute(notebook: nbformat.NotebookNode, directory: Path, quick: bool = False, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute a trusted notebook in ``directory`` with a fresh python3 kernel; raise on the first error.

    The kernel gets ``quiet_environment``: progress bars off (in a stored notebook a bar is a frozen widget
    readers cannot render). Cell timestamps are not recorded, so a rebuilt solution differs from the last
    one only where outputs do. Widget state is stored, so 05's explorer shows controls in a saved notebook."""
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                            store_widget_state=True, resources={"metadata": {"path": str(directory)}})
    client.execute(env={**os.environ, **quiet_environment(quick)})
    return notebook


def build_solution(course: Course, assignment: str, destination: Path, quick: bool = False) -> Path:
    """Execute the solution notebook and write it with all outputs to ``destination/<id>/<id>.ipynb``."""
    source = course.source_notebook(assignment)
    target = destination / assignment / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(execute(solution_notebook(source), source.parent, quick), target)
    return target


def validate(course: Course, notebook: Path, quick: bool = True) -> tuple[bool, str]:
    """Run ``nbgrader validate`` on a trusted notebook: (passed, its report). Reads the report, not the
    exit code, which is 0 even when tests fail."""
    output = nbgrader(["validate", str(notebook)], course, env=quiet_environment(quick))
    return VALIDATION_PASSED in output and "VALIDATION FAILED" not in output and "ERROR" not in output, output
