"""Grading one notebook of one submission: a self-contained job that produces results, writes nothing.

``run_job(GradingJob) -> JobResult`` needs only this package, the course's Python environment and a
sandbox (bubblewrap, root): no course folder, no gradebook. Both dataclasses are plain data (the
submission as bytes, the reference cells as strings, the result notebook as a dict), so jobs can run in
a pool (``autograde --workers``) or on other machines while one trusted writer (``record``) puts their
results in the gradebook. The release's other files travel as bytes too (``GradingJob.files``, put in
a scratch folder where the job runs), and ``JobResult.submission_sha256`` names what was graded.

The result's notebook is graded as nbgrader grades: a test cell with an error output scores 0. The job
adds that error where a score must not count:

- ``NotRun``: the notebook stopped (time, memory, dead kernel) before the test finished;
- ``TamperingDetected``: the test ran while something that hides errors or patches what tests rely on
  was present (the integrity probe's findings), or after a cell whose text does that (static scan).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from .execution import Execution, execute_in_sandbox, is_test_cell
from .findings import Flag
from .prepare import prepare
from .reference import NotebookReference
from .sandbox import Sandbox
from .scan import scan


@dataclass(frozen=True)
class GradingJob:
    """One notebook of one student's submission. ``submission``: the notebook's bytes, None when the
    student submitted no such notebook (or nothing); ``ignored_files``: other files in the submission
    folder, which never reach the kernel and are only reported; ``files``: the release's other files
    (path in ``$HOME`` -> content), which the kernel may read."""

    student: str
    reference: NotebookReference
    submission: bytes | None
    sandbox: Sandbox
    ignored_files: tuple[str, ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass
class JobResult:
    """What grading found: the executed notebook with its scoring outputs (None when nothing could
    run), flags for review, and what the run cost."""

    student: str
    assignment: str
    notebook_name: str
    notebook: dict | None
    flags: list[Flag] = field(default_factory=list)
    submission_sha256: str | None = None
    seconds: float = 0.0
    peak_memory_mb: float | None = None
    peak_tasks: int | None = None


def _error(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _tests_after(notebook: nbformat.NotebookNode, index: int) -> list[str]:
    return [c.metadata.nbgrader["grade_id"] for c in notebook.cells[index + 1:] if is_test_cell(c)]


def _score_outputs(execution: Execution, touched: dict[str, list[str]]) -> None:
    """Add the error outputs that make unfinished and tampered tests score 0 (see the module doc)."""
    for index, cell in enumerate(execution.notebook.cells):
        if not is_test_cell(cell):
            continue
        if index not in execution.completed:
            cell.outputs.append(_error("NotRun", f"this test did not finish: the notebook {execution.failure or 'stopped'}"))
        reasons = touched.get(cell.metadata.nbgrader["grade_id"])
        if reasons:
            cell.outputs.append(_error("TamperingDetected", "no points: this test ran while the notebook "
                                                             f"tampered with grading ({'; '.join(reasons)})"))


def run_jobs(jobs: list[GradingJob]) -> list[JobResult]:
    """Every notebook of one student's submission, one after the other: the task a worker runs."""
    return [run_job(job) for job in jobs]


def run_job(job: GradingJob) -> JobResult:
    """Prepare, scan and execute the submission in a fresh sandbox; return the graded notebook and flags.
    Raises only for the instructor's problems (no sandbox), never for what the submission does."""
    if job.files:
        with tempfile.TemporaryDirectory(prefix="shiftlab-release-") as folder:
            paths = {}
            for relative, content in job.files.items():
                paths[relative] = Path(folder) / relative
                paths[relative].parent.mkdir(parents=True, exist_ok=True)
                paths[relative].write_bytes(content)
                paths[relative].chmod(0o644)  # bound into the sandbox as is: readable by the kernel's uid
            return run_job(replace(job, files={}, sandbox=replace(job.sandbox, files=paths)))
    reference = job.reference
    result = JobResult(job.student, reference.assignment, reference.name, None,
                       submission_sha256=hashlib.sha256(job.submission).hexdigest() if job.submission is not None else None)
    if job.ignored_files:
        result.flags.append(Flag("sandbox", f"files besides the notebook were not given to the kernel: {', '.join(job.ignored_files)}"))
    prepared = prepare(job.submission, reference)
    result.flags += prepared.flags
    if prepared.notebook is None:
        return result
    static = scan(prepared.notebook)
    touched: dict[str, list[str]] = {}
    for flag in static:
        if flag.kind == "tamper":
            for grade_id in _tests_after(prepared.notebook, flag.cell):
                touched.setdefault(grade_id, []).append(flag.reason)
    execution = execute_in_sandbox(prepared.notebook, job.sandbox)
    for grade_id, findings in execution.touched.items():
        touched.setdefault(grade_id, []).extend(findings)
    result.flags += static + [Flag("tamper", f"{finding} (integrity probe)") for finding in execution.findings]
    if execution.failure:
        result.flags.append(Flag(execution.failure_kind, f"the notebook {execution.failure}"))
    if execution.output_dropped:
        result.flags.append(Flag("limit", "output beyond the limit per notebook was dropped"))
    if execution.leftover_processes:
        result.flags.append(Flag("sandbox", f"{execution.leftover_processes} processes outlived the notebook and were killed"))
    _score_outputs(execution, touched)
    result.notebook = execution.notebook
    result.seconds, result.peak_memory_mb, result.peak_tasks = execution.seconds, execution.peak_memory_mb, execution.peak_tasks
    return result
