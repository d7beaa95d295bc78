"""Reference curves for the accuracy–EDP trade-off (issue 27), beside the co-design curve of ``naas.tradeoff_search``.

Three references, each a pandas DataFrame with ``COLUMNS`` (one row per point), costed under one baseline:

- ``fixed_points``, method "fixed network": published networks on the baseline accelerator, each at its best
  mapping (the co-search's final re-costing: per layer shape the best of ``final_settings(final_budget)``);
- ``hardware_only_points``, method "hardware-only": one hardware search per published network under the
  baseline's resources (OFA subnets: the co-search pinned to the subnet, ``CosearchConfig.fixed_subnet``; zoo
  networks outside the space: ``run_hardware_search``), each in its own resumable run folder;
- ``network_only_points``, method "network-only": hardware-aware NAS with the accelerator fixed: the co-search's
  middle loop (OFA-style evolution, the cost model as the latency/energy predictor) on the baseline, per target.

Every point's energy, cycles and EDP are at the final re-costing. ``accuracy`` is the OFA predictor's (predicted
top-1 on OFA's holdout, ``nn_space.accuracy.ACCURACY_LABEL``), NaN for a network outside the space, whose
``published_top1`` (ImageNet validation top-1, another scale: the predictor reads about 4.8 points above it on
OFA's published subnets) is then the accuracy to plot (``accuracy_source``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from cost_model.evaluate import NetworkEvaluationError
from nn_space.accuracy import find_ofa_data, load_predictor
from nn_space.layers import Network
from nn_space.ofa_spaces import layers_from_mbv3_net_config
from nn_space.zoo import get_network

from .config_base import OuterSearchConfig
from .designs import NetworkCoster, array_label, load_design
from .errors import ConfigError, RunFolderError
from .executor import Executor, InlineExecutor
from .final_costs import stored_final
from .hardware_search import HardwareSearchConfig, run_hardware_search
from .joint_search import CosearchConfig, low_mac_subnets, reference_subnet, run_cosearch, search_subnets
from .outer_loop import SearchProgress
from .run_folder import run_state as shared_run_state
from .run_store import RunStore
from .tradeoff_search import COLUMNS

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_FLOATS = ("target", "accuracy", "published_top1", "macs", "energy", "cycles", "edp", "seconds")

#: Published ImageNet (validation) top-1 of the zoo networks used as references, as fractions.
PUBLISHED_TOP1 = {
    "mobilenetv2": 0.720,  # MobileNetV2 1.0 at 224 px: Sandler et al., CVPR 2018, Table 4 (72.0%)
    "mnasnet": 0.752,      # MnasNet-A1: Tan et al., CVPR 2019, Table 1 (75.2%)
    "resnet50": 0.7613,    # torchvision ResNet50_Weights.IMAGENET1K_V1 (ResNet-50 v1.5): acc@1 76.130%
}
#: zoo networks outside each space that are its published references (besides OFA's own subnets)
ZOO_REFERENCES = {"ofa-mbv3-w1.2": ("mobilenetv2", "mnasnet"), "ofa-resnet50": ("resnet50",)}
#: the name of ResNet-50's configuration in OFA's ResNet-50 space (ResNet-D: 3-conv stem, avg-pool shortcut)
RESNET50_CONFIG = "resnet50 (OFA config)"


@dataclass(frozen=True)
class FixedNetwork:
    """A published network: its layers, predicted accuracy (None outside the space), published top-1 (None when
    the costed layers are not the published network's) and subnet configuration (None outside the space)."""

    name: str
    network: Network
    accuracy: float | None
    published_top1: float | None
    subnet: dict | None


# --- the published networks -------------------------------------------------------------------------------

def _same_layers(a: Network, b: Network) -> bool:
    """Whether two networks have the same layer shapes in the same order."""
    return [layer.shape_key for layer in a.layers] == [layer.shape_key for layer in b.layers]


def _specialized(predictor, data_dir, variant_top1: bool) -> list[FixedNetwork]:
    """OFA's published specialized MobileNetV3s at resolutions the predictor was trained at, as w1.2 subnets."""
    folder = find_ofa_data(data_dir) / "specialized"  # data_dir, else $NAAS_OFA_DATA
    if not folder.is_dir():
        return []
    space, out = predictor.space, []
    for sub in sorted(p for p in folder.iterdir() if (p / "net.config").is_file()):
        config = json.loads((sub / "net.config").read_text())
        size = json.loads((sub / "run.config").read_text())["image_size"]
        if config.get("name") != "MobileNetV3" or size not in predictor.info.resolutions:
            continue
        subnet = space.subnet_from_net_config(config, size)
        net = space.layers(subnet)
        # 13 of the 17 are width-1.0 networks: the same blocks in the w1.2 space are a wider network (about 1.5x
        # the MACs), whose top-1 was never published
        same = _same_layers(net, layers_from_mbv3_net_config(config, size))
        top1 = round(float(sub.name.split("top1-")[1].split("_")[0]) / 100, 6)
        out.append(FixedNetwork(f"ofa-{sub.name.split('_top1')[0]}", net, predictor.predict_one(subnet),
                                top1 if same or variant_top1 else None, subnet.to_dict()))
    return out


def published_networks(space: str, data_dir, window: tuple[float, float] | None = None,
                       variant_top1: bool = False) -> list[FixedNetwork]:
    """The published reference networks of ``space`` (with accuracy, or else published top-1, in ``window``).

    ofa-mbv3-w1.2: the zoo's mobilenetv2 and mnasnet, and OFA's 17 specialized MobileNetV3s at predicted
    resolutions (``<data_dir>/specialized``). ofa-resnet50: the zoo's (torchvision) resnet50 and ResNet-50's
    configuration in the space (``RESNET50_CONFIG``; no specialized ResNet-50s are published there).
    ``variant_top1``: give a costed network whose layers differ from the published one's (a width-1.0
    specialized subnet at width 1.2; the OFA ResNet-D configuration) the published top-1 all the same.
    """
    predictor = load_predictor(space, data_dir)
    out = [FixedNetwork(name, get_network(name), None, PUBLISHED_TOP1[name], None) for name in ZOO_REFERENCES[space]]
    if space == "ofa-resnet50":
        sub = predictor.space.resnet50()
        out.append(FixedNetwork(RESNET50_CONFIG, predictor.space.layers(sub), predictor.predict_one(sub),
                                PUBLISHED_TOP1["resnet50"] if variant_top1 else None, sub.to_dict()))
    else:
        out += _specialized(predictor, data_dir, variant_top1)
    if window is not None:
        lo, hi = window
        out = [n for n in out if lo <= (n.accuracy if n.accuracy is not None else n.published_top1) <= hi]
    return out


# --- rows -----------------------------------------------------------------------------------------------------

def frame(rows: list[dict]) -> pd.DataFrame:
    """The rows as a curve frame: ``COLUMNS`` in order, the numeric ones float."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.astype({c: float for c in _FLOATS})


def _row(method: str, target: float | None, name: str, accuracy: float | None, published: float | None,
         macs: float, cost: dict | None, accelerator: str, seconds: float, run: str = "") -> dict:
    """One curve row; ``cost`` (energy, cycles, edp) None for a network that could not be mapped."""
    nan = math.nan
    return {"method": method, "target": nan if target is None else float(target), "name": name,
            "accuracy": nan if accuracy is None else float(accuracy),
            "accuracy_source": "predictor" if accuracy is not None else "published top-1",
            "published_top1": nan if published is None else float(published), "macs": float(macs),
            **{k: nan if cost is None else float(cost[k]) for k in ("energy", "cycles", "edp")},
            "accelerator": accelerator, "seconds": float(seconds), "run": run}


def subnet_name(space, subnet) -> str:
    """A subnet's label, as ``naas.tradeoff_search`` writes it: 'subnet 245 MMACs r192'."""
    return f"subnet {space.layers(subnet).macs / 1e6:.0f} MMACs r{subnet.resolution}"


# --- fixed networks on the baseline ------------------------------------------------------------------------

def as_cosearch(template: CosearchConfig) -> CosearchConfig:
    """``template``'s co-search settings as a plain ``CosearchConfig`` (e.g. of a ``naas.tradeoff_search.TradeoffConfig``)."""
    return CosearchConfig(**{f.name: getattr(template, f.name) for f in fields(CosearchConfig)})


def final_searches(template: CosearchConfig | None, final_budget: int, seed: int):
    """The mapping searches of a final re-costing at ``final_budget`` with ``template``'s inner settings (the
    co-search's defaults if none) and ``seed``."""
    base = as_cosearch(template) if template is not None else CosearchConfig()
    return replace(base, seed=seed).final_settings(final_budget)


def fixed_points(space: str, baseline: str, networks: list[FixedNetwork] | None, final_budget: int, seed: int,
                 data_dir, template: CosearchConfig | None = None) -> pd.DataFrame:
    """Method "fixed network": each network (default ``published_networks(space, data_dir)``) on the baseline at
    its best mapping, costed as the co-search's final re-costing (all mapping searches in one batch)."""
    networks = published_networks(space, data_dir) if networks is None else networks
    acc = load_design(baseline)
    searches = final_searches(template, final_budget, seed)
    coster = NetworkCoster()
    t = time.perf_counter()
    coster.prefetch([n.network for n in networks], [acc], searches)
    shared = (time.perf_counter() - t) / max(1, len(networks))
    rows = []
    for n in networks:
        t = time.perf_counter()
        try:
            c = coster.cost(n.network, acc, searches, searched=True)
            cost = {"energy": c.energy, "cycles": c.cycles, "edp": c.edp}
        except NetworkEvaluationError as exc:
            log.warning("fixed network %s on %s: %s", n.name, acc.name, exc.errors[0])
            cost = None
        rows.append(_row("fixed network", None, n.name, n.accuracy, n.published_top1, n.network.macs, cost,
                         acc.name, shared + time.perf_counter() - t))
    return frame(rows)


# --- hardware-only searches, one run folder per network ----------------------------------------------------

def safe_name(name: str) -> str:
    """A network name as a folder name: lower case, runs of other characters than [a-z0-9._] as '-'."""
    return re.sub(r"[^a-z0-9._]+", "-", name.lower()).strip("-")


def hardware_only_config(space: str, baseline: str, network: FixedNetwork,
                         template: CosearchConfig) -> CosearchConfig | HardwareSearchConfig:
    """The hardware-only search of one network under ``template``'s outer and inner settings: the co-search
    pinned to an OFA subnet (no reference network, no warm starts), else a hardware search of a zoo network."""
    if network.subnet is None:
        try:
            zoo = get_network(network.name)
        except KeyError:
            zoo = None
        if zoo is None or not _same_layers(zoo, network.network):
            raise ConfigError(f"networks: {network.name!r} is neither a subnet of the space nor the built-in network "
                              "of that name (a hardware-only search needs one of the two)", "networks")
        outer = {f.name: getattr(template, f.name) for f in fields(OuterSearchConfig)}
        return HardwareSearchConfig(**{**outer, "baseline": baseline}, networks=(network.name,), mode="full",
                                    encoding="importance")
    pinned = dict(space=space, baseline=baseline, fixed_subnet=dict(network.subnet), min_accuracy=None,
                  reference_network=None, subnet_population=1, subnet_generations=0, seed_subnets=0,
                  start_genomes=(), start_subnets=())
    known = {f.name for f in fields(CosearchConfig)}
    return replace(as_cosearch(template), **{k: v for k, v in pinned.items() if k in known})


def run_state(folder: Path, config) -> str:
    """``naas.run_folder.run_state``, complete only with the final re-costing of the run's best design stored."""
    return shared_run_state(folder, config, complete=lambda store: _final_of_best(store) is not None)


def _final_of_best(store: RunStore) -> dict | None:
    """The run's final re-costing if it was made for its current best design (errors and all)."""
    final, best = store.get_meta("final"), store.best()
    return final if final is not None and best is not None and final["best_id"] == best["id"] else None


def _hardware_only_row(folder: Path, network: FixedNetwork, seconds: float) -> dict:
    """The row of a finished hardware-only run: its best design at the run's final re-costing (NaN costs if the
    best design could not be re-costed)."""
    with RunStore(folder, create=False) as store:
        final = _final_of_best(store)
        if final is None:
            raise RunFolderError(f"runs: {str(folder)!r} holds no final re-costing of its best design", "runs")
        accelerator = array_label(store.design(final["best_id"])["accelerator"])
        if stored_final(store) is None:
            log.warning("hardware-only %s: the final re-costing failed (%s)", network.name,
                        final["best"].get("error") or final.get("baseline", {}).get("error"))
    best = final["best"]
    if network.subnet is None:
        cost, macs = best["networks"].get(network.name), network.network.macs
    else:
        cost, macs = best, best["macs"]
    return _row("hardware-only", None, network.name, best.get("accuracy", network.accuracy), network.published_top1,
                macs, cost, accelerator, seconds, str(folder))


def hardware_only_points(space: str, baseline: str, networks: list[FixedNetwork] | None, template: CosearchConfig,
                         runs: str | Path, data_dir, executor: Executor | None = None,
                         progress: Callable[[SearchProgress], None] | None = None) -> pd.DataFrame:
    """Method "hardware-only": one hardware search per network (default ``published_networks``) in
    ``runs/hardware-only-<safe name>``, started, resumed, extended or reused (``seconds``: the time spent now).

    Each takes ``template``'s outer settings (budget, seed, inner and final budgets, population, warm start, elite
    mutants, mapping-search start) and is reported at its final re-costing (``template.final_budget`` > 0).
    Every folder is checked before any search starts: one holding a run of other settings is refused.
    """
    if not template.final_budget:
        raise ConfigError("final_budget: 0 (hardware-only points are reported at the final re-costing: give the "
                          "template a final budget)", "final_budget")
    networks = published_networks(space, data_dir) if networks is None else networks
    runs = Path(runs)
    plan = [(n, runs / f"hardware-only-{safe_name(n.name)}", hardware_only_config(space, baseline, n, template))
            for n in networks]
    if len({str(folder) for _, folder, _ in plan}) < len(plan):
        raise ConfigError("networks: two networks share a run folder name", "networks")
    states = [run_state(folder, config) for _, folder, config in plan]  # all refused before any search starts
    rows = []
    for (network, folder, config), state in zip(plan, states):
        t = time.perf_counter()
        if state != "complete":
            run = run_hardware_search if isinstance(config, HardwareSearchConfig) else run_cosearch
            extra = {} if run is run_hardware_search else {"data_dir": data_dir}
            if state == "absent":
                run(config, folder, executor=executor or InlineExecutor(), progress=progress, **extra)
            else:
                run(None, folder, resume=True, budget=config.budget, executor=executor or InlineExecutor(),
                    progress=progress, **extra)
        rows.append(_hardware_only_row(folder, network, time.perf_counter() - t))
    return frame(rows)


# --- network-only: the middle loop on the fixed baseline ---------------------------------------------------

def network_only_config(space: str, baseline: str, target: float, template: CosearchConfig,
                        generations: int = 1) -> CosearchConfig:
    """``template`` at bound ``target`` with ``generations`` x (its middle-loop generations + 1) - 1 generations."""
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
        raise ConfigError(f"generations: {generations!r} (allowed: an integer >= 1)", "generations")
    free = dict(space=space, baseline=baseline, min_accuracy=float(target), fixed_subnet=None,
                subnet_generations=(template.subnet_generations + 1) * generations - 1)
    known = {f.name for f in fields(CosearchConfig)}
    return replace(as_cosearch(template), **{k: v for k, v in free.items() if k in known})


def _target_seed(target: float) -> int:
    """A seed from an accuracy target (the same for equal targets at 1e-9)."""
    return int(hashlib.sha256(f"{float(target):.9f}".encode()).hexdigest()[:12], 16)


def network_only_point(task: tuple) -> dict:
    """One network-only point (a picklable task: config as a dict, data_dir, target, seed subnet configs or None
    to find them): its row, its subnet and how many subnets were costed."""
    config_dict, data_dir, target, given = task
    t = time.perf_counter()
    config = CosearchConfig.from_dict(config_dict)
    predictor = load_predictor(config.space, data_dir)
    space = predictor.space
    acc = load_design(config.baseline)
    ref = reference_subnet(space)
    if given is not None:
        seeds = [space.from_dict(d) for d in given]
    else:  # the seed subnets a co-search at this bound starts from (the same rng, run_cosearch's)
        seeds = [] if config.seed_subnets == 0 else low_mac_subnets(
            predictor, target, [ref], config.seed_subnets, np.random.default_rng([config.seed, 1]),
            config.seed_generations, restarts=config.seed_restarts)
    coster = NetworkCoster()
    ranked = search_subnets(acc, predictor, target, [ref] + seeds, config,
                            np.random.default_rng([config.seed, 2, _target_seed(target)]), coster)
    if not ranked:
        log.warning("network-only at %g on %s: no subnet meeting it could be mapped", target, acc.name)
        return {"row": _row("network-only", target, "none", None, None, math.nan, None, acc.name,
                            time.perf_counter() - t), "subnet": None}
    best = ranked[0]
    sub = space.from_dict(best["config"])
    searches = config.final_settings(config.final_budget) if config.final_budget else (config.mapping_settings(),)
    c = coster.cost(space.layers(sub), acc, searches, searched=True)
    row = _row("network-only", target, subnet_name(space, sub), best["accuracy"], None, best["macs"],
               {"energy": c.energy, "cycles": c.cycles, "edp": c.edp}, acc.name, time.perf_counter() - t)
    return {"row": row, "subnet": best["config"], "costed": len(ranked)}


def network_only_points(space: str, baseline: str, targets, template: CosearchConfig, data_dir,
                        generations: int = 1, executor: Executor | None = None,
                        seeds: list[list[dict]] | None = None) -> pd.DataFrame:
    """Method "network-only": per accuracy target, the co-search's middle loop on the fixed baseline (hardware-aware
    NAS, the cost model as latency/energy predictor), its best subnet re-costed at ``template.final_budget``.

    Starts: the reference subnet (if it meets the target) and the target's low-MAC seed subnets, those
    ``run_cosearch`` finds (a predictor-only evolution, most of a point's time), or ``seeds[i]`` for target i if
    given (e.g. a trade-off run's stored "seed_subnets"). Budget: ``template``'s middle loop run for
    ``(subnet_generations + 1) * generations`` generations, at most ``subnet_population`` subnets each, i.e. as
    many costed subnets as ``generations`` co-search designs (``generations=template.budget``: a co-search's whole
    design budget). The random streams come from ``template.seed`` and the target. ``df.attrs``: "subnets", each
    row's subnet configuration (None if nothing met the target: that row's costs are NaN), and "costed", how many
    subnets its middle loop costed.
    """
    targets = [float(t) for t in targets]
    bad = [t for t in targets if not 0 < t < 1]
    if bad:
        raise ConfigError(f"targets: {bad[0]!r} (allowed: fractions, 0 < target < 1)", "targets")
    if seeds is not None and len(seeds) != len(targets):
        raise ConfigError(f"seeds: {len(seeds)} lists for {len(targets)} targets (allowed: one per target)", "seeds")
    tasks = [(network_only_config(space, baseline, t, template, generations).to_dict(),
              None if data_dir is None else str(data_dir), t, None if seeds is None else [dict(d) for d in seeds[i]])
             for i, t in enumerate(targets)]
    results = list((executor or InlineExecutor()).map_ordered(network_only_point, tasks))
    df = frame([r["row"] for r in results])
    df.attrs["subnets"] = [r["subnet"] for r in results]
    df.attrs["costed"] = [r.get("costed", 0) for r in results]  # subnets the middle loop costed per target
    return df
