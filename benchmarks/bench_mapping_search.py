"""Whole-network mapping search time on one core (issue 3 target: ResNet-50 on Eyeriss under 30 s).

Usage: taskset -c 0 python benchmarks/bench_mapping_search.py [--network resnet50] [--accelerator eyeriss]

Times a cold search (new cache) after one warm-up search of a single layer (Numba compile/cache load),
and prints where the time goes: kernel, decoding, and CMA-ES bookkeeping. ``--compare-cma-bounds``
also times the same search with cma applying its [0, 1] bound transformation sample by sample (the
reference ``mapping.unit_box`` reproduces), alternating the two paths, and checks the EDPs are equal.
"""
from __future__ import annotations

import argparse
import functools
import os
import time

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from cost_model.accelerator import load_accelerator  # noqa: E402
from mapping import encoding, search  # noqa: E402
from mapping.network_search import MappingCache, SearchSettings, search_network  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--accelerator", default="eyeriss")
    ap.add_argument("--budget", type=int, default=2000)
    ap.add_argument("--compare-cma-bounds", type=int, default=0, metavar="REPEATS",
                    help="time REPEATS searches per path: UnitBox (default) and cma's per-sample bounds")
    args = ap.parse_args()
    acc = load_accelerator(args.accelerator)
    net = get_network(args.network)
    search.search_layer(net.layers[0], acc, budget=50)  # warm-up: compile / load the kernels

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
    cache = MappingCache()
    t = time.perf_counter()
    cost = search_network(net, acc, SearchSettings(budget=args.budget), cache)
    total = time.perf_counter() - t
    evals = cache.searches * args.budget
    print(f"{args.network} on {acc.name}: {len(net.layers)} layers, {cache.searches} distinct shapes x "
          f"{args.budget} evaluations = {evals:,} evaluations in {total:.2f} s "
          f"({evals / total:,.0f} evaluations/s including search overhead)")
    print(f"  kernel {spent['kernel']:.2f} s, decoding {spent['decode']:.2f} s, "
          f"CMA-ES and bookkeeping {total - spent['kernel'] - spent['decode']:.2f} s")
    print(f"  network EDP {cost.edp:.4e}, utilization {100 * cost.utilization:.1f}%")
    search.evaluate_mappings, encoding.MappingEncoder.decode_batch = real_eval, real_decode
    if args.compare_cma_bounds:
        compare_bound_paths(net, acc, args.budget, args.compare_cma_bounds)


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
                edps[cma_bounds].add(search_network(net, acc, SearchSettings(budget=budget)).edp)
                times[cma_bounds].append(time.perf_counter() - t)
            finally:
                search._cma = real_cma
    new, ref = min(times[False]), min(times[True])
    print(f"  best of {repeats}: UnitBox {new:.2f} s, cma per-sample bounds {ref:.2f} s "
          f"({ref / new:.2f}x); EDPs {'identical' if edps[False] == edps[True] and len(edps[False]) == 1 else 'DIFFER'}: "
          f"{sorted(edps[False])} vs {sorted(edps[True])}")


if __name__ == "__main__":
    main()
