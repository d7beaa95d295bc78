"""Many per-layer mapping searches run together: every generation of all of them sampled, decoded, costed and
updated in a few kernel calls (``mapping.batch_cma``), instead of one pycma object per layer.

The searches are those of ``mapping.search.search_layer`` (the same encodings, starts, budget accounting,
resampling of invalid samples, penalties and IPOP restarts), with our own CMA-ES in place of pycma's. Each
search draws from its own random stream, seeded from its settings' seed alone, and no kernel mixes searches,
so a search's result does not depend on which other searches share the batch.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from cost_model.numba_cache import njit

from cost_model.accelerator import Accelerator
from cost_model.batch_kernel import evaluate_rows
from cost_model.evaluate import layer_array
from cost_model.stats import NUM_STATS, STAT_INDEX
from nn_space.layers import ConvLayer

from .batch_cma import BatchedCMA
from .decode_kernel import decode_rows
from .encoding import PERMUTATIONS, MappingEncoder
from .search import _CYCLES, _ENERGY, SearchResult, check_search, search_layer, tile_overflow
from .spec import Mapping, MappingSpecError
from .unit_box import UnitBox

#: invalid samples of a generation are redrawn up to this many times (as ``search_layer``'s default)
RESAMPLE_ROUNDS = 3


class _Problems:
    """The decode and cost kernels' arrays of S searches (one row each), and the costing of genome rows."""

    def __init__(self, encoders: list[MappingEncoder], objectives: list[str]):
        self.importance = np.array([e.encoding == "importance" for e in encoders])
        self.bounds = np.stack([e._bounds for e in encoders])
        self.axis_of = np.stack([e._axis_of for e in encoders])
        self.axis_sizes = np.stack([e._axis_sizes for e in encoders])
        self.spatial = np.full((len(encoders), 7), -1, dtype=np.int64)
        for s, e in enumerate(encoders):
            self.spatial[s, :len(e._spatial_order)] = e._spatial_order
        self.n_spatial = np.array([len(e._spatial_order) for e in encoders], dtype=np.int64)
        self.gi = [np.stack([e._gi[i] for e in encoders]) for i in range(3)]
        self.layers = np.stack([layer_array(e.layer) for e in encoders])
        self.hws = np.stack([e.acc.hw_vector for e in encoders])
        self.l1 = np.array([e.acc.l1_words for e in encoders], dtype=np.float64)
        self.l2 = np.array([e.acc.l2_words for e in encoders], dtype=np.float64)
        self.col = np.array([STAT_INDEX[o] for o in objectives], dtype=np.int64)

    def cost(self, owner: np.ndarray, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(factors, orders, stats) of genome rows in [0, 1] (row b decoded by the encoder of ``owner[b]``)."""
        n = len(owner)
        factors = np.empty((n, 4, 7), dtype=np.int64)
        orders = np.empty((n, 3, 7), dtype=np.int64)
        decode_rows(np.ascontiguousarray(genomes, dtype=np.float64), owner, self.importance, self.bounds,
                    self.axis_of, self.axis_sizes, self.spatial, self.n_spatial, *self.gi, PERMUTATIONS, factors,
                    orders)
        stats = np.empty((n, NUM_STATS))
        evaluate_rows(self.layers, self.hws, owner, factors, orders, stats)
        return factors, orders, stats

    def overflow(self, owner: np.ndarray, stats: np.ndarray) -> np.ndarray:
        """``search.tile_overflow`` of each row with its search's capacities."""
        return tile_overflow(stats, self.l1[owner], self.l2[owner])


@njit(cache=True)
def record_rows(owner, stats, col, factors, orders, used, valid, best_value, best_f, best_o, best_stats, hist,
                hist_n, energy_col, cycles_col, fitness):
    """Count costed rows against their searches' budgets, keep each search's best valid mapping, append one
    best-so-far entry (evaluations, best, its energy, its cycles) per search and call; fitness[b] = log of the
    objective (inf where invalid)."""
    for b in range(owner.shape[0]):
        s = owner[b]
        used[s] += 1
        if stats[b, 0] == 0:
            valid[s] += 1
            v = stats[b, col[s]]
            fitness[b] = math.log(v)
            if v < best_value[s]:
                best_value[s] = v
                best_f[s] = factors[b]
                best_o[s] = orders[b]
                best_stats[s] = stats[b]
        else:
            fitness[b] = np.inf
        if b == owner.shape[0] - 1 or owner[b + 1] != s:
            k = hist_n[s]
            hist[s, k, 0] = used[s]
            if best_value[s] < np.inf:
                hist[s, k, 1] = best_value[s]
                hist[s, k, 2] = best_stats[s, energy_col]
                hist[s, k, 3] = best_stats[s, cycles_col]
            else:
                hist[s, k, 1] = hist[s, k, 2] = hist[s, k, 3] = np.inf
            hist_n[s] = k + 1


class _Tracker:
    """Budgets, counts, best mappings and best-so-far traces of S searches (``search.BestSoFar``, batched)."""

    def __init__(self, problems: _Problems, budgets: np.ndarray):
        S = len(budgets)
        self.problems = problems
        self.budget = budgets
        self.used = np.zeros(S, dtype=np.int64)
        self.valid = np.zeros(S, dtype=np.int64)
        self.best_value = np.full(S, np.inf)
        self.best_f = np.ones((S, 4, 7), dtype=np.int64)
        self.best_o = np.zeros((S, 3, 7), dtype=np.int64)
        self.best_stats = np.zeros((S, NUM_STATS))
        self.hist = np.zeros((S, 64, 4))
        self.hist_n = np.zeros(S, dtype=np.int64)

    @property
    def left(self) -> np.ndarray:
        return self.budget - self.used

    def evaluate(self, owner: np.ndarray, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fitness, overflow) of genome rows (each search's rows contiguous and within its budget)."""
        if self.hist_n.max() + 1 > self.hist.shape[1]:
            self.hist = np.concatenate([self.hist, np.zeros_like(self.hist)], axis=1)
        p = self.problems
        factors, orders, stats = p.cost(owner, genomes)
        fitness = np.empty(len(owner))
        record_rows(owner, stats, p.col, factors, orders, self.used, self.valid, self.best_value, self.best_f,
                    self.best_o, self.best_stats, self.hist, self.hist_n, _ENERGY, _CYCLES, fitness)
        return fitness, p.overflow(owner, stats)

    def result(self, s: int, objective: str, method: str, seed: int) -> SearchResult:
        mapping = stats = None
        if math.isfinite(self.best_value[s]):
            mapping = Mapping.from_arrays(self.best_f[s].copy(), self.best_o[s].copy(),
                                          label=f"searched ({method}, seed {seed})")
            stats = self.best_stats[s].copy()
        history = tuple((int(h[0]), float(h[1]), float(h[2]), float(h[3])) for h in self.hist[s, :self.hist_n[s]])
        return SearchResult(mapping, stats, objective, method, seed, int(self.used[s]), int(self.valid[s]), history)


def owner_groups(owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row, end row) of each run of equal owners in ``owner`` (a search's rows are contiguous)."""
    if len(owner) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    firsts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return firsts, np.r_[firsts[1:], len(owner)]


def _within_budget(owner: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Mask of the rows (grouped by owner, in order) that are among the first ``left[owner]`` of their owner."""
    firsts, ends = owner_groups(owner)
    rank = np.arange(len(owner)) - np.repeat(firsts, ends - firsts)
    return rank < left[owner]


def _start_points(encoders: list[MappingEncoder], settings: Sequence) -> list[list[np.ndarray] | Exception]:
    """Per search, the genomes its start is chosen from (evaluated, counted in its budget): the default mapping
    ('default') or every dataflow's that fits, its own first ('best-default'), all grown in one kernel call;
    none for 'random'. A search whose start cannot be made gets the ``MappingSpecError`` ``search_layer``
    raises instead."""
    from .default_mapping import dataflow_order, default_arrays, default_mapping

    wanted = [[e.acc.dataflow] if st.x0 == "default" else dataflow_order(e.acc) if st.x0 == "best-default" else []
              for e, st in zip(encoders, settings)]
    factors, orders, status = default_arrays([(e.layer, e.acc, d) for e, names in zip(encoders, wanted)
                                              for d in names])
    out: list[list[np.ndarray] | Exception] = []
    i = 0
    for e, names in zip(encoders, wanted):
        rows = range(i, i + len(names))
        i += len(names)
        try:
            if names and all(status[r] != 0 for r in rows):
                default_mapping(e.layer, e.acc)  # raises the own dataflow's error
            out.append([e.encode_arrays(factors[r], orders[r]) for r in rows if status[r] == 0])
        except MappingSpecError as exc:
            out.append(exc)
    return out


def search_layers(problems: Sequence[tuple[ConvLayer, Accelerator, object]],
                  resample_rounds: int = RESAMPLE_ROUNDS) -> list[SearchResult | MappingSpecError]:
    """The ``search_layer`` result of each (layer, accelerator, settings) — settings with budget, seed, method,
    objective, x0 and sigma0, as ``mapping.network_search.SearchSettings`` —, all CMA-ES searches advanced
    together; 'random' searches run one by one (``search_layer``). A search that cannot start (no default
    mapping fits) gets, in place of its result, the ``MappingSpecError`` ``search_layer`` would raise."""
    results: list = [None] * len(problems)
    batched = []
    for i, (layer, acc, st) in enumerate(problems):
        check_search(st.method, st.objective, st.budget)
        if st.method == "random":
            results[i] = search_layer(layer, acc, budget=st.budget, seed=st.seed, method="random",
                                      objective=st.objective)
        else:
            batched.append(i)
    if batched:
        for i, r in zip(batched, _search_cma([problems[i] for i in batched], resample_rounds)):
            results[i] = r
    return results


def _search_cma(problems: Sequence[tuple[ConvLayer, Accelerator, object]],
                resample_rounds: int) -> list[SearchResult | MappingSpecError]:
    encoders = [MappingEncoder(layer, acc, "index" if st.method == "cma-index" else "importance")
                for layer, acc, st in problems]
    candidates = _start_points(encoders, [st for _, _, st in problems])
    results: list = list(candidates)  # the errors of the searches that cannot start stay in their places
    run = [s for s, c in enumerate(candidates) if not isinstance(c, Exception)]
    if not run:
        return results
    encoders, candidates = [encoders[s] for s in run], [candidates[s] for s in run]
    settings = [problems[s][2] for s in run]
    tr = _Tracker(_Problems(encoders, [st.objective for st in settings]), np.array([st.budget for st in settings]))
    # --- starts: the candidates of 'default' / 'best-default' costed in one call ---
    starts = [np.random.default_rng(st.seed).random(e.size) if not c else c[0]
              for e, st, c in zip(encoders, settings, candidates)]
    owner = np.array([s for s, c in enumerate(candidates) for _ in c], dtype=np.int64)
    if len(owner):
        rows = [g for c in candidates for g in c]
        keep = _within_budget(owner, tr.left)
        fitness, _ = tr.evaluate(owner[keep], _pad([rows[i] for i in np.flatnonzero(keep)],
                                                   max(e.size for e in encoders)))
        kept_owner = owner[keep]
        for s in np.unique(kept_owner):
            f = fitness[kept_owner == s]
            starts[s] = candidates[s][int(np.argmin(f))]
    # --- CMA-ES generations of every search with budget left ---
    advance(tr, [e.size for e in encoders], settings, starts, resample_rounds)
    for k, (s, st) in enumerate(zip(run, settings)):
        results[s] = tr.result(k, st.objective, st.method, st.seed)
    return results


def advance(tr, dims: Sequence[int], settings: Sequence, starts: Sequence[np.ndarray], resample_rounds: int) -> None:
    """Run the CMA-ES searches (dimension, settings' sigma0 and seed, start phenotype) until ``tr`` — any
    tracker with ``left`` (evaluations left per search) and ``evaluate(owner, genomes) -> (fitness, overflow)``
    (each search's rows contiguous) — has spent every budget: each step samples every running search's
    generation, costs it in one ``tr.evaluate`` call, redraws the invalid samples up to ``resample_rounds``
    times, tells the penalized fitness and restarts (IPOP) the searches that stopped."""
    es = BatchedCMA(dims, [None] * len(dims), [st.sigma0 for st in settings], [1 + st.seed * 1009 for st in settings],
                    starts)
    box = UnitBox(es.dmax)
    while True:
        act = np.flatnonzero(tr.left > 0)
        if len(act) == 0:
            break
        owner, offsets = es.rows(act)
        Z, Y, X = es.sample(owner)
        left = tr.left
        take = _within_budget(owner, left)
        fit, over = np.full(len(owner), np.inf), np.ones(len(owner))
        fit[take], over[take] = tr.evaluate(owner[take], box(X[take]))
        complete = es.lam[act] <= left[act]  # searches whose whole generation was costed
        row_complete = np.repeat(complete, es.lam[act])
        for _ in range(resample_rounds):
            bad = np.flatnonzero(np.isinf(fit) & row_complete)
            bad = bad[_within_budget(owner[bad], tr.left)]
            if len(bad) == 0:
                break
            z2, y2, x2 = es.sample(owner[bad])
            fit[bad], over[bad] = tr.evaluate(owner[bad], box(x2))
            Z[bad], Y[bad] = z2, y2
        told_act, told_off = act[complete], offsets[complete]
        if len(told_act) == 0:
            continue
        finite = np.isfinite(fit)
        worst = np.maximum.reduceat(np.where(finite, fit, -np.inf), offsets)
        worst = np.where(np.isfinite(worst), worst, 0.0)
        told = np.where(finite, fit, np.repeat(worst, es.lam[act]) + over)
        stops = es.tell(told_act, told_off, told, Z, Y)
        again = told_act[(stops > 0) & (tr.left[told_act] > 0)]
        if len(again):
            es.restart(again)


def _pad(rows: list[np.ndarray], width: int) -> np.ndarray:
    """Genomes of several lengths as rows of one zero-padded array."""
    out = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out
