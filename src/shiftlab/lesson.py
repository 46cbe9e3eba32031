"""Course-wide switches: quick mode and progress bars, named once.

``SHIFTLAB_QUICK=1`` in the environment turns on quick mode: tests and CI execute every notebook many
times, so notebooks use fewer images and coarser grids there, while a student's default stays the
full lesson. Autograding runs at that size too (the grader's size: the hidden tests pass in both
modes, and a class is graded in a fraction of the time): nbgrader's autograde sets
``NBGRADER_EXECUTION=autograde``, which turns quick mode on unless ``SHIFTLAB_QUICK=0`` asks for the
full lesson. ``TQDM_DISABLE=1`` turns every progress bar off (graded cells, stored solutions).
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

QUICK_ENV = "SHIFTLAB_QUICK"
PROGRESS_OFF_ENV = "TQDM_DISABLE"  # tqdm's own switch, so it silences bars of other libraries too
GRADING_ENV, AUTOGRADING = "NBGRADER_EXECUTION", "autograde"  # nbgrader's own mark of an autograding kernel


def quick_mode() -> bool:
    """True when ``SHIFTLAB_QUICK=1`` is set (tests, CI, ``make grade-demo``), or when nbgrader autogrades
    (``NBGRADER_EXECUTION=autograde``) and ``SHIFTLAB_QUICK`` is not ``0``: lessons run at the grader's size."""
    chosen = os.environ.get(QUICK_ENV, "")
    return chosen == "1" or (chosen != "0" and os.environ.get(GRADING_ENV, "") == AUTOGRADING)


def lesson_size(full, quick):
    """``quick`` in quick mode, ``full`` otherwise: e.g. ``n_images = lesson_size(1017, 200)``."""
    return quick if quick_mode() else full


def progress_bar(iterable=None, *, enabled: bool = True, **options) -> tqdm:
    """A ``tqdm.auto`` bar, off when ``enabled`` is False or ``TQDM_DISABLE`` is set (tqdm's own switch,
    which an explicit ``disable=`` argument would otherwise override)."""
    switched_off = os.environ.get(PROGRESS_OFF_ENV, "").lower() in {"1", "true", "yes"}
    return tqdm(iterable, disable=switched_off or not enabled, **options)


class LessonStop(Exception):
    """Stops a notebook cell with one line instead of a traceback (IPython prints what
    ``_render_traceback_`` returns), for cells that cannot run before an earlier exercise is done."""

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def require(namespace: dict, *names: str, exercise: str) -> None:
    """Stop the cell with one clear line unless every name is defined in ``namespace`` (the notebook's
    ``globals()``): a cell that uses what an earlier exercise's cells compute calls this first, so a
    student who skipped that exercise sees what to do instead of a knock-on ``NameError``.

    >>> require({"errors": {}}, "errors", exercise="Exercise 3")
    >>> require({}, "errors", "sizes", exercise="Exercise 3")
    Traceback (most recent call last):
    ...
    shiftlab.lesson.LessonStop: this cell needs errors and sizes from Exercise 3: do that exercise and run its cells first
    """
    missing = [name for name in names if name not in namespace]
    if missing:
        raise LessonStop(f"this cell needs {' and '.join(missing)} from {exercise}: do that exercise and run its cells first")


def quiet_environment(quick: bool) -> dict[str, str]:
    """The variables to set for a notebook run by a machine (grading, stored solutions): quick mode on or
    off, and progress bars off, since a stored bar is a frozen widget and a bar on stderr can zero a cell.

    >>> quiet_environment(quick=True)
    {'SHIFTLAB_QUICK': '1', 'TQDM_DISABLE': '1'}
    """
    return {QUICK_ENV: "1" if quick else "0", PROGRESS_OFF_ENV: "1"}
