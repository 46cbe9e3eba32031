"""nbgrader configuration for the Shift happens course (read when nbgrader runs from this folder)."""

import os

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "course")
c.CourseDirectory.course_id = "shift-happens"

# Notebooks run a few minutes in full; the longest cell (a full sweep) stays well under this.
c.Execute.timeout = 600
c.ExecutePreprocessor.timeout = 600

# Any stderr output in a graded cell scores 0. Progress bars are switched off while grading, and
# warnings from libraries (torch, torchvision, tqdm) that say nothing about the student's work are dropped.
os.environ.setdefault("TQDM_DISABLE", "1")
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|warnings\.warn|\d+%\|)"
c.Autograde.create_student = True
