"""Sandbox limits per assignment, derived from the measured run of its solution.

``make sandbox-limits`` executes every graded solution notebook (hidden tests included) in the grading
sandbox, in full and in quick mode, and stores what it took in ``<course>/sandbox-limits.json``
(committed). Grading reads the measurement and derives the limits with ``derive``, so the rule lives in
one place and a re-measurement on another machine changes only the file.
"""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from shiftlab.lesson import quiet_environment

from .course import Course
from .execution import execute_in_sandbox, is_test_cell
from .release import strip_solution_markers
from .sandbox import Limits, Sandbox

MODES = ("full", "quick")
# The rule: room for a machine three times slower, plus kernel start; memory twice the peak and at least
# 1 GB more; tasks twice the peak plus torch's threads on a machine with more cores, plus a margin.
WALL_FACTOR, WALL_EXTRA_SECONDS = 3, 60
MEMORY_FACTOR, MEMORY_EXTRA_MB, MEMORY_STEP_MB = 2, 1024, 256
TASK_FACTOR, TASKS_PER_CORE, TASK_EXTRA = 2, 4, 32
# Where a machine cannot measure peaks (no cgroup): what to assume.
UNMEASURED_MEMORY_MB, UNMEASURED_TASKS = 4096, 64
# Generous limits for measuring the instructor's own solution.
MEASURING = Limits(wall_seconds=1800, memory_mb=16384, processes=4096)


@dataclass(frozen=True)
class Measurement:
    """One solution run in the sandbox: wall seconds (kernel start included), peak memory of all its
    processes (MB) and peak processes + threads, None where the machine could not measure them."""

    seconds: float
    peak_memory_mb: float | None
    peak_tasks: int | None


def derive(measured: Measurement, cores: int | None = None) -> Limits:
    """The limits for an assignment whose solution took ``measured``.

    >>> derive(Measurement(seconds=12.0, peak_memory_mb=850.0, peak_tasks=18), cores=2)
    Limits(wall_seconds=96, memory_mb=2048, processes=76, scratch_mb=512)
    """
    cores = cores or os.cpu_count() or 1
    peak = measured.peak_memory_mb
    memory = UNMEASURED_MEMORY_MB if peak is None else max(MEMORY_FACTOR * peak, peak + MEMORY_EXTRA_MB)
    tasks = measured.peak_tasks or UNMEASURED_TASKS
    return Limits(wall_seconds=math.ceil(WALL_FACTOR * measured.seconds + WALL_EXTRA_SECONDS),
                  memory_mb=math.ceil(memory / MEMORY_STEP_MB) * MEMORY_STEP_MB,
                  processes=TASK_FACTOR * tasks + TASKS_PER_CORE * cores + TASK_EXTRA)


def read_measurements(path: Path) -> dict[str, dict[str, Measurement]]:
    """{assignment: {mode: Measurement}} from a limits file."""
    if not path.is_file():
        raise FileNotFoundError(f"no sandbox limits at {path}: run `make sandbox-limits` (or pass explicit limits)")
    stored = json.loads(path.read_text())["measured"]
    return {assignment: {mode: Measurement(**values) for mode, values in modes.items()} for assignment, modes in stored.items()}


def limits_for(course: Course, assignment: str, quick: bool) -> Limits:
    """The limits to grade ``assignment`` with, in quick or full mode."""
    measurements = read_measurements(course.limits_path)
    mode = MODES[1] if quick else MODES[0]
    if assignment not in measurements or mode not in measurements[assignment]:
        raise KeyError(f"{course.limits_path} has no {mode} measurement for {assignment}: run `make sandbox-limits`")
    return derive(measurements[assignment][mode])


def graded_assignments(course: Course) -> list[str]:
    """Assignments whose source has at least one graded cell."""
    return [a for a in course.assignment_ids()
            if any(c.metadata.get("nbgrader", {}).get("grade") for c in nbformat.read(course.source_notebook(a), as_version=4).cells)]


def measure(course: Course, assignment: str, quick: bool) -> Measurement:
    """Run the solution (hidden tests in) in the sandbox; raise if any test fails or the probe objects."""
    notebook = nbformat.read(course.source_notebook(assignment), as_version=4)
    for cell in notebook.cells:
        cell.source = strip_solution_markers(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    sandbox = Sandbox(MEASURING, env={**quiet_environment(quick), "NBGRADER_EXECUTION": "autograde"})
    execution = execute_in_sandbox(notebook, sandbox)
    failed = [c.metadata.nbgrader["grade_id"] for c in execution.notebook.cells
              if is_test_cell(c) and any(o.output_type == "error" for o in c.outputs)]
    if execution.failure or failed or execution.findings:
        raise RuntimeError(f"the solution of {assignment} did not pass in the sandbox: stopped: {execution.failure}, "
                           f"failed tests: {failed}, integrity findings: {execution.findings}")
    return Measurement(round(execution.seconds, 1), execution.peak_memory_mb and round(execution.peak_memory_mb),
                       execution.peak_tasks)


def machine() -> str:
    """The measuring machine in a few words, with its load (other work inflates the measurements)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GB, Linux {platform.release()}, load average {os.getloadavg()[0]:.1f}"


def write_measurements(course: Course, assignments: list[str], log=print) -> list[str]:
    """Measure ``assignments`` in both modes; (re)write each entry of the course's limits file as soon as
    it is measured. Returns the assignments whose solution failed in the sandbox (logged, not stored)."""
    failed = []
    for assignment in assignments:
        for mode in MODES:
            try:
                measured = measure(course, assignment, quick=mode == "quick")
            except RuntimeError as error:
                log(f"{assignment} {mode}: NOT MEASURED: {error}")
                failed.append(assignment)
                break
            store_measurement(course.limits_path, assignment, mode, measured)
            log(f"{assignment} {mode}: {measured.seconds} s, {measured.peak_memory_mb} MB, {measured.peak_tasks} tasks "
                f"-> {derive(measured)}")
    return failed


def store_measurement(path: Path, assignment: str, mode: str, measured: Measurement) -> None:
    """Merge one measurement into the limits file, read again just before writing, so that runs measuring
    other assignments at the same time keep their entries."""
    stored = json.loads(path.read_text()) if path.is_file() else {}
    stored["about"] = ("Solution notebooks executed in the grading sandbox by `make sandbox-limits`; grading derives "
                       "its limits from these (shiftlab_instructor.limits.derive).")
    stored.setdefault("measured", {}).setdefault(assignment, {})[mode] = asdict(measured)
    stored.setdefault("machines", {})[f"{assignment} {mode}"] = machine()
    path.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
