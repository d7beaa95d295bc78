"""UnitBox and the greedy default mapping: faster paths that must give exactly what they replace."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from cma.boundary_handler import BoundTransform
from hypothesis import given, settings
from hypothesis import strategies as st

import mapping.search as search_module
from cost_model.accelerator import load_accelerator
from cost_model.evaluate import evaluate_stats
from mapping.default_mapping import DATAFLOW_RULES, L1_ORDER, _spatial_factor, default_mapping
from mapping.encoding import ceil_quotients as _candidates
from mapping.spec import Mapping
from mapping.unit_box import UnitBox
from nn_space.layers import DIMS, ConvLayer
from nn_space.zoo import get_network

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(rows=st.integers(1, 6).flatmap(
    lambda d: st.lists(st.lists(finite, min_size=d, max_size=d), min_size=1, max_size=8)))
def test_unit_box_equals_cma_bound_transform_bit_for_bit(rows):
    genotypes = np.array(rows, dtype=float)
    ref = BoundTransform([0.0, 1.0])
    expected = np.array([ref.repair(row.copy()) for row in genotypes])
    got = UnitBox(genotypes.shape[1])(genotypes)
    assert got.tobytes() == expected.tobytes()
    assert ((got >= 0) & (got <= 1)).all()


def test_unit_box_edges_and_shape_check():
    box = UnitBox(3)
    y = np.array([[0.05, 0.95, 0.5], [-0.05, 1.05, -0.15], [1.15, -10.3, 2.0e6]])
    ref = BoundTransform([0.0, 1.0])
    assert box(y).tobytes() == np.array([ref.repair(r.copy()) for r in y]).tobytes()
    assert (box(y[:1]) == y[:1]).all()  # the linear region is the identity
    with pytest.raises(ValueError, match="genotypes: shape"):
        box(np.zeros((2, 4)))


def test_unit_box_start_and_options_match_a_bounded_strategy():
    import cma
    x0 = np.array([0.0, 0.02, 0.5, 1.0])
    box = UnitBox(4)
    bounded = cma.CMAEvolutionStrategy(x0, 0.25, {"bounds": [0.0, 1.0], "verbose": -9, "seed": 3})
    free = cma.CMAEvolutionStrategy(box.start(x0), 0.25, {**box.es_options(), "verbose": -9, "seed": 3})
    assert bounded.mean.tobytes() == free.mean.tobytes()
    assert np.array_equal(bounded.opts["maxstd"], free.opts["maxstd"])


LAYERS = [ConvLayer(k=64, c=32, y=14, x=14, r=3, s=3, name="a"),
          ConvLayer(k=256, c=64, y=56, x=56, r=1, s=1, name="b"),
          ConvLayer(k=96, c=96, y=28, x=28, r=5, s=5, groups=96, name="dw")]


@pytest.mark.parametrize("acc_name", ["eyeriss", "nvdla-256", "shidiannao"])
@pytest.mark.parametrize("method,x0,seed", [("cma-importance", "default", 0), ("cma-index", "random", 1),
                                            ("cma-importance", "random", 7)])
def test_search_with_unit_box_is_the_search_with_cma_bounds(monkeypatch, acc_name, method, x0, seed):
    acc = load_accelerator(acc_name)
    real = search_module._cma
    for layer in LAYERS:
        results = []
        for cma_bounds in (True, False):
            monkeypatch.setattr(search_module, "_cma", functools.partial(real, cma_bounds=cma_bounds))
            results.append(search_module.search_layer(layer, acc, budget=400, seed=seed, method=method, x0=x0))
        ref, new = results
        assert new.history == ref.history  # every kernel call: evaluations so far and best so far
        assert new.stats.tobytes() == ref.stats.tobytes() and new.mapping == ref.mapping


def _sequential_default(layer, acc) -> Mapping:
    """The greedy of default_mapping, one candidate mapping at a time (the reference)."""
    l1_prio, l2_prio, l2_order, dram_order = DATAFLOW_RULES[acc.dataflow]
    spatial = [1] * 7
    for a in acc.array:
        room = a.size
        for name in a.dims:
            d = DIMS.index(name)
            spatial[d] = _spatial_factor(layer.loop_bounds[d], room)
            room //= spatial[d]
    levels = {"l1": [1] * 7, "l2": [1] * 7, "dram": [-(-b // s) for b, s in zip(layer.loop_bounds, spatial)]}

    def build(lv):
        return Mapping(dram=lv["dram"], l2=lv["l2"], spatial=spatial, l1=lv["l1"], dram_order=dram_order,
                       l2_order=l2_order, l1_order=L1_ORDER)

    for level, prio in (("l1", l1_prio), ("l2", l2_prio)):
        for name in prio:
            d = DIMS.index(name)
            rest = levels["dram"][d]
            for f in (_candidates(rest) if rest > 1 else []):
                trial = {k: list(v) for k, v in levels.items()}
                trial[level][d], trial["dram"][d] = f, -(-rest // f)
                if evaluate_stats(layer, acc, build(trial))[0] == 0:
                    levels = trial
                    break
    return build(levels)


@pytest.mark.parametrize("acc_name", ["eyeriss", "nvdla-256", "shidiannao", "edgetpu"])
def test_batched_default_mapping_is_the_sequential_greedy(acc_name):
    acc = load_accelerator(acc_name)
    for net in ("resnet50", "mobilenetv2"):
        for layer in {lay.shape_key: lay for lay in get_network(net).layers}.values():
            assert default_mapping(layer, acc) == _sequential_default(layer, acc)
