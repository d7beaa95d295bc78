"""Sweep throughput (designs/s): in-process, 2 local processes, and a 2-worker Dask cluster on 127.0.0.1.

Usage: python benchmarks/bench_sweep.py [--designs 24] [--network resnet50] [--inner-budget 300]
                                        [--mapping search|default] [--workers 2]

Each executor first runs a warm-up sweep (other designs: imports, Numba cache loads and process start-up
happen there), then the timed sweep of ``--designs`` Eyeriss variants, through ``run_sweep`` exactly as
``naas sweep`` runs it. Prints designs/s for each, the speed-up over in-process, and whether the three runs
committed identical rows. The cluster is ``distributed.LocalCluster`` (a real scheduler and worker processes).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from naas.executor import DaskExecutor, InlineExecutor, LocalProcessExecutor  # noqa: E402
from naas.run_store import RunStore  # noqa: E402
from naas.sweep_run import run_sweep  # noqa: E402
from naas.sweep_spec import sweep_from_dict  # noqa: E402


def _spec(designs: int, network: str, inner_budget: int, mapping: str, warm: bool):
    """Eyeriss with its array rows, L2 and DRAM bandwidth varied; warm-up and timed sweeps share no design."""
    rows = [4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34]
    return sweep_from_dict({
        "base": "eyeriss", "networks": [network], "mapping": mapping, "inner_budget": inner_budget,
        "method": "random", "samples": designs, "seed": 1 if warm else 0,
        "parameters": {"array[0].size": rows, "l1.partition": [None],
                       "l2.size": ["40 KiB", "48 KiB"] if warm else ["64 KiB", "96 KiB", "128 KiB", "192 KiB"],
                       "dram.bandwidth": [2, 4, 8]}})


def _rows(folder: Path):
    store = RunStore(folder)
    try:
        return store.designs()[["genome_key", "fitness", "error"]].to_dict("records")
    finally:
        store.close()


def _measure(name: str, executor, args, root: Path) -> tuple[float, float, list]:
    """(warm-up seconds, timed designs/s, committed rows) of one executor."""
    t = time.perf_counter()
    run_sweep(_spec(max(2, 2 * executor.workers), args.network, args.inner_budget, args.mapping, True),
              root / f"{name}-warm", executor=executor)
    warm = time.perf_counter() - t
    t = time.perf_counter()
    done = run_sweep(_spec(args.designs, args.network, args.inner_budget, args.mapping, False),
                     root / name, executor=executor)
    seconds = time.perf_counter() - t
    assert done["evaluated"] == args.designs
    return warm, args.designs / seconds, _rows(root / name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", type=int, default=24)
    ap.add_argument("--network", default="resnet50")
    ap.add_argument("--inner-budget", type=int, default=300)
    ap.add_argument("--mapping", choices=["search", "default"], default="search")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from distributed import LocalCluster

    print(f"sweep of {args.designs} Eyeriss variants on {args.network}, mapping {args.mapping}"
          + (f" ({args.inner_budget} evaluations per layer shape)" if args.mapping == "search" else "")
          + f"; {os.cpu_count()} CPUs")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with InlineExecutor() as ex:
            results["in-process"] = _measure("inline", ex, args, root)
        with LocalProcessExecutor(args.workers) as ex:
            results[f"{args.workers} local processes"] = _measure("local", ex, args, root)
        with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as cluster:
            with DaskExecutor(cluster.scheduler_address) as ex:
                results[f"dask, {args.workers} workers"] = _measure("dask", ex, args, root)
    base = results["in-process"][1]
    reference_rows = results["in-process"][2]
    print(f"{'executor':24s} {'warm-up [s]':>12s} {'designs/s':>10s} {'vs in-process':>14s}  rows")
    for name, (warm, rate, rows) in results.items():
        same = "identical" if rows == reference_rows else "DIFFERENT"
        print(f"{name:24s} {warm:12.1f} {rate:10.3f} {rate / base:13.2f}x  {same}")


if __name__ == "__main__":
    main()
