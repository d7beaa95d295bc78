"""Per-layer mapping search on a general hierarchy: the CMA-ES loop of ``mapping.search`` over the nest
encoding (``mapping.nest_encoding``), with random search as the baseline.

Every kernel evaluation counts against the budget. Invalid samples are redrawn and, if still invalid, told
a penalty just worse than the generation's worst valid fitness plus the log of how far the worst level's
tiles overflow it, as in ``mapping.search``. Same seed, same result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cost_model.hierarchy import Hierarchy
from cost_model.nest_evaluate import evaluate_nests
from cost_model.nest_layout import (H_CAP, H_KEEP, H_PART, H_PARTED, NS, P_TILES, PER, R_CYCLES, R_EDP,
                                   R_ENERGY, R_STATUS)
from nn_space.layers import ConvLayer

from .nest import NestMapping
from .nest_encoding import NestEncoder
from .spec import MappingSpecError
from .search import BestSoFar, _cma, check_search

OBJECTIVE_COLUMN = {"edp": R_EDP, "energy": R_ENERGY, "cycles": R_CYCLES}
NEST_METHODS = ("cma-importance", "cma-index", "random")


@dataclass(frozen=True)
class NestSearchResult:
    """The best mapping found, its result vector and the best-so-far trace (evaluations, best, its energy,
    its cycles), as ``mapping.search.SearchResult``."""

    mapping: NestMapping | None
    stats: np.ndarray | None
    objective: str
    method: str
    seed: int
    evaluations: int
    valid_evaluations: int
    history: tuple[tuple[int, float], ...] = field(repr=False)

    @property
    def best(self) -> float:
        return math.inf if self.stats is None else float(self.stats[OBJECTIVE_COLUMN[self.objective]])


class _NestTracker(BestSoFar):
    """Evaluates genomes in batches, counts the budget and keeps the best valid mapping."""

    def __init__(self, layer: ConvLayer, hier: Hierarchy, encoder: NestEncoder, objective: str, budget: int):
        super().__init__(budget, OBJECTIVE_COLUMN[objective], R_ENERGY, R_CYCLES)
        self.layer, self.hier, self.encoder = layer, hier, encoder
        hw = hier.hw_array
        nl = hier.num_levels
        self._tile_cols = np.array([[NS + lv * PER + P_TILES + t for t in range(3)] for lv in range(nl)])
        bits = np.array(hier.tensor_bits, dtype=float)
        keep = hw[:, H_KEEP:H_KEEP + 3]
        parted = hw[:, H_PARTED] > 0
        self._need_scale = keep * bits  # bits per tile word of each kept tensor
        self._cap_shared = np.where(parted, np.inf, hw[:, H_CAP])
        self._cap_part = np.where(parted[:, None] & (keep > 0), hw[:, H_PART:H_PART + 3], np.inf)

    def evaluate(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fitness = log objective, inf where invalid; overflow = log of the worst tile/capacity ratio + 1)."""
        genomes = genomes[:self.left]
        return self.evaluate_arrays(self.encoder.decode_batch(genomes))

    def evaluate_arrays(self, arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """As ``evaluate``, for mappings given as (tf, sf, orders) arrays."""
        arrays = tuple(a[:self.left] for a in arrays)
        stats = evaluate_nests(self.layer, self.hier, *arrays)
        fitness = self.record(stats, stats[:, R_STATUS] == 0, arrays)
        need = stats[:, self._tile_cols] * self._need_scale  # [B, L, 3] bits
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.maximum((need.sum(axis=2) / self._cap_shared).max(axis=1),
                               np.nan_to_num(need / self._cap_part).max(axis=(1, 2)))
        overflow = np.log(np.maximum(ratio, 1.0)) + 1.0
        return fitness, overflow

    def result(self, objective: str, method: str, seed: int) -> NestSearchResult:
        mapping = None
        if self.best_arrays is not None:
            mapping = NestMapping.from_arrays(*self.best_arrays, label=f"searched ({method}, seed {seed})")
        return NestSearchResult(mapping, self.best_stats, objective, method, seed, self.used, self.valid,
                                tuple(self.history))


def search_nest_layer(layer: ConvLayer, hier: Hierarchy, budget: int = 2000, seed: int = 0,
                      method: str = "cma-importance", objective: str = "edp", exact: bool = False,
                      x0: str | np.ndarray = "best-default", starts: int = 64, sigma0: float = 0.25,
                      popsize: int | None = None, resample_rounds: int = 3, batch: int = 64) -> NestSearchResult:
    """Search the mappings of ``layer`` on ``hier`` for the lowest ``objective`` within ``budget`` evaluations.

    ``exact``: only exact-divisor factors (for tools that take no padding, e.g. Timeloop, ZigZag).
    ``x0``: 'best-default' (every dataflow's default mapping is evaluated, counted in the budget, and the
    search starts near the best; with ``exact``, near the first, since defaults pad; the best of
    ``starts`` uniform genomes if none fits), 'random' (the best of ``starts`` uniform genomes) or a genome.
    """
    check_search(method, objective, budget, NEST_METHODS, tuple(OBJECTIVE_COLUMN))
    encoder = NestEncoder(layer, hier, exact, "index" if method == "cma-index" else "importance")
    tr = _NestTracker(layer, hier, encoder, objective, budget)
    rng = np.random.default_rng(seed)
    if method == "random" or encoder.size == 0:
        while tr.left > 0:
            tr.evaluate(rng.random((min(batch, tr.left), max(encoder.size, 0))))
        return tr.result(objective, method, seed)
    if isinstance(x0, np.ndarray):
        start = np.asarray(x0, dtype=float)
    elif x0 == "best-default":
        from .nest_default import nest_default_mappings

        try:
            defaults = nest_default_mappings(layer, hier)
        except MappingSpecError:
            defaults = []
        if defaults and exact:  # the defaults pad: only a start, not candidates
            start = encoder.encode(defaults[0])
        elif defaults:
            fitness, _ = tr.evaluate_arrays(tuple(np.stack([getattr(m, a) for m in defaults]) for a in
                                                  ("temporal_array", "spatial_array", "order_array")))
            start = encoder.encode(defaults[int(np.argmin(fitness))])
        else:
            x0 = "random"
    if x0 == "random":
        pool = rng.random((min(starts, budget), encoder.size))
        fitness, over = tr.evaluate(pool)
        start = pool[int(np.argmin(np.where(np.isfinite(fitness), fitness, 1e6 + over)))]
    elif not isinstance(x0, np.ndarray) and x0 != "best-default":
        raise ValueError(f"x0: {x0!r} (allowed: 'best-default', 'random' or a genome)")
    _cma(tr, start, sigma0, seed, popsize, resample_rounds, rng)
    return tr.result(objective, method, seed)


def nest_search_mapper(budget: int = 2000, seed: int = 0, method: str = "cma-importance",
                       objective: str = "edp", exact: bool = False):
    """A mapper for ``evaluate_nest_network``: each distinct layer shape searched with these settings."""
    def mapper(layer: ConvLayer, hier: Hierarchy) -> NestMapping:
        r = search_nest_layer(layer, hier, budget=budget, seed=seed, method=method, objective=objective,
                              exact=exact)
        if r.mapping is None:
            raise MappingSpecError(f"layer {layer.name or layer.describe()!r} on {hier.name}: no valid mapping "
                                   f"in {r.evaluations} evaluations ({method}, seed {seed})")
        return r.mapping
    return mapper
