"""Encoding ablation inside the hardware search (issue 3, SPEC §6): importance vs index encoding of the
parallel dims (connectivity) and of the loop orders (every inner mapping search), at equal budgets.

    python experiments/encoding_ablation_hardware.py                 # 6 networks x 2 encodings x 2 seeds
    python experiments/encoding_ablation_hardware.py --quick         # smoke run

Per network, a ``full`` NAAS search under the baseline's resources with ``--encoding importance`` and with
``--encoding index`` (the same seed, outer budget, CMA-ES population and inner mapping budget; both start from
the baseline as the space expresses it). experiments/encoding_ablation.py measures the encodings per layer,
with a fixed accelerator; this one measures them where NAAS uses them, in the nested search. Reported: each
search's best EDP (at its own inner budget and encoding), geomean over seeds, and index / importance.
Each search is a resumable run folder under --runs (default runs/encoding_ablation_hardware, not committed),
named by its baseline, network, encoding and seed; rerunning continues or reuses them (a run there of other
settings is refused: pass another --runs, ``run_folders``). Saves runs.csv, table.csv and convergence.png
(best EDP vs designs, relative to the baseline) in --out.
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

from naas.hardware_search import HardwareSearchConfig, run_hardware_search  # noqa: E402
from naas.run_store import RunStore  # noqa: E402

try:  # imported as experiments.encoding_ablation_hardware (tests, python -m)
    from experiments.run_folders import check_runs, default_runs, run_or_reuse  # noqa: E402
except ModuleNotFoundError as exc:  # python experiments/encoding_ablation_hardware.py: this folder is on sys.path
    if exc.name != "experiments":
        raise
    from run_folders import check_runs, default_runs, run_or_reuse  # noqa: E402

NAAS_NETWORKS = ("vgg16", "resnet50", "unet", "mobilenetv2", "squeezenet", "mnasnet")
ENCODINGS = ("importance", "index")


def task_run(task: tuple) -> tuple[Path, HardwareSearchConfig]:
    """(run folder, search config) of one search: every field given (the committed results' settings,
    whatever ``HardwareSearchConfig``'s defaults are); no final re-costing."""
    baseline, network, encoding, seed, budget, inner, popsize, runs = task
    cfg = HardwareSearchConfig(baseline=baseline, networks=(network,), mode="full", budget=budget, seed=seed,
                               inner_budget=inner, popsize=popsize, sigma0=0.3, axis_dims=3, final_budget=0,
                               encoding=encoding, warm_start="baseline", elite_mutants=0, elite_sigma=0.05,
                               inner_start="default", inner_sigma0=0.25, final_portfolio=False)
    return Path(runs) / f"{baseline}-{network}-{encoding}-seed{seed}", cfg


def run_one(task: tuple) -> dict:
    """One search (run or resume); its best-so-far trace and the baseline's EDP under the same encoding."""
    _, network, encoding, seed, *_ = task
    folder, cfg = task_run(task)
    wall = run_or_reuse(folder, cfg, run_hardware_search)
    with RunStore(folder, create=False) as store:
        d = store.designs()
        best = store.best()
    base = float(d[d.generation == -1].fitness.iloc[0])
    searched = d[d.generation >= 0].fitness.fillna(np.inf).to_numpy()
    return {"network": network, "encoding": encoding, "seed": seed, "designs": len(searched),
            "baseline EDP": base, "best EDP": best["fitness"], "design seconds": float(d.seconds.sum()),
            "wall seconds now": wall, "trace": np.minimum.accumulate(searched).tolist()}


def geomean(xs) -> float:
    xs = list(xs)
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", default="eyeriss")
    p.add_argument("--networks", default=",".join(NAAS_NETWORKS))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--budget", type=int, default=97, help="hardware designs per search (default 97)")
    p.add_argument("--popsize", type=int, default=8)
    p.add_argument("--inner-budget", type=int, default=300)
    p.add_argument("--workers", type=int, default=2, help="searches run in parallel, one per process")
    p.add_argument("--runs", default=None,
                   help="folder of the run folders, made there if absent and reused if present (default "
                        "runs/encoding_ablation_hardware, with --quick runs/encoding_ablation_hardware/quick)")
    p.add_argument("--out", default="experiments/results/encoding_ablation_hardware",
                   help="where runs.csv, table.csv and convergence.png are written")
    p.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    args = p.parse_args(argv)
    networks = [n.strip() for n in args.networks.split(",") if n.strip()]
    if args.quick:
        args.budget, args.popsize, args.inner_budget, args.seeds = 5, 4, 40, 1
        networks = networks[:1]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(args.runs) if args.runs else default_runs("encoding_ablation_hardware", args.quick)
    tasks = [(args.baseline, n, enc, s, args.budget, args.inner_budget, args.popsize, str(runs))
             for n in networks for s in range(args.seeds) for enc in ENCODINGS]
    check_runs(task_run(t) for t in tasks)  # before any search starts: no run of other settings is reused
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as ex:
        runs = list(ex.map(run_one, tasks))
    wall = time.perf_counter() - t

    df = pd.DataFrame([{k: v for k, v in r.items() if k != "trace"} for r in runs])
    df.to_csv(out / "runs.csv", index=False)
    rows = []
    for n in networks:
        sel = df[df.network == n]
        row = {"network": n, "baseline EDP": geomean(sel[sel.encoding == "importance"]["baseline EDP"])}
        for enc in ENCODINGS:
            row[f"{enc} EDP"] = geomean(sel[sel.encoding == enc]["best EDP"])
        row["index / importance"] = row["index EDP"] / row["importance EDP"]
        row["per seed"] = " ".join(
            f"{i / m:.3f}" for i, m in zip(sel[sel.encoding == "index"].sort_values("seed")["best EDP"],
                                           sel[sel.encoding == "importance"].sort_values("seed")["best EDP"]))
        row["importance vs baseline"] = row["baseline EDP"] / row["importance EDP"]
        row["index vs baseline"] = geomean(sel[sel.encoding == "index"]["baseline EDP"]) / row["index EDP"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table.loc[len(table)] = {"network": "geomean",
                             **{c: geomean(table[c]) for c in table.columns if c not in ("network", "per seed")},
                             "per seed": ""}
    table.to_csv(out / "table.csv", index=False)
    print(f"{args.baseline} resources, full mode, {args.budget} designs per search (popsize {args.popsize}), "
          f"{args.inner_budget} mapping evaluations per layer shape, seeds 0..{args.seeds - 1}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\npaper: importance beats index by 1.4-7.4x EDP; {len(runs)} searches, "
          f"{df['design seconds'].sum():.0f} s of design evaluation, {wall:.0f} s wall now ({args.workers} workers)")
    plot(runs, networks, out / "convergence.png")
    return 0


def plot(runs: list[dict], networks: list[str], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(3, len(networks))
    fig, axes = plt.subplots(math.ceil(len(networks) / cols), cols, figsize=(4.2 * cols, 3.2 * math.ceil(
        len(networks) / cols)), squeeze=False)
    for ax, n in zip(axes.flat, networks):
        for k, enc in enumerate(ENCODINGS):
            for r in (r for r in runs if r["network"] == n and r["encoding"] == enc):
                ax.plot(np.arange(1, len(r["trace"]) + 1), np.array(r["trace"]) / r["baseline EDP"],
                        color=f"C{k}", alpha=0.8, label=enc if r["seed"] == 0 else None)
        ax.set_title(n)
        ax.set_xlabel("designs")
        ax.set_ylabel("best EDP / baseline")
        ax.set_yscale("log")
        ax.legend()
    for ax in list(axes.flat)[len(networks):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
