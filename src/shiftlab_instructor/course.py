"""Where a course's files are, in nbgrader's standard layout, and how nbgrader is run on them.

The course root is an argument, else the ``COURSE`` variable, else ``./course`` (relative to the working
directory, the repository root when run by ``make``); never derived from this package's location, so the
tooling works from an installed package and on any course folder::

    <root>/source/<id>/<id>.ipynb          instructor notebooks (solutions, hidden tests)
    <root>/release/<id>/                   student versions (nbgrader generate_assignment)
    <root>/submitted/<student>/<id>/       submissions (nbgrader collect, or copied by hand)
    <root>/autograded/<student>/<id>/      written by the trusted grading process only
    <root>/feedback/<student>/<id>/        feedback HTML
    <root>/gradebook.db                    nbgrader's gradebook
    <root>/sandbox-limits.json             measured solution runs (``make sandbox-limits``)
"""

from __future__ import annotations

import functools
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

COURSE_ENV = "COURSE"
DEFAULT_COURSE = "course"
NBGRADER_CONFIG = "nbgrader_config.py"  # read from the working directory, as nbgrader itself does
LIMITS_FILE = "sandbox-limits.json"
# nbgrader's validate exits 0 even when tests fail: these lines of its output tell.
VALIDATION_PASSED = "Success! Your notebook passes all the tests."


@dataclass(frozen=True)
class Course:
    """One course folder. ``Course.locate()`` applies the argument / ``COURSE`` / ``./course`` rule."""

    root: Path

    @classmethod
    def locate(cls, root: str | Path | None = None) -> Course:
        """The course at ``root``, else at ``$COURSE``, else at ``./course``; it must be a folder."""
        chosen = Path(root or os.environ.get(COURSE_ENV) or DEFAULT_COURSE).resolve()
        if not chosen.is_dir():
            raise FileNotFoundError(
                f"no course folder at {chosen}: pass --course DIR or set {COURSE_ENV}=DIR "
                f"(a folder with source/<assignment>/ inside)"
            )
        return cls(chosen)

    @property
    def gradebook_url(self) -> str:
        return f"sqlite:///{self.root / 'gradebook.db'}"

    @property
    def course_id(self) -> str:
        """nbgrader's course id (``CourseDirectory.course_id`` in ``nbgrader_config.py``)."""
        return nbgrader_config().CourseDirectory.get("course_id", "default_course")

    @property
    def limits_path(self) -> Path:
        return self.root / LIMITS_FILE

    def assignment_ids(self) -> list[str]:
        """Every assignment with a source notebook ``source/<id>/<id>.ipynb``, sorted."""
        return sorted(p.parent.name for p in (self.root / "source").glob("*/*.ipynb") if p.stem == p.parent.name)

    def source_notebook(self, assignment: str) -> Path:
        path = self.root / "source" / assignment / f"{assignment}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"no source notebook {path}; assignments: {', '.join(self.assignment_ids())}")
        return path

    def release_dir(self, assignment: str) -> Path:
        return self.root / "release" / assignment

    def submission_dir(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment

    def autograded_dir(self, student: str, assignment: str) -> Path:
        return self.root / "autograded" / student / assignment

    def feedback_dir(self, student: str, assignment: str) -> Path:
        return self.root / "feedback" / student / assignment

    def submitting_students(self, assignment: str) -> list[str]:
        """Names of the folders ``submitted/<student>/`` that hold a folder for ``assignment``, sorted."""
        submitted = self.root / "submitted"
        return sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())


def read_submitted(path: Path, limit: int = 64 * 2**20) -> tuple[bytes | None, str | None]:
    """A submitted file's bytes, refusing anything but a regular file (a link could point anywhere
    this root process can read): (bytes, None), (None, None) if absent, (None, why) if refused."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, None
    except OSError as error:
        return None, f"{path.name} could not be opened ({error.strerror}; links are not followed)"
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None, f"{path.name} is not a regular file"
        return file.read(limit + 1), None


def nbgrader_config() -> Config:
    """The course's nbgrader configuration (``./nbgrader_config.py``), empty when there is none."""
    return _config_at(Path.cwd() / NBGRADER_CONFIG)


@functools.lru_cache
def _config_at(path: Path) -> Config:
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config() if path.is_file() else Config()


def nbgrader(args: list[str], course: Course, env: dict[str, str] | None = None) -> str:
    """Run one nbgrader command on ``course``; return its output, raise ``RuntimeError`` if it fails.

    ``env`` adds variables for the commands that execute notebooks (validate)."""
    # The venv's bin first, so nbgrader finds its helpers (alembic) even when the venv isn't activated.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    command = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course.root}"]
    done = subprocess.run(command, env={**os.environ, **(env or {}), "PATH": path}, capture_output=True, text=True)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed with exit code {done.returncode}:\n{output}")
    return output
