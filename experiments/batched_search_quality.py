"""Issue 25: the batched inner search (``mapping.batch_search``) against the pycma one it replaces, at equal budget.

For each accelerator, NAAS benchmark network, seed and search setting, the whole-network mapping search
(``search_network``: each distinct layer shape searched once) is run with both engines; the table gives the
network EDP of each, their ratio (batched / pycma: below 1 is better), and the wall time of each.

    python experiments/batched_search_quality.py                  # 4 accelerators x 6 networks x 3 seeds x 2 settings
    python experiments/batched_search_quality.py --quick          # smoke run

The accelerators are Eyeriss and NVDLA-256 (3-level template) and their published hierarchies (``-hier``: the
nest searches, ``mapping.nest_batch_search``; there 'default' and 'best-default' are one start).

Settings: 'network' = the default network search (2,000 evaluations per shape, start 'default', sigma0 0.25);
'inner' = the hardware search's inner search (500, 'best-default', 0.15).
"""
from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import naas  # noqa: E402

naas.reproducible()

import pandas as pd  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.hierarchy_yaml import is_hierarchy_file, load_hierarchy  # noqa: E402
from mapping.nest_network_search import NestMappingCache, search_nest_network_best_of  # noqa: E402
from mapping.network_search import MappingCache, SearchSettings, search_network  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402

NAAS_NETWORKS = ("vgg16", "resnet50", "unet", "mobilenetv2", "squeezenet", "mnasnet")
SETTINGS = {"network": dict(budget=2000, x0="default", sigma0=0.25),  # 'default' is 'best-default' on hierarchies
            "inner": dict(budget=500, x0="best-default", sigma0=0.15)}
OUT = Path(__file__).parent / "results" / "batched_search_quality"


def run_one(task: tuple[str, str, int, str]) -> dict:
    acc_name, net_name, seed, setting = task
    net = get_network(net_name)
    settings = SearchSettings(seed=seed, **SETTINGS[setting])
    row = {"accelerator": acc_name, "network": net_name, "seed": seed, "setting": setting}
    hier = is_hierarchy_file(acc_name)
    acc = load_hierarchy(acc_name) if hier else load_accelerator(acc_name)
    for engine in ("pycma", "batched"):
        t = time.perf_counter()
        if hier:
            row[f"edp_{engine}"] = search_nest_network_best_of(net, acc, (settings,), NestMappingCache(engine)).edp
        else:
            row[f"edp_{engine}"] = search_network(net, acc, settings, MappingCache(engine)).edp
        row[f"seconds_{engine}"] = time.perf_counter() - t
    row["ratio"] = row["edp_batched"] / row["edp_pycma"]
    return row


def geomean(x) -> float:
    return math.exp(sum(math.log(v) for v in x) / len(x))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accelerators", default="eyeriss,nvdla-256,eyeriss-hier,nvdla-256-hier")
    ap.add_argument("--networks", default=",".join(NAAS_NETWORKS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="one network, one seed, the inner setting")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.quick:
        args.networks, args.seeds, args.settings = "squeezenet", "0", "inner"
    tasks = [(a, n, int(s), st) for st in args.settings.split(",") for a in args.accelerators.split(",")
             for n in args.networks.split(",") for s in args.seeds.split(",")]
    run_one(("eyeriss", "alexnet", 0, "inner"))  # compile / load the kernels once here
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_one, tasks))
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "rows.csv", index=False)
    lines = ["# Batched inner search vs pycma at equal budget (issue 25)", "",
             "Command: `python experiments/batched_search_quality.py" + (" --quick" if args.quick else "") + "`", "",
             "Network EDP ratio batched / pycma (below 1: the batched search found better mappings), geomean over "
             "seeds; seconds are per whole-network search in a worker process (2 processes on 2 cores).", "",
             "| setting | accelerator | network | seeds | EDP ratio (geomean) | min | max | pycma s | batched s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (st, a, n), g in df.groupby(["setting", "accelerator", "network"], sort=False):
        lines.append(f"| {st} | {a} | {n} | {len(g)} | {geomean(g.ratio):.4f} | {g.ratio.min():.4f} | "
                     f"{g.ratio.max():.4f} | {g.seconds_pycma.mean():.2f} | {g.seconds_batched.mean():.2f} |")
    lines += ["", "| setting | accelerators | cases | EDP ratio (geomean) | worst case | time ratio pycma / batched |",
              "|---|---|---|---|---|---|"]
    df["kind"] = ["hierarchy" if a.endswith("-hier") else "3-level" for a in df.accelerator]
    for (st, kind), g in df.groupby(["setting", "kind"], sort=False):
        lines.append(f"| {st} | {kind} | {len(g)} | {geomean(g.ratio):.4f} | {g.ratio.max():.4f} | "
                     f"{g.seconds_pycma.sum() / g.seconds_batched.sum():.1f}x |")
    lines.append(f"| all | all | {len(df)} | {geomean(df.ratio):.4f} | {df.ratio.max():.4f} | "
                 f"{df.seconds_pycma.sum() / df.seconds_batched.sum():.1f}x |")
    (args.out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
