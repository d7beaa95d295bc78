"""Where design evaluations run: in this process, in local worker processes, or on a Dask cluster.

Every search hands its executor a list of independent, picklable tasks and gets the results back **in task
order**, so what a run commits, and in which order, does not depend on where the tasks ran.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterator, Sequence


class ExecutorError(ValueError):
    """An executor that cannot be created as asked (names the option and value)."""


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


class LocalProcessExecutor(Executor):
    """A pool of local worker processes (spawned, so Numba and cma start clean in each)."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ExecutorError(f"--workers: {workers} (allowed: >= 1)")
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def map_ordered(self, fn, tasks):
        futures: list[Future] = [self._pool.submit(fn, t) for t in tasks]
        try:
            for f in futures:
                yield f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

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
            raise ExecutorError("--scheduler: needs dask.distributed (pip install 'dask[distributed]')") from exc
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(f"--scheduler: cannot connect to {address!r}: {exc}") from None
        self.address = address
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def map_ordered(self, fn, tasks):
        futures = self.client.map(fn, list(tasks), pure=False, retries=2)
        try:
            for f in futures:
                yield f.result()
        finally:
            for f in futures:
                f.cancel()

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return f"dask cluster at {self.address} ({self.workers} workers)"


def make_executor(workers: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``--workers N`` / ``--scheduler ADDRESS``: in-process, local processes or Dask."""
    if scheduler:
        return DaskExecutor(scheduler)
    if workers < 1:
        raise ExecutorError(f"--workers: {workers} (allowed: >= 1)")
    return InlineExecutor() if workers == 1 else LocalProcessExecutor(workers)
