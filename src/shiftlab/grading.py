"""The nbgrader side of the course: release, executed solutions, validation and the grading round trip.

Run as ``python -m shiftlab.grading release|solutions|demo [ASSIGNMENT ...]`` (the Makefile does).
Sources live in ``course/source/<id>/<id>.ipynb``; student versions are copied to ``assignments/<id>/``
and executed solutions written to ``solutions/<id>/``. nbgrader is driven through its command line,
from the repository root so that ``nbgrader_config.py`` applies.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "course"
COURSE_ID = "shift-happens"
SOLUTION_MARKER = re.compile(r"^\s*(#+|<!--)?\s*(BEGIN|END) SOLUTION\s*(-->)?\s*$")
STUDENTS = ("solution", "untouched", "partial")
# nbgrader's validate exits 0 even when tests fail: these lines of its output tell.
VALIDATION_PASSED = "Success! Your notebook passes all the tests."


def assignment_ids(course: Path = COURSE) -> list[str]:
    """Every assignment with a source notebook ``course/source/<id>/<id>.ipynb``, sorted."""
    return sorted(p.parent.name for p in (course / "source").glob("*/*.ipynb") if p.stem == p.parent.name)


def source_path(assignment: str, course: Path = COURSE) -> Path:
    path = course / "source" / assignment / f"{assignment}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no source notebook {path}; assignments: {', '.join(assignment_ids(course))}")
    return path


def nbgrader(args: list[str], course_root: Path, quick: bool = False) -> str:
    """Run one nbgrader command on the course at ``course_root``; return its output, raise if it fails."""
    # The venv's bin first, so nbgrader finds its helpers (alembic) even when the venv isn't activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "SHIFTLAB_QUICK": "1" if quick else "0", "PATH": path}
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course_root}"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed with exit code {done.returncode}:\n{output}")
    return output


def validate(notebook: Path, quick: bool = True) -> tuple[bool, str]:
    """Run ``nbgrader validate`` on a notebook: (passed, its report). Reads the report, not the exit code."""
    output = nbgrader(["validate", str(notebook)], REPO / "course", quick)
    return VALIDATION_PASSED in output and "VALIDATION FAILED" not in output and "ERROR" not in output, output


def release(assignment: str, course: Path = COURSE, destination: Path = REPO / "assignments") -> Path:
    """``nbgrader generate_assignment`` and copy the student version to ``destination/<id>/``."""
    nbgrader(["generate_assignment", assignment, "--force"], course)
    target = destination / assignment
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(course / "release" / assignment, target)
    return target / f"{assignment}.ipynb"


def strip_solution_markers(source: str) -> str:
    """Remove the ``### BEGIN SOLUTION`` / ``### END SOLUTION`` lines, keeping what is between them."""
    return "\n".join(line for line in source.split("\n") if not SOLUTION_MARKER.match(line))


def solution_notebook(source: Path) -> nbformat.NotebookNode:
    """The source notebook as a reading group sees it: solutions in, markers and hidden tests out."""
    from nbgrader.preprocessors import ClearHiddenTests

    notebook = nbformat.read(source, as_version=4)
    notebook, _ = ClearHiddenTests().preprocess(notebook, {})
    for cell in notebook.cells:
        cell.source = strip_solution_markers(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return notebook


def execute(notebook: nbformat.NotebookNode, directory: Path, quick: bool = False, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute a notebook in ``directory`` with a fresh python3 kernel; raise on the first error.

    Progress bars are off: in a stored notebook they would be frozen widgets that readers cannot render.
    Cell timestamps are not recorded, so a rebuilt solution differs from the last one only where outputs do."""
    from nbclient import NotebookClient

    settings = {"SHIFTLAB_QUICK": "1" if quick else "0", "TQDM_DISABLE": "1"}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(directory)}}).execute()
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value
    return notebook


def build_solution(assignment: str, course: Path = COURSE, destination: Path = REPO / "solutions",
                   quick: bool = False) -> Path:
    """Execute the solution notebook and write it with all outputs to ``destination/<id>/<id>.ipynb``."""
    source = source_path(assignment, course)
    target = destination / assignment / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    notebook = execute(solution_notebook(source), source.parent, quick)
    nbformat.write(notebook, target)
    return target


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


def round_trip(assignment: str, workdir: Path, quick: bool = True) -> dict[str, dict]:
    """Generate, submit three students, autograde, give feedback and export, in a fresh course at ``workdir``.

    Students: ``solution`` (every answer), ``untouched`` (the release as is), ``partial`` (only the first
    exercise). Returns, per student: autograded score and maximum, whether written answers await manual
    grading, the feedback file, and the exported CSV row.
    """
    from nbgrader.api import Gradebook

    course = Path(workdir) / "course"
    shutil.copytree(source_path(assignment).parent, course / "source" / assignment)
    nbgrader(["generate_assignment", assignment, "--force"], course)
    released = course / "release" / assignment
    release_nb = nbformat.read(released / f"{assignment}.ipynb", as_version=4)
    source_nb = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    submissions = {"solution": fill_in(release_nb, source_nb), "untouched": release_nb, "partial": fill_in(release_nb, source_nb, 1)}
    for student, notebook in submissions.items():
        folder = course / "submitted" / student / assignment
        shutil.copytree(released, folder)
        nbformat.write(notebook, folder / f"{assignment}.ipynb")
    nbgrader(["autograde", assignment, "--force"], course, quick)
    nbgrader(["generate_feedback", assignment, "--force"], course, quick)
    grades_csv = course / "grades.csv"
    nbgrader(["export", f"--to={grades_csv}"], course)
    with open(grades_csv, newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file) if row["assignment"] == assignment}
    results = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gradebook:
        for student in submissions:
            notebook = gradebook.find_submission_notebook(assignment, assignment, student)
            auto = [g for g in notebook.grades if g.cell.cell_type == "code"]
            results[student] = {
                "auto_score": sum(g.auto_score or 0 for g in auto),
                "auto_max": sum(g.max_score for g in auto),
                "manual_max": sum(g.max_score for g in notebook.grades if g.cell.cell_type == "markdown"),
                "needs_manual_grade": notebook.needs_manual_grade,
                "feedback": course / "feedback" / student / assignment / f"{assignment}.html",
                "csv_row": rows.get(student),
            }
    return results


def _print_table(assignment: str, results: dict[str, dict]) -> None:
    print(f"\n{assignment}")
    print(f"  {'student':<10} {'autograded':>12} {'written (manual)':>18} {'needs manual grade':>20}")
    for student, r in results.items():
        print(f"  {student:<10} {r['auto_score']:>6.1f} / {r['auto_max']:<4.1f} {r['manual_max']:>13.1f} pts {str(r['needs_manual_grade']):>20}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shiftlab.grading", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("release", "solutions", "demo"))
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    parser.add_argument("--full", action="store_true", help="demo: grade the full lessons, not quick mode")
    args = parser.parse_args(argv)
    ids = args.assignments or assignment_ids()
    for assignment in ids:
        if args.action == "release":
            print(f"released {release(assignment).relative_to(REPO)}")
        elif args.action == "solutions":
            start = time.perf_counter()
            path = build_solution(assignment)
            print(f"executed {path.relative_to(REPO)} in {time.perf_counter() - start:.0f} s", flush=True)
        else:
            with tempfile.TemporaryDirectory() as workdir:
                _print_table(assignment, round_trip(assignment, Path(workdir), quick=not args.full))


if __name__ == "__main__":
    main()
