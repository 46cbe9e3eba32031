"""Grade every submission of one assignment in the sandbox: ``make autograde ASSIGNMENT=<id> COURSE=<dir>``.

The class is the roster in the gradebook (``nbgrader db student import roster.csv``); nobody is
created on the fly. This process reads each roster student's ``submitted/<student>/<id>/`` into plain
data (one ``GradingJob`` per notebook; a missing folder or notebook scores 0 with its reason) and hands
one task per student to a Dask cluster (``cluster``: a local one of one worker per core by default, or
``SCHEDULER``'s), where ``run_jobs`` grades each notebook in a fresh sandbox at the grader's size
(quick mode, one thread per worker). Results come back here, to the one trusted writer: ``record``
puts them in the gradebook and ``autograded/``, the student's feedback is made (while other students'
kernels run), then the student's state is saved (``state``), so a second run skips everyone graded and
unchanged, and a run killed at any moment loses no finished grade. At the end nbgrader's CSV export is
written to ``<course>/reports/grades.csv``, and a table printed (student, points, flags, reason), also
written to ``<course>/reports/``.

Exit status: 0 when everything the instructor controls worked, whatever students did; 1 when some
submissions could not be graded for the instructor's reasons (not on the roster, a grading error);
``InstructorError`` (exit 2 from the command line) when nothing can be graded (no sandbox, no roster,
unknown assignment).
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import CsvExportPlugin
from shiftlab.lesson import AUTOGRADING, GRADING_ENV, progress_bar, quiet_environment

from . import sandbox
from .cluster import PROFILER_VARIABLE, cores, dask_client, kernel_threads, profiling, thread_environment
from .course import Course, nbgrader_config, read_submitted
from .feedback import generate_feedback
from .findings import Flag, summary
from .job import GradingJob, JobResult, run_jobs
from .limits import limits_for
from .record import record
from .reference import NotebookReference, notebook_references
from .sandbox import Limits, Sandbox
from .state import Done, Row, atomic_write, fingerprint, forget, read_done, write_done

# Files a submission folder may hold besides its notebooks without being reported (nbgrader's own).
EXPECTED_FILES = ("timestamp.txt", ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")


class InstructorError(Exception):
    """A problem only the instructor can fix, which stops the whole run."""


@dataclass(frozen=True)
class Options:
    """How to grade: at the grader's size (quick mode, the default) or the full lesson's, limits (None:
    from the course's measurements), feedback with or without hidden test code, how many submissions
    run at once on this machine (None: one per core; each in its own sandbox, under its own uid; their
    results are still written one at a time), the Dask scheduler to send them to instead (an address
    such as ``tcp://host:8786``; None: a local cluster), and whether to grade again students whose
    submission is unchanged since an earlier run."""

    quick: bool = True
    limits: Limits | None = None
    feedback: bool = True
    keep_hidden_tests: bool = False
    workers: int | None = None
    scheduler: str | None = None
    regrade: bool = False
    progress: bool = False


@dataclass
class Report:
    assignment: str
    limits: Limits
    rows: list[Row] = field(default_factory=list)
    not_on_roster: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.not_on_roster or self.errors else 0

    def write_csv(self, path: Path) -> Path:
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(["student", "points", "max_points", "flags", "reasons", "seconds"])
        for row in self.rows:
            writer.writerow([row.student, row.points, row.max_points, *summary(row.flags), round(row.seconds, 1)])
        return atomic_write(path, text.getvalue())


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


def _preflight(course: Course, assignment: str, local: bool) -> tuple[list[NotebookReference], list[str]]:
    """The assignment's notebooks and the roster, or ``InstructorError`` saying what to fix. ``local``:
    jobs run on this machine, which must then be able to sandbox (a cluster's workers are asked later)."""
    missing = sandbox.problems() if local else []
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


@dataclass
class Submission:
    """One student's submission read into plain data: the jobs to run, the results of notebooks that
    cannot run at all (nothing submitted, refused), and the fingerprint of all that grading depends on."""

    student: str
    jobs: list[GradingJob]
    unrunnable: list[JobResult]
    fingerprint: str


def read_submission(course: Course, assignment: str, student: str, references: list[NotebookReference],
                    box: Sandbox, files: dict[str, bytes], setup: str) -> Submission:
    """Read ``student``'s folder (regular files only, links refused) into a ``Submission``."""
    folder = course.submission_dir(student, assignment)
    parts: list[tuple[str, bytes | str | None]] = [("setup", setup)]
    if folder.is_symlink() or folder.parent.is_symlink() or not folder.is_dir():
        unrunnable = [JobResult(student, assignment, ref.name, None, [Flag("missing", "no submission")]) for ref in references]
        return Submission(student, [], unrunnable, fingerprint([*parts, ("folder", None)]))
    extra = ignored_files(folder, [ref.name for ref in references], course.release_dir(assignment))
    parts += [("ignored files", "\n".join(extra)), ("timestamp.txt", read_submitted(folder / "timestamp.txt", limit=100)[0])]
    jobs, unrunnable = [], []
    for reference in references:
        raw, refused = read_submitted(folder / f"{reference.name}.ipynb")
        parts.append((reference.name, f"refused: {refused}" if refused else raw))
        if refused:
            unrunnable.append(JobResult(student, assignment, reference.name, None, [Flag("missing", refused)]))
        else:
            jobs.append(GradingJob(student, reference, raw, box, extra, files))
    return Submission(student, jobs, unrunnable, fingerprint(parts))


def release_files(course: Course, assignment: str) -> dict[str, Path]:
    """The release's files besides notebooks, which every kernel may read in its home folder."""
    release = course.release_dir(assignment)
    return {str(p.relative_to(release)): p for p in sorted(release.rglob("*")) if p.is_file() and p.suffix != ".ipynb"}


def _recorded_students(course: Course, assignment: str) -> set[str]:
    """Students whose submission of ``assignment`` the gradebook holds."""
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        return {submission.student.id for submission in gradebook.assignment_submissions(assignment)}


def _write(course: Course, assignment: str, submission: Submission, results: list[JobResult], options: Options, log) -> Row:
    """The one writer: record every notebook's result, make the feedback, then save the student's state
    (last: see ``state``)."""
    student, config = submission.student, nbgrader_config()
    forget(course, assignment, student)
    row = Row(student, 0.0, 0.0)
    for result in [*submission.unrunnable, *results]:
        recorded = record(course, result, config)
        row.points += recorded.points
        row.max_points += recorded.max_points
        row.flags += result.flags
        row.seconds += result.seconds
    if options.feedback and course.autograded_dir(student, assignment).is_dir():
        generate_feedback(course, assignment, student, options.keep_hidden_tests)
    write_done(course, assignment, student, Done(submission.fingerprint, row))
    log(f"  {student}: {row.points:g} / {row.max_points:g} in {row.seconds:.0f} s {summary(row.flags)[0]}")
    return row


def _grade(course: Course, submissions: list[Submission], options: Options, workers: int, report: Report, log) -> None:
    """Run the submissions' jobs on the cluster, one task per student, and write each result here as
    it arrives, in whatever order the tasks finish."""
    from distributed import as_completed

    def write(submission: Submission, results) -> None:
        """``results()``: the jobs' results, or the error that kept them from being made."""
        try:
            report.rows.append(_write(course, report.assignment, submission, results(), options, log))
        except Exception as error:  # ours, not the student's (no sandbox on a worker, disk full): the others go on
            report.errors[submission.student] = f"{type(error).__name__}: {error}"
            log(f"  {submission.student}: NOT GRADED, grading error: {report.errors[submission.student]}")

    runnable = [submission for submission in submissions if submission.jobs]
    with progress_bar(total=len(submissions), enabled=options.progress, desc=report.assignment, unit="student") as bar:
        for submission in submissions:
            if not submission.jobs:  # nothing to run: written at once
                write(submission, list)
                bar.update()
        if not runnable:
            return
        with dask_client(options.scheduler, workers) as client:
            if options.scheduler:
                _check_workers(client)
            run = uuid.uuid4().hex[:8]
            futures = {client.submit(run_jobs, s.jobs, key=f"grade-{report.assignment}-{s.student}-{run}", pure=False): s
                       for s in runnable}
            for future in as_completed(futures):  # this thread is the one writer
                write(futures[future], future.result)
                bar.update()


def _check_workers(client) -> None:
    """Every worker of a remote cluster must be able to sandbox, and run without Dask's profiler (see
    ``cluster``); else stop before grading anyone."""
    missing = {worker: problems for worker, problems in client.run(sandbox.problems).items() if problems}
    for worker in sorted(worker for worker, on in client.run(profiling).items() if on):
        missing.setdefault(worker, []).append(f"Dask's profiler is on, which can hang grading: start the worker with "
                                              f"{PROFILER_VARIABLE}=False")
    if missing:
        raise InstructorError("workers of the Dask cluster cannot grade:\n  " + "\n  ".join(
            f"{worker}: {'; '.join(problems)}" for worker, problems in sorted(missing.items())))


def export_grades(course: Course) -> Path:
    """nbgrader's CSV export of the whole gradebook, written whole to ``<course>/reports/grades.csv``."""
    path = course.root / "reports" / "grades.csv"
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        CsvExportPlugin(to=str(temporary)).export(gradebook)
    temporary.replace(path)
    return path


def grading_setup(quick: bool, limits: Limits, references: list[NotebookReference], files: dict[str, bytes]) -> str:
    """What grading depends on besides the submission, for its fingerprint (see ``state``)."""
    digests = sorted((name, hashlib.sha256(content).hexdigest()) for name, content in files.items())
    return repr((quick, limits, references, digests))


def autograde(course: Course, assignment: str, options: Options = Options(), log=print) -> Report:
    """Grade the whole class for ``assignment``; see the module docstring for what is written where."""
    start = time.monotonic()
    references, students = _preflight(course, assignment, local=options.scheduler is None)
    limits = options.limits or limits_for(course, assignment, options.quick)
    workers = options.workers or cores()
    threads = kernel_threads(workers, options.scheduler)
    box = Sandbox(limits, env={**quiet_environment(options.quick), GRADING_ENV: AUTOGRADING, **thread_environment(threads)})
    files = {name: path.read_bytes() for name, path in release_files(course, assignment).items()}
    setup = grading_setup(options.quick, limits, references, files)
    report = Report(assignment, limits)
    report.not_on_roster = sorted(set(course.submitting_students(assignment)) - set(students))
    recorded = set() if options.regrade else _recorded_students(course, assignment)
    todo = []
    for student in students:
        submission = read_submission(course, assignment, student, references, box, files, setup)
        done = read_done(course, assignment, student) if student in recorded else None
        if done is not None and done.fingerprint == submission.fingerprint:
            report.rows.append(replace(done.row, unchanged=True))
        else:
            todo.append(submission)
    where = options.scheduler or f"{workers} local workers, {threads} thread{'s' * (threads > 1)} per kernel"
    log(f"{assignment}: {len(students)} students on the roster, {len(todo)} to grade "
        f"({len(students) - len(todo)} unchanged since an earlier run); {where}; "
        f"{'quick' if options.quick else 'full'} lesson; limits: {limits}")
    if todo:
        _grade(course, todo, options, workers, report, log)
    report.rows.sort(key=lambda row: row.student)
    report.write_csv(course.root / "reports" / f"autograde-{assignment}.csv")
    export_grades(course)
    report.seconds = time.monotonic() - start
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


FAILED_KINDS = ("missing", "crash", "limit")  # flags of notebooks that did not run to their end


def format_summary(report: Report) -> str:
    """The run in four lines: who was graded (now or unchanged since an earlier run), whose notebook
    failed to run (with the reason), who is flagged for review, and who could not be graded."""
    unchanged = sum(row.unchanged for row in report.rows)
    failed = [f"{row.student} ({'; '.join(dict.fromkeys(f.reason for f in row.flags if f.kind in FAILED_KINDS))})"
              for row in report.rows if any(flag.kind in FAILED_KINDS for flag in row.flags)]
    flagged = [f"{row.student} ({summary(row.flags)[0]})" for row in report.rows if row.flags]
    not_graded = [f"{student} (not on the roster)" for student in report.not_on_roster]
    not_graded += [f"{student} ({error})" for student, error in report.errors.items()]
    return "\n".join([
        f"graded: {len(report.rows)} students in {report.seconds:.0f} s ({len(report.rows) - unchanged} now, "
        f"{unchanged} unchanged since an earlier run)",
        f"failed, 0 for what could not run: {', '.join(failed) or 'none'}",
        f"flagged for review: {', '.join(flagged) or 'none'}",
        f"not graded: {', '.join(not_graded) or 'none'}",
    ])
