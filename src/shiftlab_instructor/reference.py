"""The instructor's record of one notebook of an assignment, as ``nbgrader generate_assignment`` put it
in the gradebook: every cell with grading metadata, in notebook order, with hidden tests included.

It is plain data (picklable), so a grading job carries it to wherever the job runs; only the trusted
writer opens the gradebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import ClearHiddenTests

SCHEMA_VERSION = 3  # nbgrader's cell metadata schema


@dataclass(frozen=True)
class ReferenceCell:
    """One cell the instructor owns: its id, type, source (hidden tests included; for answer cells the
    released stub), read-only or not, answer or not, points (None: not graded), nbgrader's checksum."""

    grade_id: str
    cell_type: str
    source: str
    locked: bool
    solution: bool
    points: float | None
    checksum: str

    @property
    def is_test(self) -> bool:
        """An autograded test cell: graded code the student may not edit."""
        return self.points is not None and not self.solution and self.cell_type == "code"

    @property
    def released_source(self) -> str:
        """The source students received: hidden tests cut out."""
        cell = nbformat.v4.new_code_cell(self.source)
        ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell)
        return cell.source

    @property
    def has_hidden_tests(self) -> bool:
        return self.released_source != self.source

    def metadata(self) -> dict:
        """The cell's nbgrader metadata as the release gave it."""
        meta = {"grade": self.points is not None, "grade_id": self.grade_id, "locked": self.locked,
                "schema_version": SCHEMA_VERSION, "solution": self.solution, "checksum": self.checksum}
        if self.points is not None:
            meta["points"] = self.points
        return meta

    def new_cell(self, source: str | None = None) -> nbformat.NotebookNode:
        """A fresh cell of this kind with the release's metadata and ``source`` (default: the reference's)."""
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell, "raw": nbformat.v4.new_raw_cell}
        return make[self.cell_type](self.source if source is None else source, metadata={"nbgrader": self.metadata()})


@dataclass(frozen=True)
class NotebookReference:
    """The cells of one notebook ``name`` of ``assignment`` in notebook order."""

    assignment: str
    name: str
    cells: tuple[ReferenceCell, ...]

    def cell(self, grade_id: str) -> ReferenceCell | None:
        return next((cell for cell in self.cells if cell.grade_id == grade_id), None)

    @property
    def max_points(self) -> float:
        return sum(cell.points or 0 for cell in self.cells if cell.is_test)


def notebook_references(gradebook_url: str, course_id: str, assignment: str) -> list[NotebookReference]:
    """Every notebook of ``assignment`` as recorded in the gradebook (after ``generate_assignment``)."""
    with Gradebook(gradebook_url, course_id) as gradebook:
        references = []
        for notebook in gradebook.find_assignment(assignment).notebooks:
            points = {cell.name: float(cell.max_score) for cell in notebook.grade_cells}
            answers = {cell.name for cell in notebook.solution_cells}
            cells = tuple(
                ReferenceCell(cell.name, cell.cell_type, cell.source, cell.locked, cell.name in answers,
                              points.get(cell.name), cell.checksum)
                for cell in notebook.source_cells  # in notebook order, as generate_assignment added them
            )
            references.append(NotebookReference(assignment, notebook.name, cells))
    return references

