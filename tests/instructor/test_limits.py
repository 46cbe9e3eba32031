"""Per-assignment sandbox limits from the committed measurements (``course/sandbox-limits.json``)."""

from __future__ import annotations

import json

import pytest
from helpers import REPO_ROOT

from shiftlab_instructor.course import Course
from shiftlab_instructor.limits import (MODES, Measurement, derive, graded_assignments, limits_for, read_measurements,
                                        store_measurement)

COURSE = Course(REPO_ROOT / "course")


def test_every_graded_assignment_is_measured_in_both_modes():
    measured = read_measurements(COURSE.limits_path)
    assert sorted(measured) == graded_assignments(COURSE), "run `make sandbox-limits` and commit the file"
    for assignment, modes in measured.items():
        assert sorted(modes) == sorted(MODES), assignment
        assert modes["quick"].seconds > 0 and modes["full"].peak_memory_mb > 100, (assignment, modes)


@pytest.mark.parametrize("assignment", graded_assignments(COURSE))
def test_limits_leave_room_above_the_measured_solution(assignment):
    for quick in (True, False):
        measured = read_measurements(COURSE.limits_path)[assignment]["quick" if quick else "full"]
        limits = limits_for(COURSE, assignment, quick)
        assert limits.wall_seconds >= 3 * measured.seconds and limits.memory_mb >= 2 * measured.peak_memory_mb
        assert limits.processes > 2 * measured.peak_tasks


def test_unmeasured_peaks_fall_back_to_stated_defaults():
    assert derive(Measurement(seconds=10, peak_memory_mb=None, peak_tasks=None), cores=2) == derive(
        Measurement(seconds=10, peak_memory_mb=2048, peak_tasks=64), cores=2)


def test_a_course_without_measurements_says_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="make sandbox-limits"):
        limits_for(Course(tmp_path), "01_flip_and_kernels", quick=True)
    (tmp_path / "sandbox-limits.json").write_text(json.dumps({"measured": {}}))
    with pytest.raises(KeyError, match="no quick measurement for 01_flip_and_kernels"):
        limits_for(Course(tmp_path), "01_flip_and_kernels", quick=True)


def test_a_measurement_keeps_what_another_run_stored_meanwhile(tmp_path):
    """Two `sandbox-limits` runs at once: each merges its entry into the file as it is now, not as it was
    when the run started."""
    path = tmp_path / "sandbox-limits.json"
    store_measurement(path, "01_a", "full", Measurement(seconds=5.0, peak_memory_mb=800.0, peak_tasks=18))
    store_measurement(path, "02_b", "quick", Measurement(seconds=7.0, peak_memory_mb=900.0, peak_tasks=19))
    store_measurement(path, "01_a", "quick", Measurement(seconds=4.0, peak_memory_mb=700.0, peak_tasks=18))
    stored = read_measurements(path)
    assert {a: sorted(modes) for a, modes in stored.items()} == {"01_a": ["full", "quick"], "02_b": ["quick"]}
    assert stored["02_b"]["quick"].seconds == 7.0 and stored["01_a"]["full"].peak_memory_mb == 800.0
