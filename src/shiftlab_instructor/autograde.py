"""Grade every submission of one assignment in the sandbox: ``make autograde ASSIGNMENT=<id> COURSE=<dir>``.

The class is the roster in the gradebook (``nbgrader db student import roster.csv``); nobody is
created on the fly. Each roster student's ``submitted/<student>/<id>/`` becomes one ``GradingJob`` per
notebook (a missing folder or notebook scores 0 with its reason), ``run_job`` grades it in a fresh
sandbox, and ``record`` writes the result: jobs produce (``--workers`` of them at once), one writer writes. Then feedback is generated
and a table printed (student, points, flags, reason), also written to ``<course>/reports/``.

Exit status: 0 when everything the instructor controls worked, whatever students did; 1 when some
submissions could not be graded for the instructor's reasons (not on the roster, a grading error);
``InstructorError`` (exit 2 from the command line) when nothing can be graded (no sandbox, no roster,
unknown assignment).
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from shiftlab.lesson import quiet_environment

from . import sandbox
from .course import Course, nbgrader_config, read_submitted
from .feedback import generate_feedback
from .findings import Flag, summary
from .job import GradingJob, JobResult, run_job
from .limits import limits_for
from .record import record
from .reference import NotebookReference, notebook_references
from .sandbox import Limits, Sandbox

# Files a submission folder may hold besides its notebooks without being reported (nbgrader's own).
EXPECTED_FILES = ("timestamp.txt", ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")


class InstructorError(Exception):
    """A problem only the instructor can fix, which stops the whole run."""


@dataclass(frozen=True)
class Options:
    """How to grade: quick mode (``SHIFTLAB_QUICK=1`` in kernels), limits (None: from the course's
    measurements), feedback with or without hidden test code, and how many jobs run at once (each in
    its own sandbox, under its own uid; their results are still written one at a time)."""

    quick: bool = False
    limits: Limits | None = None
    feedback: bool = True
    keep_hidden_tests: bool = False
    workers: int = 1


@dataclass
class Row:
    """One student's line of the report."""

    student: str
    points: float
    max_points: float
    flags: list[Flag] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Report:
    assignment: str
    limits: Limits
    rows: list[Row] = field(default_factory=list)
    not_on_roster: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.not_on_roster or self.errors else 0

    def write_csv(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["student", "points", "max_points", "flags", "reasons", "seconds"])
            for row in self.rows:
                writer.writerow([row.student, row.points, row.max_points, *summary(row.flags), round(row.seconds, 1)])
        return path


def ignored_files(folder: Path, notebooks: list[str], release: Path) -> tuple[str, ...]:
    """Files of a submission folder that are neither its notebooks, nor nbgrader's, nor the release's."""
    expected = {f"{name}.ipynb" for name in notebooks}
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_dir() and not path.is_symlink() or str(relative) in expected or (release / relative).is_file():
            continue
        if not any(fnmatch(part, pattern) for part in relative.parts for pattern in EXPECTED_FILES):
            found.append(str(relative))
    return tuple(found)


def roster(course: Course) -> list[str]:
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        return sorted(student.id for student in gradebook.students)


def _preflight(course: Course, assignment: str) -> tuple[list[NotebookReference], list[str]]:
    """The assignment's notebooks and the roster, or ``InstructorError`` saying what to fix."""
    missing = sandbox.problems()
    if missing:
        raise InstructorError("cannot sandbox submissions on this machine:\n  " + "\n  ".join(missing))
    exposed = sandbox.exposed_folder_containing(course.root)
    if exposed is not None:
        raise InstructorError(f"the course {course.root} lies inside {exposed}, which sandboxed kernels can read: move it")
    if not (course.root / "gradebook.db").is_file():
        raise InstructorError(f"no gradebook in {course.root}: run `nbgrader generate_assignment {assignment}` first")
    try:
        references = notebook_references(course.gradebook_url, course.course_id, assignment)
    except MissingEntry:
        raise InstructorError(f"assignment {assignment} is not in the gradebook of {course.root}: "
                              f"run `nbgrader generate_assignment {assignment}`") from None
    students = roster(course)
    if not students:
        raise InstructorError("the gradebook has no students: import the roster with "
                              "`nbgrader db student import roster.csv` (columns id, first_name, last_name, email)")
    return references, students


def _grade_student(course: Course, assignment: str, student: str, references: list[NotebookReference],
                   box: Sandbox) -> list[JobResult]:
    """Every notebook of one student's submission, graded (jobs run here, one after the other)."""
    folder = course.submission_dir(student, assignment)
    if folder.is_symlink() or folder.parent.is_symlink() or not folder.is_dir():
        return [JobResult(student, assignment, ref.name, None, [Flag("missing", "no submission")]) for ref in references]
    extra = ignored_files(folder, [ref.name for ref in references], course.release_dir(assignment))
    results = []
    for reference in references:
        raw, refused = read_submitted(folder / f"{reference.name}.ipynb")
        if refused:
            results.append(JobResult(student, assignment, reference.name, None, [Flag("missing", refused)]))
            continue
        results.append(run_job(GradingJob(student, reference, raw, box, extra)))
    return results


def release_files(course: Course, assignment: str) -> dict[str, Path]:
    """The release's files besides notebooks, which every kernel may read in its home folder."""
    release = course.release_dir(assignment)
    return {str(p.relative_to(release)): p for p in sorted(release.rglob("*")) if p.is_file() and p.suffix != ".ipynb"}


def autograde(course: Course, assignment: str, options: Options = Options(), log=print) -> Report:
    """Grade the whole class for ``assignment``; see the module docstring for what is written where."""
    references, students = _preflight(course, assignment)
    limits = options.limits or limits_for(course, assignment, options.quick)
    box = Sandbox(limits, env={**quiet_environment(options.quick), "NBGRADER_EXECUTION": "autograde"},
                  files=release_files(course, assignment))
    report = Report(assignment, limits)
    report.not_on_roster = sorted(set(course.submitting_students(assignment)) - set(students))
    config = nbgrader_config()
    log(f"{assignment}: {len(students)} students on the roster; sandbox: {sandbox.describe()}; limits: {limits}")
    with ThreadPoolExecutor(max_workers=options.workers) as pool:
        futures = {pool.submit(_grade_student, course, assignment, student, references, box): student for student in students}
        for future in as_completed(futures):  # this thread is the one writer
            student = futures[future]
            try:
                row = Row(student, 0.0, 0.0)
                for result in future.result():
                    recorded = record(course, result, config)
                    row.points += recorded.points
                    row.max_points += recorded.max_points
                    row.flags += result.flags
                    row.seconds += result.seconds
            except Exception as error:  # our failure, not the student's: the others still get graded
                report.errors[student] = f"{type(error).__name__}: {error}"
                log(f"  {student}: NOT GRADED, grading error: {report.errors[student]}")
                continue
            report.rows.append(row)
            log(f"  {student}: {row.points:g} / {row.max_points:g} in {row.seconds:.0f} s {summary(row.flags)[0]}")
    report.rows.sort(key=lambda row: row.student)
    if options.feedback and report.rows:
        generate_feedback(course, assignment, options.keep_hidden_tests)
    report.write_csv(course.root / "reports" / f"autograde-{assignment}.csv")
    return report


def format_table(report: Report, width: int = 100) -> str:
    """The report as a text table: student, points, flags, reason (shortened to ``width``)."""
    lines = [f"{'student':<16} {'points':>13}  {'flags':<24} reason"]
    for row in report.rows:
        kinds, reasons = summary(row.flags)
        reason = reasons if len(reasons) <= width else reasons[:width - 3] + "..."
        lines.append(f"{row.student:<16} {row.points:>6g} / {row.max_points:<4g}  {kinds or '-':<24} {reason}")
    for student in report.not_on_roster:
        lines.append(f"{student:<16} {'-':>13}  {'NOT GRADED':<24} not on the roster: import with `nbgrader db student import`")
    for student, error in report.errors.items():
        lines.append(f"{student:<16} {'-':>13}  {'NOT GRADED':<24} grading error: {error}")
    return "\n".join(lines)
