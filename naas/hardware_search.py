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
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np

from cost_model.evaluate import NetworkEvaluationError
from mapping.encoding import ENCODINGS
from mapping.network_search import SearchSettings, check_start, final_portfolio, settings_label
from nn_space.zoo import get_network

from .designs import Design, NetworkCoster, design_from_dict, design_space, design_to_dict, energy_classes, \
    load_design, save_design

from .environment import check_resumed_environment, record_environment
from .executor import Executor, InlineExecutor
from .hardware_space import WARM_STARTS
from .outer_loop import (RunFolderError, SearchProgress, best_and_stored_final, check_elite_mutants,
                         elite_mutants, extend_budget, run_generations,
                         start_optimizer, stored_optimizer)
from .run_store import RunStore


@dataclass(frozen=True)
class HardwareSearchConfig:
    """Everything that determines a hardware search's result (stored in the run folder)."""

    baseline: str
    networks: tuple[str, ...]
    mode: str = "full"
    budget: int = 60  # hardware designs (rounded up to whole generations)
    seed: int = 0
    inner_budget: int = 500  # mapping-search evaluations per distinct layer shape (full mode)
    popsize: int | None = None
    sigma0: float = 0.3
    axis_dims: int = 3  # loop dims an array axis may parallelize (1: the paper's space)
    final_budget: int | None = 2000  # re-cost baseline and best design with this mapping budget (None: don't)
    encoding: str = "importance"  # of loop orders and parallel dims: 'importance' (NAAS) or 'index' (ablation)
    warm_start: str = "baseline"  # generation 0: the baseline, or 'dataflows' (see HardwareSpace.start_genomes)
    elite_mutants: int = 0  # per generation: mutants of the best design so far injected (outer_loop.elite_mutants)
    elite_sigma: float = 0.05  # their std per gene (genes in [0, 1])
    inner_start: str = "default"  # where each per-layer mapping search starts (mapping.search.STARTS)
    inner_sigma0: float = 0.25  # its CMA-ES initial step size
    final_portfolio: bool = False  # final re-costing: per layer shape, the best of final_portfolio() searches

    def __post_init__(self):
        check_start(self.inner_start, self.inner_sigma0, ("inner_start", "inner_sigma0"))
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding: {self.encoding!r} (allowed: {', '.join(ENCODINGS)})")
        if self.warm_start not in WARM_STARTS:
            raise ValueError(f"warm_start: {self.warm_start!r} (allowed: {', '.join(WARM_STARTS)})")
        check_elite_mutants(self.elite_mutants, self.elite_sigma, self.popsize)

    def mapping_settings(self, budget: int | None = None) -> SearchSettings:
        """How the inner per-layer mapping searches run (``budget`` overrides the inner budget)."""
        return SearchSettings(budget=budget or self.inner_budget, seed=self.seed, method=f"cma-{self.encoding}",
                              x0=self.inner_start, sigma0=self.inner_sigma0)

    def final_settings(self, budget: int) -> tuple[SearchSettings, ...]:
        """The mapping searches a final re-costing at ``budget`` takes, per layer shape, the best of."""
        own = self.mapping_settings(budget)
        return final_portfolio(own) if self.final_portfolio else (own,)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["networks"] = list(self.networks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "HardwareSearchConfig":
        # runs stored before these fields existed: one dim per axis, no final re-costing
        return cls(**{"axis_dims": 1, "final_budget": None, "warm_start": "baseline", **d,
                      "networks": tuple(d["networks"])})


def network_summary(cost) -> dict[str, float]:
    """What the run store keeps of a network cost (3-level or hierarchy: ``designs.energy_classes``)."""
    b = energy_classes(cost)
    return {"energy": cost.energy, "cycles": cost.cycles, "edp": cost.edp, "utilization": cost.utilization,
            **{f"energy_{k}": v for k, v in b.items()}}


class DesignEvaluator:
    """Costs a hardware design on the search's networks (mapping per the mode), with a mapping cache."""

    def __init__(self, config: HardwareSearchConfig, searches: tuple[SearchSettings, ...] | None = None):
        self.config = config
        self.networks = [get_network(n) for n in config.networks]
        self.coster = NetworkCoster()
        # per layer shape, the best mapping of these searches (the search's own settings unless re-costing)
        self.searches = searches or (config.mapping_settings(),)

    def cost(self, acc: Design, searched: bool) -> tuple[float | None, dict, str | None]:
        """(geomean EDP or None, {network: summary}, error)."""
        results, errors = {}, []
        for net in self.networks:
            try:
                cost = self.coster.cost(net, acc, self.searches, searched)
                results[net.name] = network_summary(cost)
            except NetworkEvaluationError as exc:
                errors.append(f"{net.name}: {exc.errors[0]}" + (f" (+{len(exc.errors) - 1} more)"
                                                               if len(exc.errors) > 1 else ""))
        if errors:
            return None, results, "; ".join(errors)
        fitness = math.exp(sum(math.log(r["edp"]) for r in results.values()) / len(results))
        return fitness, results, None


def run_hardware_search(config: HardwareSearchConfig | None, folder: str | Path, resume: bool = False,
                        progress: Callable[[SearchProgress], None] | None = None,
                        executor: Executor | None = None, budget: int | None = None) -> dict:
    """Run (or resume) a search; returns the best design's record. Writes ``best.yaml`` in the folder.

    ``budget`` (with ``resume``): extend the run to that many designs, as if it had been started with it.
    """
    folder = Path(folder)
    exists = (folder / RunStore.FILE).exists()
    if resume and not exists:
        raise RunFolderError(f"--resume: {str(folder)!r} holds no run to resume")
    if not resume and exists:
        raise RunFolderError(f"--out: {str(folder)!r} already holds a run (use --resume {folder})")
    store = RunStore(folder)
    try:
        if resume:
            config = HardwareSearchConfig.from_dict(store.get_meta("config"))
            check_resumed_environment(store)
            config = extend_budget(store, config, budget)
        else:
            assert config is not None
            store.set_meta("config", config.to_dict())
            record_environment(store)
        return _search(config, store, progress, executor or InlineExecutor())
    finally:
        store.close()


def _record(store: RunStore, evaluator: DesignEvaluator, generation: int, genome: np.ndarray,
            acc: Design, searched: bool) -> float | None:
    """Cost one design and commit it with its per-network results; returns its fitness."""
    t = time.perf_counter()
    fit, res, err = evaluator.cost(acc, searched)
    store.add_design(generation, genome, design_to_dict(acc), fit, res, err, time.perf_counter() - t)
    return fit


_EVALUATORS: dict[str, DesignEvaluator] = {}


def evaluate_hardware_design(task: tuple) -> tuple[float | None, dict, str | None, float]:
    """(fitness, per-network results, error, seconds) of one design: a picklable task for any executor."""
    config_dict, acc_dict, searched = task
    key = repr(sorted(config_dict.items()))
    evaluator = _EVALUATORS.get(key)
    if evaluator is None:  # one per configuration and process (its mapping cache lives with it)
        evaluator = _EVALUATORS[key] = DesignEvaluator(HardwareSearchConfig.from_dict(config_dict))
    t = time.perf_counter()
    fit, res, err = evaluator.cost(design_from_dict(acc_dict), searched)
    return fit, res, err, time.perf_counter() - t


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

    def decode(generation: int, i: int, x: np.ndarray) -> Design:
        return space.decode(x, name=f"{baseline.name}-naas-" + (f"g{generation}-{i}" if generation else
                                                                  "warm-start" if i == 0 else f"start-{i}"))

    def make_task(generation: int, x: np.ndarray, acc: Design) -> tuple:
        return config.to_dict(), design_to_dict(acc), searched

    start = space.start_genomes(config.warm_start)
    loop = dict(decode=decode, make_task=make_task, worker=evaluate_hardware_design, commit=commit,
                executor=executor, progress=progress, baseline_fitness=base_fit)
    es, done = start_optimizer(store, start, config, stored=stored, **loop)
    propose = elite_mutants(store, config.elite_mutants, config.elite_sigma, config.seed)
    run_generations(store, es, done + 1, config.budget, start_designs=len(start), propose=propose, **loop)

    best = store.best()
    if best is None:
        raise NetworkEvaluationError(["no design in the search could map every layer"], None)
    best_acc = space.decode(np.array(best["genome"]), name=f"{baseline.name}-naas")
    save_design(best_acc, store.folder / "best.yaml")
    if config.final_budget:
        record_final_costs(store, config.final_budget)
    best["baseline_fitness"] = base_fit
    return best


def final_costs(config: HardwareSearchConfig, baseline: Design, best_acc: Design,
                best_id: int) -> dict:
    """The baseline and the best design re-costed with ``final_budget`` mapping evaluations per layer shape.

    The search ranks designs by costs from a small inner budget, and the best of many such costs is
    optimistic; the comparison the report prints uses these fresh, larger-budget costs for both sides.
    """
    searches = config.final_settings(config.final_budget)
    evaluator = DesignEvaluator(config, searches)
    out = {"budget": config.final_budget, "best_id": best_id,
           **({"portfolio": settings_label(searches)} if config.final_portfolio else {})}
    for key, acc, searched in (("baseline", baseline, True), ("best", best_acc, config.mode == "full")):
        fit, res, err = evaluator.cost(acc, searched)
        out[key] = {"fitness": fit, "networks": res, "error": err}
    return out


def record_final_costs(store: RunStore, budget: int, portfolio: bool | None = None) -> dict:
    """``final_costs`` at ``budget`` for the run's current best, stored as the run's "final" (computed once).

    Also for a run stored without a final budget (``naas report`` and the experiments compare at it then).
    ``portfolio``: override the run's ``final_portfolio``.
    """
    config = replace(HardwareSearchConfig.from_dict(store.get_meta("config")), final_budget=budget)
    if portfolio is not None:
        config = replace(config, final_portfolio=portfolio)
    label = settings_label(config.final_settings(budget)) if config.final_portfolio else None
    best, final = best_and_stored_final(store, budget, "no design in the search could map every layer", label)
    if final is not None:
        return final
    baseline = load_design(config.baseline)
    space = design_space(baseline, config.mode, axis_dims=config.axis_dims, encoding=config.encoding)
    best_acc = space.decode(np.array(best["genome"]), name=f"{baseline.name}-naas")
    final = final_costs(config, baseline, best_acc, best["id"])
    store.set_meta("final", final)
    return final


def print_progress(p: SearchProgress, stream=sys.stderr) -> None:
    """One line per design: the progress bar of ``naas search``."""
    width = 24
    filled = int(width * p.evaluated / max(1, p.total))
    bar = "#" * filled + "." * (width - filled)
    cur = "unmappable" if p.fitness is None else f"{p.fitness:.4g}"
    best = "-" if p.best is None else f"{p.best:.4g}"
    ratio = f" (EDP vs baseline {p.best / p.baseline:.3f}x)" if p.best and p.baseline else ""
    tag = " (from store)" if p.reused else ""
    print(f"[{bar}] {p.evaluated}/{p.total} gen {p.generation}: EDP {cur}{tag}, best {best}{ratio}, "
          f"{p.designs_per_s:.2f} designs/s", file=stream, flush=True)
