"""Instructor tooling for the Shift happens course: release, executed solutions, sandboxed autograding.

Not imported by students. Run as ``python -m shiftlab_instructor <action> ...`` (``--help`` lists the
actions). The course root comes from ``--course`` or the ``COURSE`` variable, default ``./course``.

Only ``shiftlab_instructor.runtime`` (and this file) is visible inside the grading sandbox, so this file
imports nothing.
"""
