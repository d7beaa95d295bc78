"""Mapping-search ablation (issue 3): importance vs index encoding vs random search at equal budget.

For each accelerator, NAAS benchmark network, method and seed, every distinct layer shape is searched with
the same budget from a random start; the network EDP (Σ energy x Σ cycles, each layer at its best mapping
so far) is recorded at several budgets. Prints a table (geomean over seeds, normalized to importance
encoding) and saves a convergence plot and the raw rows as CSV.

    python experiments/encoding_ablation.py                       # full run (~10 min on 2 cores)
    python experiments/encoding_ablation.py --quick               # smoke run
    python experiments/encoding_ablation.py --accelerators eyeriss-hier,nvdla-256-hier,shidiannao-hier,edgetpu-hier \
        --out experiments/results/encoding_ablation_hier        # on the published register hierarchies

Hierarchies (general storage levels, ``-hier`` names or files) are searched with ``mapping.nest_search``
(orders at every level, capacity repair); the 3-level accelerators with ``mapping.search``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per process: the scripts run one process per core

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.hierarchy_yaml import is_hierarchy_file, load_hierarchy  # noqa: E402
from mapping.nest_network_search import NEST_STARTS  # noqa: E402
from mapping.nest_search import search_nest_layer  # noqa: E402
from mapping.search import search_layer  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402

METHODS = ("cma-importance", "cma-index", "random")
NAAS_NETWORKS = ("vgg16", "resnet50", "unet", "mobilenetv2", "squeezenet", "mnasnet")


def checkpoints(budget: int) -> list[int]:
    points = [b for b in (50, 100, 200, 500, 1000, 2000, 5000, 10000) if b < budget]
    return points + [budget]


def run_one(task: tuple[str, str, str, int, int, str]) -> list[dict]:
    """Search every distinct layer of one network; network EDP at each checkpoint."""
    acc_name, net_name, method, seed, budget, x0 = task
    hier = is_hierarchy_file(acc_name)
    acc = load_hierarchy(acc_name) if hier else load_accelerator(acc_name)
    net = get_network(net_name)
    cps = checkpoints(budget)
    energy = np.zeros(len(cps))
    cycles = np.zeros(len(cps))
    unmapped = np.zeros(len(cps), dtype=int)  # distinct layers with no valid mapping yet
    t = time.perf_counter()
    for layer, count in net.unique_layers():
        if hier:  # no dataflow field on a hierarchy: 'default' starts at the best of the dataflows' defaults
            res = search_nest_layer(layer, acc, budget=budget, seed=seed, method=method, x0=NEST_STARTS[x0])
        else:
            res = search_layer(layer, acc, budget=budget, seed=seed, method=method, x0=x0)
        hist = np.array(res.history)
        for i, cp in enumerate(cps):
            upto = hist[hist[:, 0] <= cp]
            e, c = (upto[-1, 2], upto[-1, 3]) if len(upto) else (math.inf, math.inf)
            unmapped[i] += not math.isfinite(e)
            energy[i] += count * e
            cycles[i] += count * c
    secs = time.perf_counter() - t
    return [{"accelerator": acc_name, "network": net_name, "method": method, "seed": seed,
             "evals_per_layer": cp, "energy": energy[i], "cycles": cycles[i],
             "edp": energy[i] * cycles[i], "unmapped_layers": int(unmapped[i]), "seconds": secs}
            for i, cp in enumerate(cps)]


def geomean(xs) -> float:
    xs = list(xs)
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if all(x < math.inf for x in xs) else math.inf


def finite_geomean(xs) -> float:
    xs = [x for x in xs if math.isfinite(x)]
    return geomean(xs) if xs else math.inf


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerators", default="eyeriss,nvdla-256")
    ap.add_argument("--networks", default=",".join(NAAS_NETWORKS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=2000, help="evaluations per distinct layer shape")
    ap.add_argument("--x0", choices=["random", "default"], default="random")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="experiments/results/encoding_ablation")
    ap.add_argument("--quick", action="store_true", help="1 network, 1 seed, budget 300")
    args = ap.parse_args(argv)
    if args.quick:
        args.networks, args.seeds, args.budget = "squeezenet1_1", 1, 300
    tasks = [(a, n, m, s, args.budget, args.x0) for a in args.accelerators.split(",")
             for n in args.networks.split(",") for m in METHODS for s in range(args.seeds)]
    t = time.perf_counter()
    rows: list[dict] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for part in pool.map(run_one, tasks):
            rows.extend(part)
    df = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "rows.csv", index=False)

    final = df[df.evals_per_layer == args.budget]
    table = []
    for (acc, net), g in final.groupby(["accelerator", "network"], sort=False):
        gm = {m: geomean(g[g.method == m].edp) for m in METHODS}
        table.append({"accelerator": acc, "network": net, **{f"{m} EDP": gm[m] for m in METHODS},
                      "index / importance": gm["cma-index"] / gm["cma-importance"],
                      "random / importance": gm["random"] / gm["cma-importance"],
                      "unmapped (index, random)": f"{g[g.method == 'cma-index'].unmapped_layers.max()}, "
                                                  f"{g[g.method == 'random'].unmapped_layers.max()}"})
    tab = pd.DataFrame(table)
    print(f"Network EDP at {args.budget} evaluations per distinct layer, geomean over {args.seeds} seed(s), "
          f"start: {args.x0}; inf = some layer found no valid mapping (unmapped: most such layers in a seed)")
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for acc, g in tab.groupby("accelerator", sort=False):
        print(f"{acc}: geomean over networks  index/importance = {geomean(g['index / importance']):.3f}  "
              f"random/importance = {geomean(g['random / importance']):.3f}  "
              f"(finite only: {finite_geomean(g['random / importance']):.3f})")
    print(f"all: index/importance = {geomean(tab['index / importance']):.3f}, "
          f"random/importance = {geomean(tab['random / importance']):.3f} "
          f"(finite only: {finite_geomean(tab['random / importance']):.3f})  "
          f"({len(tasks)} searches of whole networks in {time.perf_counter() - t:.0f} s)")
    tab.to_csv(out / "table.csv", index=False)
    plot(df, out / "convergence.png", args.budget)
    print(f"wrote {out / 'table.csv'}, {out / 'rows.csv'}, {out / 'convergence.png'}", file=sys.stderr)


def plot(df: pd.DataFrame, path: Path, budget: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accs = list(dict.fromkeys(df.accelerator))
    fig, axes = plt.subplots(1, len(accs), figsize=(5.5 * len(accs), 4), squeeze=False)
    for ax, acc in zip(axes[0], accs):
        d = df[df.accelerator == acc]
        ref = d[(d.method == "cma-importance") & (d.evals_per_layer == budget)].groupby("network").edp.apply(geomean)
        for m in METHODS:
            xs, ys, notes = [], [], []
            for cp, g in d[d.method == m].groupby("evals_per_layer"):
                rel = [geomean(g[g.network == n].edp) / ref[n] for n in ref.index]
                finite = [r for r in rel if math.isfinite(r)]
                if finite:
                    xs.append(cp)
                    ys.append(geomean(finite))
                    notes.append(f"{len(finite)}/{len(rel)}" if len(finite) < len(rel) else "")
            line, = ax.plot(xs, ys, marker="o", label=m)
            for x, y, note in zip(xs, ys, notes):
                if note:
                    ax.annotate(note, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7,
                                color=line.get_color())
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("evaluations per distinct layer shape")
        ax.set_ylabel("network EDP / importance-encoding final")
        ax.set_title(f"{acc}: best EDP vs budget\n(geomean over networks; k/n: networks fully mapped)",
                     fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
