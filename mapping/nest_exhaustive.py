"""Exhaustive mapping search on a general hierarchy for small layers: the true optimum under the model over
the space the nest encoding spans (``mapping.nest_encoding``): every factor chain its genes can decode to
(fan-out factors capped by what each axis has left) and, per level, every order of its non-trivial loops
(N outermost, as the encoding keeps it; loops of bound 1 change no count)."""
from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

from cost_model.nest_evaluate import evaluate_nests
from nn_space.layers import ConvLayer

from .exhaustive import SpaceTooLargeError
from .nest import NestMapping
from .nest_encoding import NestEncoder
from .nest_search import OBJECTIVE_COLUMN


def _tilings(enc: NestEncoder):
    """Every (tf, sf) the encoder's genes can decode to, gene by gene in the decoder's order."""
    nl = enc.hier.num_levels
    cand, count = enc._cand, enc._count
    tf = np.ones((nl, 7), dtype=np.int64)
    sf = np.ones((nl, 7), dtype=np.int64)
    room = enc._axis_size.copy()
    rest = enc.bounds.copy()

    def rec(i: int):
        if i == len(enc.genes):
            out_tf = tf.copy()
            out_tf[0] = rest
            yield out_tf, sf.copy()
            return
        d, kind, lv, ax = enc.genes[i]
        r = int(rest[d])
        options = [int(c) for c in cand[r, :count[r]]]
        if kind == 1:
            options = [c for c in options if c <= room[lv, ax]]
        for f in options:
            (sf if kind == 1 else tf)[lv, d] = f
            if kind == 1:
                room[lv, ax] //= f
            rest[d] = r // f if enc.exact else -(-r // f)
            yield from rec(i + 1)
            rest[d] = r
            if kind == 1:
                room[lv, ax] *= f
            (sf if kind == 1 else tf)[lv, d] = 1
    yield from rec(0)


def _orders(active: list[int]) -> list[list[int]]:
    rest = [d for d in range(1, 7) if d not in active]
    return [[0, *p, *rest] for p in itertools.permutations(active)]


@lru_cache(maxsize=None)
def _order_combos(active: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """Every order row int64[k, L, 7] of a tiling whose level l has the non-trivial loops ``active[l]``."""
    combos = np.array(list(itertools.product(*[_orders(list(a)) for a in active])), dtype=np.int64)
    combos.flags.writeable = False
    return combos


def nest_space_size(layer: ConvLayer, hier, exact: bool = False, limit: int | None = None) -> int:
    """Points (tiling x orders) the exhaustive search evaluates; stops counting past ``limit``."""
    enc = NestEncoder(layer, hier, exact)
    total = 0
    for tf, _ in _tilings(enc):
        total += math.prod(math.factorial(int((tf[lv, 1:] > 1).sum())) for lv in range(hier.num_levels))
        if limit is not None and total > limit:
            return total
    return total


def nest_exhaustive_search(layer: ConvLayer, hier, objective: str = "edp", exact: bool = False,
                           max_points: int = 2_000_000, chunk: int = 100_000,
                           parallel: bool | None = None) -> tuple[NestMapping, np.ndarray, int]:
    """(best mapping, its result vector, points evaluated); SpaceTooLargeError past ``max_points``.

    The points are costed ``chunk`` at a time, on Numba's threads by default (``parallel``: see
    ``cost_model.nest_evaluate.evaluate_nests``; the same optimum either way)."""
    size = nest_space_size(layer, hier, exact, limit=max_points)
    if size > max_points:
        raise SpaceTooLargeError(f"layer {layer.describe()} on {hier.name}: more than {max_points:,} mappings "
                                 f"(exceed max_points; at least {size:,})")
    enc = NestEncoder(layer, hier, exact)
    col = OBJECTIVE_COLUMN[objective]
    nl = hier.num_levels
    best = (math.inf, None, None)
    bufs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending = evaluated = 0

    def flush():
        nonlocal best, bufs, pending
        if not bufs:
            return
        tf, sf, od = (np.concatenate([b[k] for b in bufs]) for k in range(3))
        stats = evaluate_nests(layer, hier, tf, sf, od, parallel=parallel)
        vals = np.where(stats[:, 0] == 0, stats[:, col], np.inf)
        i = int(np.argmin(vals))
        if vals[i] < best[0]:
            best = (float(vals[i]), NestMapping.from_arrays(tf[i], sf[i], od[i], label="exhaustive optimum"),
                    stats[i].copy())
        bufs, pending = [], 0

    for tf, sf in _tilings(enc):
        combos = _order_combos(tuple(tuple(d for d in range(1, 7) if tf[lv, d] > 1) for lv in range(nl)))
        k = len(combos)
        bufs.append((np.broadcast_to(tf, (k, nl, 7)), np.broadcast_to(sf, (k, nl, 7)), combos))
        pending += k
        evaluated += k
        if pending >= chunk:
            flush()
    flush()
    if best[1] is None:
        raise ValueError(f"layer {layer.describe()}: no valid mapping on {hier.name}")
    return best[1], best[2], evaluated
