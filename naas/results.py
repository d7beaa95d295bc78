"""What the public API returns: dataclasses with ``.to_frame()`` (pandas) and ``.to_dict()``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nn_space.layers import uncosted_totals


@dataclass(frozen=True)
class NetworkResult:
    """A network costed on an accelerator: the totals, and per layer its cost and mapping (``cost``)."""

    network: str
    accelerator: str
    mapping: str  # how the mappings were obtained (searched with which settings, or the default rule)
    energy: float
    cycles: float
    edp: float
    latency_s: float
    utilization: float
    macs: int
    energy_unit: str
    cost: Any = field(repr=False, compare=False)  # the model's network cost (cost_model)

    @classmethod
    def of(cls, cost: Any, accelerator: str, energy_unit: str) -> "NetworkResult":
        t = cost.totals()
        return cls(network=cost.network, accelerator=accelerator, mapping=cost.mapping_source,
                   energy=t["energy"], cycles=t["cycles"], edp=t["edp"], latency_s=t["latency_s"],
                   utilization=t["utilization"], macs=int(t["macs"]), energy_unit=energy_unit, cost=cost)

    @property
    def mappings(self) -> dict[str, Any]:
        """Each layer's mapping, by layer name."""
        return {lc.layer.name: lc.mapping for lc in self.cost.layers}

    @property
    def uncosted(self) -> dict[str, tuple[int, int]]:
        """The network's operations the model does not cost (softmax, layer norm, ...): {op: (count, elements)}."""
        return uncosted_totals(self.cost.uncosted)

    def energy_breakdown(self) -> dict[str, float]:
        """Energy by component (the model's classes), in ``energy_unit``."""
        return dict(self.cost.energy_breakdown())

    def to_frame(self):
        """One row per layer: shape, MACs, cycles, energy by class, EDP, utilization, mapping."""
        return self.cost.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, "accelerator": self.accelerator, "mapping": self.mapping,
                "totals": self.cost.totals(), "energy_unit": self.energy_unit,
                "layers": [lc.to_dict() for lc in self.cost.layers]}


@dataclass(frozen=True)
class SearchResult:
    """A finished hardware search or co-search: its best design against the baseline, and its run folder."""

    kind: str  # 'search' or 'cosearch'
    folder: Path
    config: Any  # HardwareSearchConfig or CosearchConfig, as the run stored it
    best_id: int
    generation: int
    fitness: float  # geomean network EDP (search) or the best subnet's EDP (co-search), at the inner budget
    baseline_fitness: float | None
    best: Any = field(repr=False)  # the best accelerator (as best.yaml holds it)
    final: dict | None = field(default=None, repr=False)  # the re-costing at final_budget, if made
    subnet: dict | None = None  # co-search: the best subnet (config, accuracy, MACs, EDP)

    @property
    def edp_vs_baseline(self) -> float | None:
        """EDP of the best design over the baseline's (below 1: better); at the final budget when re-costed."""
        f = self.final
        if f and self.kind == "search" and f["best"]["fitness"] and f["baseline"]["fitness"]:
            return f["best"]["fitness"] / f["baseline"]["fitness"]
        if f and self.kind == "cosearch":
            return f["best"]["edp"] / f["reference"][f["reference_name"]]["edp"]
        return self.fitness / self.baseline_fitness if self.baseline_fitness else None

    def to_frame(self):
        """The comparison table of the report (per network: baseline vs best; co-search: reference vs best)."""
        return Run(self.folder).table()

    def to_dict(self) -> dict[str, Any]:
        from .designs import design_to_dict

        return {"kind": self.kind, "folder": str(self.folder), "config": self.config.to_dict(),
                "best_id": self.best_id, "generation": self.generation, "fitness": self.fitness,
                "baseline_fitness": self.baseline_fitness, "edp_vs_baseline": self.edp_vs_baseline,
                "best": design_to_dict(self.best), "final": self.final, "subnet": self.subnet}


@dataclass(frozen=True)
class SweepResult:
    """A finished sweep: how many designs, the lowest-EDP one, and its run folder."""

    folder: Path
    spec: Any  # SweepSpec
    designs: int
    evaluated: int  # evaluated by this call (the rest came from the run folder)
    best: dict | None  # the lowest-EDP design's record (id, accelerator, fitness)
    baseline_fitness: float | None

    def to_frame(self):
        """One row per design: parameter values, sizes, area proxy, energy, cycles, EDP, Pareto fronts."""
        return Run(self.folder).table()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "sweep", "folder": str(self.folder), "spec": self.spec.to_dict(), "designs": self.designs,
                "evaluated": self.evaluated, "best": self.best, "baseline_fitness": self.baseline_fitness}


@dataclass(frozen=True)
class Run:
    """A run folder (search, co-search or sweep) opened for reading: its config, designs and report."""

    folder: Path

    def __post_init__(self):
        object.__setattr__(self, "folder", Path(self.folder))
        from .run_store import RunStore

        RunStore(self.folder, create=False).close()  # NoRunError if the folder holds no run

    def _store(self):
        from .run_store import RunStore

        return RunStore(self.folder, create=False)

    @property
    def kind(self) -> str:
        with self._store() as store:
            return store.kind

    @property
    def config(self) -> Any:
        """The config the run stored (HardwareSearchConfig, CosearchConfig, TradeoffConfig or SweepSpec)."""
        from .joint_search import CosearchConfig
        from .hardware_search import HardwareSearchConfig
        from .sweep_spec import SweepSpec
        from .tradeoff_search import TradeoffConfig

        with self._store() as store:
            cls = {"search": HardwareSearchConfig, "cosearch": CosearchConfig, "sweep": SweepSpec,
                   "tradeoff": TradeoffConfig}[store.kind]
            return cls.from_dict(store.get_meta("config"))

    @property
    def environment(self) -> dict | None:
        """The software the run was computed with."""
        with self._store() as store:
            return store.get_meta("environment")

    def designs(self):
        """Every design: id, generation, fitness, error, seconds (pandas DataFrame)."""
        with self._store() as store:
            return store.designs()

    def network_results(self):
        """Per design and network: energy, cycles, EDP, utilization and energy by class."""
        with self._store() as store:
            return store.network_results()

    def best(self) -> dict | None:
        """The lowest-fitness design's record (id, generation, genome, accelerator, fitness)."""
        with self._store() as store:
            return store.best()

    @property
    def final(self) -> dict | None:
        """The final re-costing, if made for the current best design."""
        from .final_costs import stored_final

        with self._store() as store:
            return stored_final(store)

    def table(self):
        """The report's main table (what ``naas report`` prints)."""
        from .report import run_table

        with self._store() as store:
            return run_table(store)

    def report(self) -> list[Path]:
        """Write the report's tables and plots into the folder (``naas report``); the files written."""
        from .report import write_report

        return write_report(self.folder)

    def to_frame(self):
        return self.designs()

    def to_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "kind": self.kind, "config": self.config.to_dict(),
                "best": self.best(), "final": self.final, "environment": self.environment}
