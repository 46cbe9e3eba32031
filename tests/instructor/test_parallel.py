"""Grading a class at scale (issue 15): at the grader's size, in parallel, resumable, and on a Dask cluster.

The slow tests grade a real course (nbgrader's gradebook, the bubblewrap sandbox, real kernels) of one
small assignment, ``double``, with three students: ``honest`` (every answer), ``blank`` (the release as
is) and ``crashing`` (the first answer, then its kernel exits in the second answer cell). Each sandboxed
kernel imports torch and ``shiftlab`` before the notebook runs, so one notebook takes about as long as
a kernel start (5 to 30 s on a busy machine); the module grades the class four times and a bit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import nbformat
import pytest
from helpers import REPO_ROOT
from nbgrader.api import Gradebook

from shiftlab import lesson
from shiftlab_instructor import sandbox
from shiftlab_instructor.autograde import InstructorError, Options, autograde, format_summary
from shiftlab_instructor.cluster import PROFILER_VARIABLE
from shiftlab_instructor.course import Course
from shiftlab_instructor.demo import scratch_course, submit
from shiftlab_instructor.sandbox import DEFAULT_UID, UID_RANGE, Limits
from shiftlab_instructor.state import read_done, state_path

ASSIGNMENT = "double"
STUDENTS = ["blank", "crashing", "honest"]
LIMITS = Limits(wall_seconds=120, memory_mb=2048, processes=64)
NBGRADER = {"schema_version": 3}
ANSWERS = {
    "answer_double": ("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION", "return 2 * x"),
    "answer_threads": ("def threads():\n    ### BEGIN SOLUTION\n    import torch\n    return torch.get_num_threads()\n"
                       "    ### END SOLUTION", "import torch\n    return torch.get_num_threads()"),
}
TESTS = {
    "test_double": "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
    # one thread per kernel when the workers fill the cores, and the grader's size (quick mode)
    "test_threads": "import os\nfrom shiftlab import quick_mode\nassert threads() == int(os.environ['OMP_NUM_THREADS'])\n"
                    "assert quick_mode()",
}


def source_notebook() -> nbformat.NotebookNode:
    cells = []
    for (answer_id, (answer, _)), (test_id, test) in zip(ANSWERS.items(), TESTS.items()):
        cells.append(nbformat.v4.new_code_cell(answer, metadata={"nbgrader": {
            **NBGRADER, "grade": False, "solution": True, "locked": False, "grade_id": answer_id}}))
        cells.append(nbformat.v4.new_code_cell(test, metadata={"nbgrader": {
            **NBGRADER, "grade": True, "solution": False, "locked": True, "points": 1, "grade_id": test_id}}))
    return nbformat.v4.new_notebook(cells=cells)


def submission(release: nbformat.NotebookNode, student: str) -> nbformat.NotebookNode:
    """``student``'s notebook, made from the release the way each of them answers."""
    notebook = nbformat.from_dict(release)
    answered = {"honest": list(ANSWERS), "crashing": ["answer_double"]}.get(student, [])
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answered:
            first_line = cell.source.splitlines()[0]
            cell.source = f"{first_line}\n    {ANSWERS[grade_id][1]}"
        if student == "crashing" and grade_id == "answer_threads":
            cell.source = "import os\nos._exit(3)"
    return notebook


def make_course(root: Path) -> Course:
    """A released course of ``ASSIGNMENT`` with the four students on its roster and their submissions."""
    source = Course(root / "source-course")
    (source.root / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source_notebook(), source.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    course = scratch_course(source, ASSIGNMENT, root / "course", STUDENTS)
    release = nbformat.read(course.release_dir(ASSIGNMENT) / f"{ASSIGNMENT}.ipynb", as_version=4)
    for student in STUDENTS:
        submit(course, ASSIGNMENT, student, submission(release, student))
    return course


@pytest.fixture(scope="module")
def fresh_course(tmp_path_factory) -> Path:
    """A course nobody has graded yet; tests grade copies of it."""
    return make_course(tmp_path_factory.mktemp("class")).root


def copy_of(fresh: Path, tmp_path: Path) -> Course:
    return Course(Path(shutil.copytree(fresh, tmp_path / "course")))


def grades(course: Course) -> dict[str, dict[str, float]]:
    """Every student's score per graded cell, from the gradebook."""
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        notebooks = {s: gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, s) for s in STUDENTS}
        return {s: {g.name: g.score for g in notebook.grades} for s, notebook in notebooks.items()}


def lines(report) -> list[tuple]:
    return [(row.student, row.points, row.max_points, [(f.kind, f.reason) for f in row.flags]) for row in report.rows]


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def sequential(fresh_course, tmp_path_factory):
    """The class graded one student at a time: the reference every other way must equal."""
    course = copy_of(fresh_course, tmp_path_factory.mktemp("sequential"))
    report = autograde(course, ASSIGNMENT, Options(limits=LIMITS, feedback=False, workers=1), log=quiet)
    return course, report


@pytest.mark.parametrize("chosen,grading,quick", [(None, None, False), (None, "autograde", True), ("0", "autograde", False),
                                                  ("1", None, True), (None, "validate", False)])
def test_autograding_runs_lessons_at_the_graders_size(monkeypatch, chosen, grading, quick):
    for name, value in ((lesson.QUICK_ENV, chosen), (lesson.GRADING_ENV, grading)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert lesson.quick_mode() is quick and lesson.lesson_size("full", "quick") == ("quick" if quick else "full")


@pytest.mark.slow
def test_sequential_grading_scores_each_student_and_a_crash_stops_no_one(sequential):
    course, report = sequential
    assert [(row.student, row.points, row.max_points) for row in report.rows] == [
        ("blank", 0, 2), ("crashing", 1, 2), ("honest", 2, 2)]
    crashed = {row.student: row.flags for row in report.rows}["crashing"]
    assert [flag.kind for flag in crashed] == ["sandbox", "crash"] and "exit code 3" in crashed[1].reason
    assert not [row for row in report.rows if row.student != "crashing" and row.flags]
    assert report.exit_code == 0 and not report.errors
    assert "failed, 0 for what could not run: crashing (the notebook crashed: its kernel died (exit code 3))" in format_summary(report)
    exported = (course.root / "reports" / "grades.csv").read_text().splitlines()
    assert exported[0].startswith("assignment,duedate,timestamp,student_id") and len(exported) == 1 + len(STUDENTS)


@pytest.mark.slow
def test_parallel_grading_equals_sequential_and_a_rerun_grades_nobody(sequential, fresh_course, tmp_path):
    reference_course, reference = sequential
    course = copy_of(fresh_course, tmp_path)
    report = autograde(course, ASSIGNMENT, Options(limits=LIMITS, feedback=False, workers=2), log=quiet)
    assert lines(report) == lines(reference) and grades(course) == grades(reference_course)
    again = autograde(course, ASSIGNMENT, Options(limits=LIMITS, feedback=False, workers=2), log=quiet)
    assert lines(again) == lines(reference) and all(row.unchanged for row in again.rows)
    # a changed submission is graded again, and only that one
    release = nbformat.read(course.release_dir(ASSIGNMENT) / f"{ASSIGNMENT}.ipynb", as_version=4)
    submit(course, ASSIGNMENT, "blank", submission(release, "honest"))
    changed = autograde(course, ASSIGNMENT, Options(limits=LIMITS, feedback=False, workers=2), log=quiet)
    assert [row.student for row in changed.rows if not row.unchanged] == ["blank"]
    assert {row.student: row.points for row in changed.rows}["blank"] == 2


def command(course: Course, *extra: str) -> list[str]:
    return [sys.executable, "-m", "shiftlab_instructor", "autograde", ASSIGNMENT, "--course", str(course.root),
            "--no-feedback", "--wall-seconds", str(LIMITS.wall_seconds), "--memory-mb", str(LIMITS.memory_mb),
            "--processes", str(LIMITS.processes), *extra]


def graded_now(output: str) -> list[str]:
    """Students the run graded and recorded, from its per-student lines (``  <student>: p / m in s``)."""
    return sorted(line.split(":")[0].strip() for line in output.splitlines() if line.startswith("  ") and " / " in line)


def sandbox_processes() -> list[int]:
    return [pid for uid in range(DEFAULT_UID, DEFAULT_UID + UID_RANGE // 10) for pid in sandbox.processes_of(uid)]


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_and_grades_everyone_exactly_once(sequential, fresh_course, tmp_path):
    reference_course, reference = sequential
    course = copy_of(fresh_course, tmp_path)
    states = course.root / "grading-state" / ASSIGNMENT
    run = subprocess.Popen(command(course, "--workers", "1"), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not (states.is_dir() and any(states.glob("*.json"))) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed: " + run.stdout.read().decode()
    run.send_signal(signal.SIGKILL)
    run.wait()
    done_before = sorted(path.stem for path in states.glob("*.json"))
    assert 1 <= len(done_before) < len(STUDENTS)
    for path in course.root.rglob("*"):  # nothing half-written: every file whole, no temporary left readable as one
        if path.suffix in (".json", ".ipynb") and not path.name.startswith("."):
            json.loads(path.read_text())
    time.sleep(2)
    assert sandbox_processes() == [], "a sandbox outlived the killed run"
    resumed = subprocess.run(command(course, "--workers", "2"), cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert graded_now(resumed.stdout) == sorted(set(STUDENTS) - set(done_before))
    assert f"({len(STUDENTS) - len(done_before)} now, {len(done_before)} unchanged since an earlier run)" in resumed.stdout
    assert grades(course) == grades(reference_course)
    assert {s: read_done(course, ASSIGNMENT, s).row.points for s in STUDENTS} == {row.student: row.points for row in reference.rows}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def dask_cluster(folder: Path, workers: dict[str, dict[str, str]]) -> Iterator[str]:
    """A real ``dask scheduler`` and ``dask worker`` processes (name -> extra environment) on 127.0.0.1;
    yields the scheduler's address once every worker has joined."""
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = str(Path(sys.executable).parent / "dask")
    started = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)]
    try:
        for name, env in workers.items():
            started.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", name,
                                             "--local-directory", str(folder / name)], env={**os.environ, **env},
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder))
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(len(workers), timeout=120)
        yield address
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(timeout=60)


@pytest.mark.slow
def test_a_worker_with_dasks_profiler_on_is_refused_before_anyone_is_graded(fresh_course, tmp_path):
    course = copy_of(fresh_course, tmp_path)
    with dask_cluster(tmp_path, {"profiled": {PROFILER_VARIABLE: "True"}}) as address:
        with pytest.raises(InstructorError, match=f"tcp://127.0.0.1:[0-9]+: Dask's profiler is on.*{PROFILER_VARIABLE}=False"):
            autograde(course, ASSIGNMENT, Options(limits=LIMITS, feedback=False, scheduler=address), log=quiet)
    assert not course.autograded_dir("honest", ASSIGNMENT).exists()


@pytest.mark.slow
def test_a_dask_scheduler_and_two_workers_grade_the_class_alike(sequential, fresh_course, tmp_path):
    reference_course, reference = sequential
    course = copy_of(fresh_course, tmp_path)
    without_profiler = {PROFILER_VARIABLE: "False"}
    with dask_cluster(tmp_path, {"first": without_profiler, "second": without_profiler}) as address:
        report = autograde(course, ASSIGNMENT, Options(limits=LIMITS, feedback=False, scheduler=address), log=quiet)
    assert lines(report) == lines(reference) and grades(course) == grades(reference_course)
    assert state_path(course, ASSIGNMENT, "honest").is_file()
