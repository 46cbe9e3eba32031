"""The grading sandbox on this machine: what a kernel inside sees and may do, its limits, and cleanup.

These run real sandboxes (bubblewrap as root, as in CI): where the machine lacks something,
``test_this_machine_can_sandbox`` names it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import REPO_ROOT

from shiftlab_instructor import sandbox
from shiftlab_instructor.execution import SandboxError, execute_in_sandbox
from shiftlab_instructor.forkserver import fork_server
from shiftlab_instructor.sandbox import DEFAULT_UID, HOME, Limits, Sandbox

LIMITS = Limits(wall_seconds=120, memory_mb=2048, processes=64)


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def test_this_machine_can_sandbox():
    assert sandbox.problems() == []


def test_the_sandbox_shows_code_not_the_course(tmp_path):
    args = Sandbox(LIMITS).bwrap_args(tmp_path)
    bound = {args[i + 2] for i, arg in enumerate(args) if arg in ("--ro-bind", "--bind")}
    assert {"--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--clearenv"} <= set(args)
    assert str(Path(sys.prefix).resolve()) in bound and str(REPO_ROOT / "src" / "shiftlab") in bound
    assert not [path for path in bound if Path(path) in (REPO_ROOT, REPO_ROOT / "course", REPO_ROOT / "src")]
    assert sandbox.exposed_folder_containing(REPO_ROOT / "course") is None
    assert sandbox.exposed_folder_containing(Path(sys.prefix) / "lib") == Path(sys.prefix).resolve()


def test_a_kernel_that_cannot_start_is_the_instructors_problem_not_a_zero(make_notebook):
    broken = Sandbox(LIMITS, env={"PYTHONHOME": "/nonexistent"})  # the sandbox's Python cannot start
    with pytest.raises(SandboxError, match="the sandboxed kernel did not start"):
        execute_in_sandbox(make_notebook("print(1)"), broken)


def test_grading_works_where_an_event_loop_is_already_running(make_notebook):
    """A Playwright session (tests/browser), Jupyter or a Dask worker keep a loop running in the caller's
    thread, where ``asyncio.run`` refuses to start: the sandbox must still run (here: fail to start)."""
    broken = Sandbox(LIMITS, env={"PYTHONHOME": "/nonexistent"})

    async def from_a_running_loop():
        execute_in_sandbox(make_notebook("print(1)"), broken)

    # A thread of its own: this one may hold a running loop already (the browser tests' Playwright session).
    with ThreadPoolExecutor(1) as thread, pytest.raises(SandboxError, match="the sandboxed kernel did not start"):
        thread.submit(asyncio.run, from_a_running_loop()).result()


@pytest.mark.slow
def test_what_a_kernel_sees_and_may_do(listener, make_notebook, tmp_path, monkeypatch):
    course, venv = REPO_ROOT / "course", Path(sys.prefix)
    monkeypatch.setenv("GRADER_SECRET", "the grading process's own")
    (tmp_path / "notes.txt").write_text("from the release")
    facts = f"""
import json, os, resource, socket

def writable(path):
    try:
        open(path, "w").close()
        return True
    except OSError:
        return False

def connect(address):
    with socket.socket() as s:
        s.settimeout(2)
        return os.strerror(s.connect_ex(address))

print(json.dumps({{
    "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "home": os.environ["HOME"], "cwd": os.getcwd(),
    "src": sorted(os.listdir({str(REPO_ROOT / 'src')!r})),
    "instructor": sorted(os.listdir({str(REPO_ROOT / 'src' / 'shiftlab_instructor')!r})),
    "course": os.path.exists({str(course)!r}), "root_home": sorted(os.listdir("/root")),
    "writable": [p for p in ["/x", "/usr/x", "/etc/x", {str(venv / 'x')!r}, {str(REPO_ROOT / 'src' / 'shiftlab' / 'x')!r},
                             "/tmp/x", {HOME!r} + "/x"] if writable(p)],
    "loopback": connect(("127.0.0.1", {listener.port})), "internet": connect(("1.1.1.1", 53)),
    "nproc": resource.getrlimit(resource.RLIMIT_NPROC), "processes": len([p for p in os.listdir("/proc") if p.isdigit()]),
    "release_file": open("data/notes.txt").read(),
    "threads": [dict(line.split(":\\t", 1) for line in open(f"/proc/self/task/{{task}}/status").read().splitlines() if ":\\t" in line)
                for task in os.listdir("/proc/self/task")],
    "environment": sorted(os.environ),
    "descriptors": [os.readlink(f"/proc/self/fd/{{fd}}") for fd in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{{fd}}")],
}}))
"""
    box = Sandbox(LIMITS, files={"data/notes.txt": tmp_path / "notes.txt"})
    execution = execute_in_sandbox(make_notebook(facts), box)
    assert execution.failure is None
    seen = json.loads(printed(execution.notebook.cells[0]))
    assert seen["uid"] == execution.uid == seen["gid"] and DEFAULT_UID <= seen["uid"] and seen["groups"] == []
    assert seen["home"] == seen["cwd"] == HOME
    assert seen["src"] == ["shiftlab", "shiftlab_instructor"] and seen["instructor"] == ["__init__.py", "runtime"]
    assert not seen["course"]
    assert seen["writable"] == ["/tmp/x", f"{HOME}/x"]
    assert seen["loopback"] == "Connection refused" and listener.received == []
    assert seen["internet"] == "Network is unreachable"
    assert seen["nproc"] == [LIMITS.processes] * 2
    assert seen["processes"] <= 3, "the kernel sees the host's processes"  # bubblewrap's init, the kernel
    assert seen["release_file"] == "from the release"
    # every thread (the kernel's own included: student code can run in them), for capabilities are per thread
    assert len(seen["threads"]) > 1
    for status in seen["threads"]:
        capabilities = {name: status[name].strip() for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")}
        assert capabilities == {"CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16, "CapBnd": "0" * 16,
                                "CapAmb": "0" * 16, "NoNewPrivs": "1"}, (status["Name"], capabilities)
    assert "GRADER_SECRET" not in seen["environment"] and set(box.environment()) <= set(seen["environment"])
    # the kernel's sockets, pipes and event files, nothing of the fork server's or the host's files
    assert all(target.startswith(("socket:", "pipe:", "anon_inode:", "/dev/null")) for target in seen["descriptors"]), seen["descriptors"]


def test_each_kernel_starts_as_the_fork_server_left_it(make_notebook):
    """Kernels are forked from one server (``runtime.forkserver``): what a notebook changes in its kernel,
    or leaves running, must not reach the next student's."""
    plant = "import sys, shiftlab, torch\nshiftlab.LEFT_BEHIND = 1\nsys.modules['planted'] = sys\ntorch.set_num_threads(3)"
    look = "import sys, shiftlab, torch\nprint(hasattr(shiftlab, 'LEFT_BEHIND'), 'planted' in sys.modules, torch.get_num_threads())"
    first = execute_in_sandbox(make_notebook(plant), Sandbox(LIMITS))
    second = execute_in_sandbox(make_notebook(look), Sandbox(LIMITS))
    assert first.failure is None and second.failure is None
    left_behind, planted, threads = printed(second.notebook.cells[0]).split()
    assert (left_behind, planted) == ("False", "False") and threads != "3"


def test_a_fork_server_that_died_is_started_again(make_notebook):
    box = Sandbox(LIMITS)
    first = execute_in_sandbox(make_notebook("print(1)"), box)
    server = fork_server(box.environment())
    server.process.kill()  # e.g. the out-of-memory killer chose it
    server.process.wait()
    second = execute_in_sandbox(make_notebook("print(2)"), box)
    assert first.failure is None and second.failure is None and printed(second.notebook.cells[0]) == "2\n"
    assert fork_server(box.environment()) is not server


@pytest.mark.slow
def test_limits_end_the_notebook_and_every_process(make_notebook):
    fork_bomb = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as error:
    print(children, "children, then", error.strerror)
"""
    memory_bomb = "blocks = []\nwhile True:\n    blocks.append(bytearray(2**27))"
    forked = execute_in_sandbox(make_notebook(fork_bomb), Sandbox(LIMITS))
    assert forked.failure is None and "Resource temporarily unavailable" in printed(forked.notebook.cells[0])
    assert int(printed(forked.notebook.cells[0]).split()[0]) < LIMITS.processes
    assert forked.leftover_processes == 0 and sandbox.processes_of(forked.uid) == []
    bombed = execute_in_sandbox(make_notebook(memory_bomb, "print('after')"), Sandbox(LIMITS))
    assert bombed.failure.startswith("ran out of memory") and bombed.failure_kind == "limit"
    assert bombed.notebook.cells[1].execution_count is None
