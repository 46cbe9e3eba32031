"""``python -m shiftlab_instructor <action>``: the instructor's command line (the Makefile calls it).

    release [ID ...]            nbgrader generate_assignment, student versions copied to assignments/
    solutions [ID ...]          execute the solutions into solutions/ (progress bars off)
    demo [ID ...] [--full]      round trip in a scratch course: 3 students, sandboxed autograde, scores
    autograde ID                grade every submission in <course>/submitted/ in the sandbox, print a table
                                (parallel, resumable; on $SCHEDULER's Dask cluster when set)
    sandbox-limits [ID ...]     measure the solutions in the sandbox into <course>/sandbox-limits.json
    check-sandbox               say what this machine lacks for sandboxed grading

The course is ``--course DIR``, else ``$COURSE``, else ``./course``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from . import sandbox
from tqdm.auto import tqdm

from .autograde import InstructorError, Options, autograde, format_summary, format_table
from .cluster import SCHEDULER_ENV
from .course import Course
from .demo import format_results, round_trip
from .limits import graded_assignments, write_measurements
from .release import build_solution, release
from .sandbox import Limits


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shiftlab_instructor", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    parser.add_argument("action", choices=("release", "solutions", "demo", "autograde", "sandbox-limits", "check-sandbox"))
    parser.add_argument("assignments", nargs="*", help="assignment ids (default: all; autograde: exactly one)")
    parser.add_argument("--course", help="course folder (default: $COURSE, else ./course)")
    parser.add_argument("--destination", type=Path, help="release: default assignments/; solutions: default solutions/")
    parser.add_argument("--quick", action="store_true", help="solutions: quick mode (SHIFTLAB_QUICK=1); autograde runs it by default")
    parser.add_argument("--full", action="store_true",
                        help="demo, autograde: run the full lessons, not the grader's size (quick mode)")
    parser.add_argument("--keep-hidden-tests", action="store_true", help="autograde: feedback shows hidden test code (nbgrader's default)")
    parser.add_argument("--no-feedback", action="store_true", help="autograde: do not generate feedback")
    parser.add_argument("--workers", type=int, help="autograde: submissions graded at once here (default: one per core)")
    parser.add_argument("--scheduler", default=os.environ.get(SCHEDULER_ENV) or None,
                        help=f"autograde: Dask scheduler to grade on, e.g. tcp://host:8786 (default: ${SCHEDULER_ENV}, "
                             "else a local cluster)")
    parser.add_argument("--regrade", action="store_true", help="autograde: grade again submissions unchanged since the last run")
    limits = parser.add_argument_group("autograde limits (default: derived from <course>/sandbox-limits.json)")
    limits.add_argument("--wall-seconds", type=int)
    limits.add_argument("--memory-mb", type=int)
    limits.add_argument("--processes", type=int)
    return parser


def _explicit_limits(args: argparse.Namespace) -> Limits | None:
    given = (args.wall_seconds, args.memory_mb, args.processes)
    if not any(given):
        return None
    if not all(given):
        raise InstructorError("give all of --wall-seconds, --memory-mb and --processes, or none")
    return Limits(*given)


def _autograde(course: Course, args: argparse.Namespace) -> int:
    if len(args.assignments) != 1:
        raise InstructorError(f"autograde takes one assignment id, got {args.assignments or 'none'}; "
                              f"assignments: {', '.join(course.assignment_ids())}")
    if args.workers is not None and args.workers < 1:
        raise InstructorError(f"--workers must be at least 1, got {args.workers}")
    options = Options(quick=not args.full, limits=_explicit_limits(args), feedback=not args.no_feedback,
                      keep_hidden_tests=args.keep_hidden_tests, workers=args.workers, scheduler=args.scheduler,
                      regrade=args.regrade, progress=True)
    report = autograde(course, args.assignments[0], options, log=tqdm.write)
    print(format_table(report))
    print(format_summary(report))
    print(f"report: {course.root / 'reports' / f'autograde-{report.assignment}.csv'}; "
          f"nbgrader export: {course.root / 'reports' / 'grades.csv'}")
    return report.exit_code


def _check_sandbox() -> int:
    missing = sandbox.problems()
    print("\n".join(f"missing: {problem}" for problem in missing) or f"sandbox ready: {sandbox.describe()}")
    return 1 if missing else 0


def _release(course: Course, ids: list[str], args: argparse.Namespace) -> int:
    for assignment in ids:
        print(f"released {release(course, assignment, args.destination or Path('assignments'))}")
    return 0


def _solutions(course: Course, ids: list[str], args: argparse.Namespace) -> int:
    for assignment in ids:
        start = time.perf_counter()
        path = build_solution(course, assignment, args.destination or Path("solutions"), quick=args.quick)
        print(f"executed {path} in {time.perf_counter() - start:.0f} s", flush=True)
    return 0


def _demo(course: Course, ids: list[str], args: argparse.Namespace) -> int:
    for assignment in ids:
        with tempfile.TemporaryDirectory() as workdir:
            print(format_results(assignment, round_trip(course, assignment, Path(workdir), quick=not args.full)))
    return 0


def _sandbox_limits(course: Course, ids: list[str], args: argparse.Namespace) -> int:
    failed = write_measurements(course, ids)
    print(f"wrote {course.limits_path}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


# action -> (what it does, whether it defaults to the graded assignments only)
ACTIONS = {"release": (_release, False), "solutions": (_solutions, False), "demo": (_demo, True),
           "sandbox-limits": (_sandbox_limits, True)}


def run(args: argparse.Namespace) -> int:
    """Do one action; return the exit status."""
    if args.action == "check-sandbox":
        return _check_sandbox()
    course = Course.locate(args.course)
    if args.action == "autograde":
        return _autograde(course, args)
    action, graded_only = ACTIONS[args.action]
    return action(course, args.assignments or (graded_assignments(course) if graded_only else course.assignment_ids()), args)


def main(argv: list[str] | None = None) -> None:
    try:
        sys.exit(run(_parser().parse_args(argv)))
    except (InstructorError, FileNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
