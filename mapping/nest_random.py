"""Uniformly drawn mappings of a layer on a general hierarchy, as kernel-ready arrays."""
from __future__ import annotations

import numpy as np

from nn_space.layers import DIMS, ConvLayer


def random_nest_mappings(layer: ConvLayer, hier, count: int, rng: np.random.Generator, exact: bool = False
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` random mappings: tf, sf, orders int64[count, L, 7].

    Per dim (in random order): a spatial factor at each fan-out that parallelizes it (within what its axis
    has left), then the rest over the temporal levels by a ceil chain in random level order (``exact``:
    random exact divisors, no padding). Capacities are not enforced: the kernel reports overflows.
    """
    bounds = layer.loop_bounds
    nl = hier.num_levels
    tf = np.ones((count, nl, 7), dtype=np.int64)
    sf = np.ones((count, nl, 7), dtype=np.int64)
    orders = np.argsort(rng.random((count, nl, 7)), axis=2).astype(np.int64)
    axis_of = [[lv.axis_of(d) for d in DIMS] for lv in hier.levels]
    room = [np.array([[a.size for a in lv.fanout]] * count, dtype=np.int64).reshape(count, -1)
            for lv in hier.levels]
    for d in rng.permutation(7):
        b = int(bounds[d])
        if b == 1:
            continue
        for i in range(count):
            rest = b
            for lv in rng.permutation(nl):
                ax = axis_of[lv][d]
                if ax < 0 or rest == 1:
                    continue
                cap = min(rest, int(room[lv][i, ax]))
                f = _pick(rng, rest, cap, exact)
                sf[i, lv, d] = f
                room[lv][i, ax] //= f
                rest = rest // f if exact else -(-rest // f)
            order = rng.permutation(nl)
            for lv in order[:-1]:
                f = _pick(rng, rest, rest, exact)
                tf[i, lv, d] = f
                rest = rest // f if exact else -(-rest // f)
            tf[i, order[-1], d] = rest
    return tf, sf, orders


def _pick(rng: np.random.Generator, rest: int, cap: int, exact: bool) -> int:
    if not exact:
        return int(rng.integers(1, cap + 1))
    divisors = [f for f in range(1, cap + 1) if rest % f == 0]
    return int(divisors[rng.integers(len(divisors))])
