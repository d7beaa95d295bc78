"""Accuracy–EDP trade-off curves (issue 27): co-design at every accuracy target, as Once-for-All shows
accuracy–latency curves per platform.

For each accuracy target (a predicted top-1 on OFA's holdout), the lowest-EDP (subnet, accelerator, mappings)
under a baseline's resources. Targets are kept highest first. Two strategies share work between them:

- ``shared``: one outer CMA-ES over the hardware. Every design runs the co-search's middle loop once per target,
  all on one mapping cache, so the layer shapes the targets' subnets share are mapped once. It keeps its best
  subnet per target, the lowest-EDP subnet costed on it by any target's search that meets the target (a subnet
  found for a higher target meets every lower one): the run store's network results under ``target-<accuracy>``, its subnets ranked by target
  (rank i = target i). Its fitness is the geomean over the targets of those EDPs. A target's point is the design
  with the lowest EDP at that target. Each middle loop starts from the reference subnet, the target's low-MAC
  seeds and the best subnets at that target of earlier generations' best designs. The baseline (generation -1)
  runs the same middle loops: a network-only search on the fixed baseline at the co-search's middle-loop budget.
- ``warm``: one co-search per target (``budget`` designs each) in ``<run>/targets/<i>-<accuracy>``, highest target
  first. Each is warm-started from the previous target's best design (its genome joins generation 0) and best
  subnets, which meet every lower target.

At the end every point is re-costed at ``final_budget``, the best per layer shape of the co-search's final
portfolio (``final_settings``), and stored; ``tradeoff_curve(folder)`` reads a finished run back.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

import numpy as np

from nn_space.accuracy import ACCURACY_LABEL, load_predictor

from .config_options import option
from .designs import NetworkCoster, array_label, design_from_dict, design_space, design_to_dict, load_design
from .errors import ConfigError
from .executor import Executor, InlineExecutor
from .hardware_search import network_summary
from .joint_search import (ACCURACY_TOLERANCE, CosearchConfig, _commit, _design_seed, low_mac_subnets, reference_subnet,
                           run_cosearch, search_subnets)
from .outer_loop import SearchProgress, search_designs, stored_optimizer
from .run_folder import open_run_folder
from .run_store import RunStore

KIND = "tradeoff"
STRATEGIES = ("shared", "warm")
#: The columns of every curve frame (co-design and the references of ``naas.tradeoff_references``).
COLUMNS = ("method", "target", "name", "accuracy", "accuracy_source", "published_top1", "macs", "energy", "cycles",
           "edp", "accelerator", "seconds", "run")


def parse_accuracies(text: str) -> tuple[float, ...]:
    """``LO:HI:STEP`` (both ends included) or ``A,B,...``: fractions (0.78:0.82:0.01) or percentages (78:82:1,
    the step then in percent too)."""
    parts = [p.strip() for p in str(text).split(":")]
    try:
        raw = [float(p) for p in (parts if len(parts) == 3 else parts[0].split(",")) if p]
    except ValueError:
        raise ValueError(f"{text!r} (allowed: LO:HI:STEP or a comma-separated list of numbers)") from None
    if len(parts) == 3:
        scale = 100.0 if max(raw[0], raw[1]) > 1 else 1.0  # percentages: the step in percent too
        lo, hi, step = (v / scale for v in raw)
        if not step > 0 or hi < lo:
            raise ValueError(f"{text!r}: LO:HI:STEP needs LO <= HI and STEP > 0")
        n = round((hi - lo) / step)
        if abs(lo + n * step - hi) > 1e-9:
            raise ValueError(f"{text!r}: HI is not LO plus a whole number of STEPs")
        return tuple(round(lo + i * step, 9) for i in range(n + 1))
    if len(parts) == 1:
        return tuple(v / 100 if 1 < v <= 100 else v for v in raw)
    raise ValueError(f"{text!r} (allowed: LO:HI:STEP or a comma-separated list)")


def target_key(target: float) -> str:
    """The run store's 'network' name of an accuracy target."""
    return f"target-{target:.6f}"


@dataclass(frozen=True)
class TradeoffConfig(CosearchConfig):
    """A trade-off curve: the co-search's settings (one design per target for ``warm``) and the targets."""

    accuracies: tuple = option((), "accuracy targets, predicted top-1: LO:HI:STEP (both ends included) or a "
                                   "comma-separated list; fractions or percentages", type=str,
                               metavar="LO:HI:STEP")
    strategy: str = option("shared", "'shared': one outer search whose designs keep their best subnet per target; "
                                     "'warm': one co-search per target, warm-started from the next higher "
                                     "target's best design and subnets", choices=STRATEGIES)

    def __post_init__(self):
        super().__post_init__()
        acc = self.accuracies
        if isinstance(acc, str):
            try:
                acc = parse_accuracies(acc)
            except ValueError as exc:
                raise ConfigError(f"accuracies: {exc}", "accuracies") from None
        try:
            acc = tuple(float(a) for a in acc)
        except (TypeError, ValueError):
            raise ConfigError(f"accuracies: {self.accuracies!r} (allowed: LO:HI:STEP or a list of "
                              "fractions)", "accuracies") from None
        if not acc:
            raise ConfigError("accuracies: none given (allowed: LO:HI:STEP or a comma-separated list)", "accuracies")
        bad = [a for a in acc if not 0 < a < 1]
        if bad:
            raise ConfigError(f"accuracies: {bad[0]!r} (allowed: 0-1 as fractions, 1-100 as percentages)",
                              "accuracies")
        object.__setattr__(self, "accuracies", tuple(sorted(set(acc), reverse=True)))
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy: {self.strategy!r} (allowed: {', '.join(STRATEGIES)})", "strategy")
        for name in ("min_accuracy", "fixed_subnet"):
            if getattr(self, name) is not None:
                raise ConfigError(f"{name}: {getattr(self, name)!r} (a trade-off takes its targets from "
                                  "accuracies: leave it none)", name)
        for name in ("start_genomes", "start_subnets"):
            if getattr(self, name):
                raise ConfigError(f"{name}: a trade-off makes its own warm starts (leave it empty)", name)

    def cosearch(self, target: float, start_genomes: tuple = (), start_subnets: tuple = ()) -> CosearchConfig:
        """The co-search of one target (strategy 'warm'): these settings, that bound and those warm starts; no
        re-costing of its own (``record_curve`` re-costs every point)."""
        values = {f.name: getattr(self, f.name) for f in fields(CosearchConfig)}
        return CosearchConfig(**{**values, "min_accuracy": target, "start_genomes": start_genomes,
                                 "start_subnets": start_subnets, "final_budget": 0})  # the curve re-costs


def check_targets(config: TradeoffConfig, data_dir) -> None:
    """Refuse targets no subnet of the space reaches (above its largest subnet's predicted accuracy)."""
    predictor = load_predictor(config.space, data_dir)
    top = predictor.predict_one(reference_subnet(predictor.space))
    high = [a for a in config.accuracies if a > top]
    if high:
        raise ConfigError(f"accuracies: {high[0]:g} is above the {config.space} reference subnet's predicted "
                          f"{top:.4f} (allowed: at most that)", "accuracies")


# --- strategy 'shared': one design, every target --------------------------------------------------------

@dataclass(frozen=True)
class TargetsTask:
    config: dict
    accelerator: dict
    starts: tuple  # per target, the subnet configs its middle loop starts from
    design_seed: int
    data_dir: str | None


def evaluate_targets(task: TargetsTask) -> dict:
    """The middle and inner loops of one design at every target (one mapping cache); what the store commits."""
    t0 = time.perf_counter()
    config = TradeoffConfig.from_dict(task.config)
    predictor = load_predictor(config.space, task.data_dir)
    space = predictor.space
    acc = design_from_dict(task.accelerator)
    coster = NetworkCoster()
    costed: list[dict] = []  # every subnet costed on this design, whichever target's search costed it
    bests = []
    for i, target in enumerate(config.accuracies):
        rng = np.random.default_rng([config.seed, task.design_seed, i])
        costed += search_subnets(acc, predictor, target, [space.from_dict(d) for d in task.starts[i]], config, rng,
                                 coster)
        # a subnet a higher target's search found meets this target too: the best of all costed so far
        meeting = [r for r in costed if r["accuracy"] >= target - ACCURACY_TOLERANCE]
        if not meeting:
            return {"fitness": None, "results": {}, "subnets": [], "seconds": time.perf_counter() - t0,
                    "error": f"target {target:g}: no subnet meeting it could be mapped"}
        bests.append(min(meeting, key=lambda r: (r["edp"], str(r["config"]))))
    fitness = math.exp(sum(math.log(b["edp"]) for b in bests) / len(bests))
    nan = math.nan
    results = {target_key(t): {"energy": b["energy"], "cycles": b["cycles"], "edp": b["edp"], "utilization": nan,
                               **{f"energy_{k}": nan for k in ("mac", "l1", "noc", "l2", "dram")}}
               for t, b in zip(config.accuracies, bests)}
    return {"fitness": fitness, "results": results, "error": None, "subnets": bests,
            "seconds": time.perf_counter() - t0}


def evaluate_target_designs(tasks: list[TargetsTask]) -> list[dict]:
    return [evaluate_targets(t) for t in tasks]


def _seed_subnets(config: TradeoffConfig, predictor, ref) -> list[list[dict]]:
    """Per target, the lowest-MAC distinct subnets meeting it (predictor only; hardware-independent)."""
    out = []
    for i, target in enumerate(config.accuracies):
        rng = np.random.default_rng([config.seed, 1, i])
        out.append([] if config.seed_subnets == 0 else [
            s.to_dict() for s in low_mac_subnets(predictor, target, [ref], config.seed_subnets, rng,
                                                 config.seed_generations, restarts=config.seed_restarts)])
    return out


def _shared(config: TradeoffConfig, store: RunStore, data_dir, executor: Executor, progress) -> None:
    predictor = load_predictor(config.space, data_dir)
    baseline = load_design(config.baseline)
    hw_space = design_space(baseline, "full", axis_dims=config.axis_dims)
    stored = stored_optimizer(store, hw_space.size, "trade-off")  # checked before anything is added
    store.set_meta("accuracy_label", ACCURACY_LABEL)
    ref = reference_subnet(predictor.space)
    seeds = store.get_meta("seed_subnets")
    if seeds is None:  # found once per run and kept for resumes
        seeds = _seed_subnets(config, predictor, ref)
        store.set_meta("seed_subnets", seeds)
    base = [[ref.to_dict()] + [d for d in s if d != ref.to_dict()] for s in seeds]
    dir_text = None if data_dir is None else str(data_dir)

    def starts(generation: int) -> tuple:
        out = []
        for i, target in enumerate(config.accuracies):
            elites = store.target_subnet_configs(target_key(target), i, generation, 4)
            out.append(tuple(base[i] + [e for e in elites if e not in base[i]]))
        return tuple(out)

    base_genome = np.full(hw_space.size, -1.0)
    if store.find(base_genome) is None:  # the baseline: a network-only search at the middle-loop budget
        outcome = evaluate_targets(TargetsTask(config.to_dict(), design_to_dict(baseline), tuple(map(tuple, base)),
                                               _design_seed(base_genome), dir_text))
        _commit(store, -1, base_genome, design_to_dict(baseline), outcome)
    base_fit = store.find(base_genome)[1]
    cache: dict[int, tuple] = {}

    def task(generation: int, genome: np.ndarray, acc) -> TargetsTask:
        if generation not in cache:
            cache[generation] = starts(generation)
        return TargetsTask(config.to_dict(), design_to_dict(acc), cache[generation], _design_seed(genome), dir_text)

    search_designs(store, hw_space, config, f"{baseline.name}-tradeoff", task, evaluate_target_designs,
                   lambda g, x, acc, outcome: _commit(store, g, x, design_to_dict(acc), outcome), executor,
                   progress, base_fit, stored, "no design in the trade-off could map subnets meeting every target")


def _shared_points(config: TradeoffConfig, store: RunStore) -> list[dict]:
    """Per target, the searched design (generation >= 0) with the lowest EDP there, and its subnet there."""
    res = store.network_results()
    designs = store.designs().set_index("id")
    searched = set(designs.index[designs.generation >= 0])
    points = []
    for i, target in enumerate(config.accuracies):
        rows = res[(res.network == target_key(target)) & res.design_id.isin(searched) & res.edp.notna()]
        if rows.empty:
            continue
        best = rows.sort_values(["edp", "design_id"]).iloc[0]
        design_id = int(best.design_id)
        sub = store.design_subnets(design_id)[i]
        points.append({"target": target, "design_id": design_id, "subnet": sub["config"], "accuracy": sub["accuracy"],
                       "macs": sub["macs"], "edp": sub["edp"]})
    return points


# --- strategy 'warm': one co-search per target ------------------------------------------------------------

def target_folder(folder: Path, i: int, target: float) -> Path:
    return Path(folder) / "targets" / f"{i}-{target:.4f}"


def _warm(config: TradeoffConfig, store: RunStore, data_dir, executor: Executor, progress) -> None:
    genomes: tuple = ()
    subnets: tuple = ()
    for i, target in enumerate(config.accuracies):
        sub = target_folder(store.folder, i, target)
        resume = (sub / RunStore.FILE).exists()
        cfg = None if resume else config.cosearch(target, genomes, subnets)
        best = run_cosearch(cfg, sub, resume=resume, data_dir=data_dir, executor=executor, progress=progress,
                            budget=config.budget if resume else None)
        genomes = (tuple(best["genome"]),)
        with RunStore(sub, create=False) as child:
            subnets = tuple(s["config"] for s in child.design_subnets(best["id"])[:4])


def _warm_points(config: TradeoffConfig, store: RunStore) -> list[dict]:
    points = []
    for i, target in enumerate(config.accuracies):
        sub = target_folder(store.folder, i, target)
        if not (sub / RunStore.FILE).exists():
            continue
        with RunStore(sub, create=False) as child:
            best = child.best()
            if best is None:
                continue
            s = child.design_subnets(best["id"])[0]
            seconds = float(child.designs().seconds.sum())
            genome = best["genome"]
        points.append({"target": target, "design_id": best["id"], "genome": genome, "subnet": s["config"],
                       "accuracy": s["accuracy"], "macs": s["macs"], "edp": s["edp"], "seconds": seconds,
                       "run": str(sub)})
    return points


# --- the curve ----------------------------------------------------------------------------------------------

def _design_of(config: TradeoffConfig, store: RunStore, point: dict):
    """The accelerator of a point: decoded from its genome (the run's or its target run's)."""
    baseline = load_design(config.baseline)
    hw_space = design_space(baseline, "full", axis_dims=config.axis_dims)
    genome = point.get("genome") or store.design(point["design_id"])["genome"]
    return hw_space.decode(np.array(genome), name=f"{baseline.name}-tradeoff-{point['target']:.4f}")


def record_curve(config: TradeoffConfig, store: RunStore, data_dir=None) -> list[dict]:
    """Every target's point re-costed at ``final_budget`` (stored as meta 'curve'; reused while the points and
    the budget are the same)."""
    points = _shared_points(config, store) if config.strategy == "shared" else _warm_points(config, store)
    key = [[p["target"], p["design_id"], p["subnet"]] for p in points]
    stored = store.get_meta("curve")
    if stored is not None and stored["key"] == key and stored["final_budget"] == config.final_budget:
        return stored["rows"]
    space = load_predictor(config.space, data_dir).space
    seconds = float(store.designs().seconds.sum()) if config.strategy == "shared" else None
    rows = []
    designs = [_design_of(config, store, p) for p in points]
    nets = [space.layers(space.from_dict(p["subnet"])) for p in points]
    searches = config.final_settings(config.final_budget) if config.final_budget else (config.mapping_settings(),)
    coster = NetworkCoster()
    for p, acc, net in zip(points, designs, nets):
        cost = network_summary(coster.cost(net, acc, searches, searched=True))
        res = space.from_dict(p["subnet"])
        rows.append({"method": "co-design", "target": p["target"],
                     "name": f"subnet {p['macs'] / 1e6:.0f} MMACs r{getattr(res, 'resolution', '')}",
                     "accuracy": p["accuracy"], "accuracy_source": "predictor", "published_top1": math.nan,
                     "macs": p["macs"], "energy": cost["energy"], "cycles": cost["cycles"], "edp": cost["edp"],
                     "accelerator": array_label(design_to_dict(acc)),
                     "seconds": seconds / len(points) if seconds is not None else p["seconds"],
                     "run": p.get("run", str(store.folder)), "subnet": p["subnet"], "search_edp": p["edp"]})
    store.set_meta("curve", {"key": key, "final_budget": config.final_budget, "rows": rows})
    return rows


def run_tradeoff(config: TradeoffConfig | None, folder: str | Path, resume: bool = False, data_dir=None,
                 executor: Executor | None = None, progress: Callable[[SearchProgress], None] | None = None,
                 budget: int | None = None):
    """Run (or resume) a trade-off; returns its co-design curve (pandas DataFrame, ``COLUMNS`` + subnet)."""
    import pandas as pd

    store, config = open_run_folder(folder, KIND, config, resume, TradeoffConfig.from_dict, budget,
                                    check_new=lambda c: (check_targets(c, data_dir), load_design(c.baseline)))
    with store:
        run = _shared if config.strategy == "shared" else _warm
        run(config, store, data_dir, executor or InlineExecutor(), progress)
        return pd.DataFrame(record_curve(config, store, data_dir))


#: The reference curves ``naas tradeoff`` adds (``naas.tradeoff_references``).
REFERENCES = ("fixed", "hardware", "network")


def parse_references(text: str) -> tuple[str, ...]:
    """``--references``: some of ``REFERENCES`` (comma-separated), 'all' or 'none'."""
    if text in ("all", None):
        return REFERENCES
    if text == "none":
        return ()
    out = tuple(dict.fromkeys(r.strip() for r in str(text).split(",") if r.strip()))
    bad = [r for r in out if r not in REFERENCES]
    if bad:
        raise ConfigError(f"references: {bad[0]!r} (allowed: {', '.join(REFERENCES)}, comma-separated, 'all' or "
                          "'none')", "references")
    return out


def reference_points(config: TradeoffConfig, folder: str | Path, which: tuple[str, ...], data_dir=None,
                     executor: Executor | None = None, progress: Callable[[SearchProgress], None] | None = None):
    """The reference curves of a trade-off (pandas DataFrame, ``COLUMNS``): the published networks in range
    (predicted accuracy, else published top-1, at least the lowest target - 0.01) fixed on the baseline, each
    one's hardware-only search (the same outer settings; run folders in ``<folder>/references``), and the
    network-only search per target on the fixed baseline, given as many costed subnets per target as the
    co-design run's ``budget`` designs spend on it (``generations=budget``).
    Fixed and network-only points are stored in the run (meta 'references') and reused for the same config."""
    import pandas as pd

    from .tradeoff_references import fixed_points, hardware_only_points, network_only_points, published_networks

    nets = published_networks(config.space, data_dir, window=(min(config.accuracies) - 0.01, 1.0))
    bad = [w for w in which if w not in REFERENCES]
    if bad:
        raise ConfigError(f"references: {bad[0]!r} (allowed: {', '.join(REFERENCES)})", "references")
    frames = []
    with RunStore(folder, create=False) as store:
        cached = store.get_meta("references") or {}
        # the shared run's seed subnets per target (hardware-independent); a warm run finds them per target
        seeds = store.get_meta("seed_subnets") if config.strategy == "shared" else None
        # the config, and how each reference uses it (network-only: ``generations=budget``, the shared seeds)
        key = repr((sorted(config.to_dict().items()), "network-only generations=budget, shared seeds"))
        for name in which:
            if name == "hardware":  # its run folders resume and reuse themselves
                frames.append(hardware_only_points(config.space, config.baseline, nets, config,
                                                   Path(folder) / "references", data_dir, executor, progress))
                continue
            if cached.get(name, {}).get("key") != key:
                part = (fixed_points(config.space, config.baseline, nets, config.final_budget, config.seed, data_dir,
                                     config) if name == "fixed" else
                        network_only_points(config.space, config.baseline, config.accuracies, config, data_dir,
                                            generations=config.budget, executor=executor, seeds=seeds))
                cached[name] = {"key": key, "rows": part.to_dict("records")}
                store.set_meta("references", cached)
            frames.append(pd.DataFrame(cached[name]["rows"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))


def tradeoff_curve(folder: str | Path):
    """The stored co-design curve of a finished trade-off run (pandas DataFrame)."""
    import pandas as pd

    with RunStore(folder, create=False) as store:
        curve = store.get_meta("curve")
    if curve is None:
        raise ConfigError(f"run: {str(folder)!r} holds no finished trade-off curve", "run")
    return pd.DataFrame(curve["rows"])
