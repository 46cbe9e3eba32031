"""The course as nbgrader sees it: generated versions in sync with the sources, and the grading round trip.

The round trip runs real nbgrader commands and sandboxed kernels on every graded assignment, in quick
mode, through ``shiftlab_instructor`` (the code behind ``make release / solutions / grade-demo``).
"""

from __future__ import annotations

import re
import shutil

import nbformat
import pytest
from helpers import REPO_ROOT

from shiftlab_instructor.course import Course
from shiftlab_instructor.demo import STUDENTS, round_trip
from shiftlab_instructor.limits import graded_assignments
from shiftlab_instructor.release import release, solution_notebook, validate

COURSE = Course(REPO_ROOT / "course")
ASSIGNMENTS = COURSE.assignment_ids()
GRADED = graded_assignments(COURSE)


def cell_summary(notebook: nbformat.NotebookNode) -> list[tuple]:
    """What must match between a committed notebook and a freshly generated one: types, sources, nbgrader ids."""
    return [(c.cell_type, c.source, c.metadata.get("nbgrader", {}).get("grade_id")) for c in notebook.cells]


def test_course_has_the_five_assignments():
    assert ASSIGNMENTS == [
        "01_flip_and_kernels", "02_translation_sweeps", "03_padding_artifacts", "04_padding_fixes", "05_explorer",
    ]
    assert set(GRADED) == set(ASSIGNMENTS) - {"05_explorer"}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_version_is_up_to_date(assignment, tmp_path):
    course = Course(tmp_path / "course")
    shutil.copytree(COURSE.source_notebook(assignment).parent, course.root / "source" / assignment)
    fresh = release(course, assignment, destination=tmp_path / "assignments")
    committed = REPO_ROOT / "assignments" / assignment / f"{assignment}.ipynb"
    assert committed.is_file(), f"{committed} is missing: run `make release`"
    assert cell_summary(nbformat.read(committed, as_version=4)) == cell_summary(nbformat.read(fresh, as_version=4)), (
        f"{committed} is out of date with course/source/{assignment}: run `make release` and commit"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_version_hides_solutions_and_hidden_tests(assignment):
    text = (REPO_ROOT / "assignments" / assignment / f"{assignment}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_notebook_is_up_to_date_and_executed(assignment):
    committed_path = REPO_ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    assert committed_path.is_file(), f"{committed_path} is missing: run `make solutions`"
    committed = nbformat.read(committed_path, as_version=4)
    expected = solution_notebook(COURSE.source_notebook(assignment))
    assert cell_summary(committed) == cell_summary(expected), (
        f"{committed_path} is out of date with course/source/{assignment}: run `make solutions` and commit"
    )
    code = [c for c in committed.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in code), "every code cell of a solution must be executed"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), "solutions must show figures"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.get("name") == "stderr"], "a solution notebook must not show warnings"
    frozen_bars = [o for o in outputs if re.search(r"\d+%\|", o.get("data", {}).get("text/plain", ""))]
    assert not frozen_bars, "progress bars must be off in stored solutions: readers would see a frozen 0% bar"
    assert "BEGIN HIDDEN TESTS" not in committed_path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", GRADED)
def test_source_passes_and_release_fails_validation(assignment):
    passed, report = validate(COURSE, COURSE.source_notebook(assignment))
    assert passed, f"the source of {assignment} fails nbgrader validate:\n{report}"
    passed, report = validate(COURSE, REPO_ROOT / "assignments" / assignment / f"{assignment}.ipynb")
    assert not passed, f"the untouched release of {assignment} passes nbgrader validate:\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", GRADED)
def test_grading_round_trip(assignment, tmp_path):
    results = round_trip(COURSE, assignment, tmp_path)
    solution, untouched, partial = (results[s] for s in STUDENTS)
    assert solution["auto_max"] > 0
    assert solution["auto_score"] == solution["auto_max"], f"the model solution lost autograded points: {solution}"
    assert solution["manual_max"] > 0 and solution["needs_manual_grade"], "written answers must await manual grading"
    assert untouched["auto_score"] == 0, f"the untouched release scored: {untouched}"
    assert 0 < partial["auto_score"] < partial["auto_max"], f"a partial attempt must score strictly between: {partial}"
    for student, result in results.items():
        assert result["flags"] == [], f"an honest submission was flagged: {student}: {result['flags']}"
        assert result["feedback"].is_file(), f"no feedback HTML for {student}"
        assert "BEGIN HIDDEN TESTS" not in result["feedback"].read_text(), f"{student}'s feedback shows hidden tests"
        assert result["csv_row"] is not None, f"{student} is missing from the exported CSV"
    assert len({r["csv_row"]["student_id"] for r in results.values()}) == 3


@pytest.mark.slow
def test_explorer_source_executes_cleanly():
    assignment = "05_explorer"
    passed, report = validate(COURSE, COURSE.source_notebook(assignment))
    assert passed, report
