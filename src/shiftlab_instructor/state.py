"""What a grading run has finished, so that a second run grades only what is new or changed.

After the trusted writer has put one student's results in the gradebook and ``autograded/``, it writes
``<course>/grading-state/<assignment>/<student>.json``: the submission's fingerprint and the report
line (points, flags, seconds). A later run skips a student whose fingerprint is unchanged and whose
submission is still in the gradebook. Every file is written whole or not at all (a temporary file,
then ``os.replace``), and the state file comes last: a run killed at any moment leaves each student
either recorded with its state, or to be graded again by the next run, never marked done half-way.

The fingerprint covers everything grading depends on: the submitted notebooks' and ``timestamp.txt``'s
bytes, the other files' names, the release's cells (hidden tests included) and files, and how the run
grades (quick or full lesson, limits, feedback kind): change any of them and the student is graded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .findings import Flag

STATE_DIR = "grading-state"


def atomic_write(path: Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` so that readers (and a run killed meanwhile) see the old file or the
    new one, never a part: a temporary file in the same folder, flushed to disk, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def fingerprint(parts: list[tuple[str, bytes | str | None]]) -> str:
    """SHA-256 of named parts (None: absent, which differs from empty), independent of nothing else.

    >>> fingerprint([("a.ipynb", b"{}"), ("timestamp.txt", None)]) == fingerprint([("a.ipynb", b"{}"), ("timestamp.txt", None)])
    True
    >>> fingerprint([("a.ipynb", b"{}")]) == fingerprint([("a.ipynb", b"{} ")])
    False
    """
    digest = hashlib.sha256()
    for name, value in parts:
        raw = b"\x00absent" if value is None else (value.encode() if isinstance(value, str) else value)
        for piece in (name.encode(), raw):
            digest.update(len(piece).to_bytes(8, "big"))
            digest.update(piece)
    return digest.hexdigest()


@dataclass
class Row:
    """One student's line of the report, which their state file also keeps."""

    student: str
    points: float
    max_points: float
    flags: list[Flag] = field(default_factory=list)
    seconds: float = 0.0
    unchanged: bool = False  # graded by an earlier run, skipped by this one


@dataclass
class Done:
    """One student's finished grading: the fingerprint it was graded at and its report line."""

    fingerprint: str
    row: Row

    def to_json(self) -> str:
        return json.dumps({"fingerprint": self.fingerprint, "points": self.row.points, "max_points": self.row.max_points,
                           "flags": [flag.to_dict() for flag in self.row.flags], "seconds": round(self.row.seconds, 3)}, indent=1)


def state_path(course: Course, assignment: str, student: str) -> Path:
    return course.root / STATE_DIR / assignment / f"{student}.json"


def read_done(course: Course, assignment: str, student: str) -> Done | None:
    """The student's last finished grading, None when there is none or it cannot be read."""
    try:
        stored = json.loads(state_path(course, assignment, student).read_text())
        return Done(stored["fingerprint"], Row(student, stored["points"], stored["max_points"],
                                               [Flag(**flag) for flag in stored["flags"]], stored["seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_done(course: Course, assignment: str, student: str, done: Done) -> Path:
    return atomic_write(state_path(course, assignment, student), done.to_json() + "\n")


def forget(course: Course, assignment: str, student: str) -> None:
    """Drop the student's state before their results are rewritten (a kill then means: grade again)."""
    state_path(course, assignment, student).unlink(missing_ok=True)
