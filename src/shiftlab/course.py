"""Course-wide switches for notebooks.

``SHIFTLAB_QUICK=1`` in the environment turns on quick mode: tests and CI execute every notebook many
times, so notebooks use fewer images and coarser grids there, while a student's default stays the
full lesson.
"""

from __future__ import annotations

import os

QUICK_ENV = "SHIFTLAB_QUICK"


def quick_mode() -> bool:
    """True when ``SHIFTLAB_QUICK=1`` is set (tests, CI, ``make grade-demo``)."""
    return os.environ.get(QUICK_ENV, "") == "1"


def lesson_size(full, quick):
    """``quick`` in quick mode, ``full`` otherwise: e.g. ``n_images = lesson_size(1017, 200)``."""
    return quick if quick_mode() else full
