"""How well the inner mapping search ranks hardware designs (issue 5): each start and step size of the
per-layer CMA-ES at the search's inner budget, against the same designs costed at the final budget.

    python experiments/inner_ranking.py --ofa-data ../shared/data/ofa     # designs of the co-search experiment's run
    python experiments/inner_ranking.py --run R          # designs of the co-search run in folder R
    python experiments/inner_ranking.py --quick --ofa-data ../shared/data/ofa   # smoke run

A co-search ranks designs by costs from a small inner budget (300 mapping evaluations per layer shape) and
reports the best one re-costed at 2,000; a ranking that follows the 2,000-evaluation costs picks better
designs. Designs: the ``--top`` best of a co-search run and ``--random`` others drawn from its later
generations (seeded); network: the run's best subnet on every design (fixed, so only the hardware and the
mapping search vary). For each variant (start, sigma0) and mapping seed: the geometric mean of
EDP(inner budget) / EDP(final budget) (1 = the inner search already finds the final mappings), Spearman's
rank correlation with the final-budget EDPs, and the regret of the design it ranks first (its final-budget
EDP over the best design's). The final-budget costs use the dataflow's default start, sigma0 0.25 (the
original settings). Saves table.csv and designs.csv in --out.

The co-search run: ``--run`` (any co-search run folder, read only), else the ``cosearch`` run of
experiments/cosearch_resnet50_eyeriss.py in ``--runs`` (default its own, runs/cosearch_resnet50_eyeriss, or
runs/cosearch_resnet50_eyeriss/quick with --quick), made there with that experiment's settings (its --quick
ones with --quick; OFA's predictor files from --ofa-data; 602 designs, about 20 minutes on 2 cores) if
absent, and reused if present. The committed results in experiments/results/inner_ranking come from an
earlier co-search run (docs/search.md), passed with --run.
"""
from __future__ import annotations

import argparse
import json
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

from cost_model.accelerator import accelerator_from_dict  # noqa: E402
from cost_model.evaluate import NetworkEvaluationError  # noqa: E402
from mapping.network_search import MappingCache, SearchSettings, search_network  # noqa: E402
from naas.run_store import NoRunError, RunStore  # noqa: E402
from nn_space.ofa_spaces import get_space  # noqa: E402

try:  # imported as experiments.inner_ranking (tests, python -m)
    from experiments import cosearch_resnet50_eyeriss  # noqa: E402
except ModuleNotFoundError as exc:  # python experiments/inner_ranking.py: this folder is on sys.path
    if exc.name != "experiments":
        raise
    import cosearch_resnet50_eyeriss  # noqa: E402

VARIANTS = (("default", 0.25), ("default", 0.15), ("best-default", 0.25), ("best-default", 0.15))


def cost_designs(task: tuple) -> list[float]:
    """EDP of the subnet on each design under one mapping setting (nan: some layer could not be mapped)."""
    space_name, subnet, accelerators, settings = task
    space = get_space(space_name)
    net = space.layers(space.from_dict(subnet))
    out = []
    for acc in accelerators:
        try:
            out.append(search_network(net, accelerator_from_dict(acc), settings, MappingCache()).edp)
        except NetworkEvaluationError:
            out.append(float("nan"))
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    ra, rb = pd.Series(a[ok]).rank().to_numpy(), pd.Series(b[ok]).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def cosearch_run(args: argparse.Namespace) -> Path:
    """The co-search run of experiments/cosearch_resnet50_eyeriss.py in --runs, made there if absent."""
    co_argv = ["--workers", str(args.workers)] + (["--quick"] if args.quick else [])
    co_argv += (["--runs", args.runs] if args.runs else []) + (["--ofa-data", args.ofa_data] if args.ofa_data else [])
    co_args = cosearch_resnet50_eyeriss.parse_args(co_argv)
    cosearch_resnet50_eyeriss.run_searches(co_args, which=("cosearch",))
    return co_args.runs / "cosearch"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None,
                   help="a co-search run folder (its designs and best subnet), read as it is (default: the "
                        "'cosearch' run in --runs)")
    p.add_argument("--runs", default=None,
                   help="the run folders of experiments/cosearch_resnet50_eyeriss.py; its co-search is made there "
                        f"if absent (default runs/{cosearch_resnet50_eyeriss.EXPERIMENT}, with --quick "
                        f"runs/{cosearch_resnet50_eyeriss.EXPERIMENT}/quick)")
    p.add_argument("--ofa-data", default=None,
                   help="folder with OFA's predictor files ($NAAS_OFA_DATA), to make the co-search run")
    p.add_argument("--top", type=int, default=12, help="the run's best designs")
    p.add_argument("--random", type=int, default=24, help="designs drawn from the later half of the run")
    p.add_argument("--designs-file", default=None,
                   help="rank these designs instead (JSON list of accelerator dicts, as the run store keeps them, "
                        "or of {'acc': ...}); the subnet is still the --run's best")
    p.add_argument("--inner-budget", type=int, default=300)
    p.add_argument("--final-budget", type=int, default=2000)
    p.add_argument("--seeds", default="0,1", help="mapping-search seeds")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the random draw of designs")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default="experiments/results/inner_ranking")
    p.add_argument("--quick", action="store_true", help="4 designs, budgets 40 / 120 (smoke run)")
    args = p.parse_args(argv)
    if args.quick:
        args.top, args.random, args.inner_budget, args.final_budget, args.seeds = 2, 2, 40, 120, "0"
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = args.run or cosearch_run(args)

    try:
        store = RunStore(run, create=False)
    except NoRunError as exc:
        raise SystemExit(f"--run: {exc}") from None
    with store:
        if store.kind != "cosearch":
            raise SystemExit(f"--run: {str(run)!r} holds no co-search")
        space_name = store.get_meta("config")["space"]
        d = pd.DataFrame(store.records(), columns=["id", "generation", "fitness", "accelerator"])
        d = d[(d.generation >= 0) & d.fitness.notna()].sort_values(["fitness", "id"])
        top = d.head(args.top)
        later = d.iloc[args.top:]
        later = later[later.generation >= d.generation.max() // 2]
        rng = np.random.default_rng(args.sample_seed)
        drawn = later.iloc[np.sort(rng.choice(len(later), min(args.random, len(later)), replace=False))]
        chosen = pd.concat([top, drawn])
        subnet = store.design_subnets(int(top.id.iloc[0]))[0]["config"]
    accs = list(chosen.accelerator)
    what = f"{len(top)} best, {len(drawn)} drawn from generations >= {d.generation.max() // 2}"
    if args.designs_file:
        accs = [a.get("acc", a) for a in json.loads(Path(args.designs_file).read_text())]
        chosen = pd.DataFrame({"id": -1, "generation": -1, "fitness": np.nan}, index=range(len(accs)))
        what = f"from {args.designs_file}"

    jobs = {("final", "default", 0.25, seeds[0]): SearchSettings(budget=args.final_budget, seed=seeds[0])}
    for start, sigma0 in VARIANTS:
        for seed in seeds:
            jobs[("inner", start, sigma0, seed)] = SearchSettings(budget=args.inner_budget, seed=seed, x0=start,
                                                                  sigma0=sigma0)
    t = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = dict(zip(jobs, pool.map(cost_designs, [(space_name, subnet, accs, s) for s in jobs.values()])))
    wall = time.perf_counter() - t

    truth = np.array(results.pop(("final", "default", 0.25, seeds[0])))
    best_truth = np.nanmin(truth)
    rows = []
    for (_, start, sigma0, seed), edps in results.items():
        v = np.array(edps)
        ok = np.isfinite(v) & np.isfinite(truth)
        rows.append({"start": start, "sigma0": sigma0, "seed": seed,
                     "inner / final EDP (geomean)": float(np.exp(np.mean(np.log(v[ok] / truth[ok])))),
                     "Spearman vs final": _spearman(v, truth),
                     "regret of its first": float(truth[int(np.nanargmin(v))] / best_truth)})
    table = pd.DataFrame(rows)
    table.to_csv(out / "table.csv", index=False)
    per_design = chosen[["id", "generation", "fitness"]].rename(columns={"fitness": "run fitness"}).copy()
    per_design["array"] = [" x ".join(f"{a['size']}({'/'.join(a['dims']) if 'dims' in a else a['dim']})"
                                      for a in acc["array"]) for acc in accs]
    per_design["l1"] = [acc["l1"]["size"] for acc in accs]
    per_design[f"EDP at {args.final_budget}"] = truth
    for (_, start, sigma0, seed), edps in results.items():
        per_design[f"{start} {sigma0:g} s{seed}"] = edps
    per_design.to_csv(out / "designs.csv", index=False)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"\n{len(accs)} designs ({what}); subnet: the best of {run} ({subnet})")
    print(f"inner budget {args.inner_budget}, final budget {args.final_budget} (default start, sigma0 0.25, "
          f"seed {seeds[0]}); {wall:.0f} s on {args.workers} workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
