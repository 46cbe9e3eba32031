"""The grading process's side of the fork server (``runtime.forkserver``): start it, ask it for kernels.

One server per kernel environment (the same for every notebook of a grading run), started on first use
and shared by the threads that run sandboxes (one request at a time); it ends with this process.
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path

from .runtime.launcher import KernelSpec
from .sandbox import HOME, PRELOAD

_servers: dict[tuple, ForkServer] = {}
_servers_lock = threading.Lock()


class ForkServerError(RuntimeError):
    """The fork server could not start, or could not put a kernel in a sandbox."""


class ForkServer:
    """A running ``python -m shiftlab_instructor.runtime.forkserver`` for kernels with environment ``env``."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        # Its own scratch home (matplotlib's caches), not the kernels' /home/student, which only sandboxes have.
        self.folder = Path(tempfile.mkdtemp(prefix="shiftlab-forkserver-"))
        self.log = self.folder / "server.log"
        command = [sys.executable, "-m", "shiftlab_instructor.runtime.forkserver"]
        for module in PRELOAD:
            command += ["--preload", module]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            cwd=self.folder, env={**env, "HOME": str(self.folder), "PWD": str(self.folder)})
        self.lock = threading.Lock()
        if self.process.stdout.readline().strip() != b"ready":
            self.close()
            raise ForkServerError(f"the fork server did not start (exit code {self.process.returncode}): {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1000:].strip() or "no output"
        except OSError:
            return "no output"

    def spawn(self, holder: int, fifo: Path, cgroup_procs: list[str], kernel: KernelSpec) -> None:
        """Fork a kernel into the sandbox whose first process is ``holder``; raise if that failed."""
        request = {"holder": holder, "fifo": str(fifo), "cgroup_procs": cgroup_procs, "env": self.env, "home": HOME,
                   "kernel": asdict(kernel)}
        with self.lock:
            try:
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
                answer = self.process.stdout.readline().decode(errors="replace").strip()
            except OSError as error:
                answer = f"error: {error}"
        if answer != "ok":
            raise ForkServerError(f"the fork server could not start a kernel: {answer or 'it stopped'}; {self._log_tail()}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def fork_server(env: dict[str, str]) -> ForkServer:
    """The running server for kernels with environment ``env``, started if there is none (or it died)."""
    key = tuple(sorted(env.items()))
    with _servers_lock:
        server = _servers.get(key)
        if server is None or server.process.poll() is not None:
            server = _servers[key] = ForkServer(env)
        return server


@atexit.register
def close_all() -> None:
    with _servers_lock:
        for server in _servers.values():
            server.close()
        _servers.clear()
