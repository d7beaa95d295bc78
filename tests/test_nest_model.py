"""The general-hierarchy kernel must equal the literal loop-nest simulator exactly, on random hierarchies."""
from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cost_model.accelerator import ArrayDim
from cost_model.hierarchy import Hierarchy, StorageLevel
from cost_model.nest_evaluate import NestCost, evaluate_nest, nest_stats
from cost_model.nest_layout import ACTIONS, CAPACITY, OVER_COVERED, R_STATUS, TENSOR_KEYS
from cost_model.nest_sim import simulate_nest
from mapping.nest import LevelMapping, NestMapping
from nn_space.layers import ConvLayer

from .nest_strategies import hierarchies_and_mappings

EXACT_LEVEL = tuple(f"{t}_{a}" for t in TENSOR_KEYS for a in ACTIONS) + tuple(f"tile_{t}" for t in TENSOR_KEYS) \
    + ("instances",)
CLOSE_LEVEL = ("cycles", "energy", "energy_network")
EXAMPLES = 400 if os.environ.get("CI") else 200


def assert_nest_equals_simulator(layer, hier, mapping) -> dict:
    stats = nest_stats(layer, hier, mapping)
    assert stats[R_STATUS] == 0, f"kernel refused a valid mapping: {stats[:3]}"
    cost = NestCost(layer, hier, mapping, stats)
    sim = simulate_nest(layer, hier, mapping)
    for i, lv in enumerate(hier.levels):
        for f in EXACT_LEVEL:
            assert cost.level(i, f) == sim[lv.name][f], (lv.name, f, cost.level(i, f), sim[lv.name][f])
        for f in CLOSE_LEVEL:
            assert math.isclose(cost.level(i, f), sim[lv.name][f], rel_tol=1e-12, abs_tol=1e-9), (lv.name, f)
    for f in ("macs", "padded_macs", "active_macs"):
        assert cost[f] == sim[f], f
    assert cost["compute_cycles"] == sim["compute_cycles"]
    for f in ("cycles", "energy", "edp", "utilization"):
        assert math.isclose(cost[f], sim[f], rel_tol=1e-12), (f, cost[f], sim[f])
    return sim


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                       HealthCheck.data_too_large])


@settings(max_examples=EXAMPLES, **_SETTINGS)
@given(case=hierarchies_and_mappings())
def test_random_hierarchies_equal_the_simulator(case):
    layer, hier, mapping = case
    assume(int(nest_stats(layer, hier, mapping)[R_STATUS]) != OVER_COVERED)
    assert_nest_equals_simulator(layer, hier, mapping)


@settings(max_examples=EXAMPLES // 2, **_SETTINGS)
@given(case=hierarchies_and_mappings(capacity="tight"))
def test_tiles_that_exactly_fit_are_accepted(case):
    layer, hier, mapping = case
    assume(int(nest_stats(layer, hier, mapping)[R_STATUS]) != OVER_COVERED)
    sim = assert_nest_equals_simulator(layer, hier, mapping)
    for lv in hier.levels[1:]:  # the simulator's largest tile is the one the capacity was sized to
        assert all(sim[lv.name][f"tile_{t}"] >= 0 for t in TENSOR_KEYS)


@settings(max_examples=EXAMPLES // 2, **_SETTINGS)
@given(case=hierarchies_and_mappings(capacity="random"))
def test_capacity_refusals_name_the_level(case):
    layer, hier, mapping = case
    stats = nest_stats(layer, hier, mapping)
    assume(int(stats[R_STATUS]) != OVER_COVERED)
    bits = hier.tensor_bits
    sim = simulate_nest(layer, hier, mapping)
    fits = True
    for lv in hier.levels[1:]:
        need = [sim[lv.name][f"tile_{t}"] * bits[i] / 8 for i, t in enumerate(TENSOR_KEYS)]
        if lv.partition is not None:
            fits &= all(need[i] <= lv.partition[i] for i in range(3) if need[i])
        else:
            fits &= sum(need) <= lv.size_bytes
    assert (stats[R_STATUS] == 0) == fits
    if not fits:
        assert stats[R_STATUS] == CAPACITY
        with pytest.raises(Exception, match=r"level L\d overflows"):
            evaluate_nest(layer, hier, mapping)


def _two_level_pe(register_words: int | None, order: str) -> tuple:
    """DRAM -> GLB -> 4 PEs (K) -> PE buffer [-> register] -> MAC, for the named L1 order."""
    layer = ConvLayer(k=4, c=4, y=4, x=4, r=3, s=3)
    levels = [StorageLevel("DRAM", energy="dram"),
              StorageLevel("GLB", size_bytes=64 * 1024, fanout=(ArrayDim(4, "K"),)),
              StorageLevel("PE", energy="spad", size_bytes=1024)]
    maps = [LevelMapping({"Y": 2}, "NKCYXRS"), LevelMapping({}, "NKCYXRS", {"K": 4}),
            LevelMapping({"C": 4, "Y": 2, "X": 4, "R": 3, "S": 3}, order)]
    if register_words:
        levels.append(StorageLevel("Reg", energy="spad", size_bytes=register_words * 6))
        maps.append(LevelMapping())
    return layer, Hierarchy("pe", tuple(levels)), NestMapping(tuple(maps))


def test_register_level_makes_the_innermost_order_matter():
    """Without a register the L1 order changes nothing; with one, it decides what stays in the PE."""
    def cost(reg, order):
        layer, hier, m = _two_level_pe(reg, order)
        return evaluate_nest(layer, hier, m)
    assert cost(None, "NKCYXRS").energy == cost(None, "NKYXCRS").energy
    ws = cost(1, "NKCRSYX")  # Y, X innermost: the weight stays in the register
    os_ = cost(1, "NKYXCRS")  # C, R, S innermost: the partial sum stays
    assert ws.level("Reg", "W_fills") < os_.level("Reg", "W_fills")
    assert os_.level("PE", "O_updates") < ws.level("PE", "O_updates")  # the register sends up less
    assert ws.energy != os_.energy
    for order in ("NKCRSYX", "NKYXCRS"):
        assert_nest_equals_simulator(*_two_level_pe(1, order))


def test_rs_innermost_window_example():
    """SPEC §5: an input tile Y'2 x R1 at stride 2 (3 rows) x S3, R3 innermost above: 9 + 3 + 3 words."""
    layer = ConvLayer(k=1, c=1, y=2, x=1, r=3, s=3, stride_y=2)
    hier = Hierarchy("rs", (StorageLevel("DRAM", energy="dram"), StorageLevel("L1", energy="spad")))
    m = NestMapping((LevelMapping({"R": 3}, "NKCYXSR"), LevelMapping({"Y": 2, "S": 3})))
    cost = evaluate_nest(layer, hier, m)
    assert cost.level("L1", "I_fills") == 9 + 3 + 3
    assert simulate_nest(layer, hier, m)["L1"]["I_fills"] == 15


def test_multicast_cascades_through_a_bypassed_fanout():
    """Weights bypassing a cluster buffer are still multicast across the cluster's X fan-out (Timeloop
    v3.0.3's cascaded multicast); bypassing only moves the reads from the cluster buffer to the GLB."""
    layer = ConvLayer(k=2, c=2, y=4, x=4, r=1, s=1)
    def hier(cluster_keeps):
        return Hierarchy("cl", (
            StorageLevel("DRAM", energy="dram"),
            StorageLevel("GLB", fanout=(ArrayDim(2, "Y"),)),
            StorageLevel("Cluster", keeps=cluster_keeps, fanout=(ArrayDim(2, "X"),)),
            StorageLevel("PE", energy="spad")))
    m = NestMapping((LevelMapping(), LevelMapping({}, spatial={"Y": 2}), LevelMapping({}, spatial={"X": 2}),
                     LevelMapping({"K": 2, "C": 2, "Y": 2, "X": 2})))
    kept = evaluate_nest(layer, hier(("weights", "inputs", "outputs")), m)
    bypass = evaluate_nest(layer, hier(("inputs", "outputs")), m)
    assert bypass.level("GLB", "W_reads") == kept.level("GLB", "W_reads") == kept.level("Cluster", "W_fills") / 2
    assert bypass.level("PE", "W_fills") == kept.level("PE", "W_fills") == 2 * bypass.level("GLB", "W_reads") * 2
    for cl in (("weights", "inputs", "outputs"), ("inputs", "outputs")):
        assert_nest_equals_simulator(layer, hier(cl), m)


def test_level_count_mismatch_is_refused():
    layer, hier, m = _two_level_pe(None, "NKCYXRS")
    with pytest.raises(Exception, match="2 levels, pe has 3"):
        nest_stats(layer, hier, NestMapping(m.levels[:2]))


@settings(max_examples=50, **_SETTINGS)
@given(data=st.data())
def test_nest_mapping_round_trips_through_its_dict(data):
    from mapping.nest import nest_mapping_from_dict

    layer, hier, m = data.draw(hierarchies_and_mappings())
    back = nest_mapping_from_dict(m.to_dict(hier.level_names), hier.level_names)
    assert back == m


def test_row_stationary_windows_share_reads():
    """R x Y on one fan-out: PEs whose rows y + r coincide need one input tile, read once."""
    layer = ConvLayer(k=2, c=2, y=5, x=3, r=3, s=3)
    hier = Hierarchy("rs", (StorageLevel("DRAM", energy="dram"),
                            StorageLevel("GLB", fanout=(ArrayDim(3, "R"), ArrayDim(5, "Y"))),
                            StorageLevel("PE", energy="spad")))
    m = NestMapping((LevelMapping({"K": 2}), LevelMapping({"C": 2, "X": 3}, spatial={"R": 3, "Y": 5}),
                     LevelMapping({"S": 3})))
    sim = assert_nest_equals_simulator(layer, hier, m)
    assert sim["GLB"]["I_reads"] * 15 == sim["PE"]["I_fills"] * 7  # 7 distinct rows among 15 PEs


@settings(max_examples=EXAMPLES, **_SETTINGS)
@given(data=st.data())
def test_three_level_template_costs_the_same_in_both_models(data):
    """hierarchy_from_accelerator + NestMapping.from_template reproduce the 3-level kernel exactly."""
    from cost_model.evaluate import evaluate_stats
    from cost_model.hierarchy import hierarchy_from_accelerator
    from cost_model.stats import STAT_INDEX

    from .strategies import mappings_for, roomy_accelerator, small_layers

    layer = data.draw(small_layers())
    m, parallel = data.draw(mappings_for(layer))
    acc = roomy_accelerator(parallel, m, one_axis=data.draw(st.booleans()))
    old = evaluate_stats(layer, acc, m)
    new = nest_stats(layer, hierarchy_from_accelerator(acc), NestMapping.from_template(m))
    assert (old[0] == 0) == (new[R_STATUS] == 0)
    assume(old[0] == 0)
    cost = NestCost(layer, hierarchy_from_accelerator(acc), NestMapping.from_template(m), new)
    for i, lvl in enumerate(("dram", "l2", "l1")):
        for t in TENSOR_KEYS:
            for a in ACTIONS:
                assert old[STAT_INDEX[f"{lvl}_{t}_{a}"]] == cost.level(i, f"{t}_{a}"), (lvl, t, a)
    for f in ("energy", "cycles", "edp", "utilization", "macs", "padded_macs"):
        assert math.isclose(old[STAT_INDEX[f]], cost[f], rel_tol=1e-12), f


@pytest.mark.parametrize("name", ["eyeriss", "nvdla-256", "shidiannao", "edgetpu", "nvdla-1024", "tpu-v1"])
def test_builtin_template_capacity_checks_agree(name):
    """On the built-ins' real capacities, both models accept and refuse the same default-like mappings."""
    from cost_model.accelerator import load_accelerator
    import numpy as np

    from cost_model.evaluate import evaluate_mappings
    from cost_model.hierarchy import hierarchy_from_accelerator
    from cost_model.nest_evaluate import evaluate_nests
    from cost_model.nest_layout import R_EDP
    from cost_model.stats import STAT_INDEX
    from mapping.nest import template_arrays
    from mapping.random_mapping import random_mappings

    acc = load_accelerator(name)
    layer = ConvLayer(k=64, c=32, y=14, x=14, r=3, s=3)
    factors, orders = random_mappings(layer, acc, 2000, np.random.default_rng(3))
    old = evaluate_mappings(layer, acc, factors, orders)
    new = evaluate_nests(layer, hierarchy_from_accelerator(acc), *template_arrays(factors, orders))
    ok = old[:, 0] == 0
    assert np.array_equal(ok, new[:, R_STATUS] == 0)
    assert 0 < ok.sum() < len(ok)  # both valid and refused mappings were compared
    assert np.allclose(old[ok, STAT_INDEX["edp"]], new[ok, R_EDP], rtol=1e-12, atol=0)


def _lm(factors=None, order="NKCYXRS", spatial=None):
    return LevelMapping(factors or {}, order, spatial or {})


#: Input fills that timeloop-model v3.0.3 reports for these cases (TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION=1,
#: exported by cost_model/timeloop_arch.py); the old same-loop rule gave the figure in the comment.
TIMELOOP_WINDOW_CASES = {
    # S innermost, X outer: the X step nets +1 column, S's own step: credit (old rule 6)
    "x-continues-s": (dict(x=4, s=2), [_lm({"X": 2, "S": 2}, "NKCYRXS"), _lm({"X": 2})], None, {"L1": 5}),
    # rows: Y over R (old 6)
    "y-continues-r": (dict(y=4, r=2), [_lm({"Y": 2, "R": 2}, "NKCXSYR"), _lm({"Y": 2})], None, {"L1": 5}),
    # the X step nets 0: the unchanged tile is fetched whole
    "zero-net-move": (dict(x=4, s=4), [_lm({"X": 2, "S": 2}, "NKCYRXS"), _lm({"X": 2, "S": 2})], None,
                      {"L1": 10}),
    # K innermost: the X step nets 0 like K's steps: nothing fetched (old 4)
    "k-innermost": (dict(k=2, x=2, s=2), [_lm({"X": 2, "S": 2, "K": 2}, "NCYRXSK"), _lm()], None, {"L1": 3}),
    # a K step resets, the X wrap still continues S's stride (old 12)
    "k-between": (dict(k=2, x=4, s=2), [_lm({"X": 2, "K": 2, "S": 2}, "NCYRXKS"), _lm({"X": 2})], None,
                  {"L1": 11}),
    # the same dim at two levels: the whole sweep is one stride (old L1 8)
    "two-levels": (dict(x=4, s=3), [_lm({"X": 2}), _lm({"X": 2}), _lm({"S": 3})], None, {"L2": 6, "L1": 6}),
    # a fan-out enlarges the X step to 4 columns; 4 - 2 = S's step (old 20)
    "fanout-step": (dict(x=8, s=4), [_lm({"X": 2, "S": 2}, "NKCYRXS", {"X": 2}), _lm({"X": 2, "S": 2})], "X",
                    {"L1": 18}),
}


@pytest.mark.parametrize("case", sorted(TIMELOOP_WINDOW_CASES))
def test_sliding_windows_as_timeloop_counts_them(case):
    dims, levels, fan_dim, fills = TIMELOOP_WINDOW_CASES[case]
    layer = ConvLayer(**{"k": 1, "c": 1, "y": 1, "x": 1, "r": 1, "s": 1, **dims})
    names = ["DRAM", "L1"] if len(levels) == 2 else ["DRAM", "L2", "L1"]
    fanout = (ArrayDim(2, fan_dim),) if fan_dim else ()
    hier = Hierarchy("w", tuple(StorageLevel(n, energy="dram" if i == 0 else "spad", fanout=fanout if i == 0 else ())
                                for i, n in enumerate(names)))
    m = NestMapping(tuple(levels))
    sim = assert_nest_equals_simulator(layer, hier, m)
    for level, words in fills.items():
        assert sim[level]["I_fills"] == words, (level, sim[level]["I_fills"])
