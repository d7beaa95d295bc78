"""NAAS outer loop (SPEC §1, §6): CMA-ES over the hardware space, inner per-layer mapping search.

Fitness of a design = geometric mean over the chosen networks of each network's EDP (Σ energy x Σ cycles),
each network at its mappings: searched per distinct layer shape in ``full`` mode, the baseline dataflow's
default mapping in ``sizing`` and ``connectivity`` modes. A design with a layer that cannot be mapped gets
no fitness; CMA-ES is told a value just worse than the generation's worst feasible one.

Reproducible and resumable: the run's configuration, every design and the optimizer state after every
generation live in the run store; a resumed run re-asks the interrupted generation (same candidates, the
optimizer state being the same), reuses every design already committed, and ends as an uninterrupted run
with the same seed would. Design 1 (generation 0) is the warm start, the baseline as the space expresses it,
so the search never reports a design worse than its starting point; CMA-ES generations are 1, 2, ... The
budget is counted in designs, the warm start included, and rounded up to whole generations.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from cost_model.evaluate import NetworkEvaluationError
from mapping.encoding import ENCODINGS
from mapping.network_search import SearchSettings
from nn_space.zoo import get_network

from .designs import Design, NetworkCoster, design_from_dict, design_space, design_to_dict, energy_classes, \
    load_design, save_design

from .executor import Executor, InlineExecutor
from .config_checks import check_choice, check_networks
from .config_base import OuterSearchConfig
from .config_options import option
from .hardware_space import MODES
from .final_costs import record_final
from .outer_loop import SearchProgress, check_elite_mutants, default_popsize, search_designs, stored_optimizer
from .run_folder import open_run_folder
from .run_store import RunStore


KIND = "search"


@dataclass(frozen=True)
class HardwareSearchConfig(OuterSearchConfig):
    """Everything that determines a hardware search's result (stored in the run folder); ``naas search``'s
    options are built from these fields, so their defaults live here alone (``naas.config_options``)."""

    networks: tuple[str, ...] = option(("resnet50",), "comma-separated built-in networks (fitness: geomean EDP)")
    mode: str = option("full", "what is searched: full (sizes, connectivity and mappings); sizing (sizes only, "
                               "the baseline's dataflow and default mappings) and connectivity (no mapping "
                               "search) are ablations", choices=MODES, group="ablation")
    encoding: str = option("importance", "how parallel dims and loop orders are encoded: 'importance' (NAAS) "
                                         "or 'index' (one gene over the orders: an ablation)", choices=ENCODINGS,
                             group="ablation")

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "networks", tuple(self.networks))
        check_networks(self.networks)
        check_choice(self, "mode", MODES)
        check_choice(self, "encoding", ENCODINGS)


def network_summary(cost) -> dict[str, float]:
    """What the run store keeps of a network cost (3-level or hierarchy: ``designs.energy_classes``)."""
    b = energy_classes(cost)
    return {"energy": cost.energy, "cycles": cost.cycles, "edp": cost.edp, "utilization": cost.utilization,
            **{f"energy_{k}": v for k, v in b.items()}}


class DesignEvaluator:
    """Costs a hardware design on the search's networks (mapping per the mode), with a mapping cache."""

    def __init__(self, config: HardwareSearchConfig, searches: tuple[SearchSettings, ...] | None = None,
                 coster: NetworkCoster | None = None):
        self.config = config
        self.networks = [get_network(n) for n in config.networks]
        self.coster = coster if coster is not None else NetworkCoster()
        # per layer shape, the best mapping of these searches (the search's own settings unless re-costing)
        self.searches = searches or (config.mapping_settings(),)

    def cost(self, acc: Design, searched: bool,
             each: Callable[[str], None] | None = None) -> tuple[float | None, dict, str | None]:
        """(geomean EDP or None, {network: summary}, error); ``each(network)`` after each network."""
        if searched:
            self.coster.prefetch(self.networks, [acc], self.searches)
        results, errors = {}, []
        for net in self.networks:
            try:
                cost = self.coster.cost(net, acc, self.searches, searched)
                results[net.name] = network_summary(cost)
            except NetworkEvaluationError as exc:
                errors.append(f"{net.name}: {exc.errors[0]}" + (f" (+{len(exc.errors) - 1} more)"
                                                               if len(exc.errors) > 1 else ""))
            if each:
                each(net.name)
        if errors:
            return None, results, "; ".join(errors)
        fitness = math.exp(sum(math.log(r["edp"]) for r in results.values()) / len(results))
        return fitness, results, None

    def cost_many(self, designs: list[Design], searched: bool) -> list[tuple[float | None, dict, str | None, float]]:
        """``cost`` of each design, plus its seconds (the designs' mapping searches run together, their time
        shared out equally)."""
        t = time.perf_counter()
        if searched:
            self.coster.prefetch(self.networks, designs, self.searches)
        shared = (time.perf_counter() - t) / max(1, len(designs))
        out = []
        for acc in designs:
            t = time.perf_counter()
            out.append((*self.cost(acc, searched), shared + time.perf_counter() - t))
        return out


def run_hardware_search(config: HardwareSearchConfig | None, folder: str | Path, resume: bool = False,
                        progress: Callable[[SearchProgress], None] | None = None,
                        executor: Executor | None = None, budget: int | None = None) -> dict:
    """Run (or resume) a search; returns the best design's record. Writes ``best.yaml`` in the folder.

    ``budget`` (with ``resume``): extend the run to that many designs, as if it had been started with it.
    """
    store, config = open_run_folder(folder, KIND, config, resume, HardwareSearchConfig.from_dict, budget,
                                    check_new=_check_new)
    with store:
        return _search(config, store, progress, executor or InlineExecutor())


def _check_new(config: HardwareSearchConfig) -> None:
    """What a new run needs before its folder is created: the baseline, and room for the elite mutants in
    the population of its space."""
    space = design_space(load_design(config.baseline), config.mode, axis_dims=config.axis_dims,
                         encoding=config.encoding)
    check_elite_mutants(config.elite_mutants, config.elite_sigma, config.popsize or default_popsize(space.size))


def _record(store: RunStore, evaluator: DesignEvaluator, generation: int, genome: np.ndarray,
            acc: Design, searched: bool) -> float | None:
    """Cost one design and commit it with its per-network results; returns its fitness."""
    t = time.perf_counter()
    fit, res, err = evaluator.cost(acc, searched)
    store.add_design(generation, genome, design_to_dict(acc), fit, res, err, time.perf_counter() - t)
    return fit


_EVALUATORS: dict[str, DesignEvaluator] = {}


def evaluate_hardware_designs(tasks: list[tuple]) -> list[tuple[float | None, dict, str | None, float]]:
    """(fitness, per-network results, error, seconds) of each design: a picklable task list for any executor.
    A task is (config as a dict, design as a dict, searched); the tasks share one configuration."""
    if not tasks:
        return []
    config_dict = tasks[0][0]
    key = repr(sorted(config_dict.items()))
    evaluator = _EVALUATORS.get(key)
    if evaluator is None:  # one per configuration and process (its mapping cache lives with it)
        evaluator = _EVALUATORS[key] = DesignEvaluator(HardwareSearchConfig.from_dict(config_dict))
    searched = {t[2] for t in tasks}
    if len(searched) > 1 or any(t[0] != config_dict for t in tasks):
        return [o for t in tasks for o in evaluate_hardware_designs([t])]
    return evaluator.cost_many([design_from_dict(t[1]) for t in tasks], searched.pop())


def evaluate_hardware_design(task: tuple) -> tuple[float | None, dict, str | None, float]:
    """``evaluate_hardware_designs`` of one task."""
    return evaluate_hardware_designs([task])[0]


def _search(config: HardwareSearchConfig, store: RunStore, progress, executor: Executor) -> dict:
    baseline = load_design(config.baseline)
    space = design_space(baseline, config.mode, axis_dims=config.axis_dims, encoding=config.encoding)
    evaluator = DesignEvaluator(config)
    searched = config.mode == "full"
    stored = stored_optimizer(store, space.size, config.mode)  # checked before anything is added

    # The baseline at its best mapping (searched, within its own dataflow): the reference for the report.
    base_genome = np.full(space.size, -1.0)  # a key no decoded design can have
    if store.find(base_genome) is None:
        _record(store, evaluator, -1, base_genome, baseline, searched=True)
    base_fit = store.find(base_genome)[1]

    def commit(generation: int, x: np.ndarray, acc: Design, outcome: tuple) -> None:
        fit, res, err, seconds = outcome
        store.add_design(generation, x, design_to_dict(acc), fit, res, err, seconds)

    def make_task(generation: int, x: np.ndarray, acc: Design) -> tuple:
        return config.to_dict(), design_to_dict(acc), searched

    best = search_designs(store, space, config, f"{baseline.name}-naas", make_task, evaluate_hardware_designs,
                          commit, executor, progress, base_fit, stored,
                          "no design in the search could map every layer")
    save_design(best_design(config, baseline, best), store.folder / "best.yaml")
    if config.final_budget:
        record_final_costs(store, config.final_budget, progress)
    best["baseline_fitness"] = base_fit
    return best


def record_final_costs(store: RunStore, budget: int,
                       progress: Callable[[SearchProgress], None] | None = None) -> dict:
    """The baseline and the run's best design re-costed with ``budget`` mapping evaluations per layer shape
    (per shape the best of the run's ``final_settings``), stored as the run's "final" (``naas.final_costs``).

    Also for a run stored without a final budget (``naas report`` and the experiments compare at it then).
    """
    config = replace(HardwareSearchConfig.from_dict(store.get_meta("config")), final_budget=budget)
    searches = config.final_settings(budget)
    baseline = load_design(config.baseline)

    def compute(best: dict, step) -> dict:
        evaluator = DesignEvaluator(config, searches)
        out = {}
        for key, acc, searched in (("baseline", baseline, True),
                                   ("best", best_design(config, baseline, best), config.mode == "full")):
            fit, res, err = evaluator.cost(acc, searched, each=lambda net: step(f"{key} on {net}"))
            out[key] = {"fitness": fit, "networks": res, "error": err}
        return out
    return record_final(store, budget, searches, "no design in the search could map every layer", compute,
                        steps=2 * len(config.networks), progress=progress)


def best_design(config: HardwareSearchConfig, baseline: Design, best: dict) -> Design:
    """The run's best design, decoded from its genome (as ``best.yaml`` holds it)."""
    space = design_space(baseline, config.mode, axis_dims=config.axis_dims, encoding=config.encoding)
    return space.decode(np.array(best["genome"]), name=f"{baseline.name}-naas")
