"""Feedback for students: which tests failed and their messages, not the hidden tests' code.

nbgrader renders feedback from the autograded notebook, which holds every ``BEGIN HIDDEN TESTS`` block
(by design upstream, nbgrader issue #917): releasing feedback would release the hidden tests. Here
``HideHiddenTests`` runs first in ``nbgrader generate_feedback``: it cuts the hidden region out of each
cell and shortens that cell's errors to their message, since a traceback quotes the failing line.
``keep_hidden_tests=True`` keeps nbgrader's own behaviour.
"""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

from .course import Course, nbgrader

HIDDEN_NOTE = "(a hidden test failed here; its code is not shown)"
FEEDBACK_PREPROCESSORS = (
    "shiftlab_instructor.feedback.HideHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
)


class HideHiddenTests(NbGraderPreprocessor):
    """Cut hidden tests out of every code cell; keep only ``ename: evalue`` of the errors in those cells."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and ClearHiddenTests(enforce_metadata=False)._remove_hidden_test_region(cell):
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}", HIDDEN_NOTE]
        return cell, resources


def generate_feedback(course: Course, assignment: str, keep_hidden_tests: bool = False) -> None:
    """HTML feedback in ``feedback/<student>/<assignment>/`` for every autograded submission."""
    options = [] if keep_hidden_tests else [f"--GenerateFeedback.preprocessors={name}" for name in FEEDBACK_PREPROCESSORS]
    nbgrader(["generate_feedback", assignment, "--force", *options], course)
