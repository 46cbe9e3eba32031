"""The kernel command of the grading sandbox: ``python -m shiftlab_instructor.runtime.launcher ...``.

Started by bubblewrap as root inside the sandbox's namespaces (see ``shiftlab_instructor.sandbox``), it

1. initialises an IPython kernel on the connection file: the kernel binds its IPC sockets in a folder
   owned by root, so student code cannot replace them later;
2. imports the modules tests rely on and takes the integrity snapshot (``probe.install``);
3. sets resource limits (processes and threads, file size, address space, no core dumps) and drops to
   an unprivileged uid and gid with no supplementary groups; the limit on processes only binds an
   unprivileged uid, since the kernel exempts root;
4. serves the notebook. Student code runs only after step 3.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource

from . import probe

MB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shiftlab_instructor.runtime.launcher", description=__doc__.split("\n")[0])
    parser.add_argument("--connection-file", required=True)
    parser.add_argument("--uid", type=int, required=True, help="unprivileged uid the kernel runs as")
    parser.add_argument("--gid", type=int, required=True)
    parser.add_argument("--max-processes", type=int, required=True, help="RLIMIT_NPROC: processes and threads of the uid")
    parser.add_argument("--max-file-mb", type=int, required=True, help="RLIMIT_FSIZE: largest file written")
    parser.add_argument("--max-address-space-mb", type=int, default=0, help="RLIMIT_AS per process, 0: none")
    parser.add_argument("--preload", action="append", default=[], help="module imported before the snapshot")
    parser.add_argument("--trusted-root", action="append", default=[], help="folder of installed code (hooks from there are allowed)")
    return parser.parse_args(argv)


def limit_resources(max_processes: int, max_file_mb: int, max_address_space_mb: int) -> None:
    """Hard limits (an unprivileged process cannot raise them again)."""
    limits = {resource.RLIMIT_NPROC: max_processes, resource.RLIMIT_FSIZE: max_file_mb * MB, resource.RLIMIT_CORE: 0}
    if max_address_space_mb:
        limits[resource.RLIMIT_AS] = max_address_space_mb * MB
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", args.connection_file, "--HistoryManager.hist_file=:memory:"])
    for module in args.preload:
        importlib.import_module(module)
    probe.install(app.shell, args.trusted_root)
    limit_resources(args.max_processes, args.max_file_mb, args.max_address_space_mb)
    drop_privileges(args.uid, args.gid)
    app.start()


if __name__ == "__main__":
    main()
