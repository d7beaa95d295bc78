"""Capacity repair in the nest encoding: it only moves temporal factors outwards, never changes what is
covered, leaves fitting mappings alone, and makes every random genome fit the register hierarchies."""
from __future__ import annotations

import numpy as np
import pytest

from cost_model.hierarchy_yaml import HIERARCHY_DIR, load_hierarchy
from cost_model.nest_evaluate import evaluate_nests
from cost_model.nest_layout import CAPACITY, R_STATUS
from mapping.nest_encoding import NestEncoder
from nn_space.layers import ConvLayer

HIERS = [p.stem for p in sorted(HIERARCHY_DIR.glob("*.yaml"))]
LAYERS = [ConvLayer(k=64, c=32, y=14, x=14, r=3, s=3, name="c3"),
          ConvLayer(k=48, c=48, y=14, x=14, r=3, s=3, groups=48, name="dw"),
          ConvLayer(k=32, c=3, y=56, x=56, r=7, s=7, stride_y=2, stride_x=2, name="stem")]


@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
@pytest.mark.parametrize("name", HIERS)
def test_repair_moves_factors_outwards_only(name, layer, exact):
    hier = load_hierarchy(name)
    g = np.random.default_rng(7).random((300, NestEncoder(layer, hier).size))
    raw = NestEncoder(layer, hier, exact, repair=False).decode_batch(g)
    fixed = NestEncoder(layer, hier, exact, repair=True).decode_batch(g)
    assert (fixed[1] == raw[1]).all() and (fixed[2] == raw[2]).all()  # spatial factors and orders
    assert (fixed[0].prod(axis=1) == raw[0].prod(axis=1)).all()  # each dim's temporal product
    # a dim's factors only move up: the product over any innermost run of levels never grows
    inner_raw = np.cumprod(raw[0][:, ::-1], axis=1)
    inner_fixed = np.cumprod(fixed[0][:, ::-1], axis=1)
    assert (inner_fixed <= inner_raw).all()
    s_raw, s_fixed = evaluate_nests(layer, hier, *raw), evaluate_nests(layer, hier, *fixed)
    fits = s_raw[:, R_STATUS] == 0
    assert (s_fixed[fits] == s_raw[fits]).all()  # a fitting mapping is left as it is
    for k in np.flatnonzero(fits):
        assert (fixed[0][k] == raw[0][k]).all()
    assert not (s_fixed[:, R_STATUS] == CAPACITY).any()  # every one now fits
    assert (s_fixed[:, R_STATUS] == 0).mean() >= (s_raw[:, R_STATUS] == 0).mean()
