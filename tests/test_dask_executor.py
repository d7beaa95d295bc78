"""Design evaluation on a real dask.distributed cluster on 127.0.0.1: same rows as in-process, worker loss."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from naas.joint_search import CosearchConfig, run_cosearch
from naas.executor import DaskExecutor, ExecutorError, make_executor
from naas.sweep_run import run_sweep
from naas.sweep_spec import sweep_from_dict

from .test_cosearch import TINY, _rows
from .test_sweep import SMALL, sweep_rows

#: 32 combinations, about a tenth of a second each: long enough to lose a worker in the middle.
SWEEP = {**SMALL, "inner_budget": 60,
         "parameters": {**SMALL["parameters"], "array[1].size": [7, 14], "dram.bandwidth": [2, 4, 8, 16]}}

distributed = pytest.importorskip("distributed")


def _dask_cmd(*args: str) -> list[str]:
    exe = shutil.which("dask")
    return [exe, *args] if exe else [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


class Cluster:
    """A ``dask scheduler`` and single-threaded ``dask worker`` OS processes on 127.0.0.1."""

    def __init__(self, folder):
        self.env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
        sfile = folder / "scheduler.json"
        self.procs = [subprocess.Popen(_dask_cmd("scheduler", "--host", "127.0.0.1", "--port", "0",
                                                 "--no-dashboard", "--scheduler-file", str(sfile)),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)]
        deadline = time.time() + 60
        while not sfile.exists() and time.time() < deadline:
            time.sleep(0.2)
        self.address = json.loads(sfile.read_text())["address"]
        self.workers: list[subprocess.Popen] = []

    def ensure_workers(self, n: int) -> list[subprocess.Popen]:
        """Start workers until ``n`` are alive (replacing killed ones); returns the live ones."""
        alive = [w for w in self.workers if w.poll() is None]
        for _ in range(n - len(alive)):
            w = subprocess.Popen(_dask_cmd("worker", self.address, "--nthreads", "1", "--no-dashboard",
                                           "--host", "127.0.0.1", "--death-timeout", "60"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
            self.workers.append(w)
            self.procs.append(w)
        client = distributed.Client(self.address, timeout=30)
        try:
            deadline = time.time() + 60
            while len(client.scheduler_info()["workers"]) != n and time.time() < deadline:
                time.sleep(0.2)  # a killed worker leaves the scheduler's list after a moment
            assert len(client.scheduler_info()["workers"]) == n
        finally:
            client.close()
        return [w for w in self.workers if w.poll() is None]

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded worker processes, as separate OS processes."""
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        c.ensure_workers(2)
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def local_rows(ofa_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("local") / "run"
    run_cosearch(CosearchConfig(**TINY), folder, data_dir=str(ofa_data))
    return _rows(folder)


def test_cluster_run_equals_local_run(cluster, local_rows, ofa_data, tmp_path):
    cluster.ensure_workers(2)
    with make_executor(scheduler=cluster.address) as ex:
        assert isinstance(ex, DaskExecutor) and ex.workers == 2
        run_cosearch(CosearchConfig(**TINY), tmp_path / "d", data_dir=str(ofa_data), executor=ex)
    assert _rows(tmp_path / "d") == local_rows


def test_killing_a_worker_loses_and_duplicates_nothing(cluster, local_rows, ofa_data, tmp_path):
    victim = cluster.ensure_workers(2)[0]

    def kill_once(p):
        if p.generation == 1 and victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()

    with make_executor(scheduler=cluster.address) as ex:
        run_cosearch(CosearchConfig(**TINY), tmp_path / "k", data_dir=str(ofa_data), executor=ex,
                     progress=kill_once)
    assert victim.poll() is not None  # the worker really died mid-run
    assert _rows(tmp_path / "k") == local_rows


@pytest.fixture(scope="module")
def local_sweep_rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local-sweep") / "run"
    run_sweep(sweep_from_dict(SWEEP), folder)
    return sweep_rows(folder)


def test_sweep_on_the_cluster_equals_local(cluster, local_sweep_rows, tmp_path):
    cluster.ensure_workers(2)
    with make_executor(scheduler=cluster.address) as ex:
        assert ex.workers == 2
        done = run_sweep(sweep_from_dict(SWEEP), tmp_path / "s", executor=ex)
    assert done["evaluated"] == 32
    assert sweep_rows(tmp_path / "s") == local_sweep_rows


def test_sweep_survives_losing_a_worker(cluster, local_sweep_rows, tmp_path):
    victim = cluster.ensure_workers(2)[0]
    seen = []

    def kill_once(p):
        seen.append(p.evaluated)
        if p.evaluated == 2 and victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()

    with make_executor(scheduler=cluster.address) as ex:
        run_sweep(sweep_from_dict(SWEEP), tmp_path / "k", executor=ex, progress=kill_once)
    assert victim.poll() is not None and seen == list(range(1, 33))
    rows = sweep_rows(tmp_path / "k")
    assert rows == local_sweep_rows  # nothing lost, nothing duplicated, same values
    assert len({r["genome_key"] for r in rows[0]}) == len(rows[0])


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ExecutorError, match="cannot connect to 'tcp://127.0.0.1:1'"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=2)


def test_scheduler_from_the_environment(cluster, monkeypatch):
    cluster.ensure_workers(2)
    monkeypatch.setenv("NAAS_SCHEDULER", cluster.address)
    with make_executor(workers=1) as ex:
        assert isinstance(ex, DaskExecutor) and ex.address == cluster.address
