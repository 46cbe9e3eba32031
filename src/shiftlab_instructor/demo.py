"""A full round trip in a scratch course: release, a roster of three, submissions, sandboxed autograde,
feedback, export. ``make grade-demo`` prints its table; the course tests assert on it.

Students: ``solution`` (every answer), ``untouched`` (the release as is), ``partial`` (only the first
exercise).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from .autograde import Options, autograde
from .course import Course, nbgrader
from .limits import limits_for
from .release import strip_solution_markers
from .sandbox import Limits

STUDENTS = ("solution", "untouched", "partial")


def fill_in(release_nb: nbformat.NotebookNode, source_nb: nbformat.NotebookNode, how_many: int | None = None) -> nbformat.NotebookNode:
    """A student's submission: the release with the first ``how_many`` code solution cells (all if None)
    answered with the source's solutions, and every written answer answered too when ``how_many`` is None."""
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    submission = nbformat.from_dict(release_nb)
    answered = 0
    for cell in submission.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "code":
            if how_many is not None and answered >= how_many:
                continue
            answered += 1
        elif how_many is not None:
            continue
        cell.source = strip_solution_markers(solutions[meta["grade_id"]].source)
    return submission


def scratch_course(source: Course, assignment: str, root: Path, students: list[str]) -> Course:
    """A new course at ``root`` holding ``assignment``'s source, released, with ``students`` on its roster."""
    course = Course(root)
    shutil.copytree(source.source_notebook(assignment).parent, root / "source" / assignment)
    nbgrader(["generate_assignment", assignment, "--force"], course)
    roster = root / "roster.csv"
    with open(roster, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "first_name", "last_name", "email"])
        writer.writerows([student, student.title(), "Demo", ""] for student in students)
    nbgrader(["db", "student", "import", str(roster)], course)
    return course


def submit(course: Course, assignment: str, student: str, notebook: nbformat.NotebookNode) -> Path:
    """Put ``notebook`` where nbgrader's collect would: ``submitted/<student>/<id>/<id>.ipynb``."""
    folder = course.submission_dir(student, assignment)
    shutil.copytree(course.release_dir(assignment), folder, dirs_exist_ok=True)
    nbformat.write(notebook, folder / f"{assignment}.ipynb")
    return folder


def round_trip(source: Course, assignment: str, workdir: Path, quick: bool = True, limits: Limits | None = None) -> dict[str, dict]:
    """Release, submit the three students, autograde in the sandbox, give feedback and export, in a fresh
    course under ``workdir``. Limits default to the source course's measurements. Returns, per student:
    autograded score and maximum, manual maximum, whether written answers await manual grading, flags,
    the feedback file, and the exported CSV row."""
    course = scratch_course(source, assignment, workdir / "course", list(STUDENTS))
    release_nb = nbformat.read(course.release_dir(assignment) / f"{assignment}.ipynb", as_version=4)
    source_nb = nbformat.read(course.source_notebook(assignment), as_version=4)
    submissions = {"solution": fill_in(release_nb, source_nb), "untouched": release_nb, "partial": fill_in(release_nb, source_nb, 1)}
    for student, notebook in submissions.items():
        submit(course, assignment, student, notebook)
    report = autograde(course, assignment, Options(quick=quick, limits=limits or limits_for(source, assignment, quick)), log=lambda *_: None)
    grades_csv = course.root / "grades.csv"
    nbgrader(["export", f"--to={grades_csv}"], course)
    with open(grades_csv, newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file) if row["assignment"] == assignment}
    flags = {row.student: row.flags for row in report.rows}
    results = {}
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        for student in submissions:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            auto = [g for g in notebook.grades if g.cell.cell_type == "code"]
            results[student] = {
                "auto_score": sum(g.auto_score or 0 for g in auto),
                "auto_max": sum(g.max_score for g in auto),
                "manual_max": sum(g.max_score for g in notebook.grades if g.cell.cell_type == "markdown"),
                "needs_manual_grade": notebook.needs_manual_grade,
                "flags": flags.get(student),
                "feedback": course.feedback_dir(student, assignment) / f"{assignment}.html",
                "csv_row": rows.get(student),
            }
    return results


def format_results(assignment: str, results: dict[str, dict]) -> str:
    lines = [assignment, f"  {'student':<10} {'autograded':>12} {'written (manual)':>18} {'needs manual grade':>20} flags"]
    for student, r in results.items():
        flags = ", ".join(sorted({f.kind for f in r["flags"] or []})) or "-"
        lines.append(f"  {student:<10} {r['auto_score']:>6.1f} / {r['auto_max']:<4.1f} {r['manual_max']:>13.1f} pts "
                     f"{str(r['needs_manual_grade']):>20} {flags}")
    return "\n".join(lines)
