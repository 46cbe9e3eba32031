"""Where grading jobs run: a Dask distributed cluster, local by default.

``make autograde`` submits one task per student (``job.run_jobs``: each notebook in a fresh sandbox)
and collects the results in the one trusted process that writes the gradebook; the workers never see
the course folder. Without ``SCHEDULER`` the cluster is a ``LocalCluster`` inside the grading process:
one worker per core (``--workers``), one task at a time each. With ``SCHEDULER=tcp://host:port`` the
tasks go to that scheduler's workers, on any machine that has this package, its Python environment,
bubblewrap and root (see the README's "Grading at scale").

Each kernel gets as many threads as its share of the cores (``kernel_threads``): one per worker when
workers fill the cores, so concurrent kernels do not fight over them (torch would otherwise start one
thread per core in every kernel).
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator

SCHEDULER_ENV = "SCHEDULER"
# Dask's statistical profiler calls sys._current_frames every 10 ms in every worker; on CPython 3.11 that
# deadlocks the whole process when the garbage collector frees a threading.local meanwhile (a grading run
# here hung so, for good). Grading tasks need no profile: local workers run without it, and a cluster's
# workers must be started without it too (``_check_workers`` in autograde asks them).
PROFILER_SETTING, PROFILER_VARIABLE = "distributed.worker.profile.enabled", "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def cores() -> int:
    """The cores this process may use (its CPU affinity), at least 1."""
    return len(os.sched_getaffinity(0)) or 1


def kernel_threads(workers: int, scheduler: str | None) -> int:
    """Threads per kernel: the local cores shared among the workers; 1 on a cluster, whose workers run
    one task per core (``dask worker --nthreads`` defaults to the cores).

    >>> kernel_threads(2, None) <= max(1, cores() // 2), kernel_threads(4, "tcp://10.0.0.1:8786")
    (True, 1)
    """
    return 1 if scheduler else max(1, cores() // workers)


def thread_environment(threads: int) -> dict[str, str]:
    """Variables that cap the math libraries' threads in a kernel (torch reads ``OMP_NUM_THREADS``).

    >>> thread_environment(1)["OMP_NUM_THREADS"]
    '1'
    """
    return {name: str(threads) for name in THREAD_VARIABLES}


@contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator:
    """A ``distributed.Client`` on ``scheduler`` (an address such as ``tcp://host:8786``), else on a
    local cluster of ``workers`` single-threaded workers in this process, closed afterwards."""
    import dask  # imported here: only grading needs Dask
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # its start and stop chatter is not the report's
    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    # in-process workers (tasks wait on sandboxed kernels, so threads suffice; all ends with this process);
    # the scheduler's HTTP endpoint on a free loopback port, not 8787, which another cluster may hold
    with dask.config.set({PROFILER_SETTING: False}), LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0", memory_limit=0,
    ) as local, Client(local) as client:
        yield client


def profiling() -> bool:
    """Whether Dask's profiler is on here (asked of each worker of a cluster: it must be off, see above)."""
    import dask

    return bool(dask.config.get(PROFILER_SETTING))
