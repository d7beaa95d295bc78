"""Where design evaluations run: in this process, in local worker processes, or on a Dask cluster.

Every search hands its executor a list of independent, picklable tasks and gets the results back **in task
order**, so what a run commits, and in which order, does not depend on where the tasks ran.
"""
from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any, Callable, Iterator, Sequence

from .errors import NaasError


class ExecutorError(NaasError):
    """An executor that cannot be created as asked (names the argument and value)."""


class Executor:
    """Runs ``fn(task)`` for each task; ``map_ordered`` yields results in task order as they are ready."""

    workers: int = 1

    def map_ordered(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> str:
        return type(self).__name__


class InlineExecutor(Executor):
    """Runs each task in this process, one after the other."""

    def map_ordered(self, fn, tasks):
        for t in tasks:
            yield fn(t)

    def describe(self) -> str:
        return "in-process"


#: Thread pools of the numerical libraries: one thread per worker process, unless the user set them. Two
#: processes each running a multi-threaded BLAS on two cores spin against each other (measured: 2 processes
#: were 0.43x as fast as one without this); Dask's nanny sets the same variables for its workers.
THREAD_LIMITS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


class _SingleThreadedSpawnProcess(SpawnProcess):
    """A spawned process whose environment caps the numerical libraries' threads at one.

    It starts with SIGINT blocked (the mask is inherited through fork and exec) and ignores it from its
    initializer on (``_ignore_sigint``): Ctrl-C at a terminal reaches every process of the foreground group,
    and only the main process, which stops the workers, should act on it (and print one line).
    """

    def start(self) -> None:
        unset = [k for k in THREAD_LIMITS if k not in os.environ]
        os.environ.update({k: "1" for k in unset})
        masked = hasattr(signal, "pthread_sigmask")
        if masked:  # per thread: a SIGINT for this process meanwhile waits, or goes to another thread
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            if masked:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
            for k in unset:
                os.environ.pop(k, None)


def _ignore_sigint() -> None:
    """A worker's initializer: ignore SIGINT (a pending one is discarded), then unblock it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class _SingleThreadedSpawnContext(SpawnContext):
    Process = _SingleThreadedSpawnProcess


def _results_in_order(futures: list) -> Iterator[Any]:
    """Each future's result in task order as it is ready; the rest cancelled if the consumer stops early."""
    try:
        for f in futures:
            yield f.result()
    finally:
        for f in futures:
            f.cancel()


class LocalProcessExecutor(Executor):
    """A pool of local worker processes (spawned, so Numba and cma start clean in each; one thread each)."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ExecutorError(f"workers: {workers} (allowed: >= 1)", "workers")
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=_SingleThreadedSpawnContext(),
                                         initializer=_ignore_sigint)

    def map_ordered(self, fn, tasks):
        return _results_in_order([self._pool.submit(fn, t) for t in tasks])

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:  # an error or Ctrl-C: the tasks still running are not waited for
            self.abort()

    def abort(self) -> None:
        """Stop at once: pending tasks cancelled, the worker processes terminated."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(timeout=10)
        self._pool.shutdown(wait=True)

    def describe(self) -> str:
        return f"{self.workers} local processes"


class DaskExecutor(Executor):
    """Tasks on a ``dask.distributed`` cluster (``--scheduler tcp://HOST:PORT``).

    Tasks are pure functions of their inputs, so a task lost with a worker is rerun elsewhere by Dask with
    the same result; the run store is written only by this (client) process, in task order.
    """

    def __init__(self, address: str, timeout: float = 30.0):
        try:
            from distributed import Client
        except ImportError as exc:
            raise ExecutorError("scheduler: needs dask.distributed (pip install 'dask[distributed]')",
                                "scheduler") from exc
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(f"scheduler: cannot connect to {address!r}: {exc}", "scheduler") from None
        self.address = address
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def map_ordered(self, fn, tasks):
        return _results_in_order(self.client.map(fn, list(tasks), pure=False, retries=2))

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return f"dask cluster at {self.address} ({self.workers} workers)"


#: the most consecutive tasks ``map_chunked`` hands one worker at once (a chunk commits when it ends)
LARGEST_CHUNK = 16


def map_chunked(executor: Executor, fn_many: Callable[[list], list], tasks: Sequence[Any],
                largest: int = LARGEST_CHUNK) -> Iterator[Any]:
    """``fn_many(chunk)`` (one result per task of the chunk) over chunks of consecutive tasks — as many chunks
    as the executor has workers, at most ``largest`` tasks each — on ``executor``; yields results in task order.

    Tasks of one chunk run in one process, so their mapping searches can advance together (issue 25).
    """
    tasks = list(tasks)
    if not tasks:
        return iter(())
    n = max(executor.workers, -(-len(tasks) // largest))
    size = -(-len(tasks) // n)
    chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    return (r for results in executor.map_ordered(fn_many, chunks) for r in results)


#: Where ``--scheduler`` is not given, a Dask scheduler address may come from this environment variable.
SCHEDULER_ENV = "NAAS_SCHEDULER"


def make_executor(workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``--workers N`` / ``--scheduler ADDRESS`` (or ``$NAAS_SCHEDULER``)."""
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if scheduler:
        return DaskExecutor(scheduler)
    if workers < 1:
        raise ExecutorError(f"workers: {workers} (allowed: >= 1)", "workers")
    return InlineExecutor() if workers == 1 else LocalProcessExecutor(workers)
