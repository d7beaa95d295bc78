"""The paper's headline (SPEC §9, issue 5): ResNet-50 on Eyeriss vs a co-searched OFA-ResNet-50 subnet and
accelerator under Eyeriss's resources, and vs hardware-only search on the fixed ResNet-50.

    python experiments/cosearch_resnet50_eyeriss.py --ofa-data ../shared/data/ofa        # full run
    python experiments/cosearch_resnet50_eyeriss.py --quick --ofa-data ../shared/data/ofa  # smoke run
    python experiments/cosearch_resnet50_eyeriss.py --baseline eyeriss-hier --ofa-data ../shared/data/ofa \
        --runs runs/cosearch_resnet50_eyeriss_hier --out experiments/results/cosearch_resnet50_eyeriss_hier
        # on Eyeriss's published hierarchy (GLB, per-PE ifmap / weight / psum spads)

Both searches get the same outer budget (hardware designs), CMA-ES population, warm start, elite mutants,
inner mapping budget, mapping-search start and step size, and seed; the final re-costing costs all three
rows with the same mapping searches.
The reference is torchvision's ResNet-50 on Eyeriss at its searched mapping; the accuracy bound is OFA's
predictor on ResNet-50's configuration in the OFA space (predicted top-1 on OFA's holdout). The searches rank
designs at the inner mapping budget; the table compares the reference and each search's best re-costed at
``--final-budget`` mapping evaluations per layer shape (each at its best mapping found: by default, per layer
shape, the best of the searches' own mapping search and two others, see ``--final-portfolio``), and also
shows the costs at the inner budget. The two run folders, ``cosearch`` and ``hardware-only``, go in --runs
(default runs/cosearch_resnet50_eyeriss, not committed; --quick: runs/cosearch_resnet50_eyeriss/quick):
rerunning continues or reuses them, and refuses runs there of other settings (pass another --runs,
``run_folders``). Prints a table and saves it (table.csv), a report and a Pareto plot in --out.
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

from naas.joint_search import CosearchConfig, record_final_costs, run_cosearch  # noqa: E402
from naas.cosearch_report import write_cosearch_report  # noqa: E402
from naas.executor import make_executor  # noqa: E402
from naas.hardware_search import HardwareSearchConfig, run_hardware_search  # noqa: E402
from naas.hardware_search import record_final_costs as record_hw_final_costs  # noqa: E402
from naas.run_store import RunStore  # noqa: E402
from mapping.search import STARTS  # noqa: E402

try:  # imported as experiments.cosearch_resnet50_eyeriss (tests, python -m, inner_ranking)
    from experiments.run_folders import check_runs, default_runs, run_or_reuse  # noqa: E402
except ModuleNotFoundError as exc:  # python experiments/cosearch_resnet50_eyeriss.py: this folder is on sys.path
    if exc.name != "experiments":
        raise
    from run_folders import check_runs, default_runs, run_or_reuse  # noqa: E402

EXPERIMENT = "cosearch_resnet50_eyeriss"
SEARCHES = ("cosearch", "hardware-only")  # the run folders in --runs
PAPER_EDP_REDUCTION = 4.88
PAPER_ACCURACY_GAIN = 2.7  # top-1 points over ResNet-50 (ImageNet)


def parse_args(argv=None) -> argparse.Namespace:
    """The options, with --quick's budgets applied and ``runs`` the run folders' folder (a Path)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ofa-data", default=None, help="folder with OFA's predictor files ($NAAS_OFA_DATA)")
    p.add_argument("--budget", type=int, default=600, help="hardware designs per search (default 600: 601, whole generations)")
    p.add_argument("--popsize", type=int, default=8)
    p.add_argument("--inner-budget", type=int, default=300)
    p.add_argument("--final-budget", type=int, default=2000,
                   help="mapping evaluations per layer shape for the compared costs (default 2000)")
    p.add_argument("--subnet-population", type=int, default=16)
    p.add_argument("--subnet-generations", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warm-start", choices=("baseline", "dataflows"), default="dataflows",
                   help="generation 0 of both searches (see naas search --warm-start)")
    p.add_argument("--elite-mutants", type=int, default=2,
                   help="per generation of both searches: mutants of the best design so far injected (see "
                        "naas search --elite-mutants; 0: none)")
    p.add_argument("--inner-start", choices=STARTS, default="best-default",
                   help="where each per-layer mapping search starts, in both searches and the re-costing (see "
                        "naas cosearch --inner-start)")
    p.add_argument("--inner-sigma0", type=float, default=0.15,
                   help="initial step size of each per-layer mapping search (see naas cosearch --inner-sigma0)")
    p.add_argument("--final-portfolio", action=argparse.BooleanOptionalAction, default=True,
                   help="re-cost reference and both bests with, per layer shape, the best mapping of the "
                        "searches' own settings and 'default' / 'best-default' at sigma0 0.25 (default)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--baseline", default="eyeriss",
                   help="accelerator or hierarchy (e.g. eyeriss-hier) whose resources cap both searches")
    p.add_argument("--out", default="experiments/results/cosearch_resnet50_eyeriss",
                   help="where the table (table.csv) and the report go")
    p.add_argument("--runs", default=None,
                   help="where the two run folders (cosearch, hardware-only) go, made if absent and reused if "
                        f"present (default runs/{EXPERIMENT}, with --quick runs/{EXPERIMENT}/quick)")
    p.add_argument("--quick", action="store_true",
                   help="tiny budgets and a short seed-subnet evolution (smoke test)")
    args = p.parse_args(argv)
    args.seed_generations, args.seed_restarts = 60, 2  # the seed subnets' predictor-only evolution
    if args.quick:
        args.budget, args.popsize, args.inner_budget, args.final_budget = 3, 2, 60, 120
        args.subnet_population, args.subnet_generations = 4, 1
        args.seed_generations, args.seed_restarts = 5, 1
        args.elite_mutants = min(args.elite_mutants, args.popsize - 1)
    args.runs = Path(args.runs) if args.runs else default_runs(EXPERIMENT, args.quick)
    return args


def configs(args: argparse.Namespace) -> dict[str, CosearchConfig | HardwareSearchConfig]:
    """{run folder name: config} of the two searches: the same settings, every field given (the committed
    results' settings are this script's defaults, whatever the config classes' defaults are). Neither
    re-costs at the end (final_budget 0): ``main`` re-costs both at --final-budget, with the mapping
    searches of ``final_portfolio``."""
    shared = dict(baseline=args.baseline, budget=args.budget, seed=args.seed, inner_budget=args.inner_budget,
                  popsize=args.popsize, sigma0=0.3, axis_dims=3, final_budget=0, warm_start=args.warm_start,
                  elite_mutants=args.elite_mutants, elite_sigma=0.05, inner_start=args.inner_start,
                  inner_sigma0=args.inner_sigma0, final_portfolio=args.final_portfolio)
    return {"cosearch": CosearchConfig(space="ofa-resnet50", min_accuracy=None, reference_network="resnet50",
                                       subnet_population=args.subnet_population,
                                       subnet_generations=args.subnet_generations, mutate_prob=0.1,
                                       seed_subnets=6, seed_generations=args.seed_generations,
                                       seed_restarts=args.seed_restarts, start_genomes=(), start_subnets=(),
                                       fixed_subnet=None, **shared),
            "hardware-only": HardwareSearchConfig(networks=("resnet50",), mode="full", encoding="importance",
                                                  **shared)}


def run_searches(args: argparse.Namespace, which: tuple[str, ...] = SEARCHES) -> dict[str, float]:
    """Start, finish or reuse the searches ``which`` in ``args.runs``; {name: wall seconds spent now}."""
    cfgs = configs(args)
    check_runs((args.runs / name, cfgs[name]) for name in which)  # before either starts

    def search(name):
        def run(config, folder, **kw):
            with make_executor(args.workers) as ex:
                if name == "cosearch":
                    return run_cosearch(config, folder, data_dir=args.ofa_data, executor=ex, **kw)
                return run_hardware_search(config, folder, executor=ex, **kw)
        return run_or_reuse(args.runs / name, cfgs[name], run)

    return {name: search(name) for name in which}


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    co_dir, hw_dir = args.runs / "cosearch", args.runs / "hardware-only"
    wall = run_searches(args)
    co_s, hw_s = wall["cosearch"], wall["hardware-only"]

    t = time.perf_counter()
    with RunStore(co_dir, create=False) as store:
        rows = store.designs()
        base_id = store.baseline()["id"]
        base = store.network_results().set_index(["design_id", "network"]).loc[base_id]
        ref_sub = store.design_subnets(base_id)[0]
        best = store.best()
        sub = store.design_subnets(best["id"])[0]
        bound = store.get_meta("accuracy_bound")
        co_fin = record_final_costs(store, args.final_budget, args.ofa_data)  # at the run's final_portfolio
        (out / "report").mkdir(exist_ok=True)
        write_cosearch_report(store, out / "report")
        co_designs, co_seconds = store.count(), float(rows.seconds.sum())
        co_starts = int((rows.generation == 0).sum())
        co_cfg = CosearchConfig.from_dict(store.get_meta("config"))
    with RunStore(hw_dir, create=False) as hw_store:
        hw_best = hw_store.best()
        hw_res = hw_store.network_results().set_index(["design_id", "network"]).loc[hw_best["id"]].loc["resnet50"]
        hw_fin = record_hw_final_costs(hw_store, args.final_budget)  # at the run's final_portfolio
        hw_designs = hw_store.count()
    final_s = time.perf_counter() - t

    ref, ref_fin = base.loc["resnet50"], co_fin["reference"]["resnet50"]
    hw_net = hw_fin["best"]["networks"]["resnet50"]
    hw_error = hw_fin["baseline"]["error"] or hw_fin["best"]["error"]
    if hw_error:
        raise SystemExit(f"re-costing the hardware-only run at {args.final_budget} failed: {hw_error}")
    table = pd.DataFrame([
        {"what": f"ResNet-50 (torchvision) on {args.baseline}", "GMACs": 4.089, "accuracy": ref_sub["accuracy"],
         "EDP": ref_fin["edp"], "energy": ref_fin["energy"], "cycles": ref_fin["cycles"], "search EDP": ref.edp},
        {"what": "hardware-only search, fixed ResNet-50", "GMACs": 4.089, "accuracy": ref_sub["accuracy"],
         "EDP": hw_net["edp"], "energy": hw_net["energy"], "cycles": hw_net["cycles"], "search EDP": hw_res.edp},
        {"what": "co-search: OFA subnet + accelerator + mappings", "GMACs": sub["macs"] / 1e9,
         "accuracy": sub["accuracy"], "EDP": co_fin["best"]["edp"], "energy": co_fin["best"]["energy"],
         "cycles": co_fin["best"]["cycles"], "search EDP": sub["edp"]},
    ])
    table["EDP reduction"] = ref_fin["edp"] / table.EDP
    table["speedup"] = ref_fin["cycles"] / table.cycles
    table["energy saving"] = ref_fin["energy"] / table.energy
    table["EDP reduction at search budget"] = ref.edp / table["search EDP"]
    table.to_csv(out / "table.csv", index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"\naccuracy = predicted top-1 on OFA's holdout; bound = ResNet-50's configuration in the OFA space = "
          f"{bound:.6f}; co-searched subnet {sub['accuracy']:.6f} ({(sub['accuracy'] - bound) * 100:+.5f} points)")
    print(f"co-search: {co_designs} designs, {co_seconds:.0f} s of design evaluation, {co_s:.0f} s wall now "
          f"({args.workers} workers); hardware-only: {hw_designs} designs, {hw_s:.0f} s wall now")
    print(f"warm start: {co_cfg.warm_start} (generation 0 of each search: {co_starts} designs, CMA-ES from the "
          f"best); {co_cfg.elite_mutants} mutants of the best so far in each later generation")
    print(f"mapping searches start from {co_cfg.inner_start} with sigma0 {co_cfg.inner_sigma0:g}")
    print(f"paper: {PAPER_EDP_REDUCTION}x lower EDP with +{PAPER_ACCURACY_GAIN} top-1 points (ImageNet)")
    print(f"EDP, energy, cycles at {args.final_budget} mapping evaluations per layer shape ({final_s:.0f} s to "
          f"re-cost now); search EDP at the searches' {args.inner_budget}")
    recost = co_fin.get("portfolio", "the searches' own settings")
    print(f"re-costing mappings: {recost}")
    print(f"co-search vs hardware-only: {hw_net['edp'] / co_fin['best']['edp']:.3f}x lower EDP "
          f"({hw_res.edp / sub['edp']:.3f}x at the search budget)")
    print(f"best subnet: {sub['config']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
