"""How fast ``make autograde`` grades a class, projected to 300 students x 4 assignments.

For each graded assignment it builds a scratch course (release, roster, submissions) of N synthetic
students, cycling through three kinds: ``honest`` (every answer from the solution), ``partial`` (the
first code answer only) and ``blank`` (the release as is), and grades it exactly as ``make autograde``
does: sandboxed, at the grader's size (quick mode), ``--workers`` at once with one thread per kernel,
feedback and the CSV export included. It prints seconds per submission per assignment (the run's wall
time over N, so fixed costs such as feedback count too), submissions per hour, and the projected time
for 300 students x 4 assignments beside today's sequential figure (issue 15: about 15 h, one student at
a time, full lessons). ``--compare-sequential`` grades each class again one student at a time and
stops unless every student's points and flags are identical. Needs the sandbox (root, bubblewrap).

    sudo .venv/bin/python benchmarks/grading.py [--students 3] [--workers N] [--compare-sequential] [ID ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import nbformat

from shiftlab_instructor.autograde import Options, autograde
from shiftlab_instructor.cluster import cores
from shiftlab_instructor.course import Course
from shiftlab_instructor.demo import fill_in, scratch_course, submit
from shiftlab_instructor.limits import graded_assignments, limits_for

KINDS = ("honest", "partial", "blank")
CLASS_SIZE, TODAY_HOURS = 300, 15.0  # the class and its sequential figure for it


def synthetic_class(source: Course, assignment: str, root: Path, students: int) -> Course:
    """A released course of ``assignment`` with ``students`` submissions: honest-1, partial-1, blank-1, honest-2, ..."""
    names = [f"{KINDS[i % len(KINDS)]}-{i // len(KINDS) + 1}" for i in range(students)]
    course = scratch_course(source, assignment, root, names)
    release = nbformat.read(course.release_dir(assignment) / f"{assignment}.ipynb", as_version=4)
    solution = nbformat.read(source.source_notebook(assignment), as_version=4)
    made = {"honest": fill_in(release, solution), "partial": fill_in(release, solution, 1), "blank": release}
    for name in names:
        submit(course, assignment, name, made[name.split("-")[0]])
    return course


def outcome(report) -> list[tuple]:
    return [(row.student, row.points, row.max_points, sorted((f.kind, f.reason) for f in row.flags)) for row in report.rows]


def points_by_kind(report) -> dict[str, str]:
    """'points / max' of each kind's first student, for the table."""
    firsts = {}
    for row in report.rows:
        firsts.setdefault(row.student.split("-")[0], f"{row.points:g}/{row.max_points:g}")
    return firsts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every graded assignment")
    parser.add_argument("--students", type=int, default=3, help="synthetic students per assignment (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--course", default="course", help="the source course (default ./course)")
    parser.add_argument("--compare-sequential", action="store_true", help="grade again one at a time; grades must match")
    args = parser.parse_args()
    source = Course.locate(args.course)
    assignments = args.assignments or graded_assignments(source)
    workers = args.workers or cores()
    print(f"{cores()} cores, {workers} workers, 1 thread per kernel when workers fill the cores; grader's size (quick mode); "
          f"{args.students} students per assignment; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    print(f"{'assignment':<24} {'wall s':>7} {'s/submission':>13}  " + "  ".join(f"{kind:>8}" for kind in KINDS))
    per_submission = {}
    for assignment in assignments:
        with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as folder:
            course = synthetic_class(source, assignment, Path(folder) / "course", args.students)
            options = Options(workers=workers, limits=limits_for(source, assignment, quick=True))
            report = autograde(course, assignment, options, log=lambda *_: None)
            if report.errors:
                raise SystemExit(f"{assignment}: grading errors: {report.errors}")
            per_submission[assignment] = report.seconds / args.students
            shown = points_by_kind(report)
            print(f"{assignment:<24} {report.seconds:>7.1f} {per_submission[assignment]:>13.1f}  "
                  + "  ".join(f"{shown.get(kind, '-'):>8}" for kind in KINDS), flush=True)
            if args.compare_sequential:
                again = synthetic_class(source, assignment, Path(folder) / "sequential", args.students)
                sequential = autograde(again, assignment, replace(options, workers=1), log=lambda *_: None)
                if outcome(sequential) != outcome(report):
                    raise SystemExit(f"{assignment}: parallel grades differ from sequential:\n{outcome(report)}\n{outcome(sequential)}")
                print(f"{'':<24} sequential: {sequential.seconds:.1f} s, grades identical to the parallel run", flush=True)
    mean = sum(per_submission.values()) / len(per_submission)
    hours = CLASS_SIZE * sum(per_submission.values()) / 3600 * (4 / len(per_submission))
    print(f"submissions per hour: {3600 / mean:.0f} (mean {mean:.1f} s per submission); "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if len(per_submission) != 4:
        print(f"(projection scaled from {len(per_submission)} assignment(s) to 4)")
    print(f"today (issue 15, one student at a time, full lessons): about {TODAY_HOURS:g} h")
    print(f"projected {CLASS_SIZE} students x 4 assignments: {hours:.1f} h")


if __name__ == "__main__":
    main()
