"""nbgrader configuration for the Shift happens course (read when nbgrader or JupyterLab starts in this folder).

It configures nbgrader and nothing else: it must not change the environment of the process that reads
it, since JupyterLab reads it too and every kernel started from there would inherit the change. The
grading tools switch progress bars off for the kernels they start (``shiftlab.lesson.quiet_environment``).

Submissions are graded with ``make autograde``, which runs each notebook in a sandbox with the cell
timeout replaced by a measured limit per notebook; a plain ``nbgrader autograde`` would run student code
unsandboxed, as the instructor.
"""

import os

c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.root = os.path.abspath(os.environ.get("COURSE") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "course"))
c.CourseDirectory.course_id = "shift-happens"

# nbgrader's own execution (validate): a full lesson's longest cell stays well under this.
c.Execute.timeout = 600

# Any stderr output in a graded cell scores 0: warnings from libraries (torch, torchvision, tqdm) that say
# nothing about the student's work are dropped before scoring.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|warnings\.warn|\d+%\|)"

# The roster (nbgrader db student import) decides who is in the class.
c.Autograde.create_student = False
