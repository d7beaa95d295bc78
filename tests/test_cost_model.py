"""Cost-model invariants, validity errors, batched vs single calls, network totals."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cost_model.accelerator import load_accelerator
from cost_model.evaluate import (InvalidMappingError, evaluate_layer, evaluate_mappings,
                                 evaluate_network, evaluate_stats)
from cost_model.stats import STAT_INDEX
from mapping.default_mapping import default_mapping
from mapping.random_mapping import random_mappings
from mapping.spec import Mapping, MappingSpecError
from nn_space.layers import ConvLayer
from nn_space.zoo import NETWORKS, get_network

from .strategies import mappings_for, roomy_accelerator, small_layers

BUILTINS = ["eyeriss", "shidiannao", "nvdla-256", "nvdla-1024", "edgetpu", "tpu-v1"]


@pytest.mark.parametrize("acc_name", BUILTINS)
def test_default_mapping_valid_for_every_network(acc_name):
    acc = load_accelerator(acc_name)
    for name in NETWORKS:
        net = get_network(name)
        cost = evaluate_network(net, acc, default_mapping)
        assert cost.macs == net.macs
        assert 0 < cost.utilization <= 1
        assert math.isclose(cost.edp, cost.energy * cost.cycles)
        assert all(lc.mapping.label.startswith("default") for lc in cost.layers)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_invariants_on_random_valid_mappings(data):
    layer = data.draw(small_layers(max_macs=20000))
    mapping, parallel = data.draw(mappings_for(layer))
    acc = roomy_accelerator(parallel, mapping)
    s = evaluate_stats(layer, acc, mapping)
    if s[0] != 0:
        return
    g = lambda k: s[STAT_INDEX[k]]  # noqa: E731
    parts = sum(g(f"energy_{k}") for k in ("mac", "l1", "noc", "l2", "dram"))
    assert math.isclose(parts, g("energy"), rel_tol=1e-12)
    assert g("macs") == layer.macs <= g("padded_macs")
    assert 0 < g("utilization") <= 1
    assert g("cycles") >= g("compute_cycles") >= g("padded_macs") / acc.num_pes
    # compulsory traffic: every weight, input and output crosses DRAM at least once
    n, k, c, y, x, r, sd = layer.loop_bounds
    assert g("dram_W_reads") >= layer.weight_count
    used_rows = len({i * layer.stride_y + j for i in range(y) for j in range(r)})  # stride > kernel skips rows
    used_cols = len({i * layer.stride_x + j for i in range(x) for j in range(sd)})
    assert g("dram_I_reads") >= n * (k if layer.depthwise else c) * used_rows * used_cols * layer.repeats
    assert g("dram_O_updates") >= n * k * y * x * layer.repeats
    # every fill into L1 was read from L2 (multicast can only save reads)
    for t in "WIO":
        assert g(f"l2_{t}_reads") <= g(f"l1_{t}_fills")
    assert g("edp") == pytest.approx(g("energy") * g("cycles"), rel=1e-12)


def test_batched_equals_single_and_rejects_invalid():
    acc = load_accelerator("eyeriss")
    layer = get_network("resnet50").layers[5]
    f, o = random_mappings(layer, acc, 3000, np.random.default_rng(1))
    batch = evaluate_mappings(layer, acc, f, o)
    statuses = set((batch[:, 0] // 16).astype(int))
    assert 0 in statuses and statuses - {0}, "want both valid and invalid draws"
    for i in range(0, 3000, 97):
        single = evaluate_stats(layer, acc, Mapping.from_arrays(f[i], o[i]))
        assert np.array_equal(single, batch[i])


def test_grouped_conv_costs_groups_times_one_group():
    acc = load_accelerator("nvdla-256")
    grouped = ConvLayer(k=64, c=32, y=14, x=14, r=3, s=3, groups=4)
    one = ConvLayer(k=16, c=8, y=14, x=14, r=3, s=3)
    m = default_mapping(one, acc)
    a, b = evaluate_layer(grouped, acc, m), evaluate_layer(one, acc, m)
    assert a.macs == 4 * b.macs
    assert a.energy == pytest.approx(4 * b.energy) and a.cycles == pytest.approx(4 * b.cycles)
    assert a.utilization == pytest.approx(b.utilization)


def test_capacity_errors_say_which_tile_overflows_which_buffer():
    acc = load_accelerator("eyeriss")  # L1 partition: 224 weight, 12 input, 24 output words
    layer = ConvLayer(k=16, c=8, y=14, x=14, r=3, s=3, name="c3")
    too_many_inputs = Mapping(dram={"K": 16, "C": 8}, l2={}, spatial={"R": 3, "Y": 14},
                              l1={"S": 3, "X": 14})
    with pytest.raises(InvalidMappingError, match=r"'c3' on eyeriss: L1 overflow: the inputs tile is 16 "
                                                  r"words, its L1 partition holds 12 \(tiles: weights 3,"):
        evaluate_layer(layer, acc, too_many_inputs)
    big = ConvLayer(k=512, c=512, y=14, x=14, r=3, s=3)
    too_big_l2 = Mapping(dram={}, l2={"K": 512, "C": 512, "S": 3, "X": 14}, spatial={"R": 3, "Y": 14},
                         l1={})
    with pytest.raises(InvalidMappingError, match=r"L2 overflow: the array's tiles take \d+ words, the global "
                                                  r"buffer holds 55296"):
        evaluate_layer(big, acc, too_big_l2)


def test_coverage_and_spatial_errors():
    acc = load_accelerator("nvdla-256")
    layer = ConvLayer(k=32, c=32, y=7, x=7)
    with pytest.raises(InvalidMappingError, match="factors of K multiply to less"):
        evaluate_layer(layer, acc, Mapping(dram={"C": 2, "Y": 7, "X": 7}, l2={"K": 2}, spatial={"K": 8, "C": 16}, l1={}))
    with pytest.raises(InvalidMappingError, match=r"spatial factor Y=7, but no array axis parallelizes Y"):
        evaluate_layer(layer, acc, Mapping(dram={"K": 2, "C": 2, "X": 7}, l2={}, spatial={"K": 16, "C": 16, "Y": 7}, l1={}))
    with pytest.raises(InvalidMappingError, match=r"axis 0 \(K\): K=32 = 32, more than the axis size 16"):
        evaluate_layer(layer, acc, Mapping(dram={"C": 2, "Y": 7, "X": 7}, l2={}, spatial={"K": 32, "C": 16}, l1={}))
    with pytest.raises(InvalidMappingError, match="pad more than needed"):
        evaluate_layer(layer, acc, Mapping(dram={"K": 2, "C": 2, "Y": 7, "X": 7}, l2={"K": 2}, spatial={"K": 16, "C": 16}, l1={}))
    # 4 x 16 = 64 for K = 32 pads but drops no factor: valid, and the padding costs cycles
    padded = evaluate_layer(layer, acc, Mapping(dram={"K": 4, "C": 2, "Y": 7, "X": 7}, l2={}, spatial={"K": 16, "C": 16}, l1={}))
    exact = evaluate_layer(layer, acc, Mapping(dram={"K": 2, "C": 2, "Y": 7, "X": 7}, l2={}, spatial={"K": 16, "C": 16}, l1={}))
    assert padded["padded_macs"] == 2 * exact["padded_macs"] and padded.macs == exact.macs
    assert padded.utilization < exact.utilization


def test_malformed_mappings_name_the_field():
    with pytest.raises(MappingSpecError, match=r"l2\.K: 0 \(allowed: integer >= 1\)"):
        Mapping(dram={}, l2={"K": 0}, spatial={}, l1={})
    with pytest.raises(MappingSpecError, match="not a permutation"):
        Mapping(dram={}, l2={}, spatial={}, l1={}, l2_order="NKCYXR")
    with pytest.raises(MappingSpecError, match="unknown loop dimension 'Z'"):
        Mapping(dram={"Z": 2}, l2={}, spatial={}, l1={})
    m = Mapping(dram={"M": 2, "P": 3}, l2={}, spatial={}, l1={}, l2_order="MCPQRSN")  # Timeloop names
    assert m.dram[1] == 2 and m.dram[3] == 3 and m.l2_order == "KCYXRSN"


def test_loop_nest_printout():
    m = Mapping(dram={"K": 2}, l2={"C": 4}, spatial={"Y": 14}, l1={"S": 3})
    text = m.loop_nest(("R", "Y"))
    assert "for K in [0:2)" in text and "par-for Y in [0:14) (array dim 1)" in text
    assert text.index("DRAM") < text.index("L2") < text.index("L1 (per PE)") < text.index("MAC")


def test_default_mapping_reports_buffers_that_hold_nothing():
    from dataclasses import replace
    acc = replace(load_accelerator("nvdla-256"), l2_bytes=64.0)
    with pytest.raises(MappingSpecError, match="no default mapping fits: L2 overflow"):
        default_mapping(ConvLayer(k=64, c=64, y=7, x=7, r=3, s=3), acc)
