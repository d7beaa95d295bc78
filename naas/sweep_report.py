"""``naas report RUN`` for a sweep: every design with its parameters, cost and area proxy; Pareto fronts."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from cost_model.accelerator import accelerator_from_dict

from .cosearch_report import _legend_drawn
from .pareto import non_dominated
from .run_store import RunStore
from .sweep_spec import SweepSpec, area_proxy


def _show(value) -> str:
    return "null" if value is None else value if isinstance(value, str) else json.dumps(value)


def sweep_table(store: RunStore) -> pd.DataFrame:
    """One row per design (the base first): parameter values, sizes, area proxy, energy, cycles, EDP, fronts.

    energy and cycles are geometric means over the sweep's networks (each network's totals); EDP is the
    design's fitness (geomean of the networks' EDPs). ``front_edp_area``: not dominated in (area proxy,
    EDP); ``front_energy_cycles_area``: not dominated in (area proxy, energy, cycles).
    """
    spec = SweepSpec.from_dict(store.get_meta("config"))
    rows = [(r["id"], r["generation"], r["genome"], r["accelerator"], r["fitness"], r["error"])
            for r in store.records()]
    results = store.network_results()
    by_design = {d: g for d, g in results.groupby("design_id")}
    out = []
    for design_id, generation, genome, acc_json, fitness, error in rows:
        point = [int(round(g)) for g in genome]
        row = {"id": design_id, "design": "base" if generation < 0 else "sweep"}
        for p, i in zip(spec.parameters, point):
            row[p.path] = "(base)" if i < 0 else _show(p.values[i])
        try:
            acc = accelerator_from_dict(acc_json, origin=f"design {design_id}")
            row.update({"PEs": acc.num_pes, "array": " x ".join(f"{a.size}({a.label})" for a in acc.array),
                        "L1 B": acc.l1_bytes, "L2 B": acc.l2_bytes, "on-chip B": acc.onchip_bytes,
                        "area proxy": area_proxy(acc, spec.bytes_per_pe)})
        except ValueError:
            row.update({"PEs": np.nan, "array": "", "L1 B": np.nan, "L2 B": np.nan, "on-chip B": np.nan,
                        "area proxy": np.nan})
        r = by_design.get(design_id)
        ok = fitness is not None and r is not None and len(r)
        row["energy"] = math.exp(np.log(r.energy).mean()) if ok else np.nan
        row["cycles"] = math.exp(np.log(r.cycles).mean()) if ok else np.nan
        row["EDP"] = fitness if fitness is not None else np.nan
        row["error"] = error or ""
        out.append(row)
    table = pd.DataFrame(out)
    sweep = table.design == "sweep"
    table["front_edp_area"] = False
    table["front_energy_cycles_area"] = False
    table.loc[sweep, "front_edp_area"] = non_dominated(table.loc[sweep, ["area proxy", "EDP"]].to_numpy(float))
    table.loc[sweep, "front_energy_cycles_area"] = non_dominated(
        table.loc[sweep, ["area proxy", "energy", "cycles"]].to_numpy(float))
    base_edp = table.EDP[~sweep].iloc[0] if (~sweep).any() else np.nan
    table["EDP vs base"] = table.EDP / base_edp
    return table


def _tradeoff_figure(table: pd.DataFrame, front: pd.DataFrame, base_name: str, bytes_per_pe: float,
                     unit: str | None = None):
    """tradeoff.png: EDP vs area proxy and energy vs cycles of every costed design, their Pareto fronts and
    the base; legend entries only for the series with points on that axes."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import NullFormatter

    def finite(frame, *cols):
        ok = np.ones(len(frame), dtype=bool)
        for c in cols:
            v = pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
            ok &= np.isfinite(v) & (v > 0)  # log axes
        return frame[ok]

    sweep = table[(table.design == "sweep") & table.EDP.notna()]
    base = table[(table.design == "base") & table.EDP.notna()]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    s1 = finite(sweep, "area proxy", "EDP", "energy")
    if len(s1):
        sc = ax1.scatter(s1["area proxy"], s1.EDP, c=s1.energy, s=14, cmap="viridis", norm=LogNorm(),
                         label="design")
        fig.colorbar(sc, ax=ax1, label=f"energy (geomean over networks){f' [{unit}]' if unit else ''}")
    f1 = finite(front, "area proxy", "EDP")
    if len(f1):
        ax1.step(f1["area proxy"], f1.EDP, where="post", color="C3", marker="o", ms=3, mfc="none",
                 label="Pareto front (area, EDP)")
    s2 = finite(sweep, "cycles", "energy", "area proxy")
    if len(s2):
        sc2 = ax2.scatter(s2.cycles, s2.energy, c=s2["area proxy"], s=14, cmap="plasma", label="design")
        fig.colorbar(sc2, ax=ax2, label="area proxy [PE-equivalents]")
        ec = s2[non_dominated(s2[["cycles", "energy"]].to_numpy(float))].sort_values("cycles")
        ax2.step(ec.cycles, ec.energy, where="post", color="C3", marker="o", ms=3, mfc="none",
                 label="Pareto front (cycles, energy)")
    for ax, (x, y) in ((ax1, ("area proxy", "EDP")), (ax2, ("cycles", "energy"))):
        b = finite(base, x, y)
        if len(b):
            ax.scatter(b[x], b[y], marker="*", s=160, color="k", label=f"base ({base_name})")
        if ax.has_data():
            ax.set_yscale("log")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            ax.text(0.5, 0.5, "no design with finite costs", transform=ax.transAxes, ha="center", va="center")
        _legend_drawn(ax, fontsize=8)
    ax1.set_xlabel(f"area proxy: #PEs + on-chip B / {bytes_per_pe:g} [PE-equivalents]")
    u = f" [{unit}]" if unit else ""
    ax1.set_ylabel(f"EDP (geomean over networks){f' [{unit} x cycles]' if unit else ''}")
    ax1.set_title(f"sweep of {base_name}: EDP vs area")
    ax2.set_xlabel("cycles (geomean over networks)")
    ax2.set_ylabel(f"energy (geomean over networks){u}")
    ax2.set_title("energy vs latency")
    fig.tight_layout()
    return fig


def write_sweep_report(store: RunStore, out: Path) -> list[Path]:
    """designs.csv, pareto.csv, pareto.md, network_results.csv and tradeoff.png in ``out``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = SweepSpec.from_dict(store.get_meta("config"))
    table = sweep_table(store)
    front = table[table.front_edp_area].sort_values("area proxy")
    files = [out / "designs.csv", out / "pareto.csv", out / "pareto.md", out / "network_results.csv"]
    table.to_csv(files[0], index=False)
    front.to_csv(files[1], index=False)
    shown = ["id", *[p.path for p in spec.parameters], "PEs", "area proxy", "energy", "cycles", "EDP",
             "EDP vs base"]
    files[2].write_text(
        f"# Sweep of {spec.base['name']} ({spec.method}, {int((table.design == 'sweep').sum())} designs, "
        f"networks {', '.join(spec.networks)}, mapping {spec.mapping})\n\n"
        f"Pareto front in (area proxy, EDP). Area proxy = #PEs + on-chip bytes / {spec.bytes_per_pe:g} "
        f"(PE-equivalents; an assumption, not a layout). Energy and cycles: geomean over the networks.\n\n"
        + front[shown].to_markdown(index=False, floatfmt=".4g") + "\n")
    store.network_results().to_csv(files[3], index=False)

    try:
        unit = accelerator_from_dict(spec.base, origin="sweep base").energy.unit
    except ValueError:
        unit = None
    fig = _tradeoff_figure(table, front, spec.base["name"], spec.bytes_per_pe, unit)
    files.append(out / "tradeoff.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)
    return files


def sweep_summary(store: RunStore, rows: int = 15) -> str:
    """The (area proxy, EDP) Pareto front as text, for the terminal."""
    spec = SweepSpec.from_dict(store.get_meta("config"))
    table = sweep_table(store)
    front = table[table.front_edp_area | (table.design == "base")].sort_values("area proxy")
    cols = ["id", "design", *[p.path for p in spec.parameters], "PEs", "area proxy", "energy", "cycles", "EDP",
            "EDP vs base"]
    invalid = int(((table.design == "sweep") & table.EDP.isna()).sum())
    head = (f"{int((table.design == 'sweep').sum())} designs ({invalid} invalid or unmappable); "
            f"Pareto front in (area proxy, EDP), {int(table.front_edp_area.sum())} designs:\n")
    return head + front[cols].head(rows).to_string(index=False, float_format=lambda v: f"{v:.4g}")
