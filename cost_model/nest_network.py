"""Whole networks on a general hierarchy: per-layer costs and totals (SPEC §5: EDP = ΣE x Σlatency)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mapping.nest import NestMapping
from mapping.spec import MappingSpecError
from nn_space.layers import ConvLayer, Network

from .evaluate import NetworkEvaluationError
from .hierarchy import Hierarchy
from .nest_evaluate import NestCost, evaluate_nest

NestMapper = Callable[[ConvLayer, Hierarchy], NestMapping]


@dataclass(frozen=True, eq=False)
class NestNetworkCost:
    """Per-layer costs of a network (execution order) on a hierarchy, and the totals."""

    network: str
    hierarchy: Hierarchy
    layers: tuple[NestCost, ...]
    mapping_source: str

    @property
    def energy(self) -> float:
        return sum(lc.energy for lc in self.layers)

    @property
    def cycles(self) -> float:
        return sum(lc.cycles for lc in self.layers)

    @property
    def edp(self) -> float:
        return self.energy * self.cycles

    @property
    def macs(self) -> int:
        return int(sum(lc["macs"] for lc in self.layers))

    @property
    def latency_s(self) -> float:
        return self.cycles / self.hierarchy.clock_hz

    @property
    def utilization(self) -> float:
        return self.macs / (self.hierarchy.num_macs * self.cycles)

    def energy_breakdown(self) -> dict[str, float]:
        """Energy by part: 'mac', each level's accesses, and each fan-out's network ('<level> network')."""
        out = {"mac": sum(lc["energy_mac"] for lc in self.layers)}
        for i, lv in enumerate(self.hierarchy.levels):
            out[lv.name] = sum(lc.level(i, "energy") for lc in self.layers)
            net = sum(lc.level(i, "energy_network") for lc in self.layers)
            if net:
                out[f"network from {lv.name}"] = net
        return out

    def totals(self) -> dict:
        return {"network": self.network, "accelerator": self.hierarchy.name, "mapping": self.mapping_source,
                "layers": len(self.layers), "unique_shapes": len({lc.layer.shape_key for lc in self.layers}),
                "macs": self.macs, "energy": self.energy, "energy_unit": self.hierarchy.energy_table.unit,
                "cycles": self.cycles, "latency_s": self.latency_s, "edp": self.edp,
                "utilization": self.utilization,
                **{f"energy_{k}": v for k, v in self.energy_breakdown().items()}}

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
    cost = NestNetworkCost(network.name, hier, tuple(layers), mapping_source)
    if errors:
        raise NetworkEvaluationError(errors, cost)
    return cost
