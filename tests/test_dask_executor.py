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

from naas.cosearch import CosearchConfig, run_cosearch
from naas.executor import DaskExecutor, ExecutorError, make_executor

from .test_cosearch import TINY, _rows

distributed = pytest.importorskip("distributed")


def _dask_cmd(*args: str) -> list[str]:
    exe = shutil.which("dask")
    return [exe, *args] if exe else [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded worker processes, as separate OS processes."""
    folder = tmp_path_factory.mktemp("dask")
    sfile = folder / "scheduler.json"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    procs = [subprocess.Popen(_dask_cmd("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                        "--scheduler-file", str(sfile)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        deadline = time.time() + 60
        while not sfile.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(sfile.read_text())["address"]
        workers = [subprocess.Popen(_dask_cmd("worker", address, "--nthreads", "1", "--no-dashboard",
                                              "--host", "127.0.0.1", "--death-timeout", "60"),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                   for _ in range(2)]
        procs += workers
        client = distributed.Client(address, timeout=30)
        client.wait_for_workers(2, timeout=60)
        client.close()
        yield address, workers
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def local_rows(ofa_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("local") / "run"
    run_cosearch(CosearchConfig(**TINY), folder, data_dir=str(ofa_data))
    return _rows(folder)


def test_cluster_run_equals_local_run(cluster, local_rows, ofa_data, tmp_path):
    address, _ = cluster
    with make_executor(scheduler=address) as ex:
        assert isinstance(ex, DaskExecutor) and ex.workers == 2
        run_cosearch(CosearchConfig(**TINY), tmp_path / "d", data_dir=str(ofa_data), executor=ex)
    assert _rows(tmp_path / "d") == local_rows


def test_killing_a_worker_loses_and_duplicates_nothing(cluster, local_rows, ofa_data, tmp_path):
    address, workers = cluster
    victim = workers[0]

    def kill_once(p):
        if p.generation == 1 and victim.poll() is None:
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()

    with make_executor(scheduler=address) as ex:
        run_cosearch(CosearchConfig(**TINY), tmp_path / "k", data_dir=str(ofa_data), executor=ex,
                     progress=kill_once)
    assert victim.poll() is not None  # the worker really died mid-run
    assert _rows(tmp_path / "k") == local_rows


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ExecutorError, match="cannot connect to 'tcp://127.0.0.1:1'"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=2)
