"""Many hierarchy mapping searches advanced together: ``mapping.nest_search``'s searches (encodings, starts,
trackers, results) on the batched CMA-ES of ``mapping.batch_search``.

Hierarchies differ in their number of levels, so each search's rows are decoded and costed by its own tracker
(one kernel call per search and step); sampling, the CMA-ES update and restarts are batched. Same seed, same
result, whatever else is in the batch.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from cost_model.hierarchy import Hierarchy
from nn_space.layers import ConvLayer

from .batch_search import RESAMPLE_ROUNDS, advance, owner_groups
from .nest_encoding import NestEncoder
from .nest_search import NEST_METHODS, OBJECTIVE_COLUMN, NestSearchResult, _NestTracker, search_nest_layer
from .search import check_search
from .spec import MappingSpecError

#: uniform genomes a 'random' start (or a 'best-default' start without a fitting default) picks the best of
RANDOM_STARTS = 64


class _NestTrackers:
    """One ``nest_search._NestTracker`` per search; ``evaluate`` costs each search's contiguous rows with its own."""

    def __init__(self, trackers: list[_NestTracker]):
        self.trackers = trackers

    @property
    def left(self) -> np.ndarray:
        return np.array([t.left for t in self.trackers], dtype=np.int64)

    def evaluate(self, owner: np.ndarray, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fitness, overflow = np.empty(len(owner)), np.empty(len(owner))
        for a, b in zip(*owner_groups(owner)):
            t = self.trackers[owner[a]]
            fitness[a:b], overflow[a:b] = t.evaluate(np.ascontiguousarray(genomes[a:b, :t.encoder.size]))
        return fitness, overflow


def _start(tr: _NestTracker, layer: ConvLayer, hier: Hierarchy, x0: str, seed: int, budget: int) -> np.ndarray:
    """``search_nest_layer``'s start for x0 'best-default' or 'random' (its candidates costed in ``tr``)."""
    from .nest_default import nest_default_mappings

    encoder = tr.encoder
    if x0 == "best-default":
        try:
            defaults = nest_default_mappings(layer, hier)
        except MappingSpecError:
            defaults = []
        if defaults:
            fitness, _ = tr.evaluate_arrays(tuple(np.stack([getattr(m, a) for m in defaults]) for a in
                                                  ("temporal_array", "spatial_array", "order_array")))
            return encoder.encode(defaults[int(np.argmin(fitness))])
    pool = np.random.default_rng(seed).random((min(RANDOM_STARTS, budget), encoder.size))
    fitness, over = tr.evaluate(pool)
    return pool[int(np.argmin(np.where(np.isfinite(fitness), fitness, 1e6 + over)))]


def search_nest_layers(problems: Sequence[tuple[ConvLayer, Hierarchy, object]],
                       resample_rounds: int = RESAMPLE_ROUNDS) -> list[NestSearchResult | MappingSpecError]:
    """The ``search_nest_layer`` result of each (layer, hierarchy, settings) — settings with budget, seed, method,
    objective, x0 ('best-default' or 'random') and sigma0 —, the CMA-ES searches advanced together; 'random'
    searches and layers with nothing to search run one by one. An error a search raises takes its result's place."""
    results: list = [None] * len(problems)
    batched, trackers, starts = [], [], []
    for i, (layer, hier, st) in enumerate(problems):
        check_search(st.method, st.objective, st.budget, NEST_METHODS, tuple(OBJECTIVE_COLUMN))
        if st.x0 not in ("best-default", "random"):
            raise ValueError(f"x0: {st.x0!r} (allowed: 'best-default', 'random')")
        try:
            encoder = NestEncoder(layer, hier, False, "index" if st.method == "cma-index" else "importance")
            if st.method == "random" or encoder.size == 0:
                results[i] = search_nest_layer(layer, hier, budget=st.budget, seed=st.seed, method=st.method,
                                               objective=st.objective, x0=st.x0, sigma0=st.sigma0)
                continue
            tr = _NestTracker(layer, hier, encoder, st.objective, st.budget)
            start = _start(tr, layer, hier, st.x0, st.seed, st.budget)
        except MappingSpecError as exc:
            results[i] = exc
            continue
        batched.append(i)
        trackers.append(tr)
        starts.append(start)
    if batched:
        settings = [problems[i][2] for i in batched]
        advance(_NestTrackers(trackers), [t.encoder.size for t in trackers], settings, starts, resample_rounds)
        for i, tr, st in zip(batched, trackers, settings):
            results[i] = tr.result(st.objective, st.method, st.seed)
    return results
