"""The static scan of student-controlled code (``shiftlab_instructor.scan``)."""

from __future__ import annotations

import nbformat
import pytest
from helpers import REPO_ROOT

from shiftlab_instructor.course import Course
from shiftlab_instructor.limits import graded_assignments
from shiftlab_instructor.release import strip_solution_markers
from shiftlab_instructor.scan import scan, student_cells

COURSE = Course(REPO_ROOT / "course")
SETUP = "import os as o\nimport torch\nimport torch.nn.functional as F\nimport shiftlab as sl"


def flags_of(*cells: str) -> list[tuple[str, str, int]]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (SETUP, *cells)])
    return [(flag.kind, flag.reason, flag.cell) for flag in scan(notebook)]


@pytest.mark.parametrize("assignment", graded_assignments(COURSE))
def test_model_answers_and_lesson_cells_raise_no_flag(assignment):
    notebook = nbformat.read(COURSE.source_notebook(assignment), as_version=4)
    for cell in notebook.cells:
        cell.source = strip_solution_markers(cell.source)
    assert student_cells(notebook), "the solution has cells a student controls"
    assert scan(notebook) == []


@pytest.mark.parametrize("source, kind, reason", [
    ("torch.allclose = lambda *a, **k: True", "tamper", "patches torch.allclose"),
    ("setattr(F, 'conv1d', None)", "tamper", "patches torch.nn.functional (setattr)"),
    ("sl.flip.correlate1d = print", "tamper", "patches shiftlab.flip.correlate1d"),
    ("get_ipython().ast_transformers.append(object())", "tamper", "an IPython AST or input transformer"),
    ("get_ipython().set_custom_exc((Exception,), print)", "tamper", "a custom exception handler"),
    ("get_ipython().showtraceback = print", "tamper", "replaces IPython's traceback display (showtraceback)"),
    ("get_ipython().events.register('pre_run_cell', print)", "tamper", "registers an IPython cell hook"),
    ("def f(x): pass\nf.__code__ = sl.correlate1d.__code__", "tamper", "reaches into function internals (__code__)"),
    ("import shiftlab_instructor", "tamper", "imports the grading tools"),
    ("exec('x = 1')", "suspicious", "runs code built at run time (exec)"),
    ("import sys\nsys.modules['torch']", "suspicious", "sys.modules"),
    ("o._exit(1)", "sandbox", "ends the kernel (os._exit)"),
    ("from socket import create_connection", "sandbox", "uses the network (socket)"),
    ("import sqlite3", "sandbox", "opens a database (sqlite3)"),
    ("open('../../../gradebook.db')", "sandbox", "names files outside its folder ('../../../gradebook.db')"),
    ("for p in ('/srv/course/gradebook.db',):\n    open(p)", "sandbox", "outside its folder ('/srv/course/gradebook.db')"),
    ("!ls", "sandbox", "runs shell commands"),
    ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)", "sandbox", "handles or sends signals"),
])
def test_each_rule_names_its_reason_and_cell(source, kind, reason):
    found = flags_of("x = 1", source)
    assert any(k == kind and reason in r and cell == 2 for k, r, cell in found), found


def test_names_are_resolved_through_imports_not_guessed():
    assert flags_of("def correlate1d(signal, kernel, exec=None):\n    return signal", "%time y = 2",
                    "torch.backends.cudnn.benchmark = True", "model = torch.nn.Linear(2, 2)\nmodel.weight.data = torch.ones(2, 2)") == []
