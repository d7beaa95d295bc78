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


def _factor_sets(layer: ConvLayer, acc):
    bounds = layer.loop_bounds
    for spatial in _spatial_choices(layer, acc):
        per_dim = []
        for d in range(7):
            rest = -(-bounds[d] // spatial.get(d, 1))
            per_dim.append(_chains(rest) if bounds[d] > 1 else ((1, 1, 1),))
        for combo in itertools.product(*per_dim):
            f = np.ones((4, 7), dtype=np.int64)
            for d, (l1, l2, dram) in enumerate(combo):
                f[F_L1, d], f[F_L2, d], f[F_DRAM, d] = l1, l2, dram
                f[F_SPATIAL, d] = spatial.get(d, 1)
            yield f


def _orders_for(active: tuple[int, ...]) -> np.ndarray:
    """All orders (as ORDER_DIMS-only rows) putting ``active`` dims first in every permutation."""
    rest = [d for d in ORDER_DIMS if d not in active]
    return np.array([[0, *p, *rest] for p in itertools.permutations(active)], dtype=np.int64)


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
    for f in _factor_sets(layer, acc):
        nd = sum(1 for d in ORDER_DIMS if f[F_DRAM, d] > 1)
        ng = sum(1 for d in ORDER_DIMS if f[F_L2, d] > 1)
        total += math.factorial(nd) * math.factorial(ng)
        if limit is not None and total > limit:
            return total
    return total


def exhaustive_search(layer: ConvLayer, acc, objective: str = "edp", max_points: int = 5_000_000,
                      chunk: int = 200_000) -> tuple[Mapping, np.ndarray, int]:
    """(best mapping, its result vector, points evaluated); raises SpaceTooLargeError past ``max_points``."""
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
        stats = evaluate_mappings(layer, acc, F, O)
        vals = np.where(stats[:, 0] == 0, stats[:, col], np.inf)
        i = int(np.argmin(vals))
        if vals[i] < best[0]:
            best = (float(vals[i]), Mapping.from_arrays(F[i], O[i], label="exhaustive optimum"), stats[i].copy())
        fbuf, obuf, n = [], [], 0

    evaluated = 0
    identity = np.arange(7, dtype=np.int64)
    for f in _factor_sets(layer, acc):
        od = _orders_for(tuple(d for d in ORDER_DIMS if f[F_DRAM, d] > 1))
        og = _orders_for(tuple(d for d in ORDER_DIMS if f[F_L2, d] > 1))
        k = len(od) * len(og)
        orders = np.empty((k, 3, 7), dtype=np.int64)
        orders[:, O_L1] = identity
        orders[:, O_DRAM] = np.repeat(od, len(og), axis=0)
        orders[:, O_L2] = np.tile(og, (len(od), 1))
        fbuf.append(np.broadcast_to(f, (k, 4, 7)))
        obuf.append(orders)
        n += k
        evaluated += k
        if n >= chunk:
            flush()
    flush()
    if best[1] is None:
        raise ValueError(f"layer {layer.describe()}: no valid mapping on {acc.name}")
    return best[1], best[2], evaluated
