"""Exhaustive mapping search for small layers: the true optimum under the model, over the space the
encoders span (SPEC §6): every spatial allocation, every padding-minimal factor chain per dim, and every
order of the non-trivial loops at the DRAM and L2 levels (loops of bound 1 change no count)."""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

from cost_model.evaluate import evaluate_mappings
from cost_model.stats import STAT_INDEX
from nn_space.layers import ConvLayer, dim_index

from .encoding import ORDER_DIMS, padding_minimal_factors
from .spec import F_DRAM, F_L1, F_L2, F_SPATIAL, O_DRAM, O_L1, O_L2, Mapping


class SpaceTooLargeError(ValueError):
    """The layer's mapspace has more points than the caller allowed."""


@lru_cache(maxsize=None)
def _chains(rest: int) -> tuple[tuple[int, int, int], ...]:
    """(l1, l2, dram) factor chains for a dim of ``rest`` after the spatial factor."""
    out = []
    for l1 in padding_minimal_factors(rest):
        r1 = -(-rest // l1)
        for l2 in padding_minimal_factors(r1):
            out.append((l1, l2, -(-r1 // l2)))
    return tuple(out)


def _spatial_choices(layer: ConvLayer, acc) -> list[dict[int, int]]:
    bounds = layer.loop_bounds
    per_axis = []
    for a in acc.array:
        dims = [dim_index(n) for n in a.dims]
        options: list[dict[int, int]] = []

        def rec(i: int, room: int, chosen: dict[int, int]) -> None:
            if i == len(dims):
                options.append(dict(chosen))
                return
            d = dims[i]
            for f in (v for v in padding_minimal_factors(bounds[d]) if v <= room):
                chosen[d] = f
                rec(i + 1, room // f, chosen)
            chosen.pop(d, None)
        rec(0, a.size, {})
        per_axis.append(options)
    return [dict(kv for part in combo for kv in part.items()) for combo in itertools.product(*per_axis)]


def _factor_blocks(layer: ConvLayer, acc):
    """Every factor assignment, one array int64[M, 4, 7] per spatial choice: for each spatial allocation,
    the product of the dims' chains (the last dim's varying fastest, as ``itertools.product``)."""
    bounds = layer.loop_bounds
    for spatial in _spatial_choices(layer, acc):
        chains = [np.array(_chains(-(-bounds[d] // spatial.get(d, 1))) if bounds[d] > 1 else ((1, 1, 1),),
                           dtype=np.int64) for d in range(7)]
        pick = np.indices([len(c) for c in chains]).reshape(7, -1)
        f = np.empty((pick.shape[1], 4, 7), dtype=np.int64)
        for d in range(7):
            f[:, (F_L1, F_L2, F_DRAM), d] = chains[d][pick[d]]
            f[:, F_SPATIAL, d] = spatial.get(d, 1)
        yield f


def _orders_for(active: tuple[int, ...]) -> np.ndarray:
    """All orders (as ORDER_DIMS-only rows) putting ``active`` dims first in every permutation."""
    rest = [d for d in ORDER_DIMS if d not in active]
    return np.array([[0, *p, *rest] for p in itertools.permutations(active)], dtype=np.int64)


_ORDER_BIT = np.array([1 << i for i in range(len(ORDER_DIMS))], dtype=np.int64)


def _active_masks(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per factor assignment, bit masks (over ORDER_DIMS) of the non-trivial DRAM and L2 loops."""
    dims = list(ORDER_DIMS)
    return ((block[:, F_DRAM, dims] > 1) @ _ORDER_BIT, (block[:, F_L2, dims] > 1) @ _ORDER_BIT)


_ORDERS_OF_MASK = np.array([math.factorial(bin(m).count("1")) for m in range(1 << len(ORDER_DIMS))],
                           dtype=np.int64)  # (active loops)! per mask


def _points(dram_mask: np.ndarray, l2_mask: np.ndarray) -> np.ndarray:
    """Orders per factor assignment: (non-trivial DRAM loops)! x (non-trivial L2 loops)!."""
    return _ORDERS_OF_MASK[dram_mask] * _ORDERS_OF_MASK[l2_mask]


@lru_cache(maxsize=None)
def _order_block(dram_mask: int, l2_mask: int) -> np.ndarray:
    """Every (L1, L2, DRAM) order row of a factor assignment with these active masks, DRAM order outer."""
    od = _orders_for(tuple(d for i, d in enumerate(ORDER_DIMS) if dram_mask >> i & 1))
    og = _orders_for(tuple(d for i, d in enumerate(ORDER_DIMS) if l2_mask >> i & 1))
    orders = np.empty((len(od) * len(og), 3, 7), dtype=np.int64)
    orders[:, O_L1] = np.arange(7)
    orders[:, O_DRAM] = np.repeat(od, len(og), axis=0)
    orders[:, O_L2] = np.tile(og, (len(od), 1))
    orders.flags.writeable = False
    return orders


def factor_set_count(layer: ConvLayer, acc) -> int:
    """How many factor assignments the space has (before orders), counted without enumerating them."""
    bounds = layer.loop_bounds
    total = 0
    for spatial in _spatial_choices(layer, acc):
        total += math.prod(len(_chains(-(-bounds[d] // spatial.get(d, 1)))) if bounds[d] > 1 else 1
                           for d in range(7))
    return total


def space_size(layer: ConvLayer, acc, limit: int | None = None) -> int:
    """How many (factors, orders) points the exhaustive search evaluates; stops counting past ``limit``
    (then returns a number > ``limit``)."""
    if limit is not None and factor_set_count(layer, acc) > limit:
        return factor_set_count(layer, acc)
    total = 0
    for block in _factor_blocks(layer, acc):
        ends = total + np.cumsum(_points(*_active_masks(block)))
        if limit is not None and ends[-1] > limit:  # the count at the first assignment past the limit
            return int(ends[np.searchsorted(ends, limit, side="right")])
        total = int(ends[-1])
    return total


def exhaustive_search(layer: ConvLayer, acc, objective: str = "edp", max_points: int = 5_000_000,
                      chunk: int = 200_000, parallel: bool | None = None) -> tuple[Mapping, np.ndarray, int]:
    """(best mapping, its result vector, points evaluated); raises SpaceTooLargeError past ``max_points``.

    The points are costed ``chunk`` at a time, on Numba's threads by default (``parallel``: see
    ``cost_model.evaluate.evaluate_mappings``; the same optimum either way)."""
    size = space_size(layer, acc, limit=max_points)
    if size > max_points:
        raise SpaceTooLargeError(f"layer {layer.describe()}: more than {max_points:,} mappings "
                                 f"(exceed max_points; at least {size:,})")
    col = STAT_INDEX[objective]
    best = (math.inf, None, None)
    fbuf, obuf, n = [], [], 0

    def flush():
        nonlocal best, fbuf, obuf, n
        if not fbuf:
            return
        F, O = np.concatenate(fbuf), np.concatenate(obuf)
        stats = evaluate_mappings(layer, acc, F, O, parallel=parallel)
        vals = np.where(stats[:, 0] == 0, stats[:, col], np.inf)
        i = int(np.argmin(vals))
        if vals[i] < best[0]:
            best = (float(vals[i]), Mapping.from_arrays(F[i], O[i], label="exhaustive optimum"), stats[i].copy())
        fbuf, obuf, n = [], [], 0

    evaluated = 0
    for block in _factor_blocks(layer, acc):
        dram_mask, l2_mask = _active_masks(block)
        points = _points(dram_mask, l2_mask)
        ends = np.cumsum(points)
        lo = 0
        while lo < len(block):  # slices of the block that fill the buffer up to ``chunk`` points
            base = int(ends[lo - 1]) if lo else 0
            hi = min(len(block), max(lo + 1, int(np.searchsorted(ends, base + chunk - n)) + 1))
            fbuf.append(np.repeat(block[lo:hi], points[lo:hi], axis=0))
            obuf.append(np.concatenate([_order_block(dm, gm) for dm, gm in
                                        zip(dram_mask[lo:hi].tolist(), l2_mask[lo:hi].tolist())]))
            k = int(ends[hi - 1]) - base
            n += k
            evaluated += k
            lo = hi
            if n >= chunk:
                flush()
    flush()
    if best[1] is None:
        raise ValueError(f"layer {layer.describe()}: no valid mapping on {acc.name}")
    return best[1], best[2], evaluated
