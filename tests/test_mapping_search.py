"""Encodings, per-layer CMA-ES search, exhaustive optimum, whole-network search with a shape cache."""
from __future__ import annotations

import functools
import statistics
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_model.accelerator import ArrayDim, load_accelerator
from cost_model.evaluate import evaluate_layer, evaluate_network
from cost_model.stats import STAT_INDEX
from mapping.default_mapping import DATAFLOW_RULES, default_mapping, default_mappings
from mapping.encoding import PERMUTATIONS, MappingEncoder, padding_minimal_factors
from mapping.batch_search import search_layers
from mapping.exhaustive import SpaceTooLargeError, exhaustive_search, space_size
from mapping.network_search import MappingCache, SearchSettings, search_network
from mapping.search import search_layer
from mapping.spec import Mapping, MappingSpecError
from nn_space.layers import ConvLayer
from nn_space.zoo import get_network

EYERISS = load_accelerator("eyeriss")
NVDLA = load_accelerator("nvdla-256")
RESNET_3X3 = ConvLayer(k=128, c=128, y=28, x=28, r=3, s=3, name="res3x3")


def test_padding_minimal_factors_contain_every_divisor():
    for n in (1, 7, 12, 56, 1000):
        cands = padding_minimal_factors(n)
        assert all(d in cands for d in range(1, n + 1) if n % d == 0)
        assert cands == tuple(sorted(set(cands))) and cands[0] == 1 and cands[-1] == n


@pytest.mark.parametrize("acc", [EYERISS, NVDLA], ids=lambda a: a.name)
@pytest.mark.parametrize("encoding", ["importance", "index"])
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_decode_is_well_formed_and_encode_inverts_it(acc, encoding, seed):
    enc = MappingEncoder(RESNET_3X3, acc, encoding)
    genome = np.random.default_rng(seed).random(enc.size)
    m = enc.decode(genome)
    assert all(c >= b for c, b in zip(m.covered_bounds(), RESNET_3X3.loop_bounds))
    for a in acc.array:
        used = np.prod([m.spatial["NKCYXRS".index(d)] for d in a.dims])
        assert used <= a.size
    again = enc.decode(enc.encode(m))
    assert again.factor_array.tolist() == m.factor_array.tolist()
    assert (again.dram_order, again.l2_order) == (m.dram_order, m.l2_order)


def test_importance_ties_break_deterministically_and_index_unranks():
    enc = MappingEncoder(RESNET_3X3, NVDLA, "importance")
    g = np.full(enc.size, 0.5)  # all importances equal: dims keep their listed order K, C, Y, X, R, S
    m = enc.decode(g)
    assert m.dram_order == "NKCYXRS" and m.l2_order == "NKCYXRS"
    g[:6] = [0.1, 0.2, 0.9, 0.3, 0.9, 0.0]  # Y and R tie at the top: Y (listed first) is outermost
    assert enc.decode(g).dram_order == "NYRXCKS"
    idx = MappingEncoder(RESNET_3X3, NVDLA, "index")
    g = np.full(idx.size, 0.5)
    g[0] = (719 + 0.5) / 720  # the last permutation: S, R, X, Y, C, K
    assert idx.decode(g).dram_order == "NSRXYCK"
    assert len(PERMUTATIONS) == 720


def test_encode_rejects_what_it_cannot_express():
    enc = MappingEncoder(ConvLayer(k=10, c=4, y=2, x=2), NVDLA)
    with pytest.raises(MappingSpecError, match="not encodable"):
        enc.encode(Mapping(dram={"K": 2, "Y": 2, "X": 2}, l2={}, spatial={"K": 7, "C": 4}, l1={}))


def test_search_is_reproducible_within_budget_and_beats_its_warm_start():
    a = search_layer(RESNET_3X3, EYERISS, budget=600, seed=3)
    b = search_layer(RESNET_3X3, EYERISS, budget=600, seed=3)
    assert a.evaluations == 600 and a.valid_evaluations <= 600
    assert a.mapping == b.mapping and a.best == b.best and a.history == b.history
    default = evaluate_layer(RESNET_3X3, EYERISS, default_mapping(RESNET_3X3, EYERISS))
    assert a.best <= default.edp
    assert evaluate_layer(RESNET_3X3, EYERISS, a.mapping).edp == a.best  # the mapping reproduces its score
    evals = [h[0] for h in a.history]
    bests = [h[1] for h in a.history]
    assert evals == sorted(evals) and bests == sorted(bests, reverse=True) and evals[-1] == 600


# Eyeriss's resources as a K x C array, still labelled row-stationary (as searched designs are)
EYERISS_KC = replace(EYERISS, array=(ArrayDim(12, "K"), ArrayDim(14, "C")), l1_partition=None, l1_bytes=64.0,
                     l2_bytes=180000.0)


def test_default_mappings_put_the_own_dataflow_first_and_fit():
    ms = default_mappings(RESNET_3X3, EYERISS_KC)
    assert ms[0] == default_mapping(RESNET_3X3, EYERISS_KC) and len(ms) == len(DATAFLOW_RULES)
    assert [m.label for m in ms][0] == "default row-stationary"
    assert len({m.label for m in ms}) == len(ms)
    for m in ms:  # each is valid on this hardware (evaluate_layer raises otherwise)
        assert evaluate_layer(RESNET_3X3, EYERISS_KC, m).edp > 0
    tiny = replace(load_accelerator("nvdla-256"), l2_bytes=64.0)
    with pytest.raises(MappingSpecError, match="no default mapping fits: L2 overflow"):
        default_mappings(ConvLayer(k=64, c=64, y=7, x=7, r=3, s=3), tiny)


def test_best_default_start_evaluates_every_default_and_starts_from_the_best():
    ms = default_mappings(RESNET_3X3, EYERISS_KC)
    edps = [evaluate_layer(RESNET_3X3, EYERISS_KC, m).edp for m in ms]
    assert min(edps) < edps[0]  # on a K x C array another dataflow's default beats row-stationary's
    r = search_layer(RESNET_3X3, EYERISS_KC, budget=300, seed=2, x0="best-default", sigma0=0.15)
    assert r.history[0][:2] == (len(ms), pytest.approx(min(edps)))  # one batch, counted in the budget
    assert r.evaluations == 300 and r.best <= min(edps)
    again = search_layer(RESNET_3X3, EYERISS_KC, budget=300, seed=2, x0="best-default", sigma0=0.15)
    assert again.mapping == r.mapping and again.history == r.history
    short = search_layer(RESNET_3X3, EYERISS_KC, budget=2, seed=2, x0="best-default")
    assert short.evaluations == 2 and short.best == pytest.approx(min(edps[:2]))


def test_search_settings_refuse_unknown_starts_and_step_sizes():
    with pytest.raises(ValueError, match="x0: 'best' \\(allowed: default, best-default, random\\)"):
        SearchSettings(x0="best")
    with pytest.raises(ValueError, match="sigma0: 0"):
        SearchSettings(sigma0=0)
    with pytest.raises(ValueError, match="x0: 'nope'"):
        search_layer(RESNET_3X3, EYERISS, budget=10, x0="nope")
    assert "start best-default, sigma0 0.15" in SearchSettings(x0="best-default", sigma0=0.15).describe()
    assert "start default, sigma0 0.25" in SearchSettings().describe()  # every setting said, none hidden


def test_portfolio_takes_each_shapes_best_mapping_of_its_searches():
    from mapping.network_search import final_portfolio, search_network_best_of
    net = get_network("alexnet")
    own = SearchSettings(budget=150, seed=1, x0="best-default", sigma0=0.15)
    searches = final_portfolio(own)
    assert [(s.x0, s.sigma0, s.budget, s.seed) for s in searches] == [
        ("best-default", 0.15, 150, 1), ("default", 0.25, 150, 1), ("best-default", 0.25, 150, 1)]
    assert len(final_portfolio(SearchSettings(budget=150))) == 2  # its own settings are not repeated
    cache = MappingCache()
    best = search_network_best_of(net, EYERISS_KC, searches, cache)
    singles = [search_network(net, EYERISS_KC, s, cache) for s in searches]
    assert cache.searches == 3 * len(net.unique_layers())  # the singles were all cache hits
    for i, layer in enumerate(best.layers):
        layer_edps = [single.layers[i].edp for single in singles]
        assert layer.edp == min(layer_edps)
    assert best.edp <= min(single.edp for single in singles) * 1.0001 or best.energy <= min(
        single.energy for single in singles)
    assert best.mapping_source.startswith("best per layer shape of: ")


@pytest.mark.parametrize("method", ["cma-index", "random"])
def test_baselines_run_at_the_same_budget(method):
    r = search_layer(RESNET_3X3, NVDLA, budget=400, seed=1, method=method, x0="random")
    assert r.evaluations == 400 and r.method == method


def test_objectives_each_win_their_own_metric():
    e = search_layer(RESNET_3X3, NVDLA, budget=500, seed=0, objective="energy")
    c = search_layer(RESNET_3X3, NVDLA, budget=500, seed=0, objective="cycles")
    assert e.best == e.stats[STAT_INDEX["energy"]] and c.best == c.stats[STAT_INDEX["cycles"]]
    assert e.stats[STAT_INDEX["energy"]] < c.stats[STAT_INDEX["energy"]]
    assert c.stats[STAT_INDEX["cycles"]] < e.stats[STAT_INDEX["cycles"]]


SMALL_KC = replace(NVDLA, name="small-kc", array=(ArrayDim(8, "K"), ArrayDim(4, "C")), l1_bytes=16.0,
                   l2_bytes=4096.0)
SMALL_RS = replace(EYERISS, name="small-rs", array=(ArrayDim(4, ("R", "C")), ArrayDim(4, "Y")),
                   l2_bytes=4096.0)


@functools.lru_cache(maxsize=None)
def _exhaustive_optimum(acc, layer) -> float:
    """The exhaustive search's optimum EDP (checked against a direct costing of its mapping), once per case."""
    best, stats, evaluated = exhaustive_search(layer, acc, max_points=6_000_000)
    assert evaluated == space_size(layer, acc)
    assert evaluate_layer(layer, acc, best).edp == stats[15]
    return float(stats[15])


@pytest.mark.parametrize("acc, layer", [
    (SMALL_KC, ConvLayer(k=8, c=8, y=8, x=8, stride_y=2, stride_x=2)),
    (SMALL_RS, ConvLayer(k=8, c=4, y=4, x=4, r=3, s=1)),
    (SMALL_RS, ConvLayer(k=6, c=6, y=4, x=4, r=3, s=3, groups=6)),
], ids=["kc-1x1s2", "rs-3x1", "rs-depthwise"])
@pytest.mark.parametrize("engine", ["batched", "pycma"])
def test_cma_reaches_the_exhaustive_optimum_on_small_layers(acc, layer, engine):
    optimum = _exhaustive_optimum(acc, layer)
    if engine == "pycma":
        found = [search_layer(layer, acc, budget=2000, seed=s, x0="random").best for s in range(5)]
    else:  # the five seeds' searches advanced together
        found = [r.best for r in search_layers([(layer, acc, SearchSettings(budget=2000, seed=s, x0="random"))
                                                for s in range(5)])]
    assert min(found) >= optimum * (1 - 1e-12)  # nothing beats the exhaustive optimum
    assert statistics.median(found) <= 1.05 * optimum  # issue 3 target: within 5% in the median
    if acc is SMALL_KC:  # this space is hard enough that random search at the same budget misses
        rand = [search_layer(layer, acc, budget=2000, seed=s, method="random").best for s in range(5)]
        assert statistics.median(rand) > 1.05 * optimum


def test_exhaustive_refuses_large_spaces():
    with pytest.raises(SpaceTooLargeError, match="exceed max_points"):
        exhaustive_search(RESNET_3X3, EYERISS, max_points=1000)


def test_network_search_costs_each_shape_once_and_caches():
    net = get_network("resnet50")
    cache = MappingCache()
    s = SearchSettings(budget=200, seed=0)
    cost = search_network(net, NVDLA, s, cache)
    assert cache.searches == len(net.unique_layers()) == len(cache)
    again = search_network(net, NVDLA, s, cache)
    assert cache.searches == len(net.unique_layers())  # all hits
    assert again.edp == cost.edp
    assert "searched per distinct layer shape" in cost.mapping_source
    default = evaluate_network(net, NVDLA, default_mapping)
    assert cost.energy <= default.energy * 1.001 or cost.cycles <= default.cycles


def test_decode_kernel_picks_the_defined_factor():
    """The kernel's O(1) pick among ceil(rest / t) equals the definition, for every rest, cap and bin."""
    from mapping.decode_kernel import _pick_factor
    rng = np.random.default_rng(5)
    for rest in [*range(1, 1200), 4096, 9216, 25088, *rng.integers(2000, 10 ** 9, 300).tolist()]:
        for cap in (1, 2, 3, 7, 12, 14, 64, rest, rest + 3, int(rng.integers(1, rest + 1))):
            cands = [v for v in padding_minimal_factors(rest) if v <= cap]
            for gene in np.linspace(0, 1, 23):
                assert _pick_factor(rest, gene, cap) == cands[min(len(cands) - 1, int(gene * len(cands)))]


def test_genes_outside_the_unit_interval_fold_back():
    enc = MappingEncoder(RESNET_3X3, EYERISS)
    g = np.random.default_rng(0).random(enc.size)
    for shift in (2.0, -2.0, 4.0):
        assert enc.decode(g + shift) == enc.decode(g)
    assert enc.decode(2.0 - g) == enc.decode(g)  # reflection at 1
