"""Hardware-search designs per second and co-search seconds per design: the batched inner engine (issue 25)
against the pycma one, alternated in one run, ratios last.

Usage: taskset -c 0 python benchmarks/bench_search.py [--designs 16] [--inner-budget 500] [--repeats 2]
       [--cosearch-designs 3] [--ofa-data ../shared/data/ofa]

Hardware search: the designs are decoded from uniform genomes of the full hardware space around Eyeriss (the
same designs for both engines), costed on ResNet-50 as the outer loop does, a generation (``--popsize``) at a
time; almost all of a design's time is its inner mapping searches. Co-search: each design's middle loop
(OFA-ResNet-50 subnets, the co-search experiment's settings) with its inner searches. One process, one thread.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import naas  # noqa: E402

naas.reproducible()

import numpy as np  # noqa: E402

from naas.designs import NetworkCoster, design_space, load_design  # noqa: E402
from naas.hardware_search import DesignEvaluator, HardwareSearchConfig  # noqa: E402

ENGINES = ("pycma", "batched")
SHARED_OFA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ofa"


def hardware_designs(config: HardwareSearchConfig, count: int, seed: int) -> list:
    space = design_space(load_design(config.baseline), config.mode, axis_dims=config.axis_dims,
                         encoding=config.encoding)
    rng = np.random.default_rng(seed)
    return [space.decode(rng.random(space.size), name=f"bench-{i}") for i in range(count)]


def time_hardware(config: HardwareSearchConfig, designs: list, popsize: int, engine: str) -> tuple[float, list]:
    """Seconds to cost ``designs`` a generation at a time (a fresh evaluator), and their fitnesses."""
    evaluator = DesignEvaluator(config, coster=NetworkCoster(engine))
    t = time.perf_counter()
    fits = []
    for i in range(0, len(designs), popsize):
        fits += [o[0] for o in evaluator.cost_many(designs[i:i + popsize], searched=True)]
    return time.perf_counter() - t, fits


def cosearch_setup(data_dir: Path, inner_budget: int):
    from naas.joint_search import CosearchConfig, low_mac_subnets, reference_subnet, resolve_bound
    from nn_space.accuracy import load_predictor

    config = CosearchConfig(inner_budget=inner_budget, popsize=8, subnet_population=16, subnet_generations=4)
    predictor = load_predictor(config.space, data_dir)
    bound = resolve_bound(config, predictor)
    ref = reference_subnet(predictor.space)
    seeds = low_mac_subnets(predictor, bound, [ref], config.seed_subnets, np.random.default_rng([config.seed, 1]),
                            config.seed_generations, restarts=config.seed_restarts)
    return config, predictor, bound, [ref] + list(seeds)


def time_cosearch(setup, designs: list, engine: str) -> tuple[float, list]:
    """Seconds of each design's middle loop with its inner searches, and each design's best EDP."""
    from naas.joint_search import search_subnets

    config, predictor, bound, starts = setup
    seconds, best = [], []
    for i, acc in enumerate(designs):
        t = time.perf_counter()
        ranked = search_subnets(acc, predictor, bound, starts, config, np.random.default_rng([config.seed, i]),
                                coster=NetworkCoster(engine))
        seconds.append(time.perf_counter() - t)
        best.append(ranked[0]["edp"] if ranked else None)
    return sum(seconds), best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=16, help="hardware-search designs per engine and repeat")
    ap.add_argument("--popsize", type=int, default=8, help="designs costed together (a generation)")
    ap.add_argument("--inner-budget", type=int, default=500)
    ap.add_argument("--cosearch-designs", type=int, default=3, help="co-search designs per engine (0: skip)")
    ap.add_argument("--cosearch-inner-budget", type=int, default=300)
    ap.add_argument("--ofa-data", type=Path, default=None, help="OFA predictor files ($NAAS_OFA_DATA, ../shared)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    config = HardwareSearchConfig(baseline="eyeriss", networks=("resnet50",), inner_budget=args.inner_budget)
    designs = hardware_designs(config, args.designs, seed=1)
    for engine in ENGINES:  # warm-up: compile / load the kernels of both paths
        time_hardware(HardwareSearchConfig(baseline="eyeriss", networks=("alexnet",), inner_budget=30),
                      designs[:2], 2, engine)
    hw: dict[str, list[float]] = {e: [] for e in ENGINES}
    fits: dict[str, list] = {}
    for r in range(args.repeats):
        for engine in ENGINES:
            seconds, fits[engine] = time_hardware(config, designs, args.popsize, engine)
            hw[engine].append(len(designs) / seconds)
            print(f"  hardware search, run {r + 1}, {engine:8s}: {len(designs)} designs in {seconds:6.2f} s "
                  f"({hw[engine][-1]:.2f} designs/s)", flush=True)
    pairs = [(b / a) for a, b in zip(fits["pycma"], fits["batched"]) if a and b]
    print(f"hardware search (eyeriss space, resnet50, inner budget {args.inner_budget}, generations of "
          f"{args.popsize}): median designs/s pycma {statistics.median(hw['pycma']):.2f}, batched "
          f"{statistics.median(hw['batched']):.2f}; design fitness batched / pycma geomean "
          f"{np.exp(np.mean(np.log(pairs))):.4f} over {len(pairs)} feasible designs")
    cos = None
    data = args.ofa_data or (Path(os.environ["NAAS_OFA_DATA"]) if os.environ.get("NAAS_OFA_DATA") else SHARED_OFA)
    if args.cosearch_designs and data.is_dir():
        setup = cosearch_setup(data, args.cosearch_inner_budget)
        cdesigns = hardware_designs(config, args.cosearch_designs, seed=2)
        cos = {e: [] for e in ENGINES}
        for r in range(args.repeats):
            for engine in ENGINES:
                seconds, _ = time_cosearch(setup, cdesigns, engine)
                cos[engine].append(seconds / len(cdesigns))
                print(f"  co-search, run {r + 1}, {engine:8s}: {cos[engine][-1]:.2f} s per design", flush=True)
        print(f"co-search (ofa-resnet50, inner budget {args.cosearch_inner_budget}, 16 subnets x 4 generations): "
              f"median s per design pycma {statistics.median(cos['pycma']):.2f}, batched "
              f"{statistics.median(cos['batched']):.2f}")
    elif args.cosearch_designs:
        print(f"co-search skipped: no OFA predictor files at {data}")
    print(f"hardware search: batched {statistics.median(hw['batched']) / statistics.median(hw['pycma']):.1f}x the "
          f"designs/s of pycma")
    if cos:
        print(f"co-search: batched {statistics.median(cos['pycma']) / statistics.median(cos['batched']):.1f}x "
              f"faster per design than pycma")


if __name__ == "__main__":
    main()
