"""Joint network-accelerator-mapping search (NAAS with Once-for-All, SPEC §1; issue 5).

Three nested loops:

- outer: CMA-ES over the hardware space under a baseline's resources (as ``naas search``);
- middle, per hardware design: OFA-style evolution (mutation + crossover, parents = the lowest-EDP quarter)
  over subnets whose predicted accuracy meets the bound; candidates below it are never costed;
- inner, per subnet: a mapping search for each distinct layer shape, cached per (hardware, shape), so the many
  subnets that share shapes cost little.

A design's fitness is the EDP of its best subnet. The middle loop of every design starts from the same
hardware-independent seeds (the reference network, and the lowest-MAC subnets that meet the bound, found once
per run with the predictor alone) plus the best subnets of the designs of earlier generations; it never uses
results of its own generation, so runs are independent of the executor and of completion order, and a
resumed run equals an uninterrupted one.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cost_model.evaluate import NetworkEvaluationError
from nn_space.accuracy import ACCURACY_LABEL, AccuracyPredictor, load_predictor
from nn_space.ofa_spaces import SPACES, SubnetSpace
from nn_space.zoo import get_network

from .executor import Executor, InlineExecutor
from .hardware_search import network_summary
from .final_costs import record_final
from .outer_loop import SearchProgress, search_designs, stored_optimizer
from .run_folder import open_run_folder
from .designs import NetworkCoster, design_from_dict, design_space, design_to_dict, \
    load_design, save_design
from .config_checks import check_choice, check_counts, check_networks
from .config_base import OuterSearchConfig
from .config_options import option
from .errors import ConfigError
from .run_store import RunStore, genome_key

KIND = "cosearch"
#: Predictions are float32 MLP outputs; a subnet within this of the bound meets it.
ACCURACY_TOLERANCE = 1e-6


def _accuracy(text: str) -> float | None:
    """--min-accuracy: 'reference', a fraction (0.81) or a percentage (81)."""
    if text == "reference":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not 'reference', a fraction or a percentage") from None
    return value / 100 if 1 < value <= 100 else value


@dataclass(frozen=True)
class CosearchConfig(OuterSearchConfig):
    """Everything that determines a co-search's result (stored in the run folder); ``naas cosearch``'s options
    are built from these fields, so their defaults live here alone (``naas.config_options``)."""

    space: str = option("ofa-resnet50", "subnet space", choices=tuple(SPACES))
    min_accuracy: float | None = option(None, "accuracy bound: a fraction or a percentage (none / 'reference': "
                                              "the predictor's value for ResNet-50's configuration, or the "
                                              "largest MobileNetV3)", type=_accuracy, metavar="A")
    reference_network: str | None = option("auto", "built-in network costed on the baseline as the EDP "
                                                   "reference ('auto': resnet50 on ofa-resnet50, none otherwise)",
                                           cli=False)
    budget: int = option(40, "hardware designs, warm start included, whole generations (with --resume: extend "
                             "the run to this many)")
    inner_budget: int = option(300, "mapping-search evaluations per distinct layer shape")
    popsize: int | None = option(8, "hardware CMA-ES population (none: cma's default)", type=int)
    subnet_population: int = option(16, "subnets per generation of the middle loop")
    subnet_generations: int = option(4, "middle-loop generations per design")
    mutate_prob: float = option(0.1, "middle loop: probability that a mutation changes each subnet setting")
    seed_subnets: int = option(6, "lowest-MAC subnets meeting the bound that every design's middle loop starts "
                                  "from, besides the reference")
    seed_generations: int = option(60, "generations of the predictor-only evolution that finds them")
    seed_restarts: int = option(2, "independent such evolutions, pooled")
    elite_mutants: int | None = option(None, "designs per generation proposed as Gaussian mutants of the best "
                                             "design so far, injected into the CMA-ES population (0: none; none: "
                                             "2, or the population size - 1 if smaller)", type=int)
    start_genomes: tuple = option((), "hardware genomes added to generation 0 (a warm start from another run's "
                                      "best design, e.g. the neighbouring accuracy target's: naas.tradeoff_search)",
                                  cli=False)
    start_subnets: tuple = option((), "subnet configurations every design's middle loop also starts from (those "
                                      "meeting the bound)", cli=False)
    fixed_subnet: dict | None = option(None, "a subnet configuration the middle loop is pinned to: a hardware-only "
                                             "search of that network (needs subnet_population 1, "
                                             "subnet_generations 0, seed_subnets 0)", cli=False)

    def __post_init__(self):
        if self.elite_mutants is None:
            object.__setattr__(self, "elite_mutants", max(0, min(2, (self.popsize or 3) - 1)))
        super().__post_init__()
        check_choice(self, "space", tuple(SPACES))
        if self.reference_network == "auto":
            object.__setattr__(self, "reference_network", "resnet50" if self.space == "ofa-resnet50"
                               and self.fixed_subnet is None else None)
        if self.reference_network is not None:
            check_networks((self.reference_network,))
        if self.min_accuracy is not None and (isinstance(self.min_accuracy, bool) or not isinstance(
                self.min_accuracy, (int, float)) or not 0 < self.min_accuracy < 1):
            raise ConfigError(f"min_accuracy: {self.min_accuracy!r} (allowed: 0-1 as a fraction, 1-100 as a "
                              "percentage, or none for the reference's predicted accuracy)", "min_accuracy")
        check_counts(self, subnet_population=1, subnet_generations=0, seed_subnets=0, seed_generations=0,
                     seed_restarts=1)
        if not isinstance(self.mutate_prob, (int, float)) or not 0 <= self.mutate_prob <= 1:
            raise ConfigError(f"mutate_prob: {self.mutate_prob!r} (allowed: 0 <= value <= 1)", "mutate_prob")
        object.__setattr__(self, "start_genomes", tuple(tuple(float(v) for v in g) for g in self.start_genomes))
        object.__setattr__(self, "start_subnets", tuple(dict(d) for d in self.start_subnets))
        if self.fixed_subnet is not None:
            if not isinstance(self.fixed_subnet, dict):
                raise ConfigError(f"fixed_subnet: {self.fixed_subnet!r} (allowed: a subnet configuration, a "
                                  "mapping)", "fixed_subnet")
            loose = {k: v for k, v in (("subnet_population", self.subnet_population),
                                       ("subnet_generations", self.subnet_generations),
                                       ("seed_subnets", self.seed_subnets)) if v != (1 if k == "subnet_population" else 0)}
            if loose:
                raise ConfigError("fixed_subnet: a pinned subnet needs subnet_population 1, subnet_generations 0 "
                                  "and seed_subnets 0 (got " + ", ".join(f"{k} {v}" for k, v in loose.items()) + ")",
                                  "fixed_subnet")


def reference_subnet(space: SubnetSpace, config: CosearchConfig | None = None):
    """The network the accuracy bound defaults to and the baseline is costed on: the config's pinned subnet,
    else ResNet-50's configuration, or the largest MobileNetV3."""
    if config is not None and config.fixed_subnet is not None:
        return space.from_dict(config.fixed_subnet)
    return space.resnet50() if hasattr(space, "resnet50") else space.largest(224)


def resolve_bound(config: CosearchConfig, predictor: AccuracyPredictor) -> float:
    if config.min_accuracy is not None:
        return config.min_accuracy
    return predictor.predict_one(reference_subnet(predictor.space, config))


# --- the middle loop ------------------------------------------------------------------------------

def _feasible(predictor: AccuracyPredictor, candidates: list, bound: float) -> list[tuple[object, float]]:
    if not candidates:
        return []
    acc = predictor.predict(candidates)
    return [(c, float(a)) for c, a in zip(candidates, acc) if a >= bound - ACCURACY_TOLERANCE]


def _network_key(space: SubnetSpace, subnet) -> tuple[float, bytes]:
    """(MACs, digest of the layer list): configs that build the same layers share the key."""
    net = space.layers(subnet)
    return float(net.macs), hashlib.blake2b(repr(net.layers).encode(), digest_size=16).digest()


def _evolve_low_mac(predictor: AccuracyPredictor, bound: float, starts: list, parents: int,
                    rng: np.random.Generator, generations: int, batch: int) -> dict:
    """One evolution on MACs from ``starts``: every feasible subnet met -> its network key."""
    space = predictor.space
    res = predictor.info.resolutions
    keys = {s: _network_key(space, s) for s, _ in _feasible(predictor, starts, bound)}
    if not keys:
        return {}
    for _ in range(generations):
        # parents distinct as networks: configs that differ only in unused settings (a skipped block's
        # expand ratio, a stem width that rounds to the same channels) would otherwise fill the parents
        best = _distinct_networks(keys, parents)
        kids = [space.mutate(best[rng.integers(len(best))], 0.1, rng, res) for _ in range(batch)]
        kids += [space.crossover(best[rng.integers(len(best))], best[rng.integers(len(best))], rng)
                 for _ in range(batch // 4)]
        for s, _ in _feasible(predictor, [k for k in dict.fromkeys(kids) if k not in keys], bound):
            keys[s] = _network_key(space, s)
    return keys


def _distinct_networks(keys: dict, n: int) -> list:
    """The ``n`` lowest-MAC subnets of ``keys`` (subnet -> network key), one per distinct network."""
    out, seen = [], set()
    for s in sorted(keys, key=lambda s: (keys[s][0], str(s))):
        if keys[s] not in seen:
            seen.add(keys[s])
            out.append(s)
            if len(out) >= n:
                break
    return out


def low_mac_subnets(predictor: AccuracyPredictor, bound: float, starts: list, n: int,
                    rng: np.random.Generator, generations: int = 60, batch: int = 200,
                    restarts: int = 2, parents: int = 32) -> list:
    """The ``n`` lowest-MAC distinct networks that meet the bound, pooled over ``restarts`` evolutions on MACs.

    Each evolution breeds ``batch`` mutants and ``batch // 4`` crossovers per generation from its ``parents``
    lowest-MAC distinct networks (predictor only, no hardware); fewer parents or one evolution stalls in
    local optima on some seeds (about 20 s on one core for ResNet-50's space).
    """
    base = int(rng.integers(2**31))
    pooled: dict = {}
    for r in range(restarts):
        pooled.update(_evolve_low_mac(predictor, bound, starts, max(parents, n), np.random.default_rng([base, r]),
                                      generations, batch))
    return _distinct_networks(pooled, n)


def search_subnets(acc, predictor: AccuracyPredictor, bound: float, starts: list, config: CosearchConfig,
                   rng: np.random.Generator, coster: NetworkCoster | None = None) -> list[dict]:
    """OFA-style evolution over feasible subnets on one accelerator; every costed subnet, lowest EDP first."""
    space, res = predictor.space, predictor.info.resolutions
    settings = config.mapping_settings()
    coster = coster if coster is not None else NetworkCoster()
    evaluated: dict[object, dict | None] = {}
    accuracy: dict[object, float] = {}

    def cost(population: list) -> None:
        nets = {s: space.layers(s) for s in population if s not in evaluated}
        coster.prefetch(list(nets.values()), [acc], (settings,))  # the new subnets' searches run together
        for s, net in nets.items():
            try:
                c = coster.cost(net, acc, (settings,), searched=True)
                evaluated[s] = {"config": s.to_dict(), "accuracy": accuracy[s], "macs": float(net.macs),
                                "energy": c.energy, "cycles": c.cycles, "edp": c.edp}
            except NetworkEvaluationError:
                evaluated[s] = None  # some layer cannot be mapped on this design

    def offspring(parents: list, count: int) -> list:
        out: list = []
        for _ in range(8):  # a few rounds of batched proposals; infeasible or known ones are dropped
            need = count - len(out)
            if need <= 0:
                break
            kids = []
            for i in range(2 * need):
                if i % 2 == 0 or len(parents) < 2:
                    kids.append(space.mutate(parents[rng.integers(len(parents))], config.mutate_prob, rng, res))
                else:
                    a, b = rng.choice(len(parents), 2, replace=False)
                    kids.append(space.crossover(parents[a], parents[b], rng))
            fresh = [k for k in dict.fromkeys(kids) if k not in evaluated and k not in out]
            for s, a in _feasible(predictor, fresh, bound):
                if len(out) < count:
                    accuracy[s] = a
                    out.append(s)
        return out

    population = []
    for s, a in _feasible(predictor, list(dict.fromkeys(starts)), bound):
        accuracy[s] = a
        population.append(s)
    population = population[:config.subnet_population]
    if not population:
        return []
    population += offspring(population, config.subnet_population - len(population))
    n_parents = max(2, config.subnet_population // 4)
    for _ in range(config.subnet_generations):
        cost(population)
        ranked = sorted((s for s in evaluated if evaluated[s] is not None), key=lambda s: evaluated[s]["edp"])
        parents = ranked[:n_parents] or population[:n_parents]
        population = parents + offspring(parents, config.subnet_population - len(parents))
    cost(population)
    return sorted((r for r in evaluated.values() if r is not None), key=lambda r: (r["edp"], str(r["config"])))


# --- one design (a picklable task, run by any executor) --------------------------------------------

@dataclass(frozen=True)
class DesignTask:
    config: dict
    accelerator: dict
    starts: tuple  # subnet configs (dicts) the middle loop starts from
    design_seed: int
    bound: float
    data_dir: str | None


def evaluate_design(task: DesignTask) -> dict:
    """Run the middle and inner loops for one hardware design; returns what the store commits."""
    t = time.perf_counter()
    config = CosearchConfig.from_dict(task.config)
    predictor = load_predictor(config.space, task.data_dir)
    acc = design_from_dict(task.accelerator)
    starts = [predictor.space.from_dict(d) for d in task.starts]
    rng = np.random.default_rng([config.seed, task.design_seed])
    ranked = search_subnets(acc, predictor, task.bound, starts, config, rng)
    if not ranked:
        return {"fitness": None, "results": {}, "error": "no subnet meeting the accuracy bound could be mapped",
                "subnets": [], "seconds": time.perf_counter() - t}
    best = ranked[0]
    results = {"best-subnet": {"energy": best["energy"], "cycles": best["cycles"], "edp": best["edp"],
                               "utilization": math.nan, **{f"energy_{k}": math.nan
                                                           for k in ("mac", "l1", "noc", "l2", "dram")}}}
    return {"fitness": best["edp"], "results": results, "error": None, "subnets": ranked,
            "seconds": time.perf_counter() - t}


def evaluate_designs(tasks: list[DesignTask]) -> list[dict]:
    """``evaluate_design`` of each task (the executors' chunks; each design's middle loop is its own)."""
    return [evaluate_design(t) for t in tasks]


def _design_seed(genome: np.ndarray) -> int:
    return int(hashlib.sha256(genome_key(genome).encode()).hexdigest()[:12], 16)


# --- the outer loop -------------------------------------------------------------------------------

def run_cosearch(config: CosearchConfig | None, folder: str | Path, resume: bool = False,
                 data_dir: str | None = None, executor: Executor | None = None,
                 progress: Callable[[SearchProgress], None] | None = None, budget: int | None = None) -> dict:
    """Run (or resume) a co-search; returns the best design's record. Writes best.yaml and best_subnet.json.

    ``budget`` (with ``resume``): extend the run to that many designs, as if it had been started with it.
    """
    store, config = open_run_folder(folder, KIND, config, resume, CosearchConfig.from_dict, budget,
                                    check_new=lambda c: (load_predictor(c.space, data_dir), load_design(c.baseline)))
    with store:
        return _cosearch(config, store, data_dir, executor or InlineExecutor(), progress)


def _reference_row(config: CosearchConfig, predictor: AccuracyPredictor, baseline) -> dict:
    """The baseline accelerator running the reference network(s) at searched mappings."""
    t = time.perf_counter()
    settings = (config.mapping_settings(),)
    coster = NetworkCoster()
    ref = reference_subnet(predictor.space, config)
    results = {"reference-subnet": network_summary(coster.cost(predictor.space.layers(ref), baseline, settings,
                                                               searched=True))}
    if config.reference_network:
        net = get_network(config.reference_network)
        results[net.name] = network_summary(coster.cost(net, baseline, settings, searched=True))
    fitness = results[config.reference_network or "reference-subnet"]["edp"]
    sub = {"config": ref.to_dict(), "accuracy": predictor.predict_one(ref),
           "macs": float(predictor.space.layers(ref).macs), **{k: results["reference-subnet"][k]
                                                                for k in ("energy", "cycles", "edp")}}
    return {"fitness": fitness, "results": results, "error": None, "subnets": [sub],
            "seconds": time.perf_counter() - t}


def _commit(store: RunStore, generation: int, genome: np.ndarray, acc_dict: dict, outcome: dict) -> None:
    store.add_design(generation, genome, acc_dict, outcome["fitness"], outcome["results"], outcome["error"],
                     outcome["seconds"], subnets=outcome["subnets"])


def _elites(store: RunStore, before_generation: int, count: int = 4) -> list[dict]:
    """Best subnets of the best designs committed in generations before ``before_generation``."""
    return store.best_subnet_configs(before_generation, count)


def _cosearch(config: CosearchConfig, store: RunStore, data_dir, executor: Executor, progress) -> dict:
    predictor = load_predictor(config.space, data_dir)
    space = predictor.space
    bound = resolve_bound(config, predictor)
    baseline = load_design(config.baseline)
    hw_space = design_space(baseline, "full", axis_dims=config.axis_dims)
    stored = stored_optimizer(store, hw_space.size, "co-search")  # checked before anything is added
    store.set_meta("accuracy_bound", bound)
    store.set_meta("accuracy_label", ACCURACY_LABEL)
    ref = reference_subnet(space, config)

    base_genome = np.full(hw_space.size, -1.0)
    if store.find(base_genome) is None:
        _commit(store, -1, base_genome, design_to_dict(baseline), _reference_row(config, predictor, baseline))
    base_fit = store.find(base_genome)[1]

    seeds = store.get_meta("seed_subnets")
    if seeds is None:  # hardware-independent; found once per run and kept for resumes
        rng = np.random.default_rng([config.seed, 1])
        seeds = [] if config.seed_subnets == 0 else [
            s.to_dict() for s in low_mac_subnets(predictor, bound, [ref], config.seed_subnets, rng,
                                                 config.seed_generations, restarts=config.seed_restarts)]
        store.set_meta("seed_subnets", seeds)
    base_starts = [ref.to_dict()] + seeds + [d for d in config.start_subnets if d not in seeds and d != ref.to_dict()]

    def task(generation: int, genome: np.ndarray, acc) -> DesignTask:
        starts = base_starts + [e for e in _elites(store, generation) if e not in base_starts]
        return DesignTask(config.to_dict(), design_to_dict(acc), tuple(starts), _design_seed(genome), bound,
                          None if data_dir is None else str(data_dir))

    best = search_designs(store, hw_space, config, f"{baseline.name}-cosearch", task, evaluate_designs,
                          lambda g, x, acc, outcome: _commit(store, g, x, design_to_dict(acc), outcome),
                          executor, progress, base_fit, stored,
                          "no design in the co-search could map a subnet meeting the bound",
                          extra_start=[np.array(g) for g in config.start_genomes])
    save_design(best_design(config, baseline, best), store.folder / "best.yaml")
    best_sub = store.design_subnets(best["id"])[0]
    (store.folder / "best_subnet.json").write_text(json.dumps(
        {"space": config.space, **best_sub, "accuracy_label": ACCURACY_LABEL}, indent=2) + "\n")
    best.update(baseline_fitness=base_fit, subnet=best_sub, bound=bound,
                reference=store.design_subnets(store.find(base_genome)[0])[0],
                final=record_final_costs(store, config.final_budget, data_dir, progress) if config.final_budget
                else None)
    return best


def record_final_costs(store: RunStore, budget: int, data_dir=None,
                       progress: Callable[[SearchProgress], None] | None = None) -> dict:
    """The reference network(s) on the baseline and the best subnet on the best design, each re-costed with
    ``budget`` mapping evaluations per layer shape (per shape the best of the run's ``final_settings``);
    stored as the run's "final" (``naas.final_costs``).
    """
    config = CosearchConfig.from_dict(store.get_meta("config"))
    searches = config.final_settings(budget)
    space = load_predictor(config.space, data_dir).space
    baseline = load_design(config.baseline)
    networks = {"reference-subnet": space.layers(reference_subnet(space, config))}
    if config.reference_network:
        net = get_network(config.reference_network)
        networks[net.name] = net

    def compute(best: dict, step) -> dict:
        coster = NetworkCoster()
        reference = {}
        for name, net in networks.items():
            reference[name] = network_summary(coster.cost(net, baseline, searches, searched=True))
            step(f"reference {name} on {baseline.name}")
        sub = store.design_subnets(best["id"])[0]
        cost = NetworkCoster().cost(space.layers(space.from_dict(sub["config"])), best_design(config, baseline, best),
                                    searches, searched=True)
        step("best subnet on the best design")
        return {"reference": reference, "reference_name": config.reference_network or "reference-subnet",
                "best": {**network_summary(cost), "config": sub["config"], "accuracy": sub["accuracy"],
                         "macs": sub["macs"]}}
    return record_final(store, budget, searches, "no design in the co-search could map a subnet meeting the "
                                                 "bound", compute, steps=len(networks) + 1, progress=progress)


def best_design(config: CosearchConfig, baseline, best: dict):
    """The co-search's best design, decoded from its genome (as ``best.yaml`` holds it)."""
    hw_space = design_space(baseline, "full", axis_dims=config.axis_dims)
    return hw_space.decode(np.array(best["genome"]), name=f"{baseline.name}-cosearch")
