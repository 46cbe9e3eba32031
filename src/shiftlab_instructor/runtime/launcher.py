"""Turn a process that has just entered a grading sandbox into the notebook's kernel.

The fork server (``forkserver``) forks, joins a fresh sandbox's namespaces and calls ``serve``, which

1. gives up every capability it could ever gain (empty bounding set, no new privileges: per thread, so
   before the kernel starts its own threads);
2. initialises an IPython kernel on the connection file: the kernel binds its IPC sockets in a folder
   owned by root, so student code cannot replace them later;
3. takes the integrity snapshot (``probe.install``) of the modules the server imported;
4. sets resource limits (processes and threads, file size, address space, no core dumps) and switches
   to an unprivileged uid and gid with no supplementary groups (every thread; the capabilities it held
   go with root); the limit on processes only binds an unprivileged uid, since the kernel exempts root;
5. serves the notebook. Student code runs only after step 4.
"""

from __future__ import annotations

import ctypes
import os
import resource
from dataclasses import dataclass, field

from . import probe

MB = 1024 * 1024
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38  # from <linux/prctl.h>


@dataclass(frozen=True)
class KernelSpec:
    """What ``serve`` needs: the connection file, the uid and gid to become, the limits, and the folders
    of installed code (IPython hooks from there are allowed, see ``probe``)."""

    connection_file: str
    uid: int
    gid: int
    max_processes: int
    max_file_mb: int
    max_address_space_mb: int = 0  # 0: none (a cgroup limits memory instead)
    trusted_roots: list[str] = field(default_factory=list)


def limit_resources(max_processes: int, max_file_mb: int, max_address_space_mb: int) -> None:
    """Hard limits (an unprivileged process cannot raise them again)."""
    limits = {resource.RLIMIT_NPROC: max_processes, resource.RLIMIT_FSIZE: max_file_mb * MB, resource.RLIMIT_CORE: 0}
    if max_address_space_mb:
        limits[resource.RLIMIT_AS] = max_address_space_mb * MB
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def drop_capabilities() -> None:
    """Empty the capability bounding set and forbid gaining privileges (setuid files, file capabilities):
    what bubblewrap's ``--cap-drop ALL`` and no-new-privs did for the kernel it started itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/sys/kernel/cap_last_cap") as file:
        last = int(file.read())
    for capability in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise SystemExit(f"could not drop capability {capability}: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SystemExit(f"could not set no-new-privs: {os.strerror(ctypes.get_errno())}")


def drop_privileges(uid: int, gid: int) -> None:
    """Become ``uid``/``gid`` for good (real, effective and saved ids; every thread, as glibc applies
    set*id to all threads); refuse to go on if root could be regained."""
    if uid == 0 or gid == 0:
        raise SystemExit(f"the sandbox kernel must run as an unprivileged uid and gid, got {uid}:{gid}")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SystemExit("dropping privileges failed: the kernel could become root again")


def serve(spec: KernelSpec) -> None:
    """Steps 1 to 5 of the module docstring; returns when the kernel shuts down."""
    from ipykernel.kernelapp import IPKernelApp

    drop_capabilities()  # first: both are per thread, and the kernel's own threads must inherit them
    app = IPKernelApp.instance()
    app.initialize(["-f", spec.connection_file, "--HistoryManager.hist_file=:memory:"])
    probe.install(app.shell, spec.trusted_roots)
    limit_resources(spec.max_processes, spec.max_file_mb, spec.max_address_space_mb)
    drop_privileges(spec.uid, spec.gid)
    app.start()
