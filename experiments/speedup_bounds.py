"""How much faster than each baseline ANY design within its resources can be, in this model (issue 4, SPEC §9).

    python experiments/speedup_bounds.py                 # the five baselines on their SPEC §9 networks
    python experiments/speedup_bounds.py --quick         # smoke run (AlexNet, small mapping budget)

A searched design may not have more PEs than its baseline (SPEC §6), so a layer takes at least
ceil(MACs / #PEs) cycles, and at least its compulsory DRAM words / DRAM bandwidth (``naas.bounds``). The
baseline runs at its best mapping (the experiments' final re-costing: per layer shape the best of three
mapping searches). Their ratio is the most any design -- any array, buffers or mappings -- can gain:

- "max speedup": with each baseline's DRAM bandwidth (an assumption written in its accelerator file);
- "max speedup, unlimited DRAM": both sides with unlimited DRAM bandwidth, as in MAESTRO (the model NAAS used,
  which has no DRAM level). Then max speedup = 1 / the baseline's utilization (up to rounding per layer).

The paper's speedups can be reached in this model only where they are at most these figures. Also printed:
the loose energy bound (MAC and compulsory DRAM energy only). Saves table.csv.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per process: the scripts run one process per core

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import pandas as pd  # noqa: E402

from cost_model.accelerator import Accelerator, Bandwidth, load_accelerator  # noqa: E402
from mapping.network_search import SearchSettings, final_portfolio, search_network_best_of  # noqa: E402
from naas.bounds import network_bounds  # noqa: E402
from naas.published import PAPER  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402


def unlimited_dram(acc: Accelerator) -> Accelerator:
    """``acc`` with unlimited DRAM bandwidth (reads and writes), everything else the same."""
    return dataclasses.replace(acc, name=f"{acc.name} (unlimited DRAM bandwidth)", dram_bandwidth=Bandwidth())


def bound_row(task: tuple) -> dict:
    """One (baseline, network): the baseline at its best mapping against the bounds, both DRAM settings."""
    baseline, network, budget = task
    acc = load_accelerator(baseline)
    net = get_network(network)
    portfolio = final_portfolio(SearchSettings(budget=budget, x0="best-default", sigma0=0.15))
    row = {"baseline": baseline, "network": network, "PEs": acc.num_pes}
    for suffix, a in (("", acc), (", unlimited DRAM", unlimited_dram(acc))):
        cost = search_network_best_of(net, a, portfolio)
        bound = network_bounds(net, a)
        row[f"baseline utilization{suffix}"] = cost.utilization
        row[f"max speedup{suffix}"] = cost.cycles / bound.cycles
        row[f"max energy saving{suffix}"] = cost.energy / bound.energy
    return row


def geomean(xs) -> float:
    xs = list(xs)
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baselines", default=",".join(PAPER))
    ap.add_argument("--budget", type=int, default=2000,
                    help="mapping evaluations per layer shape and search of the baseline (default 2000, as the "
                         "experiments' final re-costing)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="experiments/results/speedup_bounds")
    ap.add_argument("--quick", action="store_true", help="AlexNet only, 100 evaluations per layer shape")
    args = ap.parse_args(argv)
    baselines = [b.strip() for b in args.baselines.split(",")]
    for b in baselines:
        if b not in PAPER:
            ap.error(f"--baselines: {b!r} has no published result (allowed: {', '.join(PAPER)})")
    budget = 100 if args.quick else args.budget
    tasks = [(b, n, budget) for b in baselines for n in (("alexnet",) if args.quick else PAPER[b][0])]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = pd.DataFrame(list(pool.map(bound_row, tasks)))
    ratios = [c for c in rows.columns if c.startswith(("max ", "baseline utilization"))]
    summary = []
    for b, g in rows.groupby("baseline", sort=False):
        s = {"baseline": b, "networks": ",".join(g.network), **{c: geomean(g[c]) for c in ratios},
             "paper speedup": PAPER[b][1], "paper energy saving": PAPER[b][2]}
        s["paper speedup reachable"] = s["paper speedup"] <= s["max speedup"]
        s["... with unlimited DRAM"] = s["paper speedup"] <= s["max speedup, unlimited DRAM"]
        summary.append(s)
    table = pd.DataFrame(summary)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "rows.csv", index=False)
    table.to_csv(out / "table.csv", index=False)
    print(rows.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print()
    print("geomean over each baseline's networks:")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out / 'rows.csv'}, {out / 'table.csv'}", file=sys.stderr)
    return table


if __name__ == "__main__":
    main()
