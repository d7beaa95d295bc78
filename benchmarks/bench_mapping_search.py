"""Whole-network mapping search time on one core: the batched engine (issue 25) against the pycma one.

Usage: taskset -c 0 python benchmarks/bench_mapping_search.py [--network resnet50] [--accelerator eyeriss]
       [--budget 2000] [--repeats 3] [--breakdown] [--compare-cma-bounds REPEATS]

Times cold searches (a new cache each) after a warm-up of both engines (Numba compile / cache load), the
two engines alternated ``--repeats`` times in one run, and prints the median of each and their ratio last
(the machine is shared: compare figures of one run). ``--breakdown`` adds where the pycma path's time goes
(kernel, decoding, CMA-ES bookkeeping). ``--compare-cma-bounds`` times the pycma path with cma applying its
[0, 1] bound transformation sample by sample (the reference ``mapping.unit_box`` reproduces), alternating,
and checks the EDPs are equal.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import naas  # noqa: E402

naas.reproducible()

from cost_model.accelerator import load_accelerator  # noqa: E402
from mapping import encoding, search  # noqa: E402
from mapping.network_search import ENGINES, MappingCache, SearchSettings, search_network  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--accelerator", default="eyeriss")
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--breakdown", action="store_true", help="where the pycma path's time goes")
    ap.add_argument("--compare-cma-bounds", type=int, default=0, metavar="REPEATS",
                    help="time REPEATS searches per path: UnitBox (default) and cma's per-sample bounds")
    args = ap.parse_args()
    acc = load_accelerator(args.accelerator)
    net = get_network(args.network)
    settings = SearchSettings(budget=args.budget)
    warm = get_network("alexnet")
    for engine in ENGINES:  # warm-up: compile / load the kernels of both paths
        search_network(warm, acc, SearchSettings(budget=50), MappingCache(engine))
    times: dict[str, list[float]] = {e: [] for e in ENGINES}
    edps: dict[str, set[float]] = {e: set() for e in ENGINES}
    shapes = 0
    for r in range(args.repeats):
        for engine in ("pycma", "batched"):
            cache = MappingCache(engine)
            t = time.perf_counter()
            edps[engine].add(search_network(net, acc, settings, cache).edp)
            times[engine].append(time.perf_counter() - t)
            shapes = cache.searches
            print(f"  run {r + 1} {engine:8s} {times[engine][-1]:6.2f} s", flush=True)
    evals = shapes * args.budget
    print(f"{args.network} on {acc.name}: {shapes} distinct shapes x {args.budget} evaluations = {evals:,} "
          f"evaluations per search, {args.repeats} searches per engine, alternated")
    for engine in ("pycma", "batched"):
        med = statistics.median(times[engine])
        print(f"  {engine:8s} median {med:.3f} s ({evals / med:,.0f} evaluations/s), network EDP "
              + ", ".join(f"{e:.4e}" for e in sorted(edps[engine])))
    if args.breakdown:
        breakdown(net, acc, settings)
    if args.compare_cma_bounds:
        compare_bound_paths(net, acc, args.budget, args.compare_cma_bounds)
    ratio = statistics.median(times["pycma"]) / statistics.median(times["batched"])
    print(f"batched engine {ratio:.1f}x faster than pycma (median of {args.repeats} alternated runs)")


def breakdown(net, acc, settings: SearchSettings) -> None:
    """The pycma path's time in the kernel, in decoding, and in CMA-ES and the rest."""
    spent = {"kernel": 0.0, "decode": 0.0}
    real_eval, real_decode = search.evaluate_mappings, encoding.MappingEncoder.decode_batch

    def timed_eval(*a, **k):
        t = time.perf_counter()
        try:
            return real_eval(*a, **k)
        finally:
            spent["kernel"] += time.perf_counter() - t

    def timed_decode(self, *a, **k):
        t = time.perf_counter()
        try:
            return real_decode(self, *a, **k)
        finally:
            spent["decode"] += time.perf_counter() - t

    search.evaluate_mappings, encoding.MappingEncoder.decode_batch = timed_eval, timed_decode
    try:
        t = time.perf_counter()
        search_network(net, acc, settings, MappingCache("pycma"))
        total = time.perf_counter() - t
    finally:
        search.evaluate_mappings, encoding.MappingEncoder.decode_batch = real_eval, real_decode
    print(f"  pycma path: kernel {spent['kernel']:.2f} s, decoding {spent['decode']:.2f} s, "
          f"CMA-ES and bookkeeping {total - spent['kernel'] - spent['decode']:.2f} s of {total:.2f} s")


def compare_bound_paths(net, acc, budget: int, repeats: int) -> None:
    """Wall time of the whole-network search with UnitBox vs cma's own bounds, alternating, same seed."""
    real_cma = search._cma
    times: dict[bool, list[float]] = {False: [], True: []}
    edps: dict[bool, set[float]] = {False: set(), True: set()}
    for _ in range(repeats):
        for cma_bounds in (False, True):
            search._cma = functools.partial(real_cma, cma_bounds=cma_bounds)
            try:
                t = time.perf_counter()
                edps[cma_bounds].add(search_network(net, acc, SearchSettings(budget=budget), MappingCache("pycma")).edp)
                times[cma_bounds].append(time.perf_counter() - t)
            finally:
                search._cma = real_cma
    new, ref = min(times[False]), min(times[True])
    print(f"  best of {repeats}: UnitBox {new:.2f} s, cma per-sample bounds {ref:.2f} s "
          f"({ref / new:.2f}x); EDPs {'identical' if edps[False] == edps[True] and len(edps[False]) == 1 else 'DIFFER'}: "
          f"{sorted(edps[False])} vs {sorted(edps[True])}")


if __name__ == "__main__":
    main()
