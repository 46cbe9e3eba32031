"""A control group per sandbox, when this machine lets us make one: memory and task limits for all of
the sandbox's processes together, their peak use, and whether the kernel's OOM killer struck.

Both layouts are handled: cgroup v1 (separate ``memory`` and ``pids`` hierarchies, as on this project's
machines) and v2 (one unified hierarchy, where our own cgroup must delegate ``memory`` and ``pids``).
Without a writable cgroup the sandbox falls back to per-process limits (see ``sandbox``).
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

CONTROLLERS = ("memory", "pids")
MB = 1024 * 1024


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under '' its v2 path (from /proc/self/cgroup)."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller] = path
    return paths


def _mounts() -> dict[str, Path]:
    """Mount point per v1 controller (``memory``, ``pids``) and of the v2 hierarchy (key '')."""
    mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        fstype, options = fields[separator + 1], fields[separator + 3].split(",")
        if fstype == "cgroup2":
            mounts.setdefault("", Path(fields[4]))
        elif fstype == "cgroup":
            for controller in CONTROLLERS:
                if controller in options:
                    mounts[controller] = Path(fields[4])
    return mounts


def _writable(directory: Path) -> bool:
    return directory.is_dir() and os.access(directory, os.W_OK)


def parent_directories() -> dict[str, Path] | None:
    """Where job cgroups can be made: {'memory': dir, 'pids': dir} (v1) or {'': dir} (v2), else None."""
    own, mounts = _own_cgroups(), _mounts()
    v1 = {c: mounts[c] / own[c].lstrip("/") for c in CONTROLLERS if c in mounts and c in own}
    if len(v1) == len(CONTROLLERS) and all(map(_writable, v1.values())):
        return v1
    if "" in mounts and "" in own:
        directory = mounts[""] / own[""].lstrip("/")
        delegated = (directory / "cgroup.subtree_control").read_text().split() if _writable(directory) else []
        if all(c in delegated for c in CONTROLLERS):
            return {"": directory}
    return None


def describe() -> str:
    """One line for reports: which cgroups limit the sandboxes here."""
    parents = parent_directories()
    if parents is None:
        return "no writable cgroup: memory is limited per process (RLIMIT_AS), processes per uid (RLIMIT_NPROC)"
    version = "v2" if "" in parents else "v1"
    return f"cgroup {version} ({', '.join(str(p) for p in parents.values())}): memory and tasks limited per sandbox"


@dataclass
class JobCgroup:
    """The cgroup(s) of one sandbox. ``enter_prefix`` is the command prefix that moves the sandbox's
    first process in before anything else starts; everything it forks stays inside."""

    directories: dict[str, Path]

    @classmethod
    def create(cls, name: str, memory_mb: int, max_tasks: int) -> JobCgroup | None:
        """A fresh cgroup named ``name`` with the limits, or None where none can be made."""
        parents = parent_directories()
        if parents is None:
            return None
        job = cls({controller: parent / name for controller, parent in parents.items()})
        for directory in job.directories.values():
            directory.mkdir()
        job._limit(memory_mb, max_tasks)
        return job

    def _file(self, controller: str, v1_name: str, v2_name: str) -> Path:
        if "" in self.directories:
            return self.directories[""] / v2_name
        return self.directories[controller] / v1_name

    def _limit(self, memory_mb: int, max_tasks: int) -> None:
        memory = str(memory_mb * MB)
        self._file("memory", "memory.limit_in_bytes", "memory.max").write_text(memory)
        no_swap = self._file("memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
        if no_swap.exists():  # v1: memory + swap; v2: swap alone
            no_swap.write_text(memory if "" not in self.directories else "0")
        self._file("pids", "pids.max", "pids.max").write_text(str(max_tasks))

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to enter this cgroup (one per hierarchy)."""
        return sorted({str(directory / "cgroup.procs") for directory in self.directories.values()})

    def enter_prefix(self) -> list[str]:
        """``sh -c 'echo $$ > .../cgroup.procs ... && exec "$@"' sandbox``: prepend to a command."""
        script = " && ".join([f"echo $$ > {shlex.quote(p)}" for p in self.procs_files()] + ['exec "$@"'])
        return ["/bin/sh", "-c", script, "sandbox"]

    def _read_int(self, path: Path) -> int | None:
        try:
            return int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def peak_memory_mb(self) -> float | None:
        peak = self._read_int(self._file("memory", "memory.max_usage_in_bytes", "memory.peak"))
        return None if peak is None else peak / MB

    def peak_tasks(self) -> int | None:
        return self._read_int(self._file("pids", "pids.peak", "pids.peak"))

    def oom_kills(self) -> int:
        """How many processes the OOM killer ended in this cgroup (0 when the kernel does not say)."""
        events = self._file("memory", "memory.oom_control", "memory.events")
        for line in events.read_text().splitlines() if events.exists() else []:
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def pids(self) -> list[int]:
        pids = set()
        for directory in self.directories.values():
            procs = directory / "cgroup.procs"
            if procs.exists():
                pids.update(int(p) for p in procs.read_text().split())
        return sorted(pids)

    def remove(self) -> None:
        """Delete the cgroup (its processes must be gone: ``rmdir`` waits for killed ones to exit)."""
        for directory in self.directories.values():
            for _ in range(100):  # rmdir fails while killed tasks are still exiting: wait up to 2 s
                try:
                    directory.rmdir()
                    break
                except OSError:
                    time.sleep(0.02)
