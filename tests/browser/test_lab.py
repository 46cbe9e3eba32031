"""The two labs of the Makefile: `make lab` for students (no instructor extensions) and
`make lab-instructor` (nbgrader's formgrader and assignment tools, the course under the server root).

The session's lab is the student one (the configuration in ``jupyter/student``); the instructor lab
is started the way `make lab-instructor` starts it: from the repository root, serving it.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

COURSE_ROOT_ERROR = "The course directory root is not a subdirectory"
INSTRUCTOR_MENU = "Nbgrader"  # nbgrader's menu: Formgrader, Assignment List, Course List
INSTRUCTOR_PANEL = "Create Assignment"  # nbgrader's side panel for marking cells


def menus(page) -> list[str]:
    return [m.strip() for m in page.locator(".lm-MenuBar-content > li").all_inner_texts()]


def test_student_lab_has_no_instructor_extensions(lab, lab_page, released_paths):
    page = lab_page(lab, released_paths[0])  # a student's open notebook: toolbar and side panels loaded
    assert INSTRUCTOR_MENU not in menus(page), f"students see the instructor menu: {menus(page)}"
    for text in (INSTRUCTOR_PANEL, "Formgrader", "Manage Assignments"):
        assert page.get_by_text(text, exact=True).count() == 0, f"students see {text!r}"
    assert page.get_by_role("button", name="Validate").count() == 1, "students lost nbgrader's Validate button"
    log = lab.log_text()
    assert COURSE_ROOT_ERROR not in log
    assert "formgrader" not in log, f"the student lab loaded the formgrader:\n{log}"


def test_instructor_lab_has_the_formgrader_and_no_course_root_error(instructor_lab, lab_page):
    page = lab_page(instructor_lab)
    assert INSTRUCTOR_MENU in menus(page), f"instructors miss nbgrader's menu: {menus(page)}"
    assert page.get_by_text(INSTRUCTOR_PANEL, exact=True).count() == 1, f"instructors miss {INSTRUCTOR_PANEL!r}"
    log = instructor_lab.log_text()
    assert "nbgrader.server_extensions.formgrader | extension was successfully loaded" in log, log
    assert COURSE_ROOT_ERROR not in log, log
    assert "[E " not in log, f"the instructor lab logged errors:\n{log}"
