"""A hardware design is a 3-level ``Accelerator`` or a general ``Hierarchy``: loading, storing, its search
space and its network costs, in one place, so the searches take either."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

from cost_model.accelerator import Accelerator, accelerator_from_dict, load_accelerator, save_accelerator
from cost_model.evaluate import evaluate_network
from cost_model.hierarchy import Hierarchy
from cost_model.hierarchy_yaml import (hierarchy_from_dict, hierarchy_to_dict, is_hierarchy_file, load_hierarchy,
                                      save_hierarchy)
from mapping.default_mapping import default_mapping
from mapping.nest_network_search import NestMappingCache, default_nest_network, search_nest_network_best_of
from mapping.network_search import MappingCache, SearchSettings, search_network_best_of
from nn_space.layers import Network

from .hardware_space import HardwareSpace, ResourceCaps
from .hierarchy_space import HierarchySpace

Design = Union[Accelerator, Hierarchy]


def load_design(name_or_path: str | Path) -> Design:
    """A built-in hierarchy ('-hier' names) or hierarchy file, else a 3-level accelerator (name or file)."""
    return load_hierarchy(name_or_path) if is_hierarchy_file(name_or_path) else load_accelerator(name_or_path)


def design_to_dict(design: Design) -> dict[str, Any]:
    return hierarchy_to_dict(design) if isinstance(design, Hierarchy) else design.to_dict()


def design_from_dict(d: dict[str, Any], origin: str = "run store") -> Design:
    return hierarchy_from_dict(d, origin) if "levels" in d else accelerator_from_dict(d, origin=origin)


def save_design(design: Design, path: str | Path) -> None:
    (save_hierarchy if isinstance(design, Hierarchy) else save_accelerator)(design, path)


def design_space(baseline: Design, mode: str, axis_dims: int = 3, encoding: str = "importance",
                 caps: ResourceCaps | None = None) -> HardwareSpace | HierarchySpace:
    """The hardware space under ``baseline``'s resources (``HardwareSpace`` or ``HierarchySpace``)."""
    cls = HierarchySpace if isinstance(baseline, Hierarchy) else HardwareSpace
    return cls(baseline, mode, caps=caps, axis_dims=axis_dims, encoding=encoding)


def array_label(design: dict) -> str:
    """The array of a stored design (``design_to_dict``): its fan-out axes, outermost first, as '16(K) x 32(C)'."""
    axes = design["array"] if "array" in design else [a for lv in design["levels"] for a in lv.get("fanout", ())]
    return " x ".join(f"{a['size']}({a.get('dim') or '/'.join(a['dims'])})" for a in axes)


def design_pes(design: Design) -> int:
    return design.num_macs if isinstance(design, Hierarchy) else design.num_pes


def design_energy_unit(design: Design) -> str:
    return design.energy_table.unit if isinstance(design, Hierarchy) else design.energy.unit


def energy_classes(cost) -> dict[str, float]:
    """A network cost's energy in the run store's classes: mac, l1, noc, l2, dram.

    On a hierarchy: dram = the outermost level, l1 = the levels below the last fan-out (per MAC), l2 = the
    other on-chip levels, noc = the words every fan-out carries."""
    b = cost.energy_breakdown()
    if not hasattr(cost, "hierarchy"):
        return b
    levels = cost.hierarchy.levels
    last = max((i for i, lv in enumerate(levels) if lv.fanout), default=len(levels))
    out = {"mac": b["mac"], "l1": 0.0, "noc": 0.0, "l2": 0.0, "dram": 0.0}
    for i, lv in enumerate(levels):
        out["dram" if i == 0 else "l1" if i > last else "l2"] += b[lv.name]
        out["noc"] += b.get(f"network from {lv.name}", 0.0)
    return out


class NetworkCoster:
    """Costs networks on designs of either kind, searched (best of a portfolio) or at default mappings,
    with one mapping cache per kind."""

    def __init__(self, engine: str = "batched") -> None:
        self.cache = MappingCache(engine)  # engine: how the searches run (``network_search.ENGINES``)
        self.nest_cache = NestMappingCache(engine)

    def prefetch(self, networks: list[Network], designs: list[Design], searches: tuple[SearchSettings, ...]) -> None:
        """Run the mapping searches that searched costs of ``networks`` on ``designs`` need, all together."""
        for cache, kind in ((self.cache, Accelerator), (self.nest_cache, Hierarchy)):
            cache.prefetch([(layer, d, s) for d in designs if isinstance(d, kind) for s in searches
                            for net in networks for layer in net.layers])

    def cost(self, network: Network, design: Design, searches: tuple[SearchSettings, ...], searched: bool):
        """NetworkCost / NestNetworkCost; raises NetworkEvaluationError for unmappable layers."""
        if isinstance(design, Hierarchy):
            if searched:
                return search_nest_network_best_of(network, design, searches, self.nest_cache)
            return default_nest_network(network, design)
        if searched:
            return search_network_best_of(network, design, searches, self.cache)
        return evaluate_network(network, design, default_mapping, "default")
