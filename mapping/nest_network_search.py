"""Whole-network mapping on a general hierarchy: each distinct layer shape searched once, cached by
(hierarchy, shape, settings) — the hierarchy counterpart of ``mapping.network_search``.

``SearchSettings`` are shared with the 3-level searches. On a hierarchy there is no dataflow field, so the
starts 'default' and 'best-default' are the same: every dataflow's default mapping is costed (counted in
the budget) and the search starts near the best (``search_nest_layer``). The nest encoding is the
importance encoding; 'cma-index' is refused.
"""
from __future__ import annotations

from dataclasses import replace

from cost_model.hierarchy import Hierarchy
from cost_model.nest_network import NestNetworkCost, evaluate_nest_network
from nn_space.layers import ConvLayer, Network

from .nest_default import best_nest_default_mapping
from .nest_search import NEST_METHODS, NestSearchResult, search_nest_layer
from .nest_batch_search import search_nest_layers
from .network_search import ENGINES, SearchCache, SearchSettings, one_by_one, settings_label

#: SearchSettings.x0 -> search_nest_layer's x0
NEST_STARTS = {"default": "best-default", "best-default": "best-default", "random": "random"}


def check_nest_settings(settings: SearchSettings) -> None:
    """ValueError naming the field unless a hierarchy search can run with ``settings``."""
    if settings.method not in NEST_METHODS:
        raise ValueError(f"method: {settings.method!r} on a hierarchy (allowed: {', '.join(NEST_METHODS)})")


def hierarchy_key(hier: Hierarchy) -> tuple:
    """Everything about a hierarchy that changes a layer's best mapping (not its name)."""
    return (hier.hw_array.tobytes(), hier.glob_vector.tobytes(),
            tuple(tuple(a.dims for a in lv.fanout) for lv in hier.levels))


class NestMappingCache(SearchCache):
    """Nest search results by (hierarchy, layer shape, settings)."""

    def _key(self, hier: Hierarchy) -> tuple:
        return hierarchy_key(hier)

    def _settings(self, settings: SearchSettings) -> SearchSettings:
        return replace(settings, x0=NEST_STARTS[settings.x0])  # 'default' and 'best-default': one search

    def __init__(self, engine: str = "batched") -> None:
        super().__init__()
        if engine not in ENGINES:
            raise ValueError(f"engine: {engine!r} (allowed: {', '.join(ENGINES)})")
        self.engine = engine

    def _search_many(self, requests) -> list[NestSearchResult]:
        for _, _, settings in requests:
            check_nest_settings(settings)
        if self.engine == "batched":
            return search_nest_layers(requests)
        return [one_by_one(search_nest_layer, layer, hier, budget=st.budget, seed=st.seed, method=st.method,
                           objective=st.objective, x0=st.x0, sigma0=st.sigma0) for layer, hier, st in requests]


def search_nest_network_best_of(network: Network, hier: Hierarchy, portfolio: tuple[SearchSettings, ...],
                                cache: NestMappingCache | None = None) -> NestNetworkCost:
    """Per-layer costs of ``network`` on ``hier`` under, for each distinct shape, the best mapping any of the
    ``portfolio`` searches found (ties: the earlier search)."""
    cache = cache if cache is not None else NestMappingCache()
    cache.prefetch([(layer, hier, s) for s in portfolio for layer in network.layers])

    def best(layer: ConvLayer, h: Hierarchy):
        results = [cache.result(layer, h, s) for s in portfolio]
        return min(results, key=lambda r: r.best).mapping

    return evaluate_nest_network(network, hier, best, mapping_source=settings_label(portfolio))


def default_nest_network(network: Network, hier: Hierarchy) -> NestNetworkCost:
    """Per-layer costs of ``network`` on ``hier``, each layer at the best of the dataflows' default mappings."""
    return evaluate_nest_network(network, hier, best_nest_default_mapping,
                                 mapping_source="best default mapping per layer shape (dataflow rules)")
