"""NAAS against the baselines (issue 4, SPEC §9): each baseline's resources cap a hardware search.

    python experiments/naas_vs_baselines.py                        # every baseline, full mode
    python experiments/naas_vs_baselines.py --baselines eyeriss --modes sizing,connectivity,full
    python experiments/naas_vs_baselines.py --seeds 3 --baselines nvdla-256
    python experiments/naas_vs_baselines.py --baselines eyeriss --modes sizing,full --per-network \
        --networks vgg16,resnet50,unet,mobilenetv2,squeezenet,mnasnet     # the paper's per-network ablation
    python experiments/naas_vs_baselines.py --quick                # smoke run

Each (baseline, mode, seed) is one resumable run folder under --out: rerunning the script continues
unfinished runs and reuses finished ones. Prints speedup, energy saving and EDP reduction (geomean over the
baseline's networks; baseline and best design re-costed with --final-budget) next to the paper's and next to
the most any design within the baseline's #PEs, DRAM bandwidth and energy table could reach in this model
("max speedup", "max energy saving": naas.bounds), and saves a bar chart.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per process: the scripts run one process per core

from cost_model.blas_kernels import pin_openblas_kernels  # noqa: E402

pin_openblas_kernels()  # before numpy loads (cost_model/blas_kernels.py)

import pandas as pd  # noqa: E402

from mapping.search import STARTS  # noqa: E402
from naas.hardware_search import HardwareSearchConfig, run_hardware_search  # noqa: E402
from naas.published import PAPER  # noqa: E402  (SPEC §9)
from naas.report import comparison_table  # noqa: E402
from naas.run_store import RunStore  # noqa: E402




def run_one(task: tuple) -> dict:
    baseline, networks, mode, seed, budget, inner, final, warm_start, mutants, inner_start, out = task
    own = "" if tuple(networks) == PAPER.get(baseline, ((),))[0] else "-" + "+".join(networks)
    start = ("" if warm_start == "baseline" else f"-{warm_start}") + (f"-mutants{mutants}" if mutants else "")
    x0, sigma0, portfolio = inner_start
    if (x0, sigma0, portfolio) != ("default", 0.25, False):
        start += f"-inner-{x0}{sigma0:g}" + ("-portfolio" if portfolio else "")
    folder = Path(out) / f"{baseline}-{mode}{own}{start}-seed{seed}"
    cfg = HardwareSearchConfig(baseline=baseline, networks=tuple(networks), mode=mode, budget=budget,
                               seed=seed, inner_budget=inner, final_budget=final, warm_start=warm_start,
                               elite_mutants=mutants, inner_start=x0, inner_sigma0=sigma0,
                               final_portfolio=portfolio)
    done = False
    if (folder / RunStore.FILE).exists():
        store = RunStore(folder)
        done = store.count() >= budget
        store.close()
    if not done:
        run_hardware_search(None if (folder / RunStore.FILE).exists() else cfg, folder,
                            resume=(folder / RunStore.FILE).exists())
    store = RunStore(folder)
    try:
        table = comparison_table(store).set_index("network")
        best = store.best()
        evaluated = store.count()
    finally:
        store.close()
    geo = table.loc["geomean"]
    return {"baseline": baseline, "mode": mode, "seed": seed, "networks": ",".join(networks),
            "warm start": warm_start, "elite mutants": mutants,
            "inner start": f"{x0} {sigma0:g}" + (" + portfolio" if portfolio else ""),
            "speedup": geo["speedup"], "energy saving": geo["energy saving"],
            "EDP reduction": geo["EDP reduction"], "max speedup": geo["max speedup"],
            "max energy saving": geo["max energy saving"], "designs": evaluated,
            "searched array": " x ".join(f"{a['size']}({a.get('dim') or '/'.join(a['dims'])})"
                                         for a in best["accelerator"]["array"])}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baselines", default=",".join(PAPER))
    ap.add_argument("--modes", default="full")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--budget", type=int, default=120, help="hardware designs per search")
    ap.add_argument("--inner-budget", type=int, default=300)
    ap.add_argument("--final-budget", type=int, default=2000,
                    help="mapping budget of the final re-costing of baseline and best design")
    ap.add_argument("--networks", default=None,
                    help="comma-separated networks instead of each baseline's paper set (SPEC §9)")
    ap.add_argument("--per-network", action="store_true",
                    help="one search per network (as the paper's per-network ablation), not one over all")
    ap.add_argument("--warm-start", choices=("baseline", "dataflows"), default="baseline",
                    help="generation 0 of each search (see naas search --warm-start; the committed results: "
                         "'baseline'); run folders get a '-dataflows' suffix")
    ap.add_argument("--elite-mutants", type=int, default=0,
                    help="per generation: mutants of the best design so far injected (see naas search "
                         "--elite-mutants; the committed results: 0); run folders get a '-mutantsN' suffix")
    ap.add_argument("--inner-start", choices=STARTS, default="default",
                    help="where each inner mapping search starts (see naas search --inner-start; the committed "
                         "results: 'default'; naas search: 'best-default')")
    ap.add_argument("--inner-sigma0", type=float, default=0.25,
                    help="its CMA-ES step size (committed results: 0.25; naas search: 0.15)")
    ap.add_argument("--final-portfolio", action="store_true",
                    help="re-cost baseline and best design with the best of three mapping searches per layer "
                         "shape (as naas search does by default); with a non-default inner start or this, run "
                         "folders get an '-inner-START SIGMA0[-portfolio]' suffix")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="experiments/results/naas_vs_baselines")
    ap.add_argument("--quick", action="store_true", help="one small network, 8 designs, inner budget 60")
    args = ap.parse_args(argv)
    tasks = []
    for b in args.baselines.split(","):
        nets = tuple(n.strip() for n in args.networks.split(",")) if args.networks else PAPER[b][0]
        nets = ("alexnet",) if args.quick else nets
        for group in ([(n,) for n in nets] if args.per_network else [nets]):
            for mode in args.modes.split(","):
                for seed in range(args.seeds):
                    tasks.append((b, group, mode, seed, 8 if args.quick else args.budget,
                                  60 if args.quick else args.inner_budget,
                                  100 if args.quick else args.final_budget, args.warm_start,
                                  args.elite_mutants,
                                  (args.inner_start, args.inner_sigma0, args.final_portfolio), args.out))
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(run_one, tasks))
    df = pd.DataFrame(rows)
    df["paper speedup"] = [PAPER[b][1] for b in df.baseline]
    df["paper energy saving"] = [PAPER[b][2] for b in df.baseline]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / "summary.csv", index=False)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if df["mode"].nunique() > 1:
        for (b, nets), g in df.groupby(["baseline", "networks"], sort=False):
            by_mode = g.groupby("mode")["EDP reduction"].apply(lambda s: math.exp(s.apply(math.log).mean()))
            if {"sizing", "full"} <= set(by_mode.index):
                print(f"{b} ({nets}): full / sizing-only EDP advantage {by_mode['full'] / by_mode['sizing']:.2f}x"
                      f" (geomean over seeds)")
    plot(df, out / "summary.png")
    print(f"wrote {out / 'summary.csv'}, {out / 'summary.png'}", file=sys.stderr)


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = df.groupby(["baseline", "networks", "mode"], sort=False)[["speedup", "energy saving", "max speedup",
                                                                  "max energy saving"]].mean().reset_index()
    several = df.networks.nunique() > df.baseline.nunique()  # label bars with their networks too
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(g)), 4))
    x = range(len(g))
    ax.bar([i - 0.3 for i in x], g["speedup"], 0.2, label="speedup (measured)")
    ax.bar([i - 0.1 for i in x], [PAPER[b][1] for b in g.baseline], 0.2, label="speedup (paper)", alpha=0.5)
    ax.bar([i + 0.1 for i in x], g["energy saving"], 0.2, label="energy saving (measured)")
    ax.bar([i + 0.3 for i in x], [PAPER[b][2] for b in g.baseline], 0.2, label="energy saving (paper)",
           alpha=0.5)
    ax.scatter([i - 0.3 for i in x], g["max speedup"], marker="_", s=300, color="C0", zorder=3,
               label="max speedup possible in this model")
    ax.scatter([i + 0.1 for i in x], g["max energy saving"], marker="_", s=300, color="C2", zorder=3,
               label="energy-saving bound (loose)")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(list(x), [f"{b}\n{m}" + (f"\n{n}" if several else "")
                            for b, n, m in zip(g.baseline, g.networks, g["mode"])], fontsize=8)
    ax.set_ylabel("x vs baseline (same resources)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
