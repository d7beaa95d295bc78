"""Uniformly drawn mappings of a layer on an accelerator, as kernel-ready arrays."""
from __future__ import annotations

import numpy as np

from nn_space.layers import DIMS, ConvLayer

from .spec import F_DRAM, F_L1, F_L2, F_SPATIAL


def random_mappings(layer: ConvLayer, acc, count: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` random mappings: factors int64[count, 4, 7] and orders int64[count, 3, 7].

    Per dim (dims in random order): a spatial factor drawn within what its array axis has left (parallel
    dims only), then the rest split over L1, L2 and DRAM by a ceil chain in random level order, so the
    factors cover the bound with little padding. Orders are uniform permutations. Buffer capacity is not enforced: the kernel reports
    overflowing draws (status != 0), which is what a sampler's rejection step needs.
    """
    bounds = layer.loop_bounds
    factors = np.ones((count, 4, 7), dtype=np.int64)
    orders = np.argsort(rng.random((count, 3, 7)), axis=2).astype(np.int64)
    axis_room = np.array([[a.size for a in acc.array]] * count, dtype=np.int64)
    axis_of = [acc.axis_of(d) for d in DIMS]
    temporal = np.array([F_L1, F_L2, F_DRAM])
    for d in rng.permutation(7):
        b = bounds[d]
        if b == 1:
            continue
        for i in range(count):
            rest = b
            if axis_of[d] >= 0:  # spatial first, within what the axis has left
                f = int(rng.integers(1, min(rest, int(axis_room[i, axis_of[d]])) + 1))
                factors[i, F_SPATIAL, d] = f
                axis_room[i, axis_of[d]] //= f
                rest = -(-rest // f)
            order = rng.permutation(temporal)
            for lvl in order[:-1]:
                f = int(rng.integers(1, rest + 1))
                factors[i, lvl, d] = f
                rest = -(-rest // f)
            factors[i, order[-1], d] = rest
    return factors, orders
