"""``naas report RUN``: tables (CSV, Markdown) and plots (PNG) of a hardware-search run."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cost_model.hierarchy import Hierarchy
from cost_model.units import format_bytes
from nn_space.zoo import get_network

from .bounds import network_bounds
from .designs import NetworkCoster, design_energy_unit, design_from_dict, load_design
from .cosearch_report import cosearch_table, write_cosearch_report
from .environment import describe_environment
from .hardware_search import HardwareSearchConfig
from .run_store import NoRunError, RunStore
from .sweep_report import sweep_summary, write_sweep_report

LEVELS = ("mac", "l1", "noc", "l2", "dram")


class ReportError(ValueError):
    """The folder holds no finished run to report on."""


def _frames(store: RunStore):
    designs = store.designs()
    results = store.network_results()
    return designs, results


def final_costs_of(store: RunStore) -> dict | None:
    """The search's final re-costing of baseline and best design, if it holds for the current best."""
    fin = store.get_meta("final")
    best = store.best()
    if fin is None or best is None or fin["best_id"] != best["id"] or fin["baseline"]["error"] \
            or fin["best"]["error"]:
        return None
    return fin


def comparison_table(store: RunStore, final: bool = True) -> pd.DataFrame:
    """Per network: baseline vs best design (energy, cycles, EDP) and the ratios.

    With ``final`` (default) and a finished search that re-costed both with its ``final_budget``, those
    costs are used; otherwise the costs the search ranked designs by. The "max speedup" and "max energy
    saving" columns are what no design within the baseline's #PEs, DRAM bandwidth and energy table could
    exceed in this model (``naas.bounds``).
    """
    designs, results = _frames(store)
    best = store.best()
    if best is None:
        raise ReportError(f"{store.folder}: no design with a fitness yet")
    fin = final_costs_of(store) if final else None
    if fin is not None:
        b = pd.DataFrame.from_dict(fin["baseline"]["networks"], orient="index")
        s = pd.DataFrame.from_dict(fin["best"]["networks"], orient="index")
    else:
        base_id = int(designs[designs.generation == -1].id.iloc[0])
        b = results[results.design_id == base_id].set_index("network")
        s = results[results.design_id == best["id"]].set_index("network")
    baseline = load_design(HardwareSearchConfig.from_dict(store.get_meta("config")).baseline)
    rows = []
    for net in s.index:
        bound = network_bounds(get_network(net), baseline)
        rows.append({"network": net, "baseline EDP": b.edp.get(net, math.nan), "NAAS EDP": s.edp[net],
                     "EDP reduction": b.edp.get(net, math.nan) / s.edp[net],
                     "speedup": b.cycles.get(net, math.nan) / s.cycles[net],
                     "energy saving": b.energy.get(net, math.nan) / s.energy[net],
                     "max speedup": b.cycles.get(net, math.nan) / bound.cycles,
                     "max energy saving": b.energy.get(net, math.nan) / bound.energy,
                     "baseline util": b.utilization.get(net, math.nan), "NAAS util": s.utilization[net]})
    table = pd.DataFrame(rows)
    geo = {c: math.exp(np.log(table[c]).mean())
           for c in ("EDP reduction", "speedup", "energy saving", "max speedup", "max energy saving")}
    table.loc[len(table)] = {"network": "geomean", **geo}
    return table


def write_report(folder: str | Path) -> list[Path]:
    """Write the tables and plots into ``folder/report``; returns the files written."""
    folder = Path(folder)
    store = _open(folder)
    try:
        out = folder / "report"
        if store.best() is None:
            raise ReportError(f"{store.folder}: no design with a fitness yet")
        out.mkdir(exist_ok=True)
        if store.get_meta("kind") == "cosearch":
            return write_cosearch_report(store, out)
        if store.get_meta("kind") == "sweep":
            return write_sweep_report(store, out)
        config = HardwareSearchConfig.from_dict(store.get_meta("config"))
        written = []
        designs, results = _frames(store)
        table = comparison_table(store)
        table.to_csv(out / "comparison.csv", index=False)
        designs.to_csv(out / "designs.csv", index=False)
        results.to_csv(out / "network_results.csv", index=False)
        md = out / "comparison.md"
        fin = final_costs_of(store)
        costed = (f"both re-costed with {fin['budget']} mapping evaluations per layer shape" if fin else f"as ranked in the search ({config.inner_budget} mapping evaluations per layer shape)")
        md.write_text(f"# {config.baseline} vs NAAS ({config.mode}, {len(designs) - 1} designs, seed "
                      f"{config.seed})\n\nBaseline and best design {costed}.\n\n"
                      + table.to_markdown(index=False, floatfmt=".4g") + "\n")
        written += [out / "comparison.csv", out / "designs.csv", out / "network_results.csv", md]
        written += _plots(store, config, designs, results, out)
        return written
    finally:
        store.close()


def _plots(store, config, designs, results, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    base = designs[designs.generation == -1].iloc[0]
    searched = designs[designs.generation >= 0].reset_index(drop=True)
    best = store.best()

    # convergence
    fig, ax = plt.subplots(figsize=(6, 4))
    fit = searched.fitness.to_numpy(dtype=float)
    ax.scatter(np.arange(1, len(fit) + 1), fit, s=10, alpha=0.5, label="design")
    ax.plot(np.arange(1, len(fit) + 1), np.fmin.accumulate(np.where(np.isnan(fit), np.inf, fit)),
            color="C1", label="best so far")
    if not math.isnan(base.fitness):
        ax.axhline(base.fitness, color="k", ls="--", label=f"{config.baseline} (best mapping)")
    ax.set_yscale("log")
    ax.set_xlabel("hardware designs evaluated")
    ax.set_ylabel("geomean network EDP")
    ax.set_title(f"NAAS search under {config.baseline}'s resources ({config.mode})")
    ax.legend()
    fig.tight_layout()
    files.append(out / "convergence.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    # EDP by network and energy breakdown, baseline vs best
    b = results[results.design_id == int(base.id)].set_index("network")
    s = results[results.design_id == best["id"]].set_index("network")
    nets = list(s.index)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    x = np.arange(len(nets))
    ax1.bar(x - 0.2, [b.edp[n] for n in nets], 0.4, label=config.baseline)
    ax1.bar(x + 0.2, [s.edp[n] for n in nets], 0.4, label="NAAS")
    ax1.set_xticks(x, nets)
    ax1.set_yscale("log")
    ax1.set_ylabel("network EDP")
    ax1.set_title("EDP by network")
    ax1.legend()
    bottom = np.zeros(2)
    for lvl in LEVELS:
        vals = np.array([b[f"energy_{lvl}"].sum(), s[f"energy_{lvl}"].sum()])
        ax2.bar([config.baseline, "NAAS"], vals, bottom=bottom, label=lvl)
        bottom += vals
    ax2.set_ylabel(f"energy over all networks [{design_energy_unit(load_design(config.baseline))}]")
    ax2.set_title("energy by memory level")
    ax2.legend()
    fig.tight_layout()
    files.append(out / "edp_and_energy.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    files.append(_draw_array(best, config, out / "array.png"))
    return files


def _draw_array(best: dict, config: HardwareSearchConfig, path: Path) -> Path:
    """The searched PE array (axes, sizes, parallel dims) and the loop nest of its largest layer."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    acc = design_from_dict(best["accelerator"])
    net = get_network(config.networks[0])
    layer = max(net.layers, key=lambda lay: lay.macs)
    cost = NetworkCoster().cost(type(net)(net.name, (layer,)), acc, (config.mapping_settings(),), searched=True)
    if isinstance(acc, Hierarchy):
        nest = cost.layers[0].mapping.loop_nest(acc.level_names)
        axes = [a for lv in acc.levels for a in lv.fanout]
        memory = ", ".join(f"{lv.name} {format_bytes(lv.size_bytes)}" for lv in acc.levels[1:])
        title = f"{acc.num_macs} MACs; {memory} (per instance)"
    else:
        nest = cost.layers[0].mapping.loop_nest(acc.parallel_dims)
        axes = list(acc.array)
        title = f"{acc.num_pes} PEs, L1 {acc.l1_bytes:g} B/PE, L2 {acc.l2_bytes / 1024:.1f} KiB"
    sizes = [a.size for a in axes] + [1, 1]
    rows, cols = sizes[0], sizes[1]
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1, 1.2]})
    shown_r, shown_c = min(rows, 16), min(cols, 16)
    for i in range(shown_r):
        for j in range(shown_c):
            ax.add_patch(Rectangle((j, shown_r - 1 - i), 0.85, 0.85, color="C0", alpha=0.6))
    ax.set_xlim(-0.5, shown_c + 0.5)
    ax.set_ylim(-1.5, shown_r + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    labels = [f"axis {k}: {a.size} PEs along {a.label}" for k, a in enumerate(axes)]
    if rows > 16 or cols > 16:
        labels.append(f"(first {shown_r} x {shown_c} PEs drawn)")
    ax.set_title(title + "\n" + "\n".join(labels), fontsize=9)
    tx.axis("off")
    tx.text(0, 1, f"{net.name} / {layer.name}: {layer.describe()}\n\n{nest}", family="monospace",
            fontsize=8, va="top")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _open(folder: str | Path) -> RunStore:
    try:
        return RunStore(folder, create=False)
    except NoRunError as exc:
        raise ReportError(f"report: {exc}") from None


def summary(folder: str | Path) -> str:
    """The comparison table as text, for the terminal."""
    store = _open(folder)
    try:
        env = describe_environment(store.get_meta("environment"))
        if store.get_meta("kind") == "sweep":
            return sweep_summary(store) + "\n" + env
        table = cosearch_table(store) if store.get_meta("kind") == "cosearch" else comparison_table(store)
        return table.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n" + env
    finally:
        store.close()
