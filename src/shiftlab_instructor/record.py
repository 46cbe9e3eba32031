"""The one trusted writer: puts a grading job's result into the gradebook and ``autograded/``.

It scores the result's notebook with nbgrader's own preprocessors (the autograde list after
execution: ``IgnorePattern``, ``LimitOutput``, ``SaveAutoGrades``, ``AssignLatePenalties``,
``CheckCellMetadata``), configured by the course's ``nbgrader_config.py``. Flags make the submitted
notebook *flagged* in the gradebook (formgrader shows and filters it), become a comment on its first
answer cell, and a banner cell at the top of the autograded notebook, which formgrader and the
feedback show. Files are replaced whole (``state.atomic_write``) and the gradebook changes in SQLite
transactions, so a run killed meanwhile leaves each file and row old or new, never torn.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades
from nbgrader.utils import parse_utc
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from .course import Course, read_submitted
from .findings import Flag
from .job import JobResult
from .state import atomic_write

SCORING = (IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata)
BANNER_TITLE = "**Flagged for review by the autograder.**"


@dataclass(frozen=True)
class Recorded:
    """What the gradebook now holds for one notebook: autograded points and their maximum."""

    points: float
    max_points: float


def read_timestamp(course: Course, student: str, assignment: str) -> tuple[str | None, Flag | None]:
    """The submission time nbgrader's ``collect`` wrote (``timestamp.txt``), checked to be a time; None
    if there is none."""
    raw, refused = read_submitted(course.submission_dir(student, assignment) / "timestamp.txt", limit=100)
    if raw is None:
        return None, Flag("metadata", f"{refused}: graded as on time") if refused else None
    text = raw.decode("ascii", errors="replace").strip()
    try:
        parse_utc(text)
    except (ValueError, OverflowError):
        return None, Flag("metadata", "timestamp.txt is not a time: graded as on time")
    return text, None


def banner(flags: list[Flag]) -> nbformat.NotebookNode:
    reasons = "\n".join(f"- *{flag.kind}*: {flag.reason}" for flag in flags)
    return nbformat.v4.new_markdown_cell(f"{BANNER_TITLE} What it found:\n\n{reasons}")


def _comment_flags(gradebook: Gradebook, result: JobResult, flags: list[Flag]) -> None:
    """Flag the submitted notebook and comment on its first answer cell (or clear both)."""
    submitted = gradebook.find_submission_notebook(result.notebook_name, result.assignment, result.student)
    submitted.flagged = bool(flags)
    if submitted.comments and flags:  # comments exist per answer cell, in notebook order
        first = submitted.comments[0]
        note = "Flagged for review: " + "; ".join(f"{flag.kind}: {flag.reason}" for flag in flags)
        first.auto_comment = f"{first.auto_comment}\n\n{note}" if first.auto_comment else note
    gradebook.db.commit()


def _zero(gradebook: Gradebook, result: JobResult) -> None:
    """Nothing ran: every grade of the notebook is 0 and needs no manual grading."""
    submitted = gradebook.find_submission_notebook(result.notebook_name, result.assignment, result.student)
    for grade in submitted.grades:
        grade.auto_score, grade.needs_manual_grade = 0, False
    for comment in submitted.comments:
        comment.auto_comment = None
    gradebook.db.commit()


def record(course: Course, result: JobResult, config: Config) -> Recorded:
    """Write one job's result for ``result.student``, who must be on the roster (in the gradebook)."""
    timestamp, timestamp_flag = read_timestamp(course, result.student, result.assignment)
    if timestamp_flag:
        result.flags.append(timestamp_flag)
    flags = result.flags
    target = course.autograded_dir(result.student, result.assignment) / f"{result.notebook_name}.ipynb"
    with Gradebook(course.gradebook_url, course.course_id) as gradebook, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy 2's autoflush warnings ("... not in session"); harmless
        warnings.filterwarnings("ignore", message=".*not in session", category=SAWarning)
        gradebook.find_student(result.student)  # raises MissingEntry: no auto-created students
        gradebook.update_or_create_submission(result.assignment, result.student,
                                              **({"timestamp": parse_utc(timestamp)} if timestamp else {}))
    if result.notebook is None:
        target.unlink(missing_ok=True)  # an older graded version must not stand for this one
        with Gradebook(course.gradebook_url, course.course_id) as gradebook:
            _zero(gradebook, result)
    else:
        notebook = nbformat.from_dict(result.notebook)
        resources = {"nbgrader": {"notebook": result.notebook_name, "assignment": result.assignment,
                                  "student": result.student, "db_url": course.gradebook_url}}
        for preprocessor in SCORING:  # calling a preprocessor skips it when disabled (IgnorePattern is by default)
            notebook, resources = preprocessor(config=config)(notebook, resources)
        if flags:
            notebook.cells.insert(0, banner(flags))
        atomic_write(target, nbformat.writes(notebook))  # whole or not at all, should the run be killed
        if timestamp is not None:  # as nbgrader's autograde does, beside the graded notebook
            atomic_write(target.parent / "timestamp.txt", timestamp)
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        _comment_flags(gradebook, result, flags)
        submitted = gradebook.find_submission_notebook(result.notebook_name, result.assignment, result.student)
        auto = [g for g in submitted.grades if g.cell.cell_type == "code"]
        return Recorded(sum(g.auto_score or 0 for g in auto), sum(g.max_score for g in auto))
