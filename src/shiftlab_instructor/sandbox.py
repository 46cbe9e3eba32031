"""The sandbox one submission's kernel runs in: bubblewrap namespaces, an unprivileged uid, limits.

Inside, the kernel sees (read-only, at their usual paths) the system's ``/usr``, a few files of
``/etc``, the Python installation and virtual environment, the course package ``shiftlab`` with its
checkpoints, and of this package only ``runtime/``. It writes only to its own empty ``/tmp`` and
``$HOME=/home/student`` (size-limited tmpfs, gone with the sandbox), and to the sockets it binds
before dropping privileges. It has no network (its own network namespace, loopback only), its own PID,
IPC and UTS namespaces, no capabilities, and no view of the course (sources, releases, other
submissions, gradebook) or of the instructor's home. Killing the sandbox's first process ends every
process in it (``--die-with-parent``, PID namespace).

The kernel itself is not started by bubblewrap: a fork server that imported torch and the course's
modules once forks it into the sandbox (``runtime.forkserver``, ``forkserver``), which saves about 3 CPU
seconds per notebook. Kernel and grading process talk over ZeroMQ IPC sockets in a per-job folder owned
by root: TCP ports would not cross the network namespace.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import shiftlab
from shiftlab.checkpoints import checkpoints_dir

import shiftlab_instructor

from . import cgroup
from .cgroup import JobCgroup
from .runtime.launcher import KernelSpec

BWRAP = "bwrap"
HOME = "/home/student"
DEFAULT_UID = 61000  # kernels run as the first free uid from here on, uids no account uses
UID_RANGE = 1000
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives", "/etc/fonts")
# Imported once by the fork server, so every kernel starts with them (and its integrity snapshot covers them).
PRELOAD = ("numpy", "torch", "torchvision", "shiftlab", "ipykernel.kernelapp", "matplotlib_inline.backend_inline")
READY_FILE, HOLDER_FIFO = "sandbox-ready", "holder.fifo"  # in the job's IPC folder (see ``runtime.holder``)
INSTALL_HINT = "apt-get install -y bubblewrap (Debian/Ubuntu package `bubblewrap`)"
# Virtual memory a kernel maps beyond what it uses (measured: torch + torchvision reserve about 2.7 GB of
# address space for 1 GB resident), added to the memory limit where RLIMIT_AS has to stand in for a cgroup.
ADDRESS_SPACE_OVERHEAD_MB = 4096


@dataclass(frozen=True)
class Limits:
    """What one notebook may use: wall time (kernel start included), memory of all its processes,
    processes and threads, and the size of its scratch folders (``$HOME`` and ``/tmp``, each)."""

    wall_seconds: int
    memory_mb: int
    processes: int
    scratch_mb: int = 512

    def __str__(self) -> str:
        return (f"{self.wall_seconds} s per notebook, {self.memory_mb} MB memory, {self.processes} processes "
                f"and threads, {self.scratch_mb} MB scratch")


def installed_code() -> list[Path]:
    """Folders the kernel needs, shown read-only at the same paths: the Python installation, the
    virtual environment, the course package and its checkpoints."""
    candidates = [Path(sys.base_prefix), Path(sys.prefix), Path(shiftlab.__file__).parent, checkpoints_dir()]
    paths: list[Path] = []
    for path in (p.resolve() for p in candidates):
        if path.exists() and not any(path == q or q in path.parents for q in paths):
            paths.append(path)
    return paths


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def parent_folders(targets: list[Path], provided: list[Path]) -> list[Path]:
    """The folders above ``targets`` that the sandbox must create (bubblewrap would make them mode 0700,
    unreadable once the kernel is unprivileged), outermost first, leaving out those inside ``provided``.

    >>> [str(p) for p in parent_folders([Path("/work/main/.venv"), Path("/tmp/job")], [Path("/tmp")])]
    ['/work', '/work/main']
    """
    folders: list[Path] = []
    for target in targets:
        for parent in reversed(target.parents):
            if parent != Path("/") and parent not in folders and not _inside(parent, provided):
                folders.append(parent)
    return folders


def instructor_package() -> Path:
    return Path(shiftlab_instructor.__file__).resolve().parent


def trusted_roots() -> list[Path]:
    """Where code that may register IPython hooks lives (see ``runtime.probe``)."""
    return [*installed_code(), instructor_package() / "runtime"]


def exposed_folder_containing(path: Path) -> Path | None:
    """The shown folder that contains ``path`` (e.g. a course placed inside the virtual environment)."""
    path = path.resolve()
    return next((root for root in installed_code() if path == root or root in path.parents), None)


@dataclass(frozen=True)
class Sandbox:
    """How to start one kernel: limits, the kernel's extra environment, the uid, and the files of the
    release (relative path in ``$HOME`` -> host file) it may read."""

    limits: Limits
    env: dict[str, str] = field(default_factory=dict)
    uid: int | None = None  # None: claim a free one per kernel (``claim_uid``)
    files: dict[str, Path] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """Every environment variable the kernel has (nothing of the grading process's)."""
        return {"HOME": HOME, "USER": "student", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PWD": HOME,
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]), **self.env}

    def write_accounts(self, ipc_dir: Path) -> None:
        """``/etc/passwd`` and ``/etc/group`` of the sandbox: root and the student uid, nothing else."""
        (ipc_dir / "passwd").write_text(f"root:x:0:0::/root:/usr/sbin/nologin\nstudent:x:{self.uid}:{self.uid}::{HOME}:/usr/sbin/nologin\n")
        (ipc_dir / "group").write_text(f"root:x:0:\nstudent:x:{self.uid}:\n")

    def bwrap_args(self, ipc_dir: Path) -> list[str]:
        """The bubblewrap options: namespaces, file system view, environment (not the command)."""
        args = [BWRAP, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                "--die-with-parent", "--new-session", "--hostname", "grading",
                "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--clearenv"]
        for name, value in self.environment().items():
            args += ["--setenv", name, value]
        for path in SYSTEM_DIRS:
            if os.path.islink(path):
                args += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                args += ["--ro-bind", path, path]
        for path in ETC_FILES:
            args += ["--ro-bind-try", path, path]
        args += ["--ro-bind", str(ipc_dir / "passwd"), "/etc/passwd", "--ro-bind", str(ipc_dir / "group"), "/etc/group",
                 "--proc", "/proc", "--dev", "/dev"]
        scratch = str(self.limits.scratch_mb * 1024 * 1024)
        for path in ("/tmp", HOME):
            args += ["--perms", "1777", "--size", scratch, "--tmpfs", path]
        package = instructor_package()  # all of it hidden but runtime/, wherever it is installed
        code = installed_code()
        for folder in parent_folders([*code, package], [Path(p) for p in SYSTEM_DIRS] + code):
            args += ["--perms", "0755", "--dir", str(folder)]
        for path in code:
            args += ["--ro-bind", str(path), str(path)]
        args += ["--tmpfs", str(package)]
        for part in ("__init__.py", "runtime"):
            args += ["--ro-bind", str(package / part), str(package / part)]
        args += ["--remount-ro", str(package), "--bind", str(ipc_dir), str(ipc_dir)]
        targets = {Path(HOME) / relative: host for relative, host in sorted(self.files.items())}
        for folder in sorted({p for t in targets for p in t.parents if Path(HOME) in p.parents}, key=lambda p: len(p.parts)):
            args += ["--perms", "0755", "--dir", str(folder)]  # folders of the release's files, readable
        for target, host in targets.items():
            args += ["--ro-bind", str(host), str(target)]
        return args + ["--remount-ro", "/", "--chdir", HOME]

    def kernel_command(self, ipc_dir: Path, job_cgroup: JobCgroup | None) -> list[str]:
        """[cgroup entry] bwrap ... -- python -m shiftlab_instructor.runtime.holder READY FIFO: the sandbox,
        built around a placeholder first process that the fork server's kernel joins (``runtime.forkserver``)."""
        prefix = job_cgroup.enter_prefix() if job_cgroup else []
        holder = [sys.executable, "-m", "shiftlab_instructor.runtime.holder", str(ipc_dir / READY_FILE), str(ipc_dir / HOLDER_FIFO)]
        return [*prefix, *self.bwrap_args(ipc_dir), "--as-pid-1", "--", *holder]

    def kernel_spec(self, connection_file: str, job_cgroup: JobCgroup | None) -> KernelSpec:
        """What the kernel becomes once in the sandbox: its uid, limits and trusted code (``runtime.launcher``)."""
        return KernelSpec(connection_file, uid=self.uid, gid=self.uid, max_processes=self.limits.processes,
                          max_file_mb=self.limits.scratch_mb, trusted_roots=[str(root) for root in trusted_roots()],
                          # no cgroup: cap each process's address space instead (a coarser limit)
                          max_address_space_mb=0 if job_cgroup else self.limits.memory_mb + ADDRESS_SPACE_OVERHEAD_MB)


def processes_of(uid: int) -> list[int]:
    """PIDs of every live process (thread group) running as ``uid`` on this machine; zombies, which have
    ended and wait to be reaped, do not count."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields["Uid"].split()[1]) == uid and not fields["State"].strip().startswith(("Z", "X")):
            pids.append(int(status.parent.name))
    return pids


@contextmanager
def claim_uid(first: int = DEFAULT_UID) -> Iterator[int]:
    """An unprivileged uid for one kernel, held for the block: the first from ``first`` on whose lock file
    (in the temporary folder) no other grading process holds and that runs no process. Sandboxes running
    side by side (several workers, or two instructors) thus never share a uid, nor a process limit."""
    for uid in range(first, first + UID_RANGE):
        with open(Path(tempfile.gettempdir()) / f"shiftlab-sandbox-uid-{uid}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            if processes_of(uid):
                continue
            yield uid
            return
    raise RuntimeError(f"no free sandbox uid in {first}..{first + UID_RANGE - 1}: every one is locked or runs processes")


def problems() -> list[str]:
    """What this machine lacks for sandboxed grading, each with its fix; empty when all is there."""
    found = []
    if shutil.which(BWRAP) is None:
        found.append(f"bubblewrap is missing (no `{BWRAP}` on PATH): {INSTALL_HINT}")
    if os.geteuid() != 0:
        found.append("grading must run as root: the sandbox switches each kernel to its own unprivileged uid, "
                     "which needs root (run `make autograde` with sudo or in the grading container)")
    if not found:
        found += _trial_problems()
    return found


def _trial_problems() -> list[str]:
    """Start a real sandbox with a short Python check inside; report what it could not do."""
    check = ("import os, socket, sys; from shiftlab_instructor.runtime.launcher import drop_privileges; "
             "drop_privileges({uid}, {uid}); "
             "w = os.access('/usr', os.W_OK); "
             "s = socket.socket(); s.settimeout(1); n = s.connect_ex(('1.1.1.1', 53)); "
             "print('uid', os.getuid(), 'usr-writable', w, 'net', n == 0)")
    with tempfile.TemporaryDirectory(prefix="shiftlab-check-") as folder, claim_uid() as uid:
        ipc_dir = Path(folder)
        sandbox = Sandbox(Limits(wall_seconds=30, memory_mb=1024, processes=64), uid=uid)
        sandbox.write_accounts(ipc_dir)
        done = subprocess.run([*sandbox.bwrap_args(ipc_dir), "--", sys.executable, "-c", check.format(uid=uid)],
                              capture_output=True, text=True, timeout=60)
    expected = f"uid {uid} usr-writable False net False"
    if done.returncode != 0 or done.stdout.strip() != expected:
        return [f"a trial sandbox did not behave: expected `{expected}`, got exit code {done.returncode}, "
                f"output {done.stdout.strip()!r}, errors {done.stderr.strip()[-500:]!r}"]
    return []


def describe() -> str:
    """One line for reports: the sandbox's tool and how limits are enforced here."""
    version = subprocess.run([BWRAP, "--version"], capture_output=True, text=True).stdout.strip()
    return f"{version}, kernels as uid {DEFAULT_UID}+; {cgroup.describe()}"
