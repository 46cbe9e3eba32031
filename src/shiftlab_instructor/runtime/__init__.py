"""The part of the instructor package that runs inside the grading sandbox, next to student code.

- ``launcher``: the kernel command run by the sandbox (binds its sockets, takes the integrity snapshot,
  sets limits, drops to an unprivileged uid, then serves the notebook);
- ``probe``: the integrity snapshot and the report of what student code changed since;
- ``guard``: ``disabled(...)``, for hidden tests that must run a student's function while the
  package's own implementation is switched off.

Everything here is readable by submissions; nothing here may hold a secret or a reference answer.
"""
