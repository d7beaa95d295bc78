"""Accuracy–EDP trade-off curves (issue 27): co-design per accuracy target against the reference curves, and the
two ways of sharing work between targets.

    python experiments/tradeoff_curves.py --ofa-data DIR                      # MobileNetV3 w1.2 under Eyeriss
    python experiments/tradeoff_curves.py --ofa-data DIR --space ofa-resnet50 --accuracies 80:83:0.5

For the space and baseline given, it runs (or reuses, from --runs) the ``shared`` and the ``warm`` trade-off at
the same design budget, adds the reference curves to the shared run (``naas.tradeoff_search.reference_points``: the
published networks fixed on the baseline, each one's hardware-only search, the network-only search per target)
and writes, under --out (default ``experiments/results/tradeoff/<space>_<baseline>``):

- ``tradeoff.md``, ``curve.csv``, ``comparison.csv``, ``tradeoff.png``: the shared curve and the references
  (``naas.tradeoff_report``);
- ``strategies.csv`` / ``strategies.md``: per target, the shared and the warm strategy's EDP, with each run's
  designs and seconds (the designs' own seconds, summed: the same measure for both, whatever ran beside them).

The default targets span the predictor's range on the MobileNetV3 space: 9 points from 75.5% to 83.5% (its
smallest subnet predicts 75.3%, its largest 83.6%). Every setting of both runs is given here, so the committed
results are this script's defaults whatever the config classes' are.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per process: the scripts run one process per core

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import pandas as pd  # noqa: E402

from naas.executor import make_executor  # noqa: E402
from naas.run_store import RunStore  # noqa: E402
from naas.tradeoff_search import (REFERENCES, TradeoffConfig, parse_references, reference_points,  # noqa: E402
                                  run_tradeoff)
from naas.tradeoff_report import write_report  # noqa: E402
from nn_space.accuracy import load_predictor  # noqa: E402

try:  # imported as experiments.tradeoff_curves (tests, python -m)
    from experiments.run_folders import default_runs, run_state  # noqa: E402
except ModuleNotFoundError as exc:  # python experiments/tradeoff_curves.py: this folder is on sys.path
    if exc.name != "experiments":
        raise
    from run_folders import default_runs, run_state  # noqa: E402

STRATEGIES = ("shared", "warm")


def configs(args: argparse.Namespace) -> dict[str, TradeoffConfig]:
    """{strategy: config}: every field given (the committed results' settings are this script's defaults)."""
    common = dict(space=args.space, baseline=args.baseline, accuracies=args.accuracies, budget=args.budget,
                  seed=args.seed, inner_budget=args.inner_budget, popsize=8, sigma0=0.3, axis_dims=3,
                  final_budget=args.final_budget, warm_start="dataflows", elite_mutants=2, elite_sigma=0.05,
                  inner_start="best-default", inner_sigma0=0.15, final_portfolio=True, min_accuracy=None,
                  reference_network=None, subnet_population=16, subnet_generations=4, mutate_prob=0.1,
                  seed_subnets=6, seed_generations=60, seed_restarts=2, start_genomes=(), start_subnets=(),
                  fixed_subnet=None)
    budgets = {"shared": args.shared_budget or args.budget, "warm": args.budget}
    return {s: TradeoffConfig(**{**common, "budget": budgets[s]}, strategy=s) for s in STRATEGIES}


def run_folder(args: argparse.Namespace, strategy: str) -> Path:
    budget = (args.shared_budget or args.budget) if strategy == "shared" else args.budget
    return args.runs / f"{args.space}-{args.baseline}-{strategy}-b{budget}-s{args.seed}"


def run_one(args: argparse.Namespace, strategy: str, config: TradeoffConfig, executor) -> tuple[pd.DataFrame, float]:
    """(curve, wall seconds spent now) of one strategy's run: started, resumed, extended or reused."""
    folder = run_folder(args, strategy)
    state = run_state(folder, config)  # refuses a folder holding other settings
    t = time.perf_counter()
    if state == "absent":
        curve = run_tradeoff(config, folder, data_dir=args.ofa_data, executor=executor)
    else:
        curve = run_tradeoff(None, folder, resume=True, data_dir=args.ofa_data, executor=executor,
                             budget=config.budget)
    return curve, time.perf_counter() - t


def design_seconds(folder: Path) -> tuple[int, float]:
    """(designs, the sum of their seconds) of a trade-off run (its target runs for 'warm')."""
    stores = [folder] + sorted((folder / "targets").glob("*")) if (folder / "targets").exists() else [folder]
    count = seconds = 0
    for f in stores:
        if (f / RunStore.FILE).is_file():
            with RunStore(f, create=False) as store:
                d = store.designs()
            count += len(d)
            seconds += float(d.seconds.sum())
    return count, seconds


def strategy_table(curves: dict[str, pd.DataFrame], args: argparse.Namespace) -> pd.DataFrame:
    rows = []
    shared = curves["shared"].set_index("target")
    warm = curves["warm"].set_index("target")
    for t in shared.index:
        rows.append({"target": t, "shared EDP": shared.edp[t], "warm EDP": warm.edp.get(t, float("nan")),
                     "warm / shared": warm.edp.get(t, float("nan")) / shared.edp[t],
                     "shared accuracy": shared.accuracy[t], "warm accuracy": warm.accuracy.get(t, float("nan"))})
    table = pd.DataFrame(rows)
    for s in STRATEGIES:
        n, sec = design_seconds(run_folder(args, s))
        table.attrs[s] = (n, sec)
    return table


def range_note(space: str, data_dir) -> str:
    """The predictor's range on the space: its smallest, reference and largest subnets' predictions."""
    import dataclasses

    pred = load_predictor(space, data_dir)
    sp = pred.space
    big = sp.largest()
    low = min(pred.info.resolutions)
    if hasattr(big, "ks"):
        small = dataclasses.replace(big, ks=(3,) * len(big.ks), e=(3,) * len(big.e), d=(2,) * len(big.d),
                                    resolution=low)
    else:
        small = sp.from_dict({**big.to_dict(), "d": [0] * len(big.d), "e": [0.2] * len(big.e),
                              "w": [0] * len(big.w), "resolution": low})
    small = sp.canonical(small)
    parts = [f"smallest subnet {pred.predict_one(small) * 100:.2f}% ({sp.layers(small).macs / 1e6:.0f} MMACs)",
             f"largest {pred.predict_one(big) * 100:.2f}% ({sp.layers(big).macs / 1e6:.0f} MMACs)"]
    if hasattr(sp, "resnet50"):
        ref = sp.resnet50()
        parts.append(f"ResNet-50's configuration {pred.predict_one(ref) * 100:.4f}% ({sp.layers(ref).macs / 1e6:.0f} "
                     "MMACs)")
    return f"{space}: the predictor gives " + ", ".join(parts)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ofa-data", default=os.environ.get("NAAS_OFA_DATA"), help="OFA's predictor files")
    ap.add_argument("--space", default="ofa-mbv3-w1.2")
    ap.add_argument("--baseline", default="eyeriss")
    ap.add_argument("--accuracies", default="75.5:83.5:1")
    ap.add_argument("--budget", type=int, default=40, help="designs of the shared run; of each target's warm run")
    ap.add_argument("--shared-budget", type=int, default=None,
                    help="the shared run's designs, if not --budget (to compare the strategies at equal time)")
    ap.add_argument("--inner-budget", type=int, default=300)
    ap.add_argument("--final-budget", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--references", default=",".join(REFERENCES), help="some of fixed, hardware, network, or none")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=Path, default=None, help="run folders (default runs/tradeoff_curves)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="2 targets, 8 designs, short loops")
    args = ap.parse_args(argv)
    if args.quick:
        args.accuracies, args.budget, args.inner_budget, args.final_budget = "79:80:1", 8, 40, 60
    args.runs = args.runs or default_runs("tradeoff_curves", args.quick)
    out = args.out or Path("experiments/results/tradeoff") / f"{args.space}_{args.baseline}"
    cfgs = configs(args)
    if args.quick:
        cfgs = {s: TradeoffConfig(**{**c.to_dict(), "subnet_population": 4, "subnet_generations": 1,
                                     "seed_subnets": 2, "seed_generations": 5, "seed_restarts": 1,
                                     "warm_start": "baseline", "popsize": 4, "elite_mutants": 0})
                for s, c in cfgs.items()}
    for s, c in cfgs.items():
        run_state(run_folder(args, s), c)  # before anything runs: no run of other settings is reused
    curves, walls = {}, {}
    with make_executor(args.workers, None) as executor:
        for s in STRATEGIES:
            curves[s], walls[s] = run_one(args, s, cfgs[s], executor)
        t = time.perf_counter()
        which = parse_references(args.references)
        refs = reference_points(cfgs["shared"], run_folder(args, "shared"), which, args.ofa_data, executor)
        walls["references"] = time.perf_counter() - t
    frame = pd.concat([curves["shared"], refs], ignore_index=True)
    command = "python experiments/tradeoff_curves.py " + " ".join(sys.argv[1:] if argv is None else argv)
    note = range_note(args.space, args.ofa_data)
    write_report(frame, out, f"{args.space} under {args.baseline}'s resources: co-design (shared, "
                             f"{cfgs['shared'].budget} designs) vs references", command)
    table = strategy_table(curves, args)
    table.to_csv(out / "strategies.csv", index=False)
    (ns, ss), (nw, sw) = table.attrs["shared"], table.attrs["warm"]
    md = [f"# Sharing work between targets: {args.space} under {args.baseline}", "", f"`{command}`", "", note, "",
          f"- shared: one outer search of {cfgs['shared'].budget} designs (generation-0 starts included), every design at "
          f"every target: {ns} designs, {ss:.0f} s of design time.",
          f"- warm: one co-search of {args.budget} designs per target, each warm-started from the next higher "
          f"target's best: {nw} designs, {sw:.0f} s of design time.",
          f"- wall seconds spent in this invocation (0 where a finished run was reused): shared {walls['shared']:.0f}, "
          f"warm {walls['warm']:.0f}, references {walls['references']:.0f}.", "",
          table.to_markdown(index=False, floatfmt=".4g"), ""]
    (out / "strategies.md").write_text("\n".join(md))
    print(note)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"design seconds: shared {ss:.0f} ({ns} designs), warm {sw:.0f} ({nw} designs); wall now: "
          + ", ".join(f"{k} {v:.0f} s" for k, v in walls.items()))
    print(f"wrote {out}/tradeoff.md, curve.csv, comparison.csv, tradeoff.png, strategies.md, strategies.csv",
          file=sys.stderr)


if __name__ == "__main__":
    main()
