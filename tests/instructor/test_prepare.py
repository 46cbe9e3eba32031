"""Turning a submitted notebook into the one that runs (``shiftlab_instructor.prepare``)."""

from __future__ import annotations

import json

import nbformat
import pytest

from shiftlab_instructor.prepare import prepare
from shiftlab_instructor.reference import NotebookReference, ReferenceCell

TEST_SOURCE = "assert answer() == 42\n### BEGIN HIDDEN TESTS\nassert answer() + 1 == 43\n### END HIDDEN TESTS"
REFERENCE = NotebookReference("a1", "a1", (
    ReferenceCell("setup", "code", "import math", locked=True, solution=False, points=None, checksum="c0"),
    ReferenceCell("answer", "code", "def answer():\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                  locked=False, solution=True, points=None, checksum="c1"),
    ReferenceCell("test_answer", "code", TEST_SOURCE, locked=True, solution=False, points=2.0, checksum="c2"),
    ReferenceCell("written", "markdown", "YOUR ANSWER HERE", locked=False, solution=True, points=3.0, checksum="c3"),
))


def released(**answers: str) -> nbformat.NotebookNode:
    """The student version of REFERENCE (hidden tests cut), with some answers filled in, as a student
    would submit it (JupyterLab adds its own metadata)."""
    cells = []
    for reference in REFERENCE.cells:
        cell = reference.new_cell(answers.get(reference.grade_id, reference.released_source))
        cell.metadata.update({"editable": reference.solution, "tags": []})
        cells.append(cell)
    cells.insert(1, nbformat.v4.new_markdown_cell("Some lesson text"))
    return nbformat.v4.new_notebook(cells=cells)


def as_bytes(notebook: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(notebook).encode()


def by_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells if "nbgrader" in c.metadata}


def test_an_honest_submission_runs_its_answers_with_the_hidden_tests_and_raises_no_flag():
    prepared = prepare(as_bytes(released(answer="def answer():\n    return 42")), REFERENCE)
    assert prepared.flags == []
    cells = by_id(prepared.notebook)
    assert cells["answer"].source == "def answer():\n    return 42"
    assert cells["test_answer"].source == TEST_SOURCE, "the hidden tests must be back in the test cell"
    assert cells["test_answer"].metadata["nbgrader"]["points"] == 2.0
    assert [c.source for c in prepared.notebook.cells if "nbgrader" not in c.metadata] == ["Some lesson text"]


def test_edited_read_only_cells_and_grading_metadata_are_restored_and_flagged():
    notebook = released()
    cells = by_id(notebook)
    cells["test_answer"].source = "pass"
    cells["test_answer"].metadata["nbgrader"]["points"] = 100.0
    setup = notebook.cells.index(cells["setup"])
    notebook.cells[setup] = nbformat.v4.new_raw_cell("import math", metadata=cells["setup"].metadata)
    prepared = prepare(as_bytes(notebook), REFERENCE)
    restored = by_id(prepared.notebook)
    assert restored["test_answer"].source == TEST_SOURCE and restored["test_answer"].metadata["nbgrader"]["points"] == 2.0
    assert restored["setup"].cell_type == "code"
    reasons = " | ".join(flag.reason for flag in prepared.flags)
    assert {flag.kind for flag in prepared.flags} == {"metadata"}
    for expected in ("read-only cell test_answer was edited", "points: 2.0 -> 100.0", "changed from code to raw"):
        assert expected in reasons


def test_tags_and_other_metadata_mean_nothing():
    notebook = released()
    for cell in notebook.cells:
        cell.metadata["tags"] = ["skip-execution", "raises-exception"]
    prepared = prepare(as_bytes(notebook), REFERENCE)
    assert prepared.flags == []
    assert all(set(c.metadata) <= {"nbgrader"} for c in prepared.notebook.cells)


def test_deleted_cells_come_back_in_place_and_forged_or_duplicated_ones_run_as_ordinary_cells():
    notebook = released(answer="def answer():\n    return 42")
    test_cell = by_id(notebook)["test_answer"]
    notebook.cells.remove(test_cell)
    forged = nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {**test_cell.metadata["nbgrader"], "grade_id": "bonus", "points": 50.0}})
    duplicate = nbformat.v4.new_code_cell("def answer():\n    return 0", metadata={"nbgrader": by_id(notebook)["answer"].metadata["nbgrader"]})
    notebook.cells += [forged, duplicate]
    prepared = prepare(as_bytes(notebook), REFERENCE)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in prepared.notebook.cells]
    assert ids == ["setup", None, "answer", "test_answer", "written", None, None]
    reasons = " | ".join(flag.reason for flag in prepared.flags)
    assert "test cell test_answer was deleted or lost its metadata: restored" in reasons
    assert "'bonus' is not part of the assignment" in reasons and "'answer' appears twice" in reasons


@pytest.mark.parametrize("raw, reason", [
    (None, "no notebook a1.ipynb in the submission"),
    (b'{"cells": [ this is not json', "a1.ipynb is not a valid notebook: NotJSONError"),
    (json.dumps({"cells": "none"}).encode(), "a1.ipynb is not a valid notebook"),
    (b"\xff\xfe", "a1.ipynb is not a valid notebook: UnicodeDecodeError"),
])
def test_what_is_not_a_notebook_is_recorded_as_missing(raw, reason):
    prepared = prepare(raw, REFERENCE)
    assert prepared.notebook is None
    assert [flag.kind for flag in prepared.flags] == ["missing"] and prepared.flags[0].reason.startswith(reason)
