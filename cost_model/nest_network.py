"""Whole networks on a general hierarchy: per-layer costs and totals (SPEC §5: EDP = ΣE x Σlatency)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mapping.nest import NestMapping
from mapping.spec import MappingSpecError
from nn_space.layers import ConvLayer, Network

from .evaluate import NetworkEvaluationError, NetworkTotals
from .hierarchy import Hierarchy
from .nest_evaluate import NestCost, evaluate_nest

NestMapper = Callable[[ConvLayer, Hierarchy], NestMapping]


@dataclass(frozen=True, eq=False)
class NestNetworkCost(NetworkTotals):
    """Per-layer costs of a network (execution order) on a hierarchy, and the totals."""

    network: str
    hierarchy: Hierarchy
    layers: tuple[NestCost, ...]
    mapping_source: str
    uncosted: tuple = ()

    def _hardware(self) -> tuple[str, str, float, int]:
        h = self.hierarchy
        return h.name, h.energy_table.unit, h.clock_hz, h.num_macs

    def to_frame(self):
        """One row per layer (pandas DataFrame), level fields as '<level>_<field>' columns."""
        import pandas as pd

        rows = []
        for lc in self.layers:
            d = lc.to_dict()
            d.pop("mapping")
            for name, fields in d.pop("levels").items():
                d.update({f"{name}_{k}": v for k, v in fields.items()})
            rows.append(d)
        return pd.DataFrame(rows)


def evaluate_nest_network(network: Network, hier: Hierarchy, mapper: NestMapper,
                          mapping_source: str = "") -> NestNetworkCost:
    """Cost every layer, mapping each distinct shape once; ``NetworkEvaluationError`` lists the layers
    that could not be mapped, with the costs of all the others."""
    by_shape: dict[tuple, NestCost | str] = {}
    layers, errors = [], []
    for layer in network.layers:
        cached = by_shape.get(layer.shape_key)
        if cached is None:
            try:
                cached = evaluate_nest(layer, hier, mapper(layer, hier))
            except MappingSpecError as exc:
                cached = str(exc)
                errors.append(cached)
            by_shape[layer.shape_key] = cached
        if isinstance(cached, NestCost):
            layers.append(NestCost(layer, hier, cached.mapping, cached.stats))
    cost = NestNetworkCost(network.name, hier, tuple(layers), mapping_source, network.uncosted)
    if errors:
        raise NetworkEvaluationError(errors, cost)
    return cost
