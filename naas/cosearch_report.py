"""``naas report RUN`` for a co-search: reference vs best, every (design, subnet) pair, the Pareto front."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nn_space.accuracy import ACCURACY_LABEL

from . import pareto
from .run_store import RunStore


def pareto_front(points: pd.DataFrame, acc: str = "accuracy", cost: str = "edp") -> pd.DataFrame:
    """Rows not dominated by another (higher-or-equal accuracy and lower-or-equal EDP, one strictly)."""
    return pareto.pareto_front(points, minimize=(cost,), maximize=(acc,))


def subnet_points(store: RunStore) -> pd.DataFrame:
    """Every costed (design, subnet) with its design's generation; generation -1 is the reference."""
    subs = store.subnets()
    gens = store.designs().set_index("id").generation
    subs["generation"] = subs.design_id.map(gens)
    return subs


def final_costs_of(store: RunStore) -> dict | None:
    """The co-search's re-costing at its final budget, if it holds for the current best design."""
    fin, best = store.get_meta("final"), store.best()
    return fin if fin is not None and best is not None and fin["best_id"] == best["id"] else None


def cosearch_table(store: RunStore, final: bool = True) -> pd.DataFrame:
    """The reference network on the baseline vs the best design with its best subnet.

    With ``final`` (default) and a run re-costed at its final budget, EDP, energy and cycles are those
    larger-budget costs ("search EDP" keeps the costs the search ranked by); otherwise the search's costs.
    """
    config = store.get_meta("config")
    best = store.best()
    designs = store.designs()
    base_id = int(designs[designs.generation == -1].id.iloc[0])
    results = store.network_results()
    base = results[results.design_id == base_id].set_index("network")
    ref_sub = store.design_subnets(base_id)[0]
    sub = store.design_subnets(best["id"])[0]
    fin = final_costs_of(store) if final else None
    rows = []
    names = sorted(base.index, key=lambda n: n != config.get("reference_network"))  # the reference first
    for name in names:
        r = base.loc[name]
        costs = fin["reference"][name] if fin else {"edp": r.edp, "energy": r.energy, "cycles": r.cycles}
        rows.append({"what": f"{name} on {config['baseline']}", "EDP": costs["edp"], "energy": costs["energy"],
                     "cycles": costs["cycles"], "search EDP": r.edp,
                     "GMACs": ref_sub["macs"] / 1e9 if name == "reference-subnet" else np.nan,
                     "accuracy": ref_sub["accuracy"] if name == "reference-subnet" else np.nan})
    costs = fin["best"] if fin else sub
    rows.append({"what": "co-searched subnet on co-searched design", "EDP": costs["edp"],
                 "energy": costs["energy"], "cycles": costs["cycles"], "search EDP": sub["edp"],
                 "GMACs": sub["macs"] / 1e9, "accuracy": sub["accuracy"]})
    table = pd.DataFrame(rows)
    reference = table.EDP.iloc[0]
    table["EDP reduction vs first row"] = reference / table.EDP
    table["mapping budget"] = fin["budget"] if fin else config["inner_budget"]
    return table


def write_cosearch_report(store: RunStore, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = store.get_meta("config")
    bound = store.get_meta("accuracy_bound")
    table = cosearch_table(store)
    fin = final_costs_of(store)
    points = subnet_points(store)
    searched = points[points.generation >= 0]
    front = pareto_front(searched)
    files = [out / "comparison.csv", out / "comparison.md", out / "subnets.csv", out / "pareto.csv"]
    table.to_csv(files[0], index=False)
    files[1].write_text(
        f"# Co-search ({config['space']}) under {config['baseline']}'s resources\n\n"
        f"accuracy = {ACCURACY_LABEL}; bound {bound:.6f}; EDP, energy and cycles at "
        f"{table['mapping budget'].iloc[0]} mapping evaluations per layer shape (search EDP: at the search's "
        f"inner budget, {config['inner_budget']}); each mapping search starts from "
        f"{config.get('inner_start', 'default')}, sigma0 {config.get('inner_sigma0', 0.25):g}"
        + (f"; re-costing: {fin['portfolio']}" if fin and "portfolio" in fin else "") + "\n\n"
        + table.to_markdown(index=False, floatfmt=".4g") + "\n")
    points.to_csv(files[2], index=False)
    front.to_csv(files[3], index=False)

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.scatter(searched.edp, searched.accuracy * 100, s=6, alpha=0.3, label="(design, subnet) evaluated")
    ax.step(front.edp, front.accuracy * 100, where="post", color="C1", label="Pareto front")
    ref = points[points.generation == -1]
    ax.scatter(ref.edp, ref.accuracy * 100, marker="*", s=120, color="k",
               label=f"reference subnet on {config['baseline']}")
    ax.axhline(bound * 100, color="grey", ls=":", label="accuracy bound")
    ax.set_xscale("log")
    ax.set_xlabel("EDP")
    ax.set_ylabel("predicted top-1 on OFA holdout [%]")
    ax.set_title(f"{config['space']} x accelerator co-search ({config['baseline']} resources)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "pareto.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    designs = store.designs()
    fit = designs[designs.generation >= 0].fitness.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(np.arange(1, len(fit) + 1), fit, s=10, alpha=0.5, label="design (its best subnet)")
    ax.plot(np.arange(1, len(fit) + 1), np.fmin.accumulate(np.where(np.isnan(fit), np.inf, fit)), color="C1",
            label="best so far")
    ax.axhline(table["search EDP"].iloc[0], color="k", ls="--", label=table.what.iloc[0])
    ax.set_yscale("log")
    ax.set_xlabel("hardware designs evaluated")
    ax.set_ylabel("EDP")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "convergence.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    return files
