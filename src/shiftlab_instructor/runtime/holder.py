"""The first process of a grading sandbox, holding it open for the kernel that the fork server puts in it.

``python -m shiftlab_instructor.runtime.holder READY FIFO`` runs as the sandbox's PID 1 (bubblewrap
``--as-pid-1``). It creates the file READY, which tells the grading process that the sandbox is built,
then reads FIFO until the fork server's joiner closes it, and exits with the code the joiner wrote: the
kernel's (128 + N when signal N killed it; 1 when no code came). When it ends, the sandbox ends, and
every process left in it with it.
"""

from __future__ import annotations

import sys


def exit_code(written: bytes) -> int:
    """The holder's exit code for what the joiner wrote (a kernel's ``waitstatus_to_exitcode``).

    >>> exit_code(b"0\\n"), exit_code(b"-9\\n"), exit_code(b"")
    (0, 137, 1)
    """
    try:
        code = int(written)
    except ValueError:
        return 1
    return 128 - code if code < 0 else min(code, 255)


def main(ready: str, fifo: str) -> None:
    open(ready, "w").close()
    with open(fifo, "rb") as joiner:
        written = joiner.read(64)
    sys.exit(exit_code(written))


if __name__ == "__main__":
    main(*sys.argv[1:])
