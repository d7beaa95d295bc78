"""``naas report RUN`` for a co-search: reference vs best, every (design, subnet) pair, the Pareto front."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nn_space.accuracy import ACCURACY_LABEL

from . import pareto
from .designs import design_energy_unit, load_design
from .final_costs import stored_final
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
    return stored_final(store)


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


#: Predicted accuracies of every admitted subnet within this (a fraction) of each other: the predictor saturates.
SATURATION_SPREAD = 1e-3


def saturation_note(accuracy, spread: float = SATURATION_SPREAD) -> str | None:
    """The note the front plot carries when every admitted subnet's predicted accuracy is within ``spread`` of
    the others (OFA's ResNet-50 predictor saturates at 0.829870 on its space), else None."""
    acc = np.asarray(accuracy, dtype=float)
    acc = acc[np.isfinite(acc)]
    if len(acc) < 2 or acc.max() - acc.min() > spread:
        return None
    return (f"predictor saturates: all {len(acc)} admitted subnets predicted within {acc.max() - acc.min():.1e} "
            f"of {acc.max():.6f}; the accuracy axis carries no information here")


def _legend_drawn(ax, **kw) -> list[str]:
    """A legend of the labelled artists that have a finite point on ``ax`` (none: no legend); their labels."""
    keep = []
    for h, label in zip(*ax.get_legend_handles_labels()):
        if hasattr(h, "get_offsets"):
            xy = np.asarray(h.get_offsets(), dtype=float).reshape(-1, 2)
        elif hasattr(h, "get_xydata"):
            xy = np.asarray(h.get_xydata(), dtype=float).reshape(-1, 2)
        else:
            xy = np.zeros((1, 2))  # bars, spans: drawn when they exist
        if len(xy) and np.isfinite(xy).all(axis=1).any():
            keep.append((h, label))
    if keep:
        ax.legend(*zip(*keep), **kw)
    return [label for _, label in keep]


def _front_figure(points: pd.DataFrame, bound: float, config: dict, best_id: int | None, unit: str):
    """pareto.png: predicted accuracy vs EDP of every (design, subnet) costed, with the Pareto front, and the
    subnets' MACs vs EDP; when the predictor saturates, the accuracy panel says so and the MACs carry it."""
    import textwrap

    import matplotlib.pyplot as plt

    searched = points[points.generation >= 0]
    ref = points[points.generation == -1]
    front = pareto_front(searched).sort_values("edp")
    note = saturation_note(points.accuracy)
    edp_label = (f"EDP [{unit} x cycles] at the search's {config['inner_budget']} mapping evaluations "
                 f"per layer shape")
    fig, (ax, mx) = plt.subplots(1, 2, figsize=(13, 5))
    ax.scatter(searched.edp, searched.accuracy * 100, s=10, alpha=0.45, color="C0",
               label="(design, subnet) evaluated")
    ax.step(front.edp, front.accuracy * 100, where="post", color="C1", marker="o", ms=4, label="Pareto front")
    ax.scatter(ref.edp, ref.accuracy * 100, marker="*", s=160, color="k", zorder=5,
               label=f"reference subnet on {config['baseline']}")
    if bound is not None and np.isfinite(bound):
        ax.axhline(bound * 100, color="grey", ls=":", label=f"accuracy bound {bound * 100:.4f}%")
    ax.set_xscale("log")
    ax.set_xlabel(edp_label, fontsize=9)
    ax.set_ylabel(textwrap.fill(f"{ACCURACY_LABEL} [%]", 42), fontsize=9)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_title("accuracy vs EDP", fontsize=10)
    if note is not None:
        mid = float(np.nanmax(points.accuracy)) * 100
        ax.set_ylim(mid - 1.0, mid + 0.5)  # a flat line at its value, not the float noise blown up
        ax.text(0.03, 0.05, textwrap.fill(note, 58), transform=ax.transAxes, fontsize=8.5, va="bottom",
                ha="left", bbox={"boxstyle": "round", "facecolor": "#fff3cd", "edgecolor": "#c9a227"})
    _legend_drawn(ax, fontsize=8, loc="upper right" if note is not None else "best")

    # MACs vs EDP: what a saturated predictor leaves to compare subnets by
    gmacs = searched.macs / 1e9
    if note is None:
        sc = mx.scatter(searched.edp, gmacs, c=searched.accuracy * 100, cmap="viridis", s=12,
                        label="(design, subnet) evaluated")
        fig.colorbar(sc, ax=mx, label="predicted top-1 [%]")
    else:
        mx.scatter(searched.edp, gmacs, s=12, alpha=0.45, color="C0", label="(design, subnet) evaluated")
    mx.scatter(ref.edp, ref.macs / 1e9, marker="*", s=160, color="k", zorder=5,
               label=f"reference subnet on {config['baseline']}")
    if best_id is not None:
        best = searched[(searched.design_id == best_id) & (searched["rank"] == 0)]
        mx.scatter(best.edp, best.macs / 1e9, marker="D", s=60, facecolor="none", edgecolor="C3", lw=1.5,
                   zorder=6, label="best design's best subnet")
    mx.set_xscale("log")
    mx.set_xlabel(edp_label, fontsize=9)
    mx.set_ylabel("subnet size [GMACs]")
    mx.set_title("subnet MACs vs EDP", fontsize=10)
    _legend_drawn(mx, fontsize=8, loc="best")
    fig.suptitle(f"{config['space']} x accelerator co-search under {config['baseline']}'s resources: "
                 f"{len(searched)} (design, subnet) pairs costed", fontsize=11)
    fig.tight_layout()
    return fig


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

    best = store.best()
    unit = design_energy_unit(load_design(config["baseline"]))
    fig = _front_figure(points, bound, config, best["id"] if best else None, unit)
    files.append(out / "pareto.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    designs = store.designs()
    fit = designs[designs.generation >= 0].fitness.to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(np.arange(1, len(fit) + 1), fit, s=10, alpha=0.5, label="design (its best subnet)")
    ax.step(np.arange(1, len(fit) + 1), np.fmin.accumulate(np.where(np.isnan(fit), np.inf, fit)), where="post",
            color="C1", label="best so far")
    ax.axhline(table["search EDP"].iloc[0], color="k", ls="--", label=table.what.iloc[0])
    ax.set_yscale("log")
    ax.set_xlabel("hardware designs evaluated")
    ax.set_ylabel(f"EDP of the design's best subnet [{unit} x cycles]", fontsize=9)
    ax.set_title(f"co-search convergence (search costs, {config['inner_budget']} mapping evaluations "
                 "per layer shape)", fontsize=9)
    _legend_drawn(ax, fontsize=8)
    fig.tight_layout()
    files.append(out / "convergence.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    return files
