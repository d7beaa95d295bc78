"""Whole-network mapping: search each distinct layer shape once, cached by (accelerator, shape, settings)."""
from __future__ import annotations

from dataclasses import dataclass, replace

from cost_model.evaluate import NetworkCost, evaluate_network
from nn_space.layers import ConvLayer, Network

from .batch_search import search_layers
from .search import STARTS, SearchResult, search_layer
from .spec import MappingSpecError


@dataclass(frozen=True)
class SearchSettings:
    """What a per-layer mapping search is run with (part of the cache key)."""

    budget: int = 2000
    seed: int = 0
    method: str = "cma-importance"
    objective: str = "edp"
    x0: str = "default"  # the start: 'default', 'best-default' or 'random' (see ``search_layer``)
    sigma0: float = 0.25  # CMA-ES initial step size (genes in [0, 1])

    def __post_init__(self):
        check_start(self.x0, self.sigma0)

    def describe(self) -> str:
        return (f"searched per distinct layer shape ({self.method}, {self.budget} evaluations each, "
                f"objective {self.objective}, seed {self.seed}, start {self.x0}, sigma0 {self.sigma0:g})")


def check_start(x0: str, sigma0: float, fields: tuple[str, str] = ("x0", "sigma0")) -> None:
    """ValueError naming the field unless ``x0`` is a named start and ``0 < sigma0 <= 1``."""
    if x0 not in STARTS:
        raise ValueError(f"{fields[0]}: {x0!r} (allowed: {', '.join(STARTS)})")
    if not 0 < sigma0 <= 1:
        raise ValueError(f"{fields[1]}: {sigma0!r} (allowed: 0 < {fields[1]} <= 1)")


def accelerator_key(acc) -> tuple:
    """Everything about an accelerator that changes a layer's best mapping (not its name)."""
    return (acc.hw_vector.tobytes(), tuple(a.dims for a in acc.array), acc.dataflow)


class SearchCache:
    """Search results by (design, layer shape, settings); each is searched at most once. Subclasses say how
    a design is keyed and searched (``_search_many``: several searches at once)."""

    def __init__(self) -> None:
        self._results: dict[tuple, object] = {}
        self._design_keys: dict[int, tuple] = {}
        self.searches = 0

    def __len__(self) -> int:
        return len(self._results)

    def _key(self, design) -> tuple:
        raise NotImplementedError

    def _search_many(self, requests: list[tuple[ConvLayer, object, SearchSettings]]) -> list:
        raise NotImplementedError

    def _settings(self, settings: SearchSettings) -> SearchSettings:
        """The settings as searched (equal searches share one key)."""
        return settings

    def _design_key(self, design) -> tuple:
        """``_key(design)``, computed once per design object (the last few thousand remembered)."""
        known = self._design_keys.get(id(design))
        if known is None or known[0] is not design:
            if len(self._design_keys) > 4096:
                self._design_keys.clear()
            known = self._design_keys[id(design)] = (design, self._key(design))
        return known[1]

    def prefetch(self, requests) -> None:
        """Search every (layer, design, settings) of ``requests`` not yet in the cache, all in one call of
        ``_search_many`` (each distinct one once)."""
        todo: dict[tuple, tuple] = {}
        for layer, design, settings in requests:
            settings = self._settings(settings)
            key = (self._design_key(design), layer.shape_key, settings)
            if key not in self._results and key not in todo:
                todo[key] = (layer, design, settings)
        if todo:
            for key, found in zip(todo, self._search_many(list(todo.values()))):
                self._results[key] = found
            self.searches += len(todo)

    def result(self, layer: ConvLayer, design, settings: SearchSettings):
        """The search's result; ``MappingSpecError`` if it found no valid mapping."""
        settings = self._settings(settings)
        key = (self._design_key(design), layer.shape_key, settings)
        if key not in self._results:
            self.prefetch([(layer, design, settings)])
        found = self._results[key]
        if isinstance(found, Exception):  # the search could not start (e.g. no default mapping fits)
            raise found
        if found.mapping is None:
            raise MappingSpecError(
                f"layer {layer.name or layer.describe()!r} on {design.name}: no valid mapping found in "
                f"{settings.budget} evaluations ({found.evaluations} tried)")
        return found


def one_by_one(search, *args, **kwargs):
    """``search(*args, **kwargs)``, or the ``MappingSpecError`` it raises (kept in the cache in its place)."""
    try:
        return search(*args, **kwargs)
    except MappingSpecError as exc:
        return exc


#: ways a 3-level mapping cache runs its searches: all together (``mapping.batch_search``), or one pycma
#: object per search (``mapping.search.search_layer``, the reference the benchmarks compare against)
ENGINES = ("batched", "pycma")


class MappingCache(SearchCache):
    """3-level search results by (accelerator, layer shape, settings)."""

    def __init__(self, engine: str = "batched") -> None:
        super().__init__()
        if engine not in ENGINES:
            raise ValueError(f"engine: {engine!r} (allowed: {', '.join(ENGINES)})")
        self.engine = engine

    def _key(self, acc) -> tuple:
        return accelerator_key(acc)

    def _search_many(self, requests) -> list[SearchResult]:
        if self.engine == "batched":
            return search_layers(requests)
        return [one_by_one(search_layer, layer, acc, budget=st.budget, seed=st.seed, method=st.method,
                           objective=st.objective, x0=st.x0, sigma0=st.sigma0) for layer, acc, st in requests]


def search_network(network: Network, acc, settings: SearchSettings = SearchSettings(),
                   cache: MappingCache | None = None) -> NetworkCost:
    """Per-layer costs of ``network`` under searched mappings (each distinct shape searched once)."""
    cache = cache if cache is not None else MappingCache()
    cache.prefetch([(layer, acc, settings) for layer in network.layers])
    return evaluate_network(network, acc, lambda layer, a: cache.result(layer, a, settings).mapping,
                            mapping_source=settings.describe())


#: (start, sigma0) of the searches a final re-costing adds to the search's own (see ``final_portfolio``).
FINAL_STARTS = (("default", 0.25), ("best-default", 0.25))


def final_portfolio(settings: SearchSettings) -> tuple[SearchSettings, ...]:
    """``settings`` and the ``FINAL_STARTS`` searches at its budget, seed and method, duplicates dropped.

    A start and step size that rank designs well at a small budget need not find a network's best mapping
    at a large one (sigma0 0.15 left ResNet-50 on Eyeriss 4.7% above sigma0 0.25 at 2,000 evaluations per
    shape), so "each at its best mapping" takes, per layer shape, the best of several searches.
    """
    out = [settings]
    for x0, sigma0 in FINAL_STARTS:
        s = replace(settings, x0=x0, sigma0=sigma0)
        if s not in out:
            out.append(s)
    return tuple(out)


def search_network_best_of(network: Network, acc, portfolio: tuple[SearchSettings, ...],
                           cache: MappingCache | None = None) -> NetworkCost:
    """Per-layer costs of ``network`` under, for each distinct shape, the best mapping (by each search's
    objective; ties: the earlier search) that any of the ``portfolio`` searches found."""
    cache = cache if cache is not None else MappingCache()
    cache.prefetch([(layer, acc, s) for s in portfolio for layer in network.layers])

    def best(layer: ConvLayer, a):
        results = [cache.result(layer, a, s) for s in portfolio]
        return min(results, key=lambda r: r.best).mapping  # min keeps the first of equal values

    source = settings_label(portfolio)
    return evaluate_network(network, acc, best, mapping_source=source)


def settings_label(portfolio: tuple[SearchSettings, ...]) -> str:
    """What a portfolio's costs are, for tables and stored results."""
    if len(portfolio) == 1:
        return portfolio[0].describe()
    return "best per layer shape of: " + "; ".join(s.describe() for s in portfolio)
