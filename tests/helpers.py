"""Where the tests find the repository and the course's data: written once, imported by conftest and tests.

In CI the repository is cloned with ``../shared`` beside it; ``shiftlab.data.COURSE_DATA_TAR`` names the
CIFAR-10 JPEG copy there, relative to the repository root.
"""

from pathlib import Path

from shiftlab.data import COURSE_DATA_TAR

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_TAR = (REPO_ROOT / COURSE_DATA_TAR).resolve()
SHARED_DATA = DATA_TAR.parent
