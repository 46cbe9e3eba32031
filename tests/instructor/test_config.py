"""``nbgrader_config.py`` configures nbgrader and nothing else, and the course folder is chosen by
argument, ``COURSE`` or ``./course``, never by where the package lives."""

from __future__ import annotations

import os

import pytest
from helpers import REPO_ROOT
from traitlets.config import PyFileConfigLoader

from shiftlab_instructor.course import COURSE_ENV, Course


def load_config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(REPO_ROOT)).load_config()


def test_reading_the_config_changes_no_environment_variable(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.delenv(COURSE_ENV, raising=False)
    before = dict(os.environ)
    config = load_config()
    assert dict(os.environ) == before, "JupyterLab reads this file: every kernel it starts would inherit the change"
    assert config.CourseDirectory.root == str(REPO_ROOT / "course")
    assert config.Autograde.create_student is False, "the roster decides who is graded"


def test_the_course_folder_comes_from_the_argument_then_course_then_the_working_directory(monkeypatch, tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "other").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(COURSE_ENV, raising=False)
    assert Course.locate().root == tmp_path / "course"
    monkeypatch.setenv(COURSE_ENV, str(tmp_path / "other"))
    assert Course.locate().root == tmp_path / "other"
    assert load_config().CourseDirectory.root == str(tmp_path / "other")
    assert Course.locate(tmp_path / "course").root == tmp_path / "course"
    with pytest.raises(FileNotFoundError, match="pass --course DIR or set COURSE=DIR"):
        Course.locate(tmp_path / "missing")
