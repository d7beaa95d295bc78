"""A fixed, documented mapping per accelerator dataflow, used where no mapping search runs.

The heuristic (deterministic, always valid or a clear error):
1. Spatial: each array axis gives each of its loop dimensions, in the order listed, as few temporal
   iterations as possible and, among those, the least padding: f = ceil(b / ceil(b / min(room, b))),
   where room is what the axis has left.
2. L1, then L2: grow the factors of the dataflow's priority dimensions one at a time, each to the largest
   value that still fits the buffers (candidates are the padding-minimal factors ceil(rest / t)).
3. What is left goes to the DRAM level. Loop orders are the dataflow's:

   - weight-stationary (K x C arrays: NVDLA, TPU): Y, X innermost at L2, so each PE's weights stay in L1
     while inputs and outputs stream; reductions innermost at DRAM, so partial sums stay on chip.
   - output-stationary (ShiDianNao): reductions C, R, S innermost at L2, so outputs stay in L1.
   - row-stationary (Eyeriss): L1 keeps a filter row (S) for several channels and filters; X innermost
     at L2, so the filter row stays while the input row slides by its halo.
   - input-stationary: K innermost at L2, so inputs stay in L1.

This is a reasonable fixed mapping, not an optimum: the mapping search (issue 3) replaces it.
"""
from __future__ import annotations

import numpy as np

from nn_space.layers import DIMS, ConvLayer

from .encoding import ceil_quotients
from .spec import F_DRAM, F_L1, F_L2, F_SPATIAL, Mapping, MappingSpecError

# dataflow -> (L1 growth priority, L2 growth priority, L2 order, DRAM order); orders outermost first.
DATAFLOW_RULES: dict[str, tuple[str, str, str, str]] = {
    "weight-stationary": ("SRC", "RSCYXKN", "NKCRSYX", "NKYXCRS"),
    "output-stationary": ("SRC", "CRSKYXN", "NKYXCRS", "NKYXCRS"),
    "row-stationary": ("SKC", "CKXYRSN", "NKCRSYX", "NKYXCRS"),
    "input-stationary": ("NCYX", "CYXNRSK", "NCYXRSK", "NCYXRSK"),
}
L1_ORDER = "NKCYXRS"  # inside a PE the order changes no count (every MAC reads its operands from L1)


def _spatial_factor(bound: int, size: int) -> int:
    f = min(size, bound)
    return -(-bound // -(-bound // f))


def _candidates(rest: int) -> list[int]:
    """Factors that leave the least padding for each possible number of outer iterations, largest first."""
    return ceil_quotients(rest)


def default_mappings(layer: ConvLayer, acc) -> list[Mapping]:
    """The default mapping of every dataflow's rules on ``acc``'s hardware, its own dataflow first.

    Dataflows whose default does not fit are left out; if none fits, the error is the one of ``acc``'s own
    dataflow. A searched design keeps its baseline's dataflow label, which need not be the rules that suit
    its array (a K x C array maps best weight-stationary), so a mapping search may start from the best.
    """
    from dataclasses import replace

    out, first_error = [], None
    for name in [acc.dataflow] + [d for d in DATAFLOW_RULES if d != acc.dataflow]:
        try:
            out.append(default_mapping(layer, acc if name == acc.dataflow else replace(acc, dataflow=name)))
        except MappingSpecError as e:
            first_error = first_error or e
    if not out:
        raise first_error
    return out


def default_mapping(layer: ConvLayer, acc) -> Mapping:
    """The dataflow's default mapping of ``layer`` on ``acc`` (see the module docstring)."""
    from cost_model.evaluate import evaluate_mappings, explain_status

    l1_prio, l2_prio, l2_order, dram_order = DATAFLOW_RULES[acc.dataflow]
    bounds = list(layer.loop_bounds)
    spatial = [1] * 7
    for a in acc.array:  # an axis with several loop dims fills them in the order listed
        room = a.size
        for name in a.dims:
            d = DIMS.index(name)
            spatial[d] = _spatial_factor(bounds[d], room)
            room //= spatial[d]
    rest = [-(-bounds[d] // spatial[d]) for d in range(7)]
    factors = np.ones((4, 7), dtype=np.int64)  # rows as F_*: L1, spatial, L2, DRAM
    factors[F_SPATIAL], factors[F_DRAM] = spatial, rest
    orders = np.array([[DIMS.index(c) for c in o] for o in (L1_ORDER, l2_order, dram_order)], dtype=np.int64)

    stats = evaluate_mappings(layer, acc, factors[None], orders[None])[0]
    if stats[0] != 0:
        raise MappingSpecError(f"layer {layer.name or layer.describe()!r} on {acc.name}: no default "
                               f"mapping fits: {explain_status(stats, acc)}")
    for row, prio in ((F_L1, l1_prio), (F_L2, l2_prio)):
        for name in prio:
            d = DIMS.index(name)
            rest_d = int(factors[F_DRAM, d])
            if rest_d == 1:
                continue
            # every candidate at once; the largest that fits wins (as trying them largest first would)
            cands = _candidates(rest_d)
            trials = np.repeat(factors[None], len(cands), axis=0)
            trials[:, row, d] = cands
            trials[:, F_DRAM, d] = [-(-rest_d // f) for f in cands]
            ok = np.flatnonzero(evaluate_mappings(layer, acc, trials,
                                                  np.repeat(orders[None], len(cands), axis=0))[:, 0] == 0)
            if len(ok):
                factors = trials[ok[0]]
    return Mapping.from_arrays(factors, orders, label=f"default {acc.dataflow}")
