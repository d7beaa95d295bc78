"""Numba kernel of the default mappings' greedy buffer growth (the rules are in ``mapping.default_mapping``)."""
from __future__ import annotations

import numpy as np
from cost_model.numba_cache import njit

from cost_model.kernel import evaluate_into
from cost_model.stats import NUM_STATS

from .spec import F_DRAM, F_L1, F_L2


@njit(cache=True)
def grow_default_rows(layers, hws, owner, factors, orders, priorities, status):
    """Row r (problem ``owner[r]``): from factors[r] (spatial set, the rest at DRAM), grow the L1 then the L2
    factor of each dim of priorities[r, 0] / priorities[r, 1] (dim indices, -1 ends a list) to the largest
    padding-minimal factor ceil(rest / t) that keeps the mapping valid. status[r]: the starting mapping's
    status (non-zero: it does not fit, nothing grown)."""
    out = np.empty(NUM_STATS)
    for r in range(owner.shape[0]):
        p = owner[r]
        evaluate_into(layers[p], hws[p], factors[r], orders[r], out)
        status[r] = int(out[0])
        if status[r] != 0:
            continue
        for level in range(2):
            row = F_L1 if level == 0 else F_L2
            for k in range(priorities.shape[2]):
                d = priorities[r, level, k]
                if d < 0:
                    break
                rest = factors[r, F_DRAM, d]
                if rest == 1:
                    continue
                old = factors[r, row, d]
                t = 1
                while t <= rest:  # candidates largest first; f = 1 (the current mapping) always fits
                    f = (rest + t - 1) // t
                    factors[r, row, d] = f
                    factors[r, F_DRAM, d] = (rest + f - 1) // f
                    evaluate_into(layers[p], hws[p], factors[r], orders[r], out)
                    if out[0] == 0:
                        break
                    factors[r, row, d] = old
                    factors[r, F_DRAM, d] = rest
                    t = (rest - 1) // (f - 1) + 1 if f > 1 else rest + 1
