"""Whole-network mapping: search each distinct layer shape once, cached by (accelerator, shape, settings)."""
from __future__ import annotations

from dataclasses import dataclass

from cost_model.evaluate import NetworkCost, evaluate_network
from nn_space.layers import ConvLayer, Network

from .search import SearchResult, search_layer
from .spec import MappingSpecError


@dataclass(frozen=True)
class SearchSettings:
    """What a per-layer mapping search is run with (part of the cache key)."""

    budget: int = 2000
    seed: int = 0
    method: str = "cma-importance"
    objective: str = "edp"
    x0: str = "default"

    def describe(self) -> str:
        return (f"searched per distinct layer shape ({self.method}, {self.budget} evaluations each, "
                f"objective {self.objective}, seed {self.seed})")


def accelerator_key(acc) -> tuple:
    """Everything about an accelerator that changes a layer's best mapping (not its name)."""
    return (acc.hw_vector.tobytes(), tuple(a.dims for a in acc.array), acc.dataflow)


class MappingCache:
    """Search results by (accelerator, layer shape, settings); each is searched at most once."""

    def __init__(self) -> None:
        self._results: dict[tuple, SearchResult] = {}
        self.searches = 0

    def __len__(self) -> int:
        return len(self._results)

    def result(self, layer: ConvLayer, acc, settings: SearchSettings) -> SearchResult:
        key = (accelerator_key(acc), layer.shape_key, settings)
        found = self._results.get(key)
        if found is None:
            found = search_layer(layer, acc, budget=settings.budget, seed=settings.seed,
                                 method=settings.method, objective=settings.objective, x0=settings.x0)
            if found.mapping is None:
                raise MappingSpecError(
                    f"layer {layer.name or layer.describe()!r} on {acc.name}: no valid mapping found in "
                    f"{settings.budget} evaluations ({found.evaluations} tried)")
            self._results[key] = found
            self.searches += 1
        return found


def search_network(network: Network, acc, settings: SearchSettings = SearchSettings(),
                   cache: MappingCache | None = None) -> NetworkCost:
    """Per-layer costs of ``network`` under searched mappings (each distinct shape searched once)."""
    cache = cache if cache is not None else MappingCache()
    return evaluate_network(network, acc, lambda layer, a: cache.result(layer, a, settings).mapping,
                            mapping_source=settings.describe())
