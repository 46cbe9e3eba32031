"""The class-level command: roster, missing and unknown students, what a submission folder may hold,
exit status (``shiftlab_instructor.autograde`` and its command line)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import REPO_ROOT

from shiftlab_instructor.autograde import InstructorError, Options, Report, Row, autograde, format_table, ignored_files
from shiftlab_instructor.course import Course, read_submitted
from shiftlab_instructor.demo import scratch_course
from shiftlab_instructor.findings import Flag
from shiftlab_instructor.record import read_timestamp
from shiftlab_instructor.sandbox import Limits

ASSIGNMENT = "01_flip_and_kernels"
LIMITS = Limits(wall_seconds=60, memory_mb=2048, processes=96)


def test_submitted_files_are_read_only_when_they_are_regular_files(tmp_path):
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "link.ipynb").symlink_to("/etc/hostname")
    os.mkfifo(tmp_path / "pipe.ipynb")
    assert read_submitted(tmp_path / "a.ipynb") == (b"{}", None)
    assert read_submitted(tmp_path / "absent.ipynb") == (None, None)
    assert read_submitted(tmp_path / "link.ipynb")[1].startswith("link.ipynb could not be opened")
    assert read_submitted(tmp_path / "pipe.ipynb") == (None, "pipe.ipynb is not a regular file")


def test_a_submission_time_must_be_a_time_in_a_regular_file(tmp_path):
    course = Course(tmp_path)
    for student, content in (("on_time", "2025-01-15 10:00:00.000000 UTC"), ("garbled", "tomorrow, promise")):
        course.submission_dir(student, "a1").mkdir(parents=True)
        (course.submission_dir(student, "a1") / "timestamp.txt").write_text(content)
    course.submission_dir("linked", "a1").mkdir(parents=True)
    (course.submission_dir("linked", "a1") / "timestamp.txt").symlink_to("/etc/shadow")
    assert read_timestamp(course, "on_time", "a1") == ("2025-01-15 10:00:00.000000 UTC", None)
    assert read_timestamp(course, "garbled", "a1")[1].reason == "timestamp.txt is not a time: graded as on time"
    assert read_timestamp(course, "linked", "a1")[1].reason.startswith("timestamp.txt could not be opened")
    assert read_timestamp(course, "absent", "a1") == (None, None)


def test_only_unexpected_files_of_a_submission_are_reported(tmp_path):
    release, folder = tmp_path / "release", tmp_path / "submitted"
    for path in (release / "data.csv", folder / "data.csv", folder / "a1.ipynb", folder / "timestamp.txt",
                 folder / ".ipynb_checkpoints" / "a1-checkpoint.ipynb", folder / "shiftlab.py", folder / "lib" / "x.py"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    assert ignored_files(folder, ["a1"], release) == ("lib/x.py", "shiftlab.py")


def test_the_table_names_points_flags_and_reasons():
    report = Report("a1", LIMITS, rows=[Row("alice", 22, 22), Row("mallory", 0, 22, [Flag("tamper", "torch.allclose replaced")])],
                    not_on_roster=["eve"], errors={"bob": "OSError: disk full"})
    table = format_table(report)
    assert "alice                22 / 22    -" in table
    assert "mallory               0 / 22    tamper" in table and "torch.allclose replaced" in table
    assert "eve" in table and "not on the roster" in table and "bob" in table and "disk full" in table
    assert report.exit_code == 1 and Report("a1", LIMITS, rows=report.rows[:2]).exit_code == 0


@pytest.mark.slow
def test_the_roster_decides_who_is_graded(tmp_path):
    course = scratch_course(Course(REPO_ROOT / "course"), ASSIGNMENT, tmp_path / "course", ["alice"])
    (course.submission_dir("mallory", ASSIGNMENT)).mkdir(parents=True)  # not on the roster
    report = autograde(course, ASSIGNMENT, Options(quick=True, limits=LIMITS, feedback=False), log=lambda *_: None)
    assert [(row.student, row.points, row.max_points) for row in report.rows] == [("alice", 0, 22)]
    assert [flag.reason for flag in report.rows[0].flags] == ["no submission"]
    assert report.not_on_roster == ["mallory"] and report.exit_code == 1
    assert (course.root / "reports" / f"autograde-{ASSIGNMENT}.csv").read_text().splitlines()[1].startswith("alice,0")
    with pytest.raises(InstructorError, match="is not in the gradebook"):
        autograde(course, "02_translation_sweeps", Options(limits=LIMITS))


@pytest.mark.slow
def test_instructor_errors_stop_the_run_with_exit_status_2(tmp_path):
    course = Course(tmp_path / "course")
    (course.root / "source").mkdir(parents=True)
    command = [sys.executable, "-m", "shiftlab_instructor", "autograde", ASSIGNMENT, "--course", str(course.root)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "no gradebook" in done.stderr
    scratch = scratch_course(Course(REPO_ROOT / "course"), ASSIGNMENT, tmp_path / "other", [])
    done = subprocess.run([*command[:-1], str(scratch.root)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "nbgrader db student import" in done.stderr
