"""Mapping search and default mappings on general hierarchies."""
from __future__ import annotations

import numpy as np
import pytest

from cost_model.hierarchy_yaml import builtin_hierarchies, load_hierarchy
from cost_model.nest_evaluate import evaluate_nest, evaluate_nests
from cost_model.nest_layout import R_EDP, R_STATUS
from mapping.nest_default import nest_default_mapping, nest_default_mappings
from mapping.nest_encoding import NestEncoder
from mapping.nest_random import random_nest_mappings
from mapping.nest_search import search_nest_layer
from nn_space.layers import ConvLayer
from nn_space.zoo import get_network

LAYERS = [ConvLayer(k=64, c=64, y=28, x=28, r=3, s=3), ConvLayer(k=256, c=64, y=56, x=56),
          ConvLayer(k=96, c=96, y=28, x=28, r=3, s=3, stride_y=2, stride_x=2, groups=96),
          ConvLayer(k=64, c=3, y=112, x=112, r=7, s=7, stride_y=2, stride_x=2)]


@pytest.mark.parametrize("name", builtin_hierarchies())
def test_default_mappings_fit_every_builtin(name):
    hier = load_hierarchy(name)
    for layer in LAYERS:
        for m in nest_default_mappings(layer, hier):
            evaluate_nest(layer, hier, m)  # raises if invalid


def test_search_is_reproducible_and_beats_the_defaults():
    hier = load_hierarchy("eyeriss-hier")
    layer = LAYERS[0]
    a = search_nest_layer(layer, hier, budget=600, seed=1)
    b = search_nest_layer(layer, hier, budget=600, seed=1)
    assert a.mapping == b.mapping and a.best == b.best
    assert a.evaluations == 600
    best_default = min(evaluate_nest(layer, hier, m).edp for m in nest_default_mappings(layer, hier))
    assert a.best <= best_default
    assert evaluate_nest(layer, hier, a.mapping).edp == a.best


def test_cma_beats_random_search_at_equal_budget():
    hier = load_hierarchy("nvdla-256-hier")
    wins = 0
    for seed in range(3):
        cma = search_nest_layer(LAYERS[1], hier, budget=1500, seed=seed)
        rnd = search_nest_layer(LAYERS[1], hier, budget=1500, seed=seed, method="random")
        wins += cma.best < rnd.best
    assert wins >= 2


def test_exact_factors_multiply_to_the_bounds():
    hier = load_hierarchy("eyeriss-hier")
    layer = ConvLayer(k=24, c=18, y=14, x=14, r=3, s=3)
    r = search_nest_layer(layer, hier, budget=400, seed=0, exact=True)
    assert r.mapping.covered_bounds() == layer.loop_bounds


def test_decode_covers_every_dim_and_respects_fanouts():
    hier = load_hierarchy("tpu-v1-hier")
    layer = ConvLayer(k=300, c=70, y=9, x=9, r=3, s=3)
    enc = NestEncoder(layer, hier)
    tf, sf, orders = enc.decode_batch(np.random.default_rng(0).random((500, enc.size)))
    cover = (tf * sf).prod(axis=1)
    assert (cover >= np.array(layer.loop_bounds)).all()
    assert (sf[:, 1, 1] <= 256).all() and (sf[:, 2, 2] <= 256).all()
    assert (orders[:, :, 0] == 0).all() and (np.sort(orders, axis=2) == np.arange(7)).all()
    stats = evaluate_nests(layer, hier, tf, sf, orders)
    assert (stats[:, R_STATUS] != 3).all()  # never uncovered


def test_encode_round_trips_the_default_mapping():
    hier = load_hierarchy("shidiannao-hier")
    layer = ConvLayer(k=16, c=8, y=16, x=16, r=3, s=3)
    m = nest_default_mapping(layer, hier, "output-stationary")
    enc = NestEncoder(layer, hier)
    tf, sf, orders = enc.decode_batch(enc.encode(m)[None])
    assert np.array_equal(orders[0], m.order_array)
    assert (tf[0] * sf[0]).prod(axis=0).tolist() == list(m.covered_bounds())


def test_random_mappings_are_well_formed():
    hier = load_hierarchy("edgetpu-hier")
    layer = get_network("mobilenetv2").layers[3]
    tf, sf, orders = random_nest_mappings(layer, hier, 300, np.random.default_rng(0), exact=True)
    assert ((tf * sf).prod(axis=1) == np.array(layer.loop_bounds)).all()
    stats = evaluate_nests(layer, hier, tf, sf, orders)
    assert (stats[:, R_STATUS] == 0).any()
    assert (stats[stats[:, R_STATUS] == 0, R_EDP] > 0).all()


def test_exact_search_never_returns_a_padded_default():
    """With exact=True the (padded) default mappings are only a start, never the answer."""
    hier = load_hierarchy("eyeriss-hier")
    for layer in (ConvLayer(k=64, c=3, y=55, x=55, r=11, s=11, stride_y=4, stride_x=4),
                  ConvLayer(k=256, c=384, y=13, x=13, r=3, s=3)):
        r = search_nest_layer(layer, hier, budget=300, seed=0, exact=True)
        assert r.mapping.covered_bounds() == layer.loop_bounds


def _small_register_hierarchy():
    from cost_model.accelerator import ArrayDim, Bandwidth
    from cost_model.hierarchy import Hierarchy, StorageLevel

    return Hierarchy("small-reg", (
        StorageLevel("DRAM", energy="dram", bandwidth=Bandwidth(shared=2.0)),
        StorageLevel("GLB", size_bytes=512, fanout=(ArrayDim(4, ("K", "C")),)),
        StorageLevel("PE", size_bytes=24, energy="spad"),
        StorageLevel("Reg", size_bytes=6, energy="spad")))


@pytest.mark.parametrize("layer", [ConvLayer(k=4, c=2, y=3, x=2, r=3, s=1),
                                   ConvLayer(k=4, c=4, y=4, x=1, stride_y=2),
                                   ConvLayer(k=3, c=3, y=3, x=3, r=3, s=1, groups=3)],
                         ids=["3x1", "1x1s2", "depthwise"])
def test_search_reaches_the_exhaustive_optimum_with_a_register(layer):
    import statistics

    from mapping.nest_exhaustive import nest_exhaustive_search, nest_space_size

    hier = _small_register_hierarchy()
    best, stats, evaluated = nest_exhaustive_search(layer, hier)
    assert evaluated == nest_space_size(layer, hier)
    optimum = stats[R_EDP]
    assert evaluate_nest(layer, hier, best).edp == optimum
    found = [search_nest_layer(layer, hier, budget=2000, seed=s, x0="random").best for s in range(5)]
    assert min(found) >= optimum * (1 - 1e-12)  # nothing beats the exhaustive optimum
    assert statistics.median(found) <= 1.05 * optimum
