"""Feedback for students: which tests failed and their messages, not the hidden tests' code.

nbgrader renders feedback from the autograded notebook, which holds every ``BEGIN HIDDEN TESTS`` block
(by design upstream, nbgrader issue #917): releasing feedback would release the hidden tests. Here
``HideHiddenTests`` runs first in ``nbgrader generate_feedback``: it cuts the hidden region out of each
cell and shortens that cell's errors to their message, since a traceback quotes the failing line.
``keep_hidden_tests=True`` keeps nbgrader's own behaviour.
"""

from __future__ import annotations

import logging

from nbgrader.converters import GenerateFeedback, NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from traitlets.config import Config

from .course import Course, nbgrader_config

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


def generate_feedback(course: Course, assignment: str, student: str, keep_hidden_tests: bool = False) -> None:
    """HTML feedback in ``feedback/<student>/<assignment>/`` for one autograded submission, made in this
    process by nbgrader's own converter (what ``nbgrader generate_feedback --student`` runs), so the
    grading process writes each student's feedback as their results come in, while other kernels run."""
    config = Config(nbgrader_config())
    config.CourseDirectory.root = str(course.root)
    if not keep_hidden_tests:
        config.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id, coursedir.student_id = assignment, student
    converter = GenerateFeedback(coursedir=coursedir, config=config)
    converter.force = True
    converter.log.setLevel(logging.WARNING)  # its per-notebook chatter is not the report's
    try:
        converter.start()
    except NbGraderException as error:
        raise RuntimeError(f"nbgrader could not make {student}'s feedback: {error}") from error
