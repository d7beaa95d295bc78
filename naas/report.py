"""``naas report RUN``: tables (CSV, Markdown) and plots (PNG) of a hardware-search run."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from cost_model.evaluate import NetworkEvaluationError
from cost_model.hierarchy import Hierarchy
from cost_model.units import format_bytes
from nn_space.zoo import get_network

from .bounds import network_bounds
from .designs import NetworkCoster, design_energy_unit, design_from_dict, load_design
from .cosearch_report import cosearch_table, write_cosearch_report
from .environment import describe_environment
from .hardware_search import HardwareSearchConfig
from .final_costs import stored_final
from .run_store import NoRunError, RunStore
from .sweep_report import sweep_summary, write_sweep_report
from .tradeoff_search import TradeoffConfig

LEVELS = ("mac", "l1", "noc", "l2", "dram")


class ReportError(ValueError):
    """The folder holds no finished run to report on."""


def _frames(store: RunStore):
    designs = store.designs()
    results = store.network_results()
    return designs, results


def final_costs_of(store: RunStore) -> dict | None:
    """The search's final re-costing of baseline and best design, if it holds for the current best."""
    return stored_final(store)


def _compared_costs(store: RunStore, final: bool = True):
    """(baseline, best design, final meta or None): per-network cost frames indexed by network, from the final
    re-costing when ``final`` and it holds for the current best, else as the search ranked the designs."""
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
    return b, s, fin


GEOMEAN = "geomean"


def _geomean_row(table: pd.DataFrame, label_col: str, groups: dict[str, list[str]]) -> dict | None:
    """The geometric mean of the table's columns over its rows, for a "geomean" row; None when there is none.

    The columns of one group (e.g. EDPs and their ratios) are averaged over the same rows: those finite and
    > 0 in all of them, so the means stay consistent with each other. When rows are left out the label says
    so ("geomean excl. X (n/a)", then any other group's own exclusions); a column without two such rows
    (unless the table has a single row) gets "" instead of a number, never NaN.
    """
    row, main_out, notes = {}, None, []
    for name, cols in groups.items():
        v = table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        ok = (np.isfinite(v) & (v > 0)).all(axis=1)
        out = [str(n) for n, good in zip(table[label_col], ok) if not good]
        if main_out is None:
            main_out = out
        elif [n for n in out if n not in main_out]:
            notes.append(f"{name} excl. {', '.join(n for n in out if n not in main_out)}")
        enough = ok.sum() >= 2 or (len(ok) == 1 and ok.all())
        for c, col in zip(cols, v.T):
            row[c] = math.exp(np.log(col[ok]).mean()) if enough else ""
    if all(isinstance(v, str) for v in row.values()):
        return None
    label = GEOMEAN + (f" excl. {', '.join(main_out)} (n/a)" if main_out else "") + "".join(f"; {n}" for n in notes)
    return {label_col: label, **row}


def comparison_table(store: RunStore, final: bool = True) -> pd.DataFrame:
    """Per network: baseline vs best design (energy, cycles, EDP) and the ratios, then their geomean.

    With ``final`` (default) and a finished search that re-costed both with its ``final_budget``, those
    costs are used; otherwise the costs the search ranked designs by. The "max speedup" and "max energy
    saving" columns are what no design within the baseline's #PEs, DRAM bandwidth and energy table could
    exceed in this model (``naas.bounds``). The last row is the geometric mean of every column over the
    networks (``_geomean_row``: EDPs and ratios over the networks where all are finite, labelled with the
    networks left out; never NaN).
    """
    b, s, _ = _compared_costs(store, final)
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
    ratios = ["baseline EDP", "NAAS EDP", "EDP reduction", "speedup", "energy saving", "max speedup",
              "max energy saving"]
    geo = _geomean_row(table, "network", {"": ratios, "baseline util": ["baseline util"],
                                          "NAAS util": ["NAAS util"]})
    if geo is not None:
        table = pd.concat([table, pd.DataFrame([geo])], ignore_index=True)
    return table


def write_report(folder: str | Path) -> list[Path]:
    """Write the tables and plots into ``folder/report``; returns the files written."""
    folder = Path(folder)
    store = _open(folder)
    try:
        if store.get_meta("kind") == "tradeoff":
            return _tradeoff_report(store)
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


#: Energy classes of the run store, as the energy plot names them (bottom of the stack first).
ENERGY_CLASS_LABELS = {"mac": "MAC", "l1": "L1 / per-PE buffers", "noc": "NoC (array network)",
                       "l2": "L2 / global buffer", "dram": "DRAM"}


def _is_geomean(label) -> bool:
    return str(label).startswith(GEOMEAN)


def _edp_ratio_axes(ax, table: pd.DataFrame, baseline: str) -> list[float]:
    """Bars of the table's "EDP reduction" (baseline EDP / NAAS EDP) per network, then its geomean row, on a
    linear axis from 0, each annotated "2.21x", a line at 1.0; returns the bar heights drawn (NaN: none)."""
    nets = table[~table.network.map(_is_geomean)]
    geo = table[table.network.map(_is_geomean)]
    rows = list(nets.itertuples(index=False))
    if len(nets) >= 2:
        rows += list(geo.itertuples(index=False))
    fields = list(table.columns)

    def col(r, name):
        v = r[fields.index(name)]
        return float(v) if isinstance(v, (int, float, np.floating)) else math.nan

    values = [col(r, "EDP reduction") for r in rows]
    x = np.arange(len(rows))
    colors = ["0.55" if _is_geomean(r[0]) else "C2" for r in rows]
    heights = [v if math.isfinite(v) else 0.0 for v in values]
    ax.bar(x, heights, 0.6, color=colors)
    top = max([v for v in values if math.isfinite(v)] + [1.0])
    for xi, v in zip(x, values):
        ax.text(xi, (v if math.isfinite(v) else 0) + top * 0.015, f"{v:.2f}x" if math.isfinite(v) else "n/a",
                ha="center", va="bottom", fontsize=9, fontweight="bold")
    ax.axhline(1.0, color="k", ls="--", lw=1, label=f"1.0 = same EDP as {baseline}")
    ax.legend(fontsize=8, loc="upper right", framealpha=0.9)

    def ratio(v: float, text: str) -> str:
        return text.format(f"{v:.2f}x") if math.isfinite(v) else text.split(" {}")[0] + " n/a"

    labels = []
    for r in rows:  # the geomean's label keeps the networks it leaves out
        name = textwrap.fill(str(r[0]).split(";")[0].replace(" (n/a)", ""), 24)
        labels.append(f"{name}\n{ratio(col(r, 'speedup'), 'speedup {}')}\n"
                      f"{ratio(col(r, 'energy saving'), 'energy {} lower')}")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(0, top * 1.3)  # room for the annotations and the legend
    ax.set_ylabel(f"EDP reduction = {baseline} EDP / NAAS EDP\n(x lower; > 1: NAAS better)")
    ax.set_title("EDP reduction by network")
    return values


def _energy_share_axes(ax, b: pd.DataFrame, s: pd.DataFrame, nets: list, baseline: str) -> list[str]:
    """Per network, baseline and NAAS energy stacked by class, as a share of the baseline's total energy on
    that network (the baseline's bar is 1.0); legend entries only for classes with energy. Returns them."""
    bars = []  # (x, design label, network, shares per class)
    x = 0.0
    centers = []
    for net in nets:
        total = float(b.energy.get(net, math.nan)) if "energy" in b else math.nan
        for k, (who, frame) in enumerate(((baseline, b), ("NAAS", s))):
            shares = {c: (float(frame[f"energy_{c}"].get(net, math.nan)) / total
                          if f"energy_{c}" in frame and net in frame.index else math.nan) for c in LEVELS}
            bars.append((x + 0.42 * k, who, net, shares))
        centers.append(x + 0.21)
        x += 1.2
    drawn = [c for c in LEVELS if any(math.isfinite(sh[c]) and sh[c] > 0 for *_, sh in bars)]
    bottom = np.zeros(len(bars))
    xs = np.array([bx for bx, *_ in bars])
    for k, c in enumerate(LEVELS):
        vals = np.array([sh[c] if math.isfinite(sh[c]) else 0.0 for *_, sh in bars])
        if c in drawn:
            ax.bar(xs, vals, 0.38, bottom=bottom, color=f"C{k}", label=ENERGY_CLASS_LABELS[c])
        bottom += vals
    for bx, who, net, sh in bars:
        total = sum(v for v in sh.values() if math.isfinite(v))
        ax.text(bx, total + 0.01, f"{total:.2f}" if total else "n/a", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(xs, [who for _, who, *_ in bars], fontsize=8)
    sec = ax.secondary_xaxis("bottom")
    sec.set_xticks(centers, [f"\n\n{n}" for n in nets])
    sec.tick_params(length=0)
    sec.spines["bottom"].set_visible(False)
    ax.set_ylim(0, max([1.0] + [float(v) for v in bottom if math.isfinite(v)]) * 1.12)
    ax.set_ylabel(f"energy as a share of {baseline}'s\ntotal energy on that network (= 1.0)")
    ax.set_title("energy by memory level")
    if drawn:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0)
    return [ENERGY_CLASS_LABELS[c] for c in drawn]


def _edp_and_energy_figure(table: pd.DataFrame, b: pd.DataFrame, s: pd.DataFrame, baseline: str, costed: str):
    """The figure of edp_and_energy.png: EDP reduction by network (the table's ratios) and energy shares."""
    import matplotlib.pyplot as plt

    nets = [n for n in table.network if not _is_geomean(n)]
    width = 4.5 + 1.6 * (len(nets) + (len(nets) >= 2)) + 1.9 * len(nets)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(10.0, width), 4.8),
                                   gridspec_kw={"width_ratios": [len(nets) + 1, 1.4 * len(nets) + 0.6]})
    _edp_ratio_axes(ax1, table, baseline)
    _energy_share_axes(ax2, b, s, nets, baseline)
    fig.suptitle(f"NAAS's best design vs {baseline} (costs {costed})", fontsize=10)
    fig.tight_layout()
    return fig


def _plots(store, config, designs, results, out: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    base = designs[designs.generation == -1].iloc[0]
    searched = designs[designs.generation >= 0].reset_index(drop=True)
    best = store.best()
    unit = design_energy_unit(load_design(config.baseline))

    # convergence
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    fit = searched.fitness.to_numpy(dtype=float)
    n = np.arange(1, len(fit) + 1)
    ok = np.isfinite(fit)
    ax.scatter(n[ok], fit[ok], s=10, alpha=0.5, label="design")
    if ok.any():
        ax.step(n, np.fmin.accumulate(np.where(ok, fit, np.inf)), where="post", color="C1", label="best so far")
    if not math.isnan(base.fitness):
        ax.axhline(base.fitness, color="k", ls="--", label=f"{config.baseline} (best mapping)")
    ax.set_yscale("log")
    ax.set_xlabel("hardware designs evaluated")
    ax.set_ylabel(f"geomean network EDP [{unit} x cycles]")
    ax.set_title(f"NAAS search under {config.baseline}'s resources ({config.mode})\n"
                 f"costs as ranked: {config.inner_budget} mapping evaluations per layer shape", fontsize=10)
    if ok.any() or not math.isnan(base.fitness):
        ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out / "convergence.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    # EDP reduction by network (the comparison table's ratios) and energy breakdown, baseline vs best
    table = comparison_table(store)
    b, s, fin = _compared_costs(store)
    costed = (f"re-costed with {fin['budget']} mapping evaluations per layer shape" if fin
              else f"as ranked, {config.inner_budget} mapping evaluations per layer shape")
    fig = _edp_and_energy_figure(table, b, s, config.baseline, costed)
    files.append(out / "edp_and_energy.png")
    fig.savefig(files[-1], dpi=120)
    plt.close(fig)

    files.append(_draw_array(best, config, out / "array.png"))
    return files


def _size_text(size: float) -> str:
    return "unlimited" if math.isinf(size) else format_bytes(size)


def _axis_text(k: int, axis, unit: str) -> str:
    """'axis 0: 14 x (C, K) PEs'."""
    from nn_space.layers import DIMS, dim_index
    return f"axis {k}: {axis.size} x ({', '.join(DIMS[dim_index(d)] for d in axis.dims)}) {unit}"


def _array_levels(acc) -> list[dict]:
    """A design as storage levels outermost first: name, what it holds, instances, the fan-out below it (the
    axes) and what each fan-out instance is (``unit``). A 3-level accelerator: DRAM, L2, PE array, L1."""
    from cost_model.hierarchy import TENSOR_SHORT
    if not isinstance(acc, Hierarchy):
        part = ("  [" + ", ".join(f"{t[0].upper()} {format_bytes(v)}" for t, v in
                                  zip(("weights", "inputs", "outputs"), acc.l1_partition)) + "]"
                if acc.l1_partition else "")
        return [{"name": "DRAM", "text": f"DRAM: unlimited, {acc.dram_bandwidth.describe()}", "instances": 1,
                 "axes": ()},
                {"name": "L2", "text": f"L2 (global buffer): {format_bytes(acc.l2_bytes)}",
                 "detail": f"NoC {acc.l2_bandwidth.describe()}", "instances": 1, "axes": acc.array,
                 "unit": "PEs"},
                {"name": "L1", "text": f"L1 per PE: {format_bytes(acc.l1_bytes)}{part}", "instances": acc.num_pes,
                 "axes": ()},
                {"name": "MAC", "text": f"1 MAC per PE, {acc.word_bits}-bit", "instances": acc.num_pes,
                 "axes": ()}]
    out = []
    for i, lv in enumerate(acc.levels):
        if lv.partition is not None:
            size = ", ".join(f"{TENSOR_SHORT[t]} {format_bytes(v)}" for t, v in
                             zip(("weights", "inputs", "outputs"), lv.partition) if t in lv.keeps)
        else:
            size = _size_text(lv.size_bytes)
        keeps = "" if len(lv.keeps) == 3 else "keeps " + (", ".join(lv.keeps) if lv.keeps else "nothing")
        bw = lv.bandwidth
        bw_text = "" if not bw.shared and math.isinf(bw.read) and math.isinf(bw.write) else bw.describe()
        inner = not any(x.fanout for x in acc.levels[i + 1:])  # below this fan-out: one PE each
        below = acc.levels[i + 1].name if i + 1 < len(acc.levels) else "MAC"
        out.append({"name": lv.name, "text": f"{lv.name}: {size}",
                    "detail": "; ".join(x for x in (keeps, bw_text) if x), "instances": acc.instances(i),
                    "axes": lv.fanout, "unit": "PEs" if inner else f"instances of {below}"})
    out.append({"name": "MAC", "text": f"MAC ({'/'.join(map(str, acc.tensor_bits))}-bit W/I/O)",
                "instances": acc.num_macs, "axes": ()})
    return out


def _used_per_axis(acc, mapping) -> dict[int, list[int]]:
    """Per level index (the template's L2 = 1) with a fan-out: the spatial factor the mapping puts on each
    axis (the product of its loop dims' spatial factors)."""
    from nn_space.layers import DIMS, dim_index
    used = {}
    if isinstance(acc, Hierarchy):
        for i, lv in enumerate(acc.levels):
            if lv.fanout:
                sp = mapping.levels[i].spatial
                used[i] = [math.prod(int(sp[DIMS.index(DIMS[dim_index(d)])]) for d in a.dims) for a in lv.fanout]
    else:
        sp = mapping.spatial
        used[1] = [math.prod(int(sp[DIMS.index(DIMS[dim_index(d)])]) for d in a.dims) for a in acc.array]
    return used


def _draw_fanout(ax, y: float, axes, unit: str, used: list[int] | None, max_cells: tuple[int, int] = (16, 32)):
    """A fan-out as a grid of cells below ``y`` (rows: axis 0, columns: axis 1, axis 2 as copies stacked
    behind); the cells the mapping uses are dark. An axis longer than ``max_cells`` is drawn in groups (one
    cell = several instances, said in its label). Returns the height taken, in data units."""
    from matplotlib.patches import Rectangle
    sizes = [a.size for a in axes]
    u = [int(v) for v in (used or [])]
    if len(axes) == 1:
        (rows, cols), (u_rows, u_cols) = (1, sizes[0]), (1, u[0] if u else 0)
    else:
        (rows, cols), (u_rows, u_cols) = (sizes[0], sizes[1]), ((u[0], u[1]) if len(u) >= 2 else (0, 0))
    copies = sizes[2] if len(axes) == 3 else 1
    g_r, g_c = math.ceil(rows / max_cells[0]), math.ceil(cols / max_cells[1])  # instances per drawn cell
    shown_r, shown_c = math.ceil(rows / g_r), math.ceil(cols / g_c)
    on_r, on_c = math.ceil(u_rows / g_r), math.ceil(u_cols / g_c)
    cell = min(6.0 / shown_c, 3.2 / shown_r, 0.45)
    height, width = shown_r * cell, shown_c * cell
    x0, top = 5.0 - width / 2, y - 0.45
    behind = min(copies, 3) - 1  # copies drawn behind, offset up-right
    ax.plot([5.0, 5.0], [y, top + 0.15 * behind], color="0.5", lw=1)
    for depth in range(behind, 0, -1):
        off = 0.15 * depth
        ax.add_patch(Rectangle((x0 + off, top - height + off), width, height, facecolor="0.88", edgecolor="0.5",
                               lw=0.8, zorder=0))
    for i in range(shown_r):
        for j in range(shown_c):
            on = i < on_r and j < on_c
            ax.add_patch(Rectangle((x0 + (j + 0.06) * cell, top - (i + 0.94) * cell), cell * 0.88, cell * 0.88,
                                   facecolor="C0", alpha=0.9 if on else 0.22, lw=0))
    pe = unit if unit == "PEs" else ""

    def label(k: int, group: int) -> str:
        return _axis_text(k, axes[k], pe).rstrip() + (f" (1 cell = {group})" if group > 1 else "")

    col_axis = 0 if len(axes) == 1 else 1
    ax.text(5.0, top - height - 0.06, label(col_axis, g_c), ha="center", va="top", fontsize=8)
    if len(axes) >= 2:
        ax.text(x0 - 0.12, top - height / 2, label(0, g_r).replace(" (1 cell", "\n(1 cell"), ha="right",
                va="center", fontsize=8)
    extra = 0.0
    if len(axes) == 3:
        ax.text(5.0, top - height - 0.34, label(2, 1) + f": {copies} copies of this grid", ha="center", va="top",
                fontsize=8)
        extra = 0.28
    total = math.prod(sizes)
    ax.text(x0 + width + 0.15 + 0.15 * behind, top, f"fan-out: {total}" + (" " if unit == "PEs" else "\n") + unit,
            ha="left", va="top", fontsize=8, color="0.3")
    return 0.45 + height + 0.4 + extra


def _draw_array(best: dict, config: HardwareSearchConfig, path: Path) -> Path:
    """The searched design: its storage levels (sizes, bandwidths), every fan-out as a PE grid with its axes
    (size and loop dims; cells the largest layer's mapping uses dark), and that layer's loop nest."""
    import re

    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    acc = design_from_dict(best["accelerator"])
    net = get_network(config.networks[0])
    layer = max(net.layers, key=lambda lay: lay.macs)
    try:
        cost = NetworkCoster().cost(type(net)(net.name, (layer,)), acc, (config.mapping_settings(),),
                                    searched=config.mode == "full")
        mapping = cost.layers[0].mapping
    except NetworkEvaluationError as exc:  # an unmappable layer still gets the design drawn
        mapping, nest = None, f"(no mapping: {exc})"
    if isinstance(acc, Hierarchy):
        if mapping is not None:
            nest = mapping.loop_nest(acc.level_names)
        head = f"{acc.num_macs} MACs, on-chip {format_bytes(acc.onchip_bytes)} in all"
    else:
        if mapping is not None:  # name each par-for's array axis by its index in the array
            nest = re.sub(r"par-for (\w) in \[0:(\d+)\) \(array dim \d+\)",
                          lambda m: f"par-for {m.group(1)} in [0:{m.group(2)}) (array axis {acc.axis_of(m.group(1))})",
                          mapping.loop_nest(acc.parallel_dims))
        head = (f"{acc.num_pes} PEs, on-chip {format_bytes(acc.onchip_bytes)} in all (L2 + L1 x PEs), "
                f"{acc.dataflow}")
    used = _used_per_axis(acc, mapping) if mapping is not None else {}
    levels = _array_levels(acc)

    # lay the levels out top-down in data units: boxes 0.6 high, fan-out grids below their level
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [1.6, 1]})
    y = 0.0
    for i, lv in enumerate(levels):
        inst = lv["instances"]
        text = lv["text"] + (f", {lv['detail']}" if lv.get("detail") else "") \
            + (f"   ({inst} instances)" if inst > 1 else "")
        if len(text) > 64:  # the level's name and size, then the rest
            text = lv["text"] + "\n" + (f"{lv['detail']}   " if lv.get("detail") else "") \
                + (f"({inst} instances)" if inst > 1 else "")
        h = 0.5 if "\n" not in text else 0.75
        for depth in ((2, 1) if inst > 1 else ()):  # a stack: one per instance
            ax.add_patch(FancyBboxPatch((1.0 + 0.08 * depth, y - h - 0.06 * depth), 8.0, h,
                                        boxstyle="round,pad=0.02", facecolor="white", edgecolor="0.6", lw=0.8))
        ax.add_patch(FancyBboxPatch((1.0, y - h), 8.0, h, boxstyle="round,pad=0.02",
                                    facecolor="#fdd9b5" if lv["name"] == "MAC" else "0.92", edgecolor="0.3", lw=1))
        ax.text(5.0, y - h / 2, text, ha="center", va="center", fontsize=8.5, linespacing=1.3)
        y -= h + (0.12 if inst > 1 else 0)
        if lv["axes"]:
            y -= _draw_fanout(ax, y, lv["axes"], lv.get("unit", "PEs"), used.get(i))
        elif i + 1 < len(levels):
            ax.annotate("", (5.0, y - 0.25), (5.0, y), arrowprops={"arrowstyle": "-", "color": "0.5"})
            y -= 0.25
    ax.set_xlim(-1.2, 11.5)
    ax.set_ylim(y - 0.2, 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.set_size_inches(13, max(4.5, 0.6 * (0.5 - y) + 1.4))  # about 0.6 inch per data unit, as wide
    ax.set_title(f"{acc.name}: best design of the NAAS search (design {best['id']}) under {config.baseline}'s "
                 f"resources\n{head}", fontsize=10)
    tx.axis("off")
    how = f"searched, {config.inner_budget} evaluations" if config.mode == "full" else "the dataflow's default"
    tx.set_title(f"mapping of its largest layer ({how}); dark cells: the instances it uses", fontsize=9)
    tx.text(0, 1, f"{net.name} / {layer.name}: {layer.describe()}\n\n{nest}", family="monospace",
            fontsize=8.5, va="top", transform=tx.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _tradeoff_frame(store: RunStore) -> pd.DataFrame:
    """A trade-off run's points (its curve.csv: co-design and the references naas tradeoff added)."""
    path = store.folder / "curve.csv"
    if not path.is_file():
        raise ReportError(f"{store.folder}: a trade-off without its curve.csv (naas tradeoff --resume "
                          f"{store.folder} writes it)")
    return pd.read_csv(path)


def _tradeoff_report(store: RunStore) -> list[Path]:
    from .tradeoff_report import title, write_report as write_tradeoff_report

    config = TradeoffConfig.from_dict(store.get_meta("config"))
    return write_tradeoff_report(_tradeoff_frame(store), store.folder, title(config))


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
        if store.get_meta("kind") == "tradeoff":
            from .tradeoff_report import comparison

            return comparison(_tradeoff_frame(store)).to_string(index=False, float_format=lambda v: f"{v:.4g}") + \
                "\n" + env
        table = cosearch_table(store) if store.get_meta("kind") == "cosearch" else comparison_table(store)
        return table.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n" + env
    finally:
        store.close()


def run_table(store: RunStore) -> pd.DataFrame:
    """The main table of a run of any kind: the comparison (search), the co-search table, or the sweep table."""
    kind = store.kind
    if kind == "sweep":
        from .sweep_report import sweep_table
        return sweep_table(store)
    if kind == "tradeoff":
        from .tradeoff_report import comparison
        return comparison(_tradeoff_frame(store))
    return cosearch_table(store) if kind == "cosearch" else comparison_table(store)
