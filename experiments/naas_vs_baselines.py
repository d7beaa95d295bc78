"""NAAS against the baselines (issue 4, SPEC §9): each baseline's resources cap a hardware search.

    python experiments/naas_vs_baselines.py                        # every baseline, full mode
    python experiments/naas_vs_baselines.py --baselines eyeriss --modes sizing,connectivity,full
    python experiments/naas_vs_baselines.py --seeds 3 --baselines nvdla-256
    python experiments/naas_vs_baselines.py --baselines eyeriss --modes sizing,full --per-network \
        --networks vgg16,resnet50,unet,mobilenetv2,squeezenet,mnasnet     # the paper's per-network ablation
    python experiments/naas_vs_baselines.py --quick                # smoke run
    python experiments/naas_vs_baselines.py --budget 160 --seeds 3 --warm-start dataflows --elite-mutants 2 \
        --inner-start best-default --inner-sigma0 0.15 --final-portfolio \
        --runs runs/naas_vs_baselines_current --out experiments/results/naas_vs_baselines_current \
        --baseline-mapping dataflow,best --tables-out experiments/results/paper_comparison   # both settings

Each (baseline, networks, mode, seed) is one resumable run folder under --runs (default
runs/naas_vs_baselines, not committed), named by them (``eyeriss-full-mobilenetv2+squeezenet+mnasnet-seed0``):
rerunning the script continues unfinished runs and reuses finished ones. One --runs folder holds runs of one
set of search settings (budgets, warm start, elite mutants, inner start, re-costing): a run found there with
other settings is refused, not reused; pass another --runs for other settings (``run_folders``). Prints
speedup, energy saving and EDP reduction (geomean over the baseline's networks; baseline and best design
re-costed with --final-budget) next to the paper's and next to the most any design within the baseline's
#PEs, DRAM bandwidth and energy table could reach in this model ("max speedup", "max energy saving":
naas.bounds), and saves a bar chart; summary.csv and summary.png go to --out.

``--baseline-mapping`` (one or both of ``dataflow``, ``best``, comma-separated) says which mapping the
baseline is costed at, the searched design being costed as before (the run's final re-costing of its best
design, at its searched mappings):

- ``dataflow``: the paper's setting (MAESTRO ran each baseline on its own fixed dataflow): the baseline at its
  dataflow's fixed mapping, ``mapping.default_mapping.default_mapping`` per layer (no search; costed from the
  baseline accelerator stored in the run, so finished runs are reused as they are).
- ``best``: the strict setting: the baseline at its best searched mapping (the run's final re-costing, as
  the default output reports it).

Each setting comes with the bounds of ``naas.bounds`` relative to that setting's baseline, and "of bound" =
speedup / max speedup. With it, the tables (per seed, geomean over seeds side by side, per network) go to
--tables-out as CSV and Markdown instead of --out's summary.csv / summary.png, which are left as they are.
A further baseline setting (e.g. the baseline's published storage hierarchy) is one more entry of
``BASELINE_MAPPINGS``: a function from the run to the baseline's per-network costs.
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

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import pandas as pd  # noqa: E402

from cost_model.accelerator import load_accelerator  # noqa: E402
from cost_model.evaluate import evaluate_network  # noqa: E402
from cost_model.hierarchy import Hierarchy  # noqa: E402
from cost_model.nest_network import evaluate_nest_network  # noqa: E402
from mapping.nest_default import nest_default_mapping  # noqa: E402
from mapping.default_mapping import default_mapping  # noqa: E402
from mapping.search import STARTS  # noqa: E402
from naas.bounds import layer_bounds  # noqa: E402
from naas.hardware_search import HardwareSearchConfig, network_summary, run_hardware_search  # noqa: E402
from naas.published import PAPER  # noqa: E402  (SPEC §9)
from naas.designs import (Design, array_label, design_from_dict, design_pes, design_to_dict,  # noqa: E402
                          load_design)
from naas.report import comparison_table, final_costs_of  # noqa: E402
from naas.run_store import RunStore  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402

try:  # imported as experiments.naas_vs_baselines (tests, python -m)
    from experiments.run_folders import check_runs, default_runs, run_or_reuse  # noqa: E402
except ModuleNotFoundError as exc:  # python experiments/naas_vs_baselines.py: this folder is on sys.path
    if exc.name != "experiments":
        raise
    from run_folders import check_runs, default_runs, run_or_reuse  # noqa: E402

SETTINGS = ("dataflow", "best")  # --baseline-mapping: the paper's setting, the strict one
RATIOS = ("speedup", "energy saving", "EDP reduction", "max speedup", "max energy saving", "of bound")


def paper_entry(baseline: str) -> tuple:
    """The paper's (networks, speedup, energy saving) for a baseline or its published hierarchy ('-hier')."""
    return PAPER.get(baseline.removesuffix("-hier"), ((), math.nan, math.nan))


def run_folder(runs: str | Path, baseline: str, networks: tuple[str, ...], mode: str, seed: int) -> Path:
    """The run folder of one (baseline, networks, mode, seed) under ``runs`` (the search settings are the
    folder's: ``run_folders``)."""
    return Path(runs) / f"{baseline}-{mode}-{'+'.join(networks)}-seed{seed}"


def search_config(baseline: str, networks: tuple[str, ...], mode: str, seed: int, budget: int, inner: int,
                  final: int, warm_start: str, mutants: int, inner_start: tuple) -> HardwareSearchConfig:
    """The search of one run: every field given (the committed results' settings are this script's
    defaults, whatever ``HardwareSearchConfig``'s are)."""
    x0, sigma0, portfolio = inner_start
    return HardwareSearchConfig(baseline=baseline, networks=tuple(networks), mode=mode, budget=budget, seed=seed,
                                inner_budget=inner, popsize=None, sigma0=0.3, axis_dims=3, final_budget=final,
                                encoding="importance", warm_start=warm_start, elite_mutants=mutants,
                                elite_sigma=0.05, inner_start=x0, inner_sigma0=sigma0, final_portfolio=portfolio)


# --- the baseline's costs per setting: {network: network_summary} ----------------------------------------
def stored_baseline(store: RunStore) -> Design:
    """The baseline the run was searched under, as the run stored it (its design of generation -1)."""
    record = store.baseline()
    if record is None:
        raise ValueError(f"{store.folder}: the run holds no baseline design")
    return design_from_dict(record["accelerator"], origin=f"{store.folder} (baseline)")


def baseline_at_dataflow(store: RunStore, config: HardwareSearchConfig) -> dict[str, dict]:
    """The paper's setting: the baseline at its dataflow's fixed (default) mapping on each network.

    A published hierarchy ('eyeriss-hier') has no dataflow field: it takes its 3-level file's ('eyeriss'),
    through the default-mapping rules applied to every level (``mapping.nest_default``)."""
    acc = stored_baseline(store)
    if isinstance(acc, Hierarchy):
        flow = load_accelerator(config.baseline.removesuffix("-hier")).dataflow
        mapper = lambda layer, h: nest_default_mapping(layer, h, flow)  # noqa: E731
        return {n: network_summary(evaluate_nest_network(get_network(n), acc, mapper, f"default {flow}"))
                for n in config.networks}
    return {n: network_summary(evaluate_network(get_network(n), acc, default_mapping, "default"))
            for n in config.networks}


def baseline_at_best(store: RunStore, config: HardwareSearchConfig) -> dict[str, dict]:
    """The strict setting: the baseline at its best searched mapping (the run's final re-costing)."""
    fin = final_costs_of(store)
    if fin is not None:
        return fin["baseline"]["networks"]
    return _ranked_results(store, -1)  # no final re-costing: as the search ranked it (as comparison_table)


#: --baseline-mapping setting -> the baseline's per-network costs in it. A hierarchy baseline (its published
#: storage hierarchy, costed with the nest model) would be one more entry here.
BASELINE_MAPPINGS = {"dataflow": baseline_at_dataflow, "best": baseline_at_best}


def _ranked_results(store: RunStore, generation_or_id: int, by_id: bool = False) -> dict[str, dict]:
    res = store.network_results()
    if by_id:
        design_id = generation_or_id
    else:
        d = store.designs()
        design_id = int(d[d.generation == generation_or_id].id.iloc[0])
    return {r.network: r._asdict() for r in res[res.design_id == design_id].itertuples(index=False)}


def naas_costs(store: RunStore) -> dict[str, dict]:
    """The searched design's per-network costs the report compares (its final re-costing if there is one)."""
    fin = final_costs_of(store)
    if fin is not None:
        return fin["best"]["networks"]
    return _ranked_results(store, store.best()["id"], by_id=True)


def bounds_of(network: str, acc: Design) -> dict[str, float]:
    """``naas.bounds.network_bounds`` of one network, and the share of its cycle bound set by DRAM bandwidth."""
    cycles = energy = dram_cycles = 0.0
    for layer, count in get_network(network).unique_layers():
        b = layer_bounds(layer, acc)
        cycles += count * b.cycles
        energy += count * b.energy
        if b.cycles > layer.macs // design_pes(acc):  # this layer's bound is its compulsory DRAM traffic
            dram_cycles += count * b.cycles
    return {"cycles": cycles, "energy": energy, "DRAM-bound share": dram_cycles / cycles}


def setting_table(base: dict[str, dict], searched: dict[str, dict], bounds: dict[str, dict]) -> pd.DataFrame:
    """Per network and geomean: baseline (in one setting) vs the searched design, and the bounds."""
    rows = []
    for net, s in searched.items():
        b, bd = base[net], bounds[net]
        rows.append({"network": net, "baseline EDP": b["edp"], "NAAS EDP": s["edp"],
                     "speedup": b["cycles"] / s["cycles"], "energy saving": b["energy"] / s["energy"],
                     "EDP reduction": b["edp"] / s["edp"], "max speedup": b["cycles"] / bd["cycles"],
                     "max energy saving": b["energy"] / bd["energy"],
                     "of bound": bd["cycles"] / s["cycles"],  # = speedup / max speedup
                     "DRAM-bound share": bd["DRAM-bound share"],
                     "baseline util": b["utilization"], "NAAS util": s["utilization"]})
    table = pd.DataFrame(rows)
    geo = {c: geomean(table[c]) for c in RATIOS}
    table.loc[len(table)] = {"network": "geomean", **geo}
    return table


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def compare_settings(folder: str | Path, settings: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """{setting: setting_table} of one finished run folder."""
    with RunStore(folder, create=False) as store:
        config = HardwareSearchConfig.from_dict(store.get_meta("config"))
        acc = stored_baseline(store)
        if design_to_dict(acc) != design_to_dict(load_design(config.baseline)):
            print(f"warning: {folder}: the baseline stored in the run differs from {config.baseline!r} as "
                  "loaded now; costing the stored one", file=sys.stderr)
        searched = naas_costs(store)
        bounds = {n: bounds_of(n, acc) for n in searched}
        return {s: setting_table(BASELINE_MAPPINGS[s](store, config), searched, bounds) for s in settings}


def task_run(task: tuple) -> tuple[Path, HardwareSearchConfig]:
    """(run folder, search config) of one task of ``main``."""
    (baseline, networks, mode, seed, budget, inner, final, warm_start, mutants, inner_start, runs, _) = task
    return (run_folder(runs, baseline, networks, mode, seed),
            search_config(baseline, networks, mode, seed, budget, inner, final, warm_start, mutants, inner_start))


def run_one(task: tuple) -> dict:
    baseline, networks, mode, seed, _, _, _, warm_start, mutants, inner_start, _, settings = task
    x0, sigma0, portfolio = inner_start
    folder, cfg = task_run(task)
    run_or_reuse(folder, cfg, run_hardware_search)
    with RunStore(folder, create=False) as store:
        table = comparison_table(store).set_index("network")
        best = store.best()
        evaluated = store.count()
    geo = table.loc["geomean"]
    row = {"baseline": baseline, "mode": mode, "seed": seed, "networks": ",".join(networks),
           "warm start": warm_start, "elite mutants": mutants,
           "inner start": f"{x0} {sigma0:g}" + (" + portfolio" if portfolio else ""),
           "speedup": geo["speedup"], "energy saving": geo["energy saving"],
           "EDP reduction": geo["EDP reduction"], "max speedup": geo["max speedup"],
           "max energy saving": geo["max energy saving"], "designs": evaluated,
           "searched array": array_label(best["accelerator"])}
    if settings:
        row["run"] = folder.name
        row["settings"] = compare_settings(folder, settings)
    return row


def parse_settings(text: str | None) -> tuple[str, ...]:
    """``--baseline-mapping``: one or both of ``SETTINGS``, comma-separated, in the order given."""
    if not text:
        return ()
    out = tuple(s.strip() for s in text.split(","))
    bad = [s for s in out if s not in BASELINE_MAPPINGS]
    if bad or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"{text!r} (allowed: {', '.join(SETTINGS)}, "
                                         "comma-separated, each once)")
    return out


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
                    help="generation 0 of each search (see naas search --warm-start; default 'baseline', as in "
                         "experiments/results/naas_vs_baselines; naas search: 'dataflows')")
    ap.add_argument("--elite-mutants", type=int, default=0,
                    help="per generation: mutants of the best design so far injected (see naas search "
                         "--elite-mutants; default 0)")
    ap.add_argument("--inner-start", choices=STARTS, default="default",
                    help="where each inner mapping search starts (see naas search --inner-start; default "
                         "'default'; naas search: 'best-default')")
    ap.add_argument("--inner-sigma0", type=float, default=0.25,
                    help="its CMA-ES step size (default 0.25; naas search: 0.15)")
    ap.add_argument("--final-portfolio", action="store_true",
                    help="re-cost baseline and best design with the best of three mapping searches per layer "
                         "shape (as naas search does by default); default: with the searches' own settings")
    ap.add_argument("--baseline-mapping", type=parse_settings, default=(),
                    help="the baseline's mapping: 'dataflow' (its dataflow's fixed mapping, the paper's "
                         "setting), 'best' (its best searched mapping, the strict setting) or 'dataflow,best' "
                         "(both side by side); tables go to --tables-out")
    ap.add_argument("--tables-out", default="experiments/results/paper_comparison",
                    help="with --baseline-mapping: where its tables (CSV, Markdown) are written")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", default=None,
                    help="folder of the run folders, one per (baseline, networks, mode, seed), made there if "
                         "absent and reused if present (default runs/naas_vs_baselines, with --quick "
                         "runs/naas_vs_baselines/quick); one folder per set of search settings")
    ap.add_argument("--out", default="experiments/results/naas_vs_baselines",
                    help="where summary.csv and summary.png are written")
    ap.add_argument("--quick", action="store_true", help="one small network, 8 designs, inner budget 60")
    args = ap.parse_args(argv)
    runs = Path(args.runs) if args.runs else default_runs("naas_vs_baselines", args.quick)
    tasks = []
    for b in args.baselines.split(","):
        nets = tuple(n.strip() for n in args.networks.split(",")) if args.networks else paper_entry(b)[0]
        nets = ("alexnet",) if args.quick else nets
        for group in ([(n,) for n in nets] if args.per_network else [nets]):
            for mode in args.modes.split(","):
                for seed in range(args.seeds):
                    tasks.append((b, group, mode, seed, 8 if args.quick else args.budget,
                                  60 if args.quick else args.inner_budget,
                                  100 if args.quick else args.final_budget, args.warm_start,
                                  args.elite_mutants,
                                  (args.inner_start, args.inner_sigma0, args.final_portfolio), str(runs),
                                  args.baseline_mapping))
    check_runs(task_run(t) for t in tasks)  # before any search starts: no run of other settings is reused
    if args.jobs == 1:  # in this process: no worker process at all
        rows = [run_one(t) for t in tasks]
    else:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            rows = list(pool.map(run_one, tasks))
    if args.baseline_mapping:
        write_setting_tables(rows, args.baseline_mapping, Path(args.tables_out), argv)
        return
    df = pd.DataFrame(rows)
    df["paper speedup"] = [paper_entry(b)[1] for b in df.baseline]
    df["paper energy saving"] = [paper_entry(b)[2] for b in df.baseline]
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


# --- --baseline-mapping tables --------------------------------------------------------------------------
def setting_frames(rows: list[dict], settings: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                          pd.DataFrame]:
    """(per seed, geomean over seeds side by side, per network) of the rows of ``run_one``."""
    per_seed, per_net = [], []
    for r in rows:
        key = {k: r[k] for k in ("baseline", "mode", "networks", "seed")}
        for s in settings:
            t = r["settings"][s].set_index("network")
            geo = t.loc["geomean"]
            per_seed.append({**key, "baseline mapping": s, **{c: geo[c] for c in RATIOS},
                             "paper speedup": paper_entry(r["baseline"])[1],
                             "paper energy saving": paper_entry(r["baseline"])[2],
                             "designs": r["designs"], "searched array": r["searched array"], "run": r["run"]})
            for net, x in t.drop(index="geomean").iterrows():
                per_net.append({**key, "baseline mapping": s, "network": net,
                                **{c: x[c] for c in (*RATIOS, "DRAM-bound share", "baseline util", "NAAS util",
                                                     "baseline EDP", "NAAS EDP")}})
    per_seed, per_net = pd.DataFrame(per_seed), pd.DataFrame(per_net)
    wide = []
    for (b, mode, nets), g in per_seed.groupby(["baseline", "mode", "networks"], sort=False):
        row = {"baseline": b, "mode": mode, "networks": nets, "seeds": g.seed.nunique()}
        for s in settings:
            gs = g[g["baseline mapping"] == s]
            row.update({f"{c} ({s})": geomean(gs[c]) for c in RATIOS if c != "of bound"})
        row["speedup of bound"] = geomean(g[g["baseline mapping"] == settings[0]]["of bound"])  # either setting
        row.update({"paper speedup": paper_entry(b)[1], "paper energy saving": paper_entry(b)[2]})
        wide.append(row)
    return per_seed, pd.DataFrame(wide), per_net


def full_over_sizing(per_seed: pd.DataFrame, setting: str) -> list[str]:
    """Per (baseline, networks) with both modes: full / sizing-only EDP advantage, geomean and per seed."""
    lines, groups = [], {}
    d = per_seed[per_seed["baseline mapping"] == setting]
    for (b, nets), g in d.groupby(["baseline", "networks"], sort=False):
        by = g.pivot_table(index="seed", columns="mode", values="EDP reduction")
        if {"sizing", "full"} <= set(by.columns):
            ratio = (by["full"] / by["sizing"]).dropna()
            groups.setdefault(b, []).append(geomean(ratio))
            lines.append(f"{b} ({nets}), baseline mapping {setting}: full / sizing-only EDP advantage "
                         f"{geomean(ratio):.3g}x (geomean over seeds; per seed "
                         + " / ".join(f"{v:.3g}" for v in ratio) + ")")
    for b, ratios in groups.items():
        if len(ratios) > 1:  # --per-network: one search per network
            lines.append(f"{b}, baseline mapping {setting}: full / sizing-only EDP advantage {geomean(ratios):.3g}x "
                         f"(geomean over its {len(ratios)} network groups)")
    return lines


def write_setting_tables(rows: list[dict], settings: tuple[str, ...], out: Path, argv) -> list[Path]:
    per_seed, wide, per_net = setting_frames(rows, settings)
    out.mkdir(parents=True, exist_ok=True)
    name = "+".join(settings)
    files = [out / f"per_seed-{name}.csv", out / f"geomean-{name}.csv", out / f"per_network-{name}.csv",
             out / f"tables-{name}.md"]
    per_seed.to_csv(files[0], index=False)
    wide.to_csv(files[1], index=False)
    per_net.to_csv(files[2], index=False)
    modes = [line for s in settings for line in full_over_sizing(per_seed, s)]
    command = "python experiments/naas_vs_baselines.py " + " ".join(sys.argv[1:] if argv is None else argv)
    fmt = ".3g"
    md = [f"# NAAS vs baselines, baseline mapping: {', '.join(settings)}", "", f"`{command}`", "",
          "Ratios are baseline / NAAS (geomean over the baseline's networks, then over seeds). 'max': the most "
          "any design within the baseline's resources could reach in this model (naas.bounds), relative to "
          "that setting's baseline; 'of bound' = speedup / max speedup (the same in either setting: the "
          "design's cycle bound over its cycles).", "",
          "## Geomean over seeds", "", wide.to_markdown(index=False, floatfmt=fmt), "",
          "## Per seed", "", per_seed.drop(columns=["networks"]).to_markdown(index=False, floatfmt=fmt), ""]
    if modes:
        md += ["## Full search vs sizing-only", ""] + [f"- {line}" for line in modes] + [""]
    md += ["## Per network", "", per_net.drop(columns=["networks"]).to_markdown(index=False, floatfmt=fmt), ""]
    files[3].write_text("\n".join(md))
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        print(wide.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    for line in modes:
        print(line)
    print("wrote " + ", ".join(map(str, files)), file=sys.stderr)
    return files


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
    ax.bar([i - 0.1 for i in x], [paper_entry(b)[1] for b in g.baseline], 0.2, label="speedup (paper)", alpha=0.5)
    ax.bar([i + 0.1 for i in x], g["energy saving"], 0.2, label="energy saving (measured)")
    ax.bar([i + 0.3 for i in x], [paper_entry(b)[2] for b in g.baseline], 0.2, label="energy saving (paper)",
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
