"""The fork server: imports the kernel's modules once, then forks every kernel into its own fresh sandbox.

Starting a kernel costs about 3 CPU seconds, nearly all of it importing torch, torchvision, matplotlib
and ``shiftlab``: as much as running a quick notebook. The grading process starts one fork server
(``python -m shiftlab_instructor.runtime.forkserver --preload torch ...``, root, outside any sandbox,
never running student code) with the kernels' environment. For each notebook, bubblewrap first builds a
fresh sandbox exactly as before (namespaces, file system view, limits' cgroup) around a placeholder
first process (``holder``); the grading process then sends the server one request (a JSON line) naming
that process, and the server forks:

- a *joiner*, which enters the job's cgroup, joins the sandbox's namespaces (IPC, UTS, network, cgroup,
  PID, mount) and its root folder, forks the kernel inside, answers ``ok`` (or ``error: ...``) and waits;
  when the kernel ends it writes the kernel's exit code to the holder's FIFO, so the holder, and with it
  the sandbox, ends with the same code;
- the *kernel*: a new session, no file descriptor but ``/dev/null`` on 0-2, exactly the sandbox's
  environment, then ``launcher.serve`` (snapshot, limits, capabilities dropped, unprivileged uid).

Each kernel is a copy of the server as it was after its imports: no student's code ever ran in the
server, so nothing passes from one kernel to the next.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import signal
import sys
import time

from . import launcher

NAMESPACES = ("ipc", "uts", "net", "cgroup", "pid", "mnt")  # mount last: it changes what /proc/<pid> means
FIFO_WAIT_SECONDS = 30.0
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _close_descriptors_except(*keep: int) -> None:
    """Close every file descriptor from 3 up but ``keep``: nothing of the server's reaches a sandbox."""
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _null_standard_streams() -> None:
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _open_fifo(path: str) -> int:
    """The holder's FIFO, opened for writing once the holder reads it (it does as soon as it runs)."""
    deadline = time.monotonic() + FIFO_WAIT_SECONDS
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as error:  # ENXIO: no reader yet
            if time.monotonic() > deadline:
                raise OSError(error.errno, f"the sandbox's holder never opened {path}") from error
            time.sleep(0.005)
            continue
        os.set_blocking(fd, True)
        return fd


def _enter_sandbox(holder: int, home: str) -> None:
    """Join every namespace of process ``holder`` and its root folder; the working folder becomes ``home``.
    The PID namespace applies to children: the kernel must be forked after this."""
    namespaces = [os.open(f"/proc/{holder}/ns/{name}", os.O_RDONLY) for name in NAMESPACES]
    root = os.open(f"/proc/{holder}/root", os.O_RDONLY | os.O_DIRECTORY)
    for name, fd in zip(NAMESPACES, namespaces):
        _check(_libc.setns(fd, 0), f"joining the sandbox's {name} namespace")
        os.close(fd)
    os.fchdir(root)
    os.chroot(".")
    os.close(root)
    os.chdir(home)


def _become_kernel(request: dict) -> None:
    """In the sandbox: shed the server's process state, take the sandbox's environment, serve. Never returns."""
    code = 1
    try:
        os.setsid()
        _null_standard_streams()
        _close_descriptors_except()
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path.insert(0, request["home"])  # as ``python -m`` started in the home folder would have it
        launcher.serve(launcher.KernelSpec(**request["kernel"]))
        code = 0
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    finally:
        os._exit(code)


def _join_and_fork(request: dict, answer: int) -> None:
    """The joiner (see the module docstring); answers on file descriptor ``answer``. Never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server ignores its children's ends; this one waits
    _close_descriptors_except(answer)
    _null_standard_streams()
    try:
        for procs in request["cgroup_procs"]:
            with open(procs, "w") as file:
                file.write(str(os.getpid()))
        fifo = _open_fifo(request["fifo"])
        _enter_sandbox(request["holder"], request["home"])
        kernel = os.fork()
        if kernel == 0:
            _become_kernel(request)
    except BaseException as error:
        os.write(answer, f"error: {type(error).__name__}: {error}\n".encode())
        os._exit(1)
    os.write(answer, b"ok\n")
    os.close(answer)
    _, status = os.waitpid(kernel, 0)
    try:
        os.write(fifo, f"{os.waitstatus_to_exitcode(status)}\n".encode())
    except OSError:
        pass  # the sandbox is gone already (killed by the grading process)
    os._exit(0)


def fork_kernel(request: dict) -> str:
    """Fork a joiner for ``request``; return its answer: ``ok`` or ``error: ...``."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        _join_and_fork(request, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answers:
        answer = answers.readline().decode(errors="replace").strip()
    return answer or "error: the joiner ended without an answer"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shiftlab_instructor.runtime.forkserver", description=__doc__.split("\n")[0])
    parser.add_argument("--preload", action="append", default=[], help="module every kernel starts with")
    args = parser.parse_args(argv)
    if sys.path and sys.path[0] == os.getcwd():
        del sys.path[0]  # ``-m`` put the server's scratch folder first; kernels get their home instead
    for module in args.preload:
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # joiners are reaped by the system
    print("ready", flush=True)
    for line in sys.stdin:  # ends when the grading process does (its end of the pipe closes)
        print(fork_kernel(json.loads(line)), flush=True)


if __name__ == "__main__":
    main()
