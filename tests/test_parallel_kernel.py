"""The parallel (``prange``) batch kernels: bit-identical to the serial ones, chosen only for large batches,
and never in worker processes."""
from __future__ import annotations

import multiprocessing
import os
from dataclasses import replace
from pathlib import Path

import numba
import numpy as np
import pytest

from cost_model import evaluate as cm_evaluate
from cost_model.accelerator import ArrayDim, load_accelerator
from cost_model.evaluate import PARALLEL_MIN_BATCH, evaluate_mappings, layer_array, use_parallel
from cost_model.hierarchy_yaml import load_hierarchy
from cost_model.kernel import evaluate_batch, evaluate_batch_parallel
from cost_model.nest_evaluate import evaluate_nests
from cost_model.nest_kernel import PARALLEL_BLOCK, nest_evaluate_batch, nest_evaluate_batch_parallel
from cost_model.nest_layout import result_size
from cost_model.stats import NUM_STATS
from mapping.exhaustive import exhaustive_search
from mapping.nest_random import random_nest_mappings
from mapping.random_mapping import random_mappings
from nn_space.layers import ConvLayer
from nn_space.zoo import get_network

HIERARCHIES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "cost_model" / "hierarchies")
                     .glob("*.yaml"))
LAYERS = [get_network("resnet50").layers[5], get_network("mobilenetv2").layers[4],
          ConvLayer(k=6, c=6, y=4, x=4, r=3, s=3, groups=6), ConvLayer(k=16, c=8, y=7, x=7, stride_y=2, stride_x=2)]
SIZES = (1, PARALLEL_BLOCK - 1, PARALLEL_BLOCK + 1, 3 * PARALLEL_BLOCK + 17, 1500)


@pytest.fixture
def two_threads():
    """Numba's threads set to 2 for the test (if the process has them), restored afterwards."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    yield numba.get_num_threads()
    numba.set_num_threads(before)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


def _spoil(rng, *arrays):
    """Some rows made malformed (a factor < 1, an order that is no permutation, an oversized factor)."""
    arrays = [a.copy() for a in arrays]
    n = len(arrays[0])
    for a, bad in zip(arrays, (0, 9, 1000)):
        rows = rng.choice(n, size=max(1, n // 20), replace=False)
        a[rows, rng.integers(0, a.shape[1], len(rows)), rng.integers(0, 7, len(rows))] = bad
    return arrays


@pytest.mark.parametrize("acc_name", ["eyeriss", "nvdla-256", "shidiannao"])
def test_parallel_template_kernel_is_bit_identical(acc_name, two_threads):
    acc = load_accelerator(acc_name)
    rng = np.random.default_rng(25)
    for i, layer in enumerate(LAYERS):
        f, o = random_mappings(layer, acc, max(SIZES), rng)
        if i % 2:
            f, o = _spoil(rng, f, o)
        for n in SIZES:
            serial = np.full((n, NUM_STATS), np.nan)
            par = np.full((n, NUM_STATS), -1.0)
            evaluate_batch(layer_array(layer), acc.hw_vector, f[:n], o[:n], serial)
            evaluate_batch_parallel(layer_array(layer), acc.hw_vector, f[:n], o[:n], par)
            assert _same_bits(serial, par), (layer.describe(), n)
        status = serial[:, 0]
        assert (status == 0).any() and (status != 0).any()  # valid and invalid rows both compared


@pytest.mark.parametrize("hier_name", HIERARCHIES)
def test_parallel_hierarchy_kernel_is_bit_identical(hier_name, two_threads):
    hier = load_hierarchy(hier_name)
    rng = np.random.default_rng(25)
    size = result_size(hier.num_levels)
    statuses = []
    for layer in LAYERS:
        arrays = random_nest_mappings(layer, hier, max(SIZES), rng)
        if layer is LAYERS[-1]:
            arrays = _spoil(rng, *arrays)
        for n in SIZES:
            serial = np.full((n, size), np.nan)
            par = np.full((n, size), -1.0)
            nest_evaluate_batch(layer_array(layer), hier.hw_array, hier.glob_vector, *[a[:n] for a in arrays],
                                serial)
            nest_evaluate_batch_parallel(layer_array(layer), hier.hw_array, hier.glob_vector,
                                         *[a[:n] for a in arrays], par)
            assert _same_bits(serial, par), (layer.describe(), n)
        statuses.append(serial[:, 0])
    statuses = np.concatenate(statuses)
    assert (statuses == 0).any() and (statuses != 0).any()


def test_entry_points_give_the_same_rows_on_either_kernel(two_threads):
    layer, acc, hier = LAYERS[0], load_accelerator("eyeriss"), load_hierarchy("eyeriss-hier")
    rng = np.random.default_rng(3)
    f, o = random_mappings(layer, acc, 2 * PARALLEL_MIN_BATCH, rng)
    rows = [evaluate_mappings(layer, acc, f, o, parallel=p) for p in (False, True, None)]
    assert _same_bits(rows[0], rows[1]) and _same_bits(rows[0], rows[2])
    arrays = random_nest_mappings(layer, hier, 2 * PARALLEL_MIN_BATCH, rng)
    rows = [evaluate_nests(layer, hier, *arrays, parallel=p) for p in (False, True, None)]
    assert _same_bits(rows[0], rows[1]) and _same_bits(rows[0], rows[2])


def test_parallel_kernel_only_for_large_batches(two_threads):
    many = two_threads > 1
    assert not use_parallel(1) and not use_parallel(60) and not use_parallel(PARALLEL_MIN_BATCH - 1)
    assert use_parallel(PARALLEL_MIN_BATCH) == many and use_parallel(200_000) == many
    assert use_parallel(10, parallel=True) and not use_parallel(200_000, parallel=False)
    numba.set_num_threads(1)  # one thread: the serial kernel, whatever the size
    assert not use_parallel(200_000)


def test_entry_points_pick_the_kernel_by_batch_size(monkeypatch, two_threads):
    if two_threads < 2:
        pytest.skip("Numba has one thread in this process")
    calls = []
    monkeypatch.setattr(cm_evaluate, "evaluate_batch", lambda *a: calls.append("serial"))
    monkeypatch.setattr(cm_evaluate, "evaluate_batch_parallel", lambda *a: calls.append("parallel"))
    layer, acc = LAYERS[0], load_accelerator("eyeriss")
    f, o = random_mappings(layer, acc, PARALLEL_MIN_BATCH, np.random.default_rng(0))
    for n in (1, 64, PARALLEL_MIN_BATCH - 1, PARALLEL_MIN_BATCH):
        evaluate_mappings(layer, acc, f[:n], o[:n])
    assert calls == ["serial"] * 3 + ["parallel"]


def test_exhaustive_search_finds_the_same_optimum_on_either_kernel(two_threads):
    acc = replace(load_accelerator("nvdla-256"), name="tiny", array=(ArrayDim(4, "K"), ArrayDim(2, "C")),
                  l1_bytes=16.0, l2_bytes=2048.0)
    layer = ConvLayer(k=4, c=4, y=4, x=2)
    runs = [exhaustive_search(layer, acc, chunk=3000, parallel=p) for p in (False, True)]
    assert runs[0][2] == runs[1][2] > 3000  # several chunks
    assert runs[0][0] == runs[1][0] and _same_bits(runs[0][1], runs[1][1])


def _probe(batch: int) -> tuple[int, bool]:
    return numba.get_num_threads(), use_parallel(batch)


def test_worker_processes_stay_single_threaded(monkeypatch):
    from naas.executor import LocalProcessExecutor

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)  # as a user who set nothing
    with LocalProcessExecutor(1) as ex:
        assert list(ex.map_ordered(_probe, [200_000])) == [(1, False)]


def _forked_probe(conn) -> None:
    conn.send(use_parallel(200_000))
    conn.close()


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="no fork")
def test_forked_children_stay_on_the_serial_kernel(two_threads):
    use_parallel(200_000)  # the parent may have started its thread pool
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_forked_probe, args=(child,))
    p.start()
    assert parent.recv() is False
    p.join(timeout=30)


_TWO_THREAD_CHILD = """
import numba, numpy as np
from cost_model.accelerator import load_accelerator
from cost_model.evaluate import PARALLEL_MIN_BATCH, evaluate_mappings, use_parallel
from cost_model.hierarchy_yaml import load_hierarchy
from cost_model.nest_evaluate import evaluate_nests
from mapping.nest_random import random_nest_mappings
from mapping.random_mapping import random_mappings
from nn_space.zoo import get_network

assert numba.get_num_threads() == 2 and use_parallel(PARALLEL_MIN_BATCH), numba.get_num_threads()
layer, rng = get_network("resnet50").layers[5], np.random.default_rng(3)
acc, hier = load_accelerator("eyeriss"), load_hierarchy("eyeriss-hier")
f, o = random_mappings(layer, acc, 3000, rng)
a, b = evaluate_mappings(layer, acc, f, o, parallel=True), evaluate_mappings(layer, acc, f, o, parallel=False)
assert np.array_equal(a.view(np.int64), b.view(np.int64))
arrays = random_nest_mappings(layer, hier, 3000, rng)
a, b = evaluate_nests(layer, hier, *arrays, parallel=True), evaluate_nests(layer, hier, *arrays, parallel=False)
assert np.array_equal(a.view(np.int64), b.view(np.int64))
print("ok")
"""


def test_two_threads_in_a_fresh_process_give_the_serial_bits():
    """On 2 threads for sure (this process may have one: an imported experiment module sets
    NUMBA_NUM_THREADS=1, and Numba re-reads its config when it compiles)."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", _TWO_THREAD_CHILD], capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[1], timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]
