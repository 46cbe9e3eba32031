"""Course-wide switches for notebooks.

``SHIFTLAB_QUICK=1`` in the environment turns on quick mode: tests and CI execute every notebook many
times, so notebooks use fewer images and coarser grids there, while a student's default stays the
full lesson. ``TQDM_DISABLE=1`` turns every progress bar off (graded cells, stored solutions).
"""

from __future__ import annotations

import os

from tqdm.auto import tqdm

QUICK_ENV = "SHIFTLAB_QUICK"


def quick_mode() -> bool:
    """True when ``SHIFTLAB_QUICK=1`` is set (tests, CI, ``make grade-demo``)."""
    return os.environ.get(QUICK_ENV, "") == "1"


def lesson_size(full, quick):
    """``quick`` in quick mode, ``full`` otherwise: e.g. ``n_images = lesson_size(1017, 200)``."""
    return quick if quick_mode() else full


def progress_bar(iterable=None, *, enabled: bool = True, **options) -> tqdm:
    """A ``tqdm.auto`` bar, off when ``enabled`` is False or ``TQDM_DISABLE`` is set (tqdm's own switch,
    which an explicit ``disable=`` argument would otherwise override)."""
    switched_off = os.environ.get("TQDM_DISABLE", "").lower() in {"1", "true", "yes"}
    return tqdm(iterable, disable=switched_off or not enabled, **options)
