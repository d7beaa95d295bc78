"""The hardware space on general hierarchies, and the hardware search and co-search over it."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_model.accelerator import TENSORS, load_accelerator
from cost_model.evaluate import NetworkEvaluationError
from cost_model.hierarchy import hierarchy_from_accelerator
from cost_model.hierarchy_yaml import HIERARCHY_DIR, load_hierarchy
from mapping.nest_network_search import NestMappingCache, default_nest_network, search_nest_network_best_of
from mapping.network_search import SearchSettings
from naas.bounds import network_bounds
from naas.designs import design_from_dict, design_to_dict, energy_classes
from naas.hardware_search import HardwareSearchConfig, run_hardware_search
from naas.hardware_space import ARRAY_STEP, BUFFER_STEP, MODES
from naas.hierarchy_space import WORD_STEP_BELOW, HierarchySpace
from naas.run_store import RunStore
from nn_space.layers import ConvLayer, Network

HIERS = {p.stem: load_hierarchy(p) for p in sorted(HIERARCHY_DIR.glob("*.yaml"))}
HIERS["eyeriss-template"] = hierarchy_from_accelerator(load_accelerator("eyeriss"))
HIERS["nvdla-256-template"] = hierarchy_from_accelerator(load_accelerator("nvdla-256"))  # unified L1


def _structure(h):
    return [(lv.name, lv.keeps, lv.energy, lv.read_energy, lv.bandwidth, bool(lv.fanout)) for lv in h.levels]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(HIERS))
@settings(max_examples=30, deadline=None)
@given(genome=st.lists(st.floats(-0.5, 1.5), min_size=40, max_size=40))
def test_decoded_designs_respect_caps_steps_and_structure(name, mode, genome):
    base = HIERS[name]
    hs = HierarchySpace(base, mode)
    h = hs.decode(np.array(genome[:hs.size]))
    assert hs.fits(h)
    assert h.num_macs <= base.num_macs and h.onchip_bytes <= base.onchip_bytes + 1e-9
    assert _structure(h) == _structure(base)
    axes = [a for lv in h.levels for a in lv.fanout]
    assert all(a.size % ARRAY_STEP == 0 for a in axes)
    assert all(1 <= len(lv.fanout) <= 3 for lv in h.levels if lv.fanout)
    if mode == "sizing":
        assert [[a.dims for a in lv.fanout] for lv in h.levels] == [[a.dims for a in lv.fanout] for lv in base.levels]
        assert [lv.partition is None for lv in h.levels] == [lv.partition is None for lv in base.levels]
    else:
        dims = [d for a in axes for d in a.dims]
        assert len(dims) == len(set(dims))
    bits = dict(zip(TENSORS, base.tensor_bits))
    for lv, blv in zip(h.levels[1:], base.levels[1:]):
        if not lv.keeps or math.isinf(blv.size_bytes):
            continue
        parts = ([(lv.partition[TENSORS.index(t)], [t], blv.capacity_bytes(t) if blv.partition else blv.size_bytes)
                  for t in lv.keeps] if lv.partition else [(lv.size_bytes, list(lv.keeps), blv.size_bytes)])
        for size, tensors, base_size in parts:
            assert size * 8 >= sum(bits[t] for t in tensors)  # at least one word of each kept tensor
            if base_size >= WORD_STEP_BELOW:
                assert size % BUFFER_STEP == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(HIERS))
def test_baseline_is_in_the_space_and_designs_round_trip(name, mode):
    base = HIERS[name]
    hs = HierarchySpace(base, mode)
    b = hs.baseline_in_space()
    assert [lv.fanout for lv in b.levels] == [lv.fanout for lv in base.levels]
    assert [lv.size_bytes for lv in b.levels] == [lv.size_bytes for lv in base.levels]
    assert [lv.partition for lv in b.levels] == [lv.partition for lv in base.levels]
    rng = np.random.default_rng(1)
    for _ in range(50):
        h = hs.decode(rng.random(hs.size))
        assert hs.decode(hs.encode(h)).levels == h.levels
        assert design_from_dict(design_to_dict(h)).levels == h.levels


def test_a_unified_per_pe_level_can_be_split_per_tensor():
    base = HIERS["nvdla-256-template"]
    assert base.levels[2].partition is None and len(base.levels[2].keeps) == 3
    hs = HierarchySpace(base, "full")
    split_gene = next(s for i, s, _, _ in hs._levels if i == 2)
    g = np.full(hs.size, 0.5)
    g[split_gene] = 0.9
    split = hs.decode(g)
    g[split_gene] = 0.1
    unified = hs.decode(g)
    assert split.levels[2].partition is not None and unified.levels[2].partition is None
    assert hs.fits(split) and hs.fits(unified)
    assert HierarchySpace(base, "sizing").decode(np.full(HierarchySpace(base, "sizing").size, 0.9)).levels[2].partition \
        is None  # sizing keeps the baseline's organisation


def test_dataflow_starts_are_distinct_designs_in_the_space():
    hs = HierarchySpace(HIERS["nvdla-256-hier"], "full")
    starts = hs.start_genomes("dataflows")
    designs = [hs.decode(g) for g in starts]
    assert len(starts) > 1 and len({repr(d.levels) for d in designs}) == len(designs)
    assert designs[0].levels == hs.baseline_in_space().levels
    assert all(hs.fits(d) for d in designs)


SMALL = Network("small", (ConvLayer(k=32, c=16, y=14, x=14, r=3, s=3, name="a"),
                          ConvLayer(k=32, c=32, y=14, x=14, r=1, s=1, name="b")))


@pytest.mark.parametrize("name", ["eyeriss-hier", "nvdla-256-hier", "shidiannao-hier"])
def test_bounds_and_energy_classes_on_hierarchies(name):
    base = HIERS[name]
    hs = HierarchySpace(base, "full")
    rng = np.random.default_rng(2)
    bound = network_bounds(SMALL, base)
    for h in [base] + [hs.decode(rng.random(hs.size)) for _ in range(6)]:
        try:
            cost = default_nest_network(SMALL, h)
        except NetworkEvaluationError:  # a random design may leave a layer unmappable
            continue
        assert cost.cycles >= bound.cycles * (1 - 1e-12)
        assert cost.energy >= bound.energy * (1 - 1e-12)
        classes = energy_classes(cost)
        assert set(classes) == {"mac", "l1", "noc", "l2", "dram"}
        assert sum(classes.values()) == pytest.approx(cost.energy, rel=1e-12)


def test_hardware_search_on_a_hierarchy_costs_designs_as_the_nest_search_does(tmp_path):
    cfg = HardwareSearchConfig(baseline="eyeriss-hier", networks=("squeezenet",), budget=8, popsize=4,
                               inner_budget=60, final_budget=0, seed=3,
                               warm_start="baseline", inner_start="default", inner_sigma0=0.25, final_portfolio=False)
    best = run_hardware_search(cfg, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    try:
        designs = store.designs()
        base_fit = designs[designs.generation == -1].fitness.iloc[0]
        warm = designs[designs.generation == 0].iloc[0]
    finally:
        store.close()
    from nn_space.zoo import get_network

    settings_ = (cfg.mapping_settings(),)
    net = get_network("squeezenet")
    assert base_fit == pytest.approx(search_nest_network_best_of(net, HIERS["eyeriss-hier"], settings_,
                                                                 NestMappingCache()).edp, rel=1e-12)
    hs = HierarchySpace(HIERS["eyeriss-hier"], "full")
    assert warm.fitness == pytest.approx(search_nest_network_best_of(net, hs.baseline_in_space(), settings_).edp,
                                         rel=1e-12)
    assert best["fitness"] <= warm.fitness
    saved = load_hierarchy(tmp_path / "run" / "best.yaml")
    assert saved.levels == hs.decode(np.array(best["genome"])).levels


def test_a_resumed_hierarchy_search_ends_as_an_uninterrupted_one(tmp_path):
    cfg = HardwareSearchConfig(baseline="shidiannao-hier", networks=("squeezenet",), mode="sizing", budget=10,
                               popsize=3, inner_budget=40, final_budget=0, seed=1,
                               warm_start="baseline", inner_start="default", inner_sigma0=0.25, final_portfolio=False)
    whole = run_hardware_search(cfg, tmp_path / "whole")
    from dataclasses import replace

    run_hardware_search(replace(cfg, budget=4), tmp_path / "part")
    resumed = run_hardware_search(None, tmp_path / "part", resume=True, budget=10)
    assert (resumed["fitness"], resumed["genome"]) == (whole["fitness"], whole["genome"])


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "naas", *args], capture_output=True, text=True, timeout=300)


def test_cli_search_on_a_hierarchy_with_a_bad_network_is_one_line(tmp_path):
    r = _cli("search", "--baseline", "eyeriss-hier", "--networks", "nonet", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "--networks" in r.stderr
    assert not (tmp_path / "r").exists()


def test_index_encoding_spans_the_same_orders_as_importance():
    from mapping.nest import NestMapping
    from mapping.nest_encoding import NestEncoder

    hier, layer = HIERS["eyeriss-hier"], SMALL.layers[0]
    index, importance = NestEncoder(layer, hier, encoding="index"), NestEncoder(layer, hier)
    assert index.size == importance.size - 5 * hier.num_levels
    tf, sf, orders = index.decode_batch(np.random.default_rng(4).random((40, index.size)))
    for i in range(40):
        m = NestMapping.from_arrays(tf[i], sf[i], orders[i])
        for enc in (index, importance):
            assert (enc.decode_batch(enc.encode(m)[None])[2][0] == orders[i]).all()


def test_inner_search_settings_keep_their_meaning_on_hierarchies():
    layer = SMALL.layers[0]
    cache = NestMappingCache()
    a = cache.result(layer, HIERS["eyeriss-hier"], SearchSettings(budget=80, x0="default"))
    b = cache.result(layer, HIERS["eyeriss-hier"], SearchSettings(budget=80, x0="best-default"))
    assert a.best == b.best and cache.searches == 1  # no dataflow on a hierarchy: one search, the best default
    with pytest.raises(ValueError, match="method"):
        cache.result(layer, HIERS["eyeriss-hier"], SearchSettings(budget=80, method="exhaustive"))
