"""Resource bounds: no mapping on any design within a baseline's resources beats them in the model."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from cost_model.accelerator import builtin_accelerators, load_accelerator
from cost_model.evaluate import evaluate_mappings
from cost_model.stats import ST_CYCLES, ST_ENERGY, ST_STATUS
from mapping.random_mapping import random_mappings
from mapping.search import search_layer
from naas.bounds import compulsory_dram_words, layer_bounds, network_bounds
from naas.hardware_space import HardwareSpace
from nn_space.layers import ConvLayer
from nn_space.zoo import get_network

from .strategies import small_layers


def _check(layer: ConvLayer, acc, bound_acc, rng, count: int = 400) -> int:
    f, o = random_mappings(layer, acc, count, rng)
    stats = evaluate_mappings(layer, acc, f, o)
    ok = stats[:, ST_STATUS] == 0
    b = layer_bounds(layer, bound_acc)
    assert (stats[ok, ST_CYCLES] >= b.cycles * (1 - 1e-12)).all()
    assert (stats[ok, ST_ENERGY] >= b.energy * (1 - 1e-12)).all()
    return int(ok.sum())


@pytest.mark.parametrize("name", sorted(set(builtin_accelerators()) - {"tpu-v1"}))
def test_no_searched_or_random_mapping_beats_the_bounds_on_real_layers(name):
    acc = load_accelerator(name)
    rng = np.random.default_rng(0)
    valid = 0
    for net in ("mobilenetv2", "alexnet"):  # depthwise, strided, 1x1, large kernels, FC
        for layer, _ in get_network(net).unique_layers():
            valid += _check(layer, acc, acc, rng, 60)
            best = search_layer(layer, acc, budget=300, seed=0).stats  # near-optimal: close to the bound
            b = layer_bounds(layer, acc)
            assert best[ST_CYCLES] >= b.cycles * (1 - 1e-12) and best[ST_ENERGY] >= b.energy * (1 - 1e-12)
    assert valid > 100  # the check saw many valid random mappings


@settings(max_examples=40, deadline=None)
@given(layer=small_layers())
def test_no_mapping_on_a_searched_design_beats_the_baselines_bounds(layer):
    """Designs decoded from the hardware space (fewer or equal PEs, same bandwidth) obey the baseline's bounds."""
    base = load_accelerator("eyeriss")
    space = HardwareSpace(base, "full")
    rng = np.random.default_rng(layer.macs)
    for _ in range(3):
        design = space.decode(rng.random(space.size))
        _check(layer, design, base, rng, 100)


def test_compulsory_words_and_network_sum():
    dw = ConvLayer.conv(32, 32, 112, 3, 1, groups=32)
    assert compulsory_dram_words(dw) == (32 * 9 + 32 * 112 * 112, 32 * 112 * 112)
    fc = ConvLayer.fc(1024, 10)
    assert compulsory_dram_words(fc) == (1024 * 10 + 1024, 10)
    acc = load_accelerator("eyeriss")
    net = get_network("squeezenet")
    total = network_bounds(net, acc)
    parts = [(layer_bounds(layer, acc), n) for layer, n in net.unique_layers()]
    assert total.cycles == pytest.approx(sum(b.cycles * n for b, n in parts))
    assert total.energy == pytest.approx(sum(b.energy * n for b, n in parts))
    assert total.edp == total.cycles * total.energy
