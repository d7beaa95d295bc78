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

from nn_space.layers import DIMS, ConvLayer

from .spec import Mapping, MappingSpecError

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
    return sorted({-(-rest // t) for t in range(1, rest + 1)}, reverse=True)


def default_mapping(layer: ConvLayer, acc) -> Mapping:
    """The dataflow's default mapping of ``layer`` on ``acc`` (see the module docstring)."""
    from cost_model.evaluate import evaluate_stats, explain_status

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
    l1, l2 = [1] * 7, [1] * 7

    def build(l1f, l2f, restf) -> Mapping:
        return Mapping(dram=restf, l2=l2f, spatial=spatial, l1=l1f, dram_order=dram_order,
                       l2_order=l2_order, l1_order=L1_ORDER, label=f"default {acc.dataflow}")

    base = build(l1, l2, rest)
    stats = evaluate_stats(layer, acc, base)
    if stats[0] != 0:
        raise MappingSpecError(f"layer {layer.name or layer.describe()!r} on {acc.name}: no default "
                               f"mapping fits: {explain_status(stats, acc)}")
    for level, prio in ((l1, l1_prio), (l2, l2_prio)):
        for name in prio:
            d = DIMS.index(name)
            if rest[d] == 1:
                continue
            for f in _candidates(rest[d]):
                trial_level = list(level)
                trial_level[d] = f
                trial_rest = list(rest)
                trial_rest[d] = -(-rest[d] // f)
                trial = build(trial_level if level is l1 else l1, trial_level if level is l2 else l2,
                              trial_rest)
                if evaluate_stats(layer, acc, trial)[0] == 0:
                    level[d] = f
                    rest = trial_rest
                    break
    return build(l1, l2, rest)
