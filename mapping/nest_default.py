"""Default mappings on a general hierarchy: the dataflow rules of ``mapping.default_mapping`` applied to
every level.

1. Spatial: each fan-out, outermost first, gives each of its axes' dims (in the order listed) as few
   temporal iterations as possible, with the least padding (as the 3-level default).
2. Temporal: levels from the innermost outwards grow the factors of the dataflow's priority dims one at a
   time, each to the largest padding-minimal factor that still fits every level (levels below the last
   fan-out use the dataflow's L1 priorities, the others its L2 priorities); what is left stays at level 0.
3. Orders: the dataflow's DRAM order at level 0 and its L2 order at every other level (below a fan-out
   it decides which operand stays in a register: weight-, output-, row- or input-stationary).
"""
from __future__ import annotations

import numpy as np

from cost_model.hierarchy import Hierarchy
from cost_model.nest_evaluate import evaluate_nests, explain_nest_status
from nn_space.layers import DIMS, ConvLayer, dim_index

from .default_mapping import DATAFLOW_RULES, _spatial_factor
from .encoding import ceil_quotients as _candidates  # factors largest first
from .nest import NestMapping
from .spec import MappingSpecError


def nest_default_mapping(layer: ConvLayer, hier: Hierarchy, dataflow: str = "weight-stationary") -> NestMapping:
    """The default mapping of ``layer`` on ``hier`` under ``dataflow``'s rules; MappingSpecError if none fits."""
    if dataflow not in DATAFLOW_RULES:
        raise ValueError(f"dataflow: {dataflow!r} (allowed: {', '.join(DATAFLOW_RULES)})")
    l1_prio, l2_prio, inner_order, dram_order = DATAFLOW_RULES[dataflow]
    nl = hier.num_levels
    rest = list(layer.loop_bounds)
    tf = np.ones((nl, 7), dtype=np.int64)
    sf = np.ones((nl, 7), dtype=np.int64)
    for lv, level in enumerate(hier.levels):
        for axis in level.fanout:
            room = axis.size
            for name in axis.dims:
                d = dim_index(name)
                sf[lv, d] = _spatial_factor(rest[d], room)
                room //= int(sf[lv, d])
                rest[d] = -(-rest[d] // int(sf[lv, d]))
    tf[0] = rest
    orders = np.array([[DIMS.index(c) for c in (dram_order if lv == 0 else inner_order)] for lv in range(nl)],
                      dtype=np.int64)

    def evaluate(tfs: np.ndarray) -> np.ndarray:
        n = len(tfs)
        return evaluate_nests(layer, hier, tfs, np.repeat(sf[None], n, 0), np.repeat(orders[None], n, 0))

    stats = evaluate(tf[None])[0]
    if stats[0] != 0:
        raise MappingSpecError(f"layer {layer.name or layer.describe()!r} on {hier.name}: no default mapping "
                               f"fits: {explain_nest_status(stats, hier)}")
    last_fanout = max((lv for lv, level in enumerate(hier.levels) if level.fanout), default=-1)
    for lv in range(nl - 1, 0, -1):
        if not hier.levels[lv].keeps:
            continue
        prio = l1_prio + "".join(c for c in l2_prio if c not in l1_prio) if lv > last_fanout else l2_prio
        for name in prio:
            d = DIMS.index(name)
            rest_d = int(tf[0, d])
            if rest_d == 1:
                continue
            cands = _candidates(rest_d)
            trials = np.repeat(tf[None], len(cands), axis=0)
            trials[:, lv, d] = [f * int(tf[lv, d]) for f in cands]
            trials[:, 0, d] = [-(-rest_d // f) for f in cands]
            ok = np.flatnonzero(evaluate(trials)[:, 0] == 0)
            if len(ok):
                tf = trials[ok[0]]
    return NestMapping.from_arrays(tf, sf, orders, label=f"default {dataflow}")


def nest_default_mappings(layer: ConvLayer, hier: Hierarchy) -> list[NestMapping]:
    """The default mapping of every dataflow's rules that fits (weight-stationary first)."""
    out, first_error = [], None
    for name in DATAFLOW_RULES:
        try:
            out.append(nest_default_mapping(layer, hier, name))
        except MappingSpecError as e:
            first_error = first_error or e
    if not out:
        raise first_error
    return out


def best_nest_default_mapping(layer: ConvLayer, hier: Hierarchy) -> NestMapping:
    """The lowest-EDP default mapping over the dataflows' rules (ties: the first in DATAFLOW_RULES)."""
    candidates = nest_default_mappings(layer, hier)
    stats = evaluate_nests(layer, hier, *(np.stack([getattr(m, a) for m in candidates])
                                          for a in ("temporal_array", "spatial_array", "order_array")))
    from cost_model.nest_layout import R_EDP

    return candidates[int(np.argmin(stats[:, R_EDP]))]
