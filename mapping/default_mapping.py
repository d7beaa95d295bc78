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

from .spec import F_DRAM, F_SPATIAL, Mapping, MappingSpecError

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


def _rule_arrays(dataflow: str) -> tuple[np.ndarray, np.ndarray]:
    """(priorities int64[2, 7]: the L1 and L2 growth dims, -1 padded; orders int64[3, 7]) of a dataflow."""
    l1_prio, l2_prio, l2_order, dram_order = DATAFLOW_RULES[dataflow]
    prio = np.full((2, 7), -1, dtype=np.int64)
    for i, p in enumerate((l1_prio, l2_prio)):
        prio[i, :len(p)] = [DIMS.index(c) for c in p]
    orders = np.array([[DIMS.index(c) for c in o] for o in (L1_ORDER, l2_order, dram_order)], dtype=np.int64)
    return prio, orders


def _start_factors(layer: ConvLayer, acc) -> np.ndarray:
    """Step 1: the spatial factors, the rest of each dim at DRAM (rows as F_*: L1, spatial, L2, DRAM)."""
    bounds = list(layer.loop_bounds)
    spatial = [1] * 7
    for a in acc.array:  # an axis with several loop dims fills them in the order listed
        room = a.size
        for name in a.dims:
            d = DIMS.index(name)
            spatial[d] = _spatial_factor(bounds[d], room)
            room //= spatial[d]
    factors = np.ones((4, 7), dtype=np.int64)
    factors[F_SPATIAL], factors[F_DRAM] = spatial, [-(-bounds[d] // spatial[d]) for d in range(7)]
    return factors


def dataflow_order(acc) -> list[str]:
    """The dataflows whose rules ``default_mappings`` tries: the accelerator's own first."""
    return [acc.dataflow] + [d for d in DATAFLOW_RULES if d != acc.dataflow]


def default_arrays(problems: list[tuple[ConvLayer, object, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(factors int64[P, 4, 7], orders int64[P, 3, 7], status int64[P]) of the default mapping of each
    (layer, accelerator, dataflow rules), all grown in one kernel call; status != 0: it does not fit."""
    from cost_model.evaluate import layer_array

    from .default_kernel import grow_default_rows

    n = len(problems)
    factors = np.empty((n, 4, 7), dtype=np.int64)
    orders = np.empty((n, 3, 7), dtype=np.int64)
    prio = np.empty((n, 2, 7), dtype=np.int64)
    for i, (layer, acc, dataflow) in enumerate(problems):
        factors[i] = _start_factors(layer, acc)
        prio[i], orders[i] = _rule_arrays(dataflow)
    layers = np.stack([layer_array(layer) for layer, _, _ in problems]) if n else np.zeros((0, 11), np.int64)
    hws = np.stack([acc.hw_vector for _, acc, _ in problems]) if n else np.zeros((0, 1))
    status = np.zeros(n, dtype=np.int64)
    grow_default_rows(layers, hws, np.arange(n, dtype=np.int64), factors, orders, prio, status)
    return factors, orders, status


def default_mappings(layer: ConvLayer, acc) -> list[Mapping]:
    """The default mapping of every dataflow's rules on ``acc``'s hardware, its own dataflow first.

    Dataflows whose default does not fit are left out; if none fits, the error is the one of ``acc``'s own
    dataflow. A searched design keeps its baseline's dataflow label, which need not be the rules that suit
    its array (a K x C array maps best weight-stationary), so a mapping search may start from the best.
    """
    names = dataflow_order(acc)
    factors, orders, status = default_arrays([(layer, acc, name) for name in names])
    out = [Mapping.from_arrays(f, o, label=f"default {name}")
           for name, f, o, st in zip(names, factors, orders, status) if st == 0]
    if not out:
        default_mapping(layer, acc)  # raises the own dataflow's error
    return out


def default_mapping(layer: ConvLayer, acc) -> Mapping:
    """The dataflow's default mapping of ``layer`` on ``acc`` (see the module docstring)."""
    (factors,), (orders,), (status,) = default_arrays([(layer, acc, acc.dataflow)])
    if status != 0:
        from cost_model.evaluate import evaluate_mappings, explain_status

        start = _start_factors(layer, acc)
        stats = evaluate_mappings(layer, acc, start[None], orders[None])[0]
        raise MappingSpecError(f"layer {layer.name or layer.describe()!r} on {acc.name}: no default "
                               f"mapping fits: {explain_status(stats, acc)}")
    return Mapping.from_arrays(factors, orders, label=f"default {acc.dataflow}")
