"""The part of the instructor package that runs inside the grading sandbox, next to student code.

- ``forkserver``: imports the kernel's modules once, outside any sandbox, then forks each kernel into
  its own fresh sandbox (it runs no student code; the kernels it forks do);
- ``holder``: the first process of each sandbox, which holds it open while the forked kernel runs;
- ``launcher``: turns the forked process into the kernel (binds its sockets, takes the integrity
  snapshot, sets limits, drops every capability and switches to an unprivileged uid, then serves the
  notebook);
- ``probe``: the integrity snapshot and the report of what student code changed since;
- ``guard``: ``disabled(...)``, for hidden tests that must run a student's function while the
  package's own implementation is switched off.

Everything here is readable by submissions; nothing here may hold a secret or a reference answer.
"""
