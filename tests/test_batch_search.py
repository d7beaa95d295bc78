"""The batched inner search (issue 25): many mapping searches advanced together, each one's result independent
of the others in its batch; the CMA-ES state kernels; the hardware search's chunks on any executor."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cost_model.accelerator import load_accelerator
from cost_model.evaluate import evaluate_layer
from mapping.batch_cma import BatchedCMA, default_popsize
from mapping.batch_search import search_layers
from mapping.network_search import MappingCache, SearchSettings, search_network
from mapping.unit_box import UnitBox
from nn_space.layers import ConvLayer
from nn_space.zoo import get_network

EYERISS, NVDLA = load_accelerator("eyeriss"), load_accelerator("nvdla-256")
LAYERS = [ConvLayer(k=64, c=64, y=56, x=56, r=3, s=3), ConvLayer(k=256, c=64, y=56, x=56),
          ConvLayer(k=32, c=32, y=28, x=28, r=3, s=3, groups=32), ConvLayer(k=1000, c=2048, y=1, x=1)]


def _same(a, b) -> None:
    assert a.evaluations == b.evaluations and a.valid_evaluations == b.valid_evaluations
    assert a.mapping == b.mapping and np.array_equal(a.stats, b.stats) and a.history == b.history


def test_a_search_gives_the_same_result_alone_or_in_any_batch():
    st = SearchSettings(budget=300, seed=3)
    alone = search_layers([(LAYERS[0], EYERISS, st)])[0]
    others = [(LAYERS[1], NVDLA, SearchSettings(budget=700, seed=1)),
              (LAYERS[2], EYERISS, SearchSettings(budget=120, seed=3, x0="random", sigma0=0.4)),
              (LAYERS[3], EYERISS, SearchSettings(budget=500, seed=9, method="cma-index")),
              (LAYERS[0], NVDLA, SearchSettings(budget=50, seed=3, x0="best-default"))]
    for batch in ([others[0], (LAYERS[0], EYERISS, st)], [(LAYERS[0], EYERISS, st), *others],
                  [*others[::-1], (LAYERS[0], EYERISS, st), others[1]]):
        results = search_layers(batch)
        i = next(k for k, p in enumerate(batch) if p == (LAYERS[0], EYERISS, st))
        _same(results[i], alone)
        # and every other member equals its own search alone
        for p, r in zip(batch, results):
            if p is not batch[i]:
                _same(r, search_layers([p])[0])


def test_batched_searches_keep_the_budget_and_their_best():
    problems = [(layer, acc, SearchSettings(budget=b, seed=s, x0=x0))
                for layer, acc, b, s, x0 in [(LAYERS[0], EYERISS, 400, 0, "default"), (LAYERS[1], NVDLA, 237, 1, "random"),
                                             (LAYERS[2], EYERISS, 1, 2, "best-default"),
                                             (LAYERS[3], NVDLA, 900, 3, "best-default")]]
    for (layer, acc, st), r in zip(problems, search_layers(problems)):
        assert r.evaluations == st.budget and 0 < r.valid_evaluations <= st.budget
        used = [h[0] for h in r.history]
        bests = [h[1] for h in r.history]
        assert used == sorted(used) and used[-1] == st.budget
        assert all(b2 <= b1 for b1, b2 in zip(bests, bests[1:]))
        assert evaluate_layer(layer, acc, r.mapping).edp == r.best == bests[-1]
        assert r.mapping.label == f"searched ({st.method}, seed {st.seed})"


def test_the_warm_start_is_a_candidate_and_the_search_improves_on_it():
    from mapping.default_mapping import default_mapping

    layer = LAYERS[0]
    start = evaluate_layer(layer, EYERISS, default_mapping(layer, EYERISS)).edp
    r = search_layers([(layer, EYERISS, SearchSettings(budget=1, seed=0))])[0]
    assert r.best == start and r.evaluations == 1
    assert search_layers([(layer, EYERISS, SearchSettings(budget=1000, seed=0))])[0].best < start


def test_the_network_search_engines_agree_in_kind_and_the_cache_searches_each_shape_once():
    net = get_network("squeezenet")
    settings = SearchSettings(budget=300, seed=1)
    cache = MappingCache()
    batched = search_network(net, EYERISS, settings, cache)
    assert cache.searches == len({layer.shape_key for layer in net.layers})
    pycma = search_network(net, EYERISS, settings, MappingCache("pycma"))
    assert 0.8 < batched.edp / pycma.edp < 1.25  # two searches of the same budget (quality: the experiment)
    again = search_network(net, EYERISS, settings, cache)  # all from the cache
    assert again.edp == batched.edp and cache.searches == len({layer.shape_key for layer in net.layers})
    with pytest.raises(ValueError, match="engine: 'numpy'"):
        MappingCache("numpy")


def test_batched_cma_minimizes_and_restarts_with_a_doubled_population_from_its_own_stream():
    dims = [5, 12, 30]
    target = [np.linspace(0.2, 0.8, d) for d in dims]
    es = BatchedCMA(dims, [None] * 3, [0.3] * 3, [1, 2, 3], [np.full(d, 0.5) for d in dims])
    assert list(es.lam) == [default_popsize(d) for d in dims]
    box = UnitBox(es.dmax)
    act = np.arange(3)
    best = np.full(3, np.inf)
    for _ in range(120):
        owner, offsets = es.rows(act)
        Z, Y, X = es.sample(owner)
        P = box(X)
        f = np.array([np.log(((P[r, :dims[o]] - target[o]) ** 2).sum()) for r, o in enumerate(owner)])
        np.minimum.at(best, owner, f)
        es.tell(act, offsets, f, Z, Y)
    # pycma (bounds [0, 1], seed 3) on the same problems reaches 1.5e-12, 6.4e-7, 1.9e-4 in 120 generations
    assert (np.exp(best) < [1e-9, 1e-5, 3e-3]).all()
    lam0 = es.lam.copy()
    es.restart(np.array([1]))
    assert list(es.lam) == [lam0[0], 2 * lam0[1], lam0[2]] and es.restarts[1] == 1
    assert ((es.mean[1, :12] > -0.1) & (es.mean[1, :12] < 1.1)).all() and es.sigma[1] == 0.3


def test_the_box_inverse_is_pycmas():
    box = UnitBox(4)
    es = BatchedCMA([4], [None], [0.2], [0], [np.array([0.0, 0.01, 0.5, 0.999])])
    assert np.allclose(es.mean[0], box.start(np.array([0.0, 0.01, 0.5, 0.999])), rtol=0, atol=1e-12)


def test_a_stream_is_its_seeds_alone():
    a = BatchedCMA([6], [None], [0.2], [42], [np.full(6, 0.5)])
    b = BatchedCMA([3, 6, 9], [None] * 3, [0.2] * 3, [7, 42, 8], [np.full(d, 0.5) for d in (3, 6, 9)])
    za = a.sample(np.zeros(10, dtype=np.int64))[0][:, :6]
    zb = b.sample(np.array([0, 1] * 10, dtype=np.int64))[0][1::2, :6]
    assert np.array_equal(za, zb)
    assert abs(za.mean()) < 1 and 0.3 < za.std() < 2  # normal-looking


def test_hardware_search_designs_do_not_depend_on_how_a_generation_is_chunked(tmp_path, monkeypatch):
    from naas import executor as executor_module
    from naas.hardware_search import HardwareSearchConfig, run_hardware_search
    from naas.run_store import RunStore

    config = HardwareSearchConfig(baseline="eyeriss", networks=("alexnet",), budget=9, inner_budget=60, seed=2,
                                  final_budget=0, popsize=4)
    runs = {}
    for largest in (16, 1):  # one chunk per generation, then one design per chunk
        monkeypatch.setattr(executor_module, "LARGEST_CHUNK", largest)
        monkeypatch.setattr(executor_module.map_chunked, "__defaults__", (largest,))
        run_hardware_search(config, tmp_path / str(largest))
        with RunStore(tmp_path / str(largest)) as store:
            runs[largest] = [(r["genome"], r["fitness"]) for r in store.records()]
    assert runs[16] == runs[1] and len(runs[1]) >= 9
    assert all(f is None or math.isfinite(f) for _, f in runs[1])


def test_hierarchy_searches_give_the_same_result_alone_or_in_any_batch():
    from cost_model.hierarchy_yaml import load_hierarchy
    from mapping.nest_batch_search import search_nest_layers
    from mapping.nest_network_search import NestMappingCache, search_nest_network_best_of

    ey, nv = load_hierarchy("eyeriss-hier"), load_hierarchy("nvdla-256-hier")
    st = SearchSettings(budget=200, seed=4, x0="best-default", sigma0=0.15)
    problems = [(LAYERS[0], ey, st), (LAYERS[1], nv, SearchSettings(budget=90, seed=1, x0="random")),
                (LAYERS[2], ey, SearchSettings(budget=150, seed=2, x0="best-default")), (LAYERS[3], nv, st)]
    together = search_nest_layers(problems)
    for p, r in zip(problems, together):
        _same(r, search_nest_layers([p])[0])
        assert r.evaluations == p[2].budget and r.mapping is not None
    _same(search_nest_layers(problems[::-1])[1], together[2])
    net = get_network("squeezenet")
    settings = SearchSettings(budget=200, seed=0, x0="best-default", sigma0=0.15)
    batched = search_nest_network_best_of(net, ey, (settings,), NestMappingCache()).edp
    pycma = search_nest_network_best_of(net, ey, (settings,), NestMappingCache("pycma")).edp
    assert 0.8 < batched / pycma < 1.25


def test_a_search_that_cannot_start_keeps_its_error_and_the_others_their_results():
    from dataclasses import replace

    from mapping.default_mapping import default_mapping
    from mapping.spec import MappingSpecError

    tiny = replace(NVDLA, name="tiny", l1_bytes=6.0, l1_partition=None, l2_bytes=64.0)
    with pytest.raises(MappingSpecError) as expected:
        default_mapping(LAYERS[0], tiny)
    ok = [(LAYERS[1], EYERISS, SearchSettings(budget=150, seed=2)),
          (LAYERS[2], NVDLA, SearchSettings(budget=90, seed=5, x0="best-default"))]
    batch = [ok[0], (LAYERS[0], tiny, SearchSettings(budget=100)), ok[1], (LAYERS[0], tiny, SearchSettings(budget=80))]
    results = search_layers(batch)
    for i in (1, 3):
        assert isinstance(results[i], MappingSpecError) and str(results[i]) == str(expected.value)
    for r, p in zip((results[0], results[2]), ok):
        _same(r, search_layers([p])[0])
    assert all(isinstance(r, MappingSpecError) for r in search_layers([batch[1], batch[3]]))
