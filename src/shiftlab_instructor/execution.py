"""Execute one prepared notebook with its kernel in the sandbox, from the trusted grading process.

The notebook itself never enters the sandbox: nbclient runs here and sends the kernel one cell at a
time. Around every graded test cell it asks the kernel's integrity probe what changed (``runtime.probe``);
a test that ran while something was tampered with is recorded in ``Execution.touched``. The notebook's
wall-time budget covers kernel start, cells and probes; past it, or when the kernel dies, execution
stops, every process of the sandbox is killed, and the reason is recorded.
"""

from __future__ import annotations

import ast
import asyncio
import atexit
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .cgroup import JobCgroup
from .runtime.probe import REPORT_EXPRESSION
from .forkserver import fork_server
from .sandbox import HOLDER_FIFO, READY_FILE, Sandbox, claim_uid, processes_of
from .scan import parse_python

MAX_OUTPUT_BYTES = 20 * 1024 * 1024  # outputs kept per notebook; a flood beyond is dropped, not stored
MAX_PROBE_ANSWER = 100_000  # characters: the probe's answer comes from a kernel the student controls
MAX_FINDINGS, MAX_FINDING_LENGTH = 20, 200


@dataclass
class Execution:
    """What happened when a notebook ran.

    ``failure`` says why execution stopped early (None when every cell ran), as a clause that follows
    "the notebook"; ``failure_kind`` is ``limit`` or ``crash``; ``completed`` holds the indices of the
    cells that ran to their end; ``touched`` maps the grade id of each test cell that ran with tampering
    present to what the probe found."""

    notebook: nbformat.NotebookNode
    uid: int | None = None
    failure: str | None = None
    failure_kind: str | None = None
    completed: set[int] = field(default_factory=set)
    touched: dict[str, list[str]] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    output_dropped: bool = False
    seconds: float = 0.0
    peak_memory_mb: float | None = None
    peak_tasks: int | None = None
    leftover_processes: int = 0


class SandboxError(RuntimeError):
    """The sandbox could not start a kernel: a problem of the grading machine, not of a submission."""


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in a fresh sandbox, on IPC sockets in ``ipc_dir``. The process it
    launches is the sandbox (bubblewrap around the holder); the kernel is then forked into it by the fork
    server, and the sandbox ends when the kernel does."""

    def __init__(self, sandbox: Sandbox, ipc_dir: Path, job_cgroup: JobCgroup | None, **kwargs):
        super().__init__(transport="ipc", ip=str(ipc_dir / "kernel"), connection_file=str(ipc_dir / "connection.json"), **kwargs)
        self.sandbox, self.ipc_dir, self.job_cgroup = sandbox, ipc_dir, job_cgroup

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return self.sandbox.kernel_command(self.ipc_dir, self.job_cgroup)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        server = fork_server(self.sandbox.environment())  # started before the sandbox: its start takes seconds
        fifo = self.ipc_dir / HOLDER_FIFO
        os.mkfifo(fifo, 0o600)
        await super()._async_launch_kernel(kernel_cmd, **kw)
        holder = await self._holder_pid(time.monotonic() + self.sandbox.limits.wall_seconds)
        server.spawn(holder, fifo, self.job_cgroup.procs_files() if self.job_cgroup else [],
                     self.sandbox.kernel_spec(self.connection_file, self.job_cgroup))

    async def _holder_pid(self, deadline: float) -> int:
        """The host pid of the sandbox's first process, once the sandbox is built (the holder says so)."""
        process = self.provisioner.process
        while not (self.ipc_dir / READY_FILE).exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox ended before it was ready" if process.poll() is not None
                                   else "the sandbox was not ready in time")
            await asyncio.sleep(0.005)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        if len(children) != 1:
            raise RuntimeError(f"bubblewrap has {len(children)} child processes, not the one holder")
        return int(children[0])


class GradingClient(NotebookClient):
    """nbclient with a cap on stored output and nbgrader's rule that a failed cell shows an error."""

    output_bytes = 0
    output_dropped = False

    def output(self, outs, msg, display_id, cell_index):
        self.output_bytes += len(json.dumps(msg["content"], default=str))
        if self.output_bytes > MAX_OUTPUT_BYTES:
            self.output_dropped = True
            return None
        return super().output(outs, msg, display_id, cell_index)


def ensure_error_output(cell, cell_index, execute_reply) -> None:
    """A cell whose reply says error must show one, even when the display of tracebacks was switched
    off (nbgrader's Execute does the same): otherwise it would score as passed."""
    content = execute_reply["content"]
    if content["status"] != "error" or any(o.output_type == "error" for o in cell.outputs):
        return
    cell.outputs.append(nbformat.v4.new_output(
        "error", ename=content.get("ename", "Error"), evalue=content.get("evalue", ""),
        traceback=content.get("traceback") or ["an error occurred while the display of errors was switched off"]))


def is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


async def _probe(client: GradingClient, cell) -> list[str]:
    """The kernel's integrity findings (see ``runtime.probe``); a failed probe is itself a finding."""
    msg_id = client.kc.execute("", silent=True, store_history=False, user_expressions={"probe": REPORT_EXPRESSION})
    reply = await client.async_wait_for_reply(msg_id, cell)
    result = (reply or {}).get("content", {}).get("user_expressions", {}).get("probe", {})
    if result.get("status") != "ok":
        return [f"integrity probe failed: {str(result.get('ename', 'no reply'))[:50]}: {str(result.get('evalue', ''))[:100]}"]
    text = str(result.get("data", {}).get("text/plain", ""))
    try:
        findings = json.loads(ast.literal_eval(parse_python(text, mode="eval"))) if len(text) <= MAX_PROBE_ANSWER else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        findings = None
    if not isinstance(findings, list) or not all(isinstance(f, str) for f in findings):
        return ["integrity probe gave an unreadable answer"]
    return [finding[:MAX_FINDING_LENGTH] for finding in findings[:MAX_FINDINGS]]


async def _run_cells(client: GradingClient, execution: Execution, deadline: float) -> None:
    """Execute every code cell in order, probing around test cells; raise on timeout or a dead kernel."""
    for index, cell in enumerate(execution.notebook.cells):
        if cell.cell_type != "code":
            continue
        test = is_test_cell(cell)
        client.timeout = max(1, int(deadline - time.monotonic()))
        before = await _probe(client, cell) if test else []
        client.timeout = max(1, int(deadline - time.monotonic()))
        await client.async_execute_cell(cell, index, execution_count=index + 1)
        execution.completed.add(index)
        if test:
            after = await _probe(client, cell)
            present = list(dict.fromkeys(before + after))
            if present:
                execution.touched[cell.metadata.nbgrader["grade_id"]] = present
                execution.findings += [finding for finding in present if finding not in execution.findings]


def _exit_status(km: SandboxKernelManager) -> str:
    """' (exit code 1)' or ' (killed by signal 9)' for the kernel, '' if unknown. The sandbox (bubblewrap)
    ends with its holder's code, which is the kernel's, 128 + N for signal N (``runtime.holder``)."""
    process = getattr(km.provisioner, "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        return ""
    signal_number = -code if code < 0 else code - 128 if code > 128 else 0
    return f" (killed by signal {signal_number})" if signal_number else f" (exit code {code})"


async def _execute(notebook: nbformat.NotebookNode, sandbox: Sandbox, ipc_dir: Path, job_cgroup: JobCgroup | None) -> Execution:
    execution = Execution(notebook, sandbox.uid)
    start = time.monotonic()
    deadline = start + sandbox.limits.wall_seconds
    km = SandboxKernelManager(sandbox, ipc_dir, job_cgroup)
    client = GradingClient(notebook, km=km, allow_errors=True, interrupt_on_timeout=False, record_timing=False,
                           startup_timeout=sandbox.limits.wall_seconds, skip_cells_with_tag="",
                           on_cell_executed=ensure_error_output, raise_on_iopub_timeout=False)
    started = False
    try:
        async with client.async_setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            started = True  # from here on, student code runs: what goes wrong is the notebook's doing
            await _run_cells(client, execution, deadline)
    except (CellTimeoutError, DeadKernelError, RuntimeError) as error:
        if not started:  # no student code has run yet: the sandbox itself failed, the instructor's problem
            raise SandboxError(f"the sandboxed kernel did not start{_exit_status(km)}: {error}") from error
        if isinstance(error, CellTimeoutError):
            execution.failure, execution.failure_kind = f"ran past its time limit of {sandbox.limits.wall_seconds} s", "limit"
        elif isinstance(error, DeadKernelError):
            execution.failure, execution.failure_kind = f"crashed: its kernel died{_exit_status(km)}", "crash"
        else:  # nbclient's and jupyter_client's errors for a kernel that stopped answering
            execution.failure, execution.failure_kind = f"stopped: its kernel did not answer ({error})", "crash"
    finally:
        atexit.unregister(client._cleanup_kernel)  # nbclient's exit hook: this kernel is ended here and now
        if km.has_kernel:
            await km.shutdown_kernel(now=True)
        if client.kc is not None:
            client.kc.stop_channels()
    execution.seconds = time.monotonic() - start
    execution.output_dropped = client.output_dropped
    return execution


def run_coroutine(coroutine):
    """``asyncio.run(coroutine)``, also from a thread whose event loop is already running (Jupyter, a
    Playwright session, a Dask worker's event loop): there the coroutine runs in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome = {}

    def run() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=run, name="sandbox-execution")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def execute_in_sandbox(notebook: nbformat.NotebookNode, sandbox: Sandbox) -> Execution:
    """Run ``notebook`` (prepared: trusted cells restored) in a fresh sandbox; never raises for what
    the notebook does. Afterwards no process of the sandbox's uid is left."""
    if sandbox.uid is None:
        with claim_uid() as uid:
            return execute_in_sandbox(notebook, replace(sandbox, uid=uid))
    running = processes_of(sandbox.uid)
    if running:
        raise RuntimeError(f"uid {sandbox.uid} already runs processes {running}: pick another sandbox uid")
    name = f"shiftlab-{uuid.uuid4().hex[:12]}"
    job_cgroup = JobCgroup.create(name, sandbox.limits.memory_mb, sandbox.limits.processes)
    try:
        with tempfile.TemporaryDirectory(prefix=f"{name}-") as folder:
            ipc_dir = Path(folder)
            ipc_dir.chmod(0o700)
            sandbox.write_accounts(ipc_dir)
            execution = run_coroutine(_execute(notebook, sandbox, ipc_dir, job_cgroup))
        if job_cgroup is not None:
            execution.peak_memory_mb, execution.peak_tasks = job_cgroup.peak_memory_mb(), job_cgroup.peak_tasks()
            if job_cgroup.oom_kills() and execution.failure:
                execution.failure = f"ran out of memory (limit {sandbox.limits.memory_mb} MB) and its kernel was killed"
                execution.failure_kind = "limit"
    finally:
        left = _end_all(sandbox.uid, job_cgroup)
    execution.leftover_processes = left
    return execution


def _end_all(uid: int, job_cgroup: JobCgroup | None, grace_seconds: float = 10.0) -> int:
    """Wait for the sandbox's processes to go (its PID namespace dies with the kernel: within a second
    usually, longer when dozens of forked kernels unmap their memory), SIGKILL any still there after
    ``grace_seconds``, remove the cgroup; return how many had to be killed here."""
    def remaining() -> set[int]:
        return set(processes_of(uid)) | set(job_cgroup.pids() if job_cgroup else [])

    deadline = time.monotonic() + grace_seconds
    while remaining() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = remaining()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if job_cgroup is not None:
        job_cgroup.remove()
    return len(left)
