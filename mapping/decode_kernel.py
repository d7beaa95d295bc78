"""Numba kernel that decodes genomes to mapping arrays (the semantics are in ``mapping.encoding``)."""
from __future__ import annotations

import numpy as np
from cost_model.numba_cache import njit

from .spec import F_DRAM, F_L1, F_L2, F_SPATIAL, O_DRAM, O_L1, O_L2


@njit(cache=True, inline="always")
def _reflect(x):
    """Fold a real into [0, 1] by reflection at the bounds (genes may leave [0, 1] during search)."""
    y = x % 2.0
    return 2.0 - y if y > 1.0 else y


@njit(cache=True)
def _pick_factor(rest, gene, cap):
    """The bin of ``gene`` among the ascending padding-minimal factors ceil(rest / t) that are <= cap.

    In O(1): with h the largest t such that t (t + 1) <= rest and m = ceil(rest / (h + 1)), the distinct values
    are 1, 2, ..., m (for t > h consecutive values of ceil(rest / t) differ by at most 1) followed by
    ceil(rest / t) for t = h, h - 1, ..., 1 (for t <= h they differ by at least 1, and the first exceeds m).
    """
    h = _pair_root(rest)
    m = (rest + h) // (h + 1)
    n = min(cap, m)
    if cap > m:  # the large values <= cap: t from ceil(rest / cap) to h
        n += max(0, h - max(1, (rest + cap - 1) // cap) + 1)
    k = min(n - 1, max(0, int(gene * n)))
    if k < m:
        return k + 1
    t = h - (k - m)
    return (rest + t - 1) // t


@njit(cache=True, inline="always")
def _pair_root(r):
    """The largest t >= 0 with t (t + 1) <= r."""
    t = int((np.sqrt(4.0 * r + 1.0) - 1.0) / 2.0)
    while t * (t + 1) > r:
        t -= 1
    while (t + 1) * (t + 2) <= r:
        t += 1
    return t


@njit(cache=True)
def decode_genomes(genomes, importance, bounds, axis_of, axis_sizes, spatial_order, gi_sp, gi_l1, gi_l2,
                   perms, factors, orders):
    """genomes float64[B, D] -> factors int64[B, 4, 7], orders int64[B, 3, 7] (see mapping.encoding)."""
    imp, perm, rest, room = _scratch()
    for b in range(genomes.shape[0]):
        _decode_row(genomes[b], importance, bounds, axis_of, axis_sizes, spatial_order, spatial_order.shape[0],
                    gi_sp, gi_l1, gi_l2, perms, factors[b], orders[b], imp, perm, rest, room)


@njit(cache=True)
def decode_rows(genomes, owner, importance, bounds, axis_of, axis_sizes, spatial_order, n_spatial, gi_sp, gi_l1,
                gi_l2, perms, factors, orders):
    """Row b decoded with the encoder of search ``owner[b]``: its arrays are row ``owner[b]`` of each argument
    (``importance`` bool[S], ``spatial_order`` int64[S, 7] of which the first ``n_spatial[s]`` are used)."""
    imp, perm, rest, room = _scratch()
    for b in range(genomes.shape[0]):
        s = owner[b]
        _decode_row(genomes[b], importance[s], bounds[s], axis_of[s], axis_sizes[s], spatial_order[s], n_spatial[s],
                    gi_sp[s], gi_l1[s], gi_l2[s], perms, factors[b], orders[b], imp, perm, rest, room)


@njit(cache=True, inline="always")
def _scratch():
    return np.empty(6), np.empty(6, dtype=np.int64), np.empty(7, dtype=np.int64), np.empty(3, dtype=np.int64)


@njit(cache=True, inline="always")
def _decode_row(g, importance, bounds, axis_of, axis_sizes, spatial_order, n_spatial, gi_sp, gi_l1, gi_l2, perms,
                factors, orders, imp, perm, rest, room):
    """One genome -> factors int64[4, 7], orders int64[3, 7]."""
    # --- orders: DRAM and L2 over K, C, Y, X, R, S; N outermost; L1 canonical ---------------------
    for d in range(7):
        orders[O_L1, d] = d
    for level in range(2):
        row = O_DRAM if level == 0 else O_L2
        if importance:
            for j in range(6):
                imp[j] = _reflect(g[level * 6 + j])
                perm[j] = j
            for j in range(1, 6):  # stable insertion sort, descending importance
                key = perm[j]
                m = j - 1
                while m >= 0 and imp[perm[m]] < imp[key]:
                    perm[m + 1] = perm[m]
                    m -= 1
                perm[m + 1] = key
        else:
            idx = int(_reflect(g[level]) * 720)
            if idx > 719:
                idx = 719
            for j in range(6):
                perm[j] = perms[idx, j]
        orders[row, 0] = 0
        for j in range(6):
            orders[row, j + 1] = perm[j] + 1
    # --- tiling: spatial first (axis room), then L1 and L2; DRAM takes the rest ------------------
    for r in range(4):
        for d in range(7):
            factors[r, d] = 1
    for d in range(7):
        rest[d] = bounds[d]
    for a in range(3):
        room[a] = axis_sizes[a]
    for s in range(n_spatial):
        d = spatial_order[s]
        if rest[d] == 1:
            continue
        a = axis_of[d]
        f = _pick_factor(rest[d], _reflect(g[gi_sp[d]]), room[a])
        factors[F_SPATIAL, d] = f
        room[a] //= f
        rest[d] = (rest[d] + f - 1) // f
    for d in range(7):
        if bounds[d] == 1:
            continue
        f = _pick_factor(rest[d], _reflect(g[gi_l1[d]]), rest[d])
        factors[F_L1, d] = f
        rest[d] = (rest[d] + f - 1) // f
        f = _pick_factor(rest[d], _reflect(g[gi_l2[d]]), rest[d])
        factors[F_L2, d] = f
        rest[d] = (rest[d] + f - 1) // f
        factors[F_DRAM, d] = rest[d]
