"""Mapper comparison: naas's per-layer mapping search against ZigZag's LOMA mapper, both costed by ZigZag.

Usage: python experiments/zigzag_loma.py [--quick] [--seeds 3] [--budget 2000] [--lpf 6 7]
           [--arrays eyeriss-12x14 kc-16x16] [--layers NAME ...] [--no-even] [--out experiments/results/zigzag_loma]
       python experiments/zigzag_loma.py --explain LAYER ARRAY   # one layer's two mappings in both models
(from the repository root without installing naas: ``python -m experiments.zigzag_loma ...``)

Needs the optional ZigZag (``pip install 'naas[zigzag]'``: zigzag-dse 3.9.1 and six); exits 2 without it.

Layers: ResNet-50's 23 distinct conv shapes (the fc layer left out) and one inverted-residual block of
MobileNetV2, ``features.8`` (14 x 14, the first of the three repeated stride-1 64 -> 384 -> 64 blocks): its
1x1 expand (K384 C64), 3x3 depthwise (384 channels) and 1x1 project (K64 C384).

Arrays (the machine of experiments/zigzag_crosscheck.py: one unified L1 per PE, NoC energy 0, ZigZag's
accelerator built from the naas one by ``ZigZagBridge``):

- ``eyeriss-12x14``: Eyeriss's 12 x 14 array, axis 0 parallelizes R/C/K, axis 1 Y' (output rows); 520 B L1
  per PE, 108 KiB L2, 16-bit words (``load_accelerator('eyeriss')``).
- ``kc-16x16``: NVDLA-256's 16 x 16 K x C array, 16 B register file per MAC as L1, 128 KiB L2, 8-bit words
  (``load_accelerator('nvdla-256')``).

naas searches each layer with ``search_nest_layer(layer, mac_hierarchy(acc), budget, seed,
exact=True)``: the 3-level template plus a free register below L1 holding one weight and one input word,
the operand reuse ZigZag 3.9.1's MAC models (a weight or input stays while the innermost L1 loops do not touch
it; no partial sum stays: outputs bypass the register), so naas's L1 reads and updates equal ZigZag's (tested),
with exact-divisor factors only (ZigZag takes no padding). The register holds one word per operand, so it
never takes a loop, and the mapping is a 3-level template mapping that ``ZigZagBridge.cost`` costs loop for
loop. LOMA (``zigzag.opt.loma.engine.LomaEngine``,
ZigZag's default uneven mapping type) gets the spatial unrolling of naas's own pick (the seed with the
lowest EDP in naas's model), so both mappers share the spatial factors and only the temporal mappings
differ; each LOMA mapping is costed by ZigZag's ``CostModelEvaluation`` and the lowest EDP kept (ZigZag's
MinimalEDPStage), at each ``--lpf`` limit (6 is ZigZag's default, api.py).

Printed per layer and array: EDP(naas)/EDP(LOMA) in ZigZag's model for naas's best seed (lowest ZigZag EDP),
the median over seeds and naas's own pick; the wall time of LOMA and of naas's searches (all seeds). With
the even diagnostic (default; ``--no-even`` skips it), LOMA is also run with ZigZag's even mapping type
(every operand cut at the same levels, what naas's template can express); that mapping is translated back to
naas and costed in naas's model, which tells whether naas's search missed a mapping its own model prefers
(search quality) or its model ranks the LOMA mapping worse than its own (model disagreement).
The last line is always
``geomean EDP(naas)/EDP(LOMA): <array> <ratio>, <array> <ratio>; naas wall / LOMA wall <ratio>`` with
naas = best seed, LOMA = the first ``--lpf`` limit, walls summed over all layers and arrays.
Writes rows.csv (one row per layer and array) and table.md (the printed table) to ``--out``. ``--quick``:
MobileNetV2's three block layers on eyeriss-12x14 at lpf 6 without the even diagnostic (about 40 s), to
experiments/results/zigzag_loma/quick.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: cma's eigendecompositions run ~10x slower multi-threaded here

import naas  # noqa: E402

naas.reproducible()  # before numpy loads: pins OpenBLAS's kernels and threads

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from cost_model.accelerator import Accelerator, load_accelerator  # noqa: E402
from cost_model.energy import get_energy_table  # noqa: E402
from mapping.spec import Mapping  # noqa: E402
from nn_space.layers import DIMS, ConvLayer  # noqa: E402

#: array key -> the naas built-in it is built from
ARRAYS = {"eyeriss-12x14": "eyeriss", "kc-16x16": "nvdla-256"}
MOBILENET_BLOCK = "features.8"
DEFAULT_LPF = 6  # zigzag.api.get_hardware_performance_zigzag(lpf_limit=6)
QUICK_LAYERS = ("mbv2.features.8.expand", "mbv2.features.8.dw", "mbv2.features.8.project")
QUICK_ARRAY = "eyeriss-12x14"


def array_accelerator(key: str) -> Accelerator:
    """The naas accelerator of an array key: the built-in with a unified L1 and NoC energy 0."""
    base = load_accelerator(ARRAYS[key])
    energy = get_energy_table(base.energy.base_name).with_overrides(noc=0.0)
    return replace(base, name=key, l1_partition=None, energy=energy,
                   description=f"{base.name} array and buffers, unified L1, NoC energy 0 (ZigZag LOMA comparison)")


def mac_hierarchy(acc: Accelerator):
    """The template as a hierarchy with a free register below L1 holding one weight and one input word: the
    operand reuse ZigZag 3.9.1's MAC models (a weight or input stays while the innermost L1 loops do not touch
    it). Outputs bypass it: ZigZag reads and writes a partial sum in L1 on every MAC whatever the loop order
    (``experiments.zigzag_crosscheck.register_hierarchy`` also keeps outputs, which ZigZag does not)."""
    from cost_model.hierarchy import StorageLevel, hierarchy_from_accelerator

    h = hierarchy_from_accelerator(acc)
    reg = StorageLevel("register", keeps=("weights", "inputs"), size_bytes=2 * acc.word_bits / 8,
                       read_energy=(0.0,) * 3, write_energy=(0.0,) * 3)
    return replace(h, name=f"{acc.name}+W/I register", levels=h.levels + (reg,))


def comparison_layers() -> dict[str, ConvLayer]:
    """ResNet-50's distinct conv shapes (first layer of each shape; fc left out) and MobileNetV2's block."""
    from nn_space.zoo import get_network

    out: dict[str, ConvLayer] = {}
    for layer, _count in get_network("resnet50").unique_layers():
        if layer.describe().startswith("fc"):
            continue
        out[f"r50.{layer.name}"] = layer
    for layer in get_network("mobilenetv2").layers:
        if layer.name.startswith(MOBILENET_BLOCK + "."):
            out[f"mbv2.{layer.name}"] = layer
    return out


def layer_counts() -> dict[str, int]:
    """How many layers of its network each comparison layer stands for (ResNet-50 shapes; 1 for MobileNetV2)."""
    from nn_space.zoo import get_network

    counts = {f"r50.{layer.name}": c for layer, c in get_network("resnet50").unique_layers()}
    return {k: counts.get(k, 1) for k in comparison_layers()}


# --- naas -----------------------------------------------------------------------------------------------
def nest_to_template(nm) -> Mapping:
    """A mapping on ``mac_hierarchy(acc)`` (DRAM, L2 + array, L1, register) as a 3-level template mapping;
    the register level must be trivial (it holds one word of each operand)."""
    dram, l2, l1, reg = nm.levels
    if any(f > 1 for f in reg.factors) or any(f > 1 for f in reg.spatial) or any(
            f > 1 for lv in (dram, l1) for f in lv.spatial):
        raise ValueError(f"not a template mapping: {nm.to_dict()}")
    return Mapping(dram=dict(zip(DIMS, dram.factors)), l2=dict(zip(DIMS, l2.factors)),
                   spatial=dict(zip(DIMS, l2.spatial)), l1=dict(zip(DIMS, l1.factors)),
                   dram_order=dram.order, l2_order=l2.order, l1_order=l1.order, label=nm.label)


def naas_edp(layer: ConvLayer, acc: Accelerator, mapping: Mapping) -> tuple[float, str]:
    """(EDP in naas's model on the register hierarchy, '' or the reason it is invalid)."""
    from cost_model.nest_evaluate import evaluate_nest
    from mapping.nest import LevelMapping, NestMapping

    nm = NestMapping(NestMapping.from_template(mapping).levels + (LevelMapping(),))
    try:
        cost = evaluate_nest(layer, mac_hierarchy(acc), nm)
    except Exception as exc:  # a refusal (capacity, fan-out) names the reason
        return math.nan, str(exc).splitlines()[0][:120]
    return float(cost.edp), ""


def naas_search(layer: ConvLayer, acc: Accelerator, seed: int, budget: int) -> dict[str, Any]:
    """One naas search (exact factors, register hierarchy): its template mapping, naas EDP and wall time."""
    from mapping.nest_search import search_nest_layer

    hier = mac_hierarchy(acc)
    t = time.perf_counter()
    r = search_nest_layer(layer, hier, budget=budget, seed=seed, exact=True)
    wall = time.perf_counter() - t
    if r.mapping is None:
        raise RuntimeError(f"{layer.name}: naas found no valid exact mapping in {budget} evaluations (seed {seed})")
    return {"seed": seed, "mapping": nest_to_template(r.mapping), "naas_edp": float(r.best), "wall": wall}


# --- ZigZag / LOMA --------------------------------------------------------------------------------------
def spatial_only(mapping: Mapping) -> Mapping:
    one = (1,) * len(DIMS)
    return Mapping(dram=one, l2=one, spatial=mapping.spatial, l1=one)


def zz_spatial(bridge, layer: ConvLayer, mapping: Mapping):
    """(ZigZag layer node, spatial mapping, its integer form) of ``mapping``'s spatial factors."""
    from zigzag.stages.mapping.spatial_mapping_conversion import SpatialMappingConversionStage

    node = bridge.layer_node(layer, spatial_only(mapping))
    node.spatial_mapping.initialize_oa_dims(bridge.zz_acc.operational_array.dimension_sizes)
    conv = SpatialMappingConversionStage([lambda *a, **k: None], accelerator=bridge.zz_acc, layer=node)
    sm, sm_int = conv.convert_user_spatial_mapping(node.spatial_mapping)
    return node, sm, sm_int


def spatial_factors(sm) -> list[tuple[str, int]]:
    """ZigZag's spatial unrolling as sorted (ZigZag dim, factor) pairs (factors of one dim multiplied)."""
    acc: dict[str, int] = {}
    for dim, f in sm.spatial_loop_dim_size:
        acc[str(dim)] = acc.get(str(dim), 1) * int(round(f))
    return sorted((d, f) for d, f in acc.items() if f > 1)


def naas_spatial_factors(layer: ConvLayer, mapping: Mapping) -> list[tuple[str, int]]:
    """naas's spatial factors in ZigZag's dim names, as ``spatial_factors`` gives them."""
    from experiments.zigzag_crosscheck import _zz_dim

    return sorted((_zz_dim(layer, d), int(f)) for d, f in zip(DIMS, mapping.spatial) if f > 1)


def run_loma(bridge, layer: ConvLayer, spatial_from: Mapping, lpf_limit: int, even: bool = False) -> dict[str, Any]:
    """ZigZag's LOMA with the spatial unrolling of ``spatial_from``: every temporal mapping it generates costed
    by ``CostModelEvaluation``, the lowest EDP kept (ties: lower latency, as MinimalEDPStage keeps the first)."""
    from zigzag.cost_model.cost_model import CostModelEvaluation
    from zigzag.mapping.temporal_mapping import TemporalMappingType
    from zigzag.opt.loma.engine import LomaEngine

    t = time.perf_counter()
    node, sm, sm_int = zz_spatial(bridge, layer, spatial_from)
    kind = TemporalMappingType.EVEN if even else TemporalMappingType.UNEVEN
    engine = LomaEngine(accelerator=bridge.zz_acc, layer=node, spatial_mapping=sm, mapping_type=kind,
                        loma_lpf_limit=lpf_limit)
    best: tuple[float, Any] | None = None
    count = 0
    for tm in engine.run():
        cme = CostModelEvaluation(accelerator=bridge.zz_acc, layer=node, spatial_mapping=sm,
                                  spatial_mapping_int=sm_int, temporal_mapping=tm)
        count += 1
        edp = float(cme.energy_total) * float(cme.latency_total2)
        if best is None or edp < best[0]:
            best = (edp, cme)
    wall = time.perf_counter() - t
    assert best is not None  # LomaEngine raises when it finds no valid ordering
    cme = best[1]
    return {"edp": best[0], "energy": float(cme.energy_total), "cycles": float(cme.latency_total2),
            "mappings": count, "wall": wall, "lpf_limit": engine.lpf_limit, "spatial": spatial_factors(sm),
            "temporal_mapping": cme.temporal_mapping}


def loma_to_template(layer: ConvLayer, spatial_from: Mapping, tm) -> tuple[Mapping | None, str]:
    """LOMA's temporal mapping as a naas template mapping (same spatial factors), or (None, why not): every
    operand must be cut at the same levels (even) and each dim's loops contiguous within a level."""
    from experiments.zigzag_crosscheck import _zz_dim
    from zigzag.datatypes import LayerOperand

    back = {_zz_dim(layer, d): d for d in DIMS}
    per_op = [tm.mapping_dic_origin[LayerOperand(op)] for op in ("W", "I", "O")]
    norm = [[[(str(d), int(round(f))) for d, f in lv] for lv in levels] for levels in per_op]
    if len(norm[0]) != 3 or any(n != norm[0] for n in norm[1:]):
        return None, "uneven (operands cut at different levels)"
    factors, orders = [], []
    for loops in norm[0]:  # l1, l2, dram; loops innermost first
        f = dict.fromkeys(DIMS, 1)
        order: list[str] = []  # outermost first
        for zd, size in reversed(loops):
            d = back[zd]
            if order and order[-1] == d:
                f[d] *= size
                continue
            if d in order:
                return None, f"dim {d} split non-contiguously within one level"
            order.append(d)
            f[d] *= size
        factors.append(f)
        orders.append("".join([d for d in DIMS if d not in order] + order))
    l1, l2, dram = factors
    return Mapping(dram=dram, l2=l2, spatial=dict(zip(DIMS, spatial_from.spatial)), l1=l1, dram_order=orders[2],
                   l2_order=orders[1], l1_order=orders[0], label="LOMA"), ""


# --- one layer on one array -----------------------------------------------------------------------------
def compare_layer(key: str, layer: ConvLayer, acc: Accelerator, bridge, seeds: int, budget: int,
                  lpfs: tuple[int, ...], even: bool = True) -> dict[str, Any]:
    """naas (``seeds`` searches) and LOMA (each lpf limit, and the even diagnostic) on one layer, costed by
    ZigZag; one result row."""
    runs = [naas_search(layer, acc, s, budget) for s in range(seeds)]
    for r in runs:
        r["zz"] = bridge.cost(layer, r["mapping"])
    pick = min(runs, key=lambda r: r["naas_edp"])  # what naas itself would return
    best = min(runs, key=lambda r: r["zz"]["edp"])
    row: dict[str, Any] = {
        "layer": key, "shape": layer.describe(), "array": acc.name, "seeds": seeds, "budget": budget,
        "naas_wall_s": sum(r["wall"] for r in runs),
        "naas_best_seed": best["seed"], "naas_pick_seed": pick["seed"],
        "zz_edp_naas_best": best["zz"]["edp"], "zz_energy_naas_best": best["zz"]["energy"],
        "zz_cycles_naas_best": best["zz"]["cycles"],
        "zz_edp_naas_pick": pick["zz"]["edp"],
        "zz_edp_naas_seeds": " ".join(repr(r["zz"]["edp"]) for r in runs),
        "naas_edp_naas_pick": pick["naas_edp"],
        "naas_mapping_best": str(best["mapping"].to_dict()),
        "spatial": " ".join(f"{d}{f}" for d, f in naas_spatial_factors(layer, pick["mapping"])),
    }
    for i, lpf in enumerate(lpfs):
        lo = run_loma(bridge, layer, pick["mapping"], lpf)
        if lo["spatial"] != naas_spatial_factors(layer, pick["mapping"]):
            raise AssertionError(f"{key}: LOMA's spatial unrolling {lo['spatial']} is not naas's")
        p = f"lpf{lpf}"
        row.update({f"{p}_limit_used": lo["lpf_limit"], f"{p}_mappings": lo["mappings"], f"{p}_wall_s": lo["wall"],
                    f"{p}_zz_edp": lo["edp"], f"{p}_zz_energy": lo["energy"], f"{p}_zz_cycles": lo["cycles"],
                    f"{p}_ratio_best": best["zz"]["edp"] / lo["edp"],
                    f"{p}_ratio_median": statistics.median(r["zz"]["edp"] / lo["edp"] for r in runs),
                    f"{p}_ratio_pick": pick["zz"]["edp"] / lo["edp"]})
        if i == 0:
            m, why = loma_to_template(layer, pick["mapping"], lo["temporal_mapping"])
            row[f"{p}_naas_edp"], why2 = naas_edp(layer, acc, m) if m is not None else (math.nan, why)
            row[f"{p}_in_naas"] = why2 or "costed"
            row[f"{p}_loma_mapping"] = str(lo["temporal_mapping"].mapping_dic_origin)
    if even:
        lo = run_loma(bridge, layer, pick["mapping"], lpfs[0], even=True)
        m, why = loma_to_template(layer, pick["mapping"], lo["temporal_mapping"])
        n_edp, why2 = naas_edp(layer, acc, m) if m is not None else (math.nan, why)
        row.update({"even_wall_s": lo["wall"], "even_zz_edp": lo["edp"],
                    "even_ratio_best": best["zz"]["edp"] / lo["edp"], "even_in_naas": why2 or "costed",
                    "even_naas_edp": n_edp,
                    # > 1: naas's model ranks LOMA's even mapping worse than naas's own pick
                    "even_naas_model_ratio": n_edp / pick["naas_edp"],
                    "even_zz_edp_of_translation": bridge.cost(layer, m)["edp"] if m is not None else math.nan,
                    "even_loma_mapping": str(lo["temporal_mapping"].mapping_dic_origin)})
    return row


def geomean(values) -> float:
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    return float(np.exp(np.log(v).mean())) if len(v) else math.nan


def summary_line(rows: pd.DataFrame, lpf: int) -> str:
    """The fixed last line: geomean EDP(naas best seed)/EDP(LOMA at ``lpf``) per array, and the wall ratio."""
    parts = [f"{a} {geomean(g[f'lpf{lpf}_ratio_best']):.3f}" for a, g in rows.groupby("array", sort=False)]
    wall = rows["naas_wall_s"].sum() / rows[f"lpf{lpf}_wall_s"].sum()
    return f"geomean EDP(naas)/EDP(LOMA): {', '.join(parts)}; naas wall / LOMA wall {wall:.3f}"


def markdown_table(rows: pd.DataFrame, lpfs: tuple[int, ...]) -> str:
    cols = ["layer", "shape", "array", "spatial"]
    head = ["layer", "shape", "array", "spatial (naas = LOMA)"]
    for lpf in lpfs:
        cols += [f"lpf{lpf}_ratio_best", f"lpf{lpf}_ratio_median", f"lpf{lpf}_wall_s"]
        head += [f"naas/LOMA{lpf} best seed", f"naas/LOMA{lpf} seed median", f"LOMA{lpf} wall s"]
    cols += ["naas_wall_s"]
    head += ["naas wall s (all seeds)"]
    if "even_ratio_best" in rows:
        cols += ["even_ratio_best", "even_naas_model_ratio"]
        head += [f"naas/LOMA{lpfs[0]}-even", "naas model: LOMA-even / naas pick"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in rows[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.1f}" if c.endswith("wall_s") else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def explain(key: str, array: str, budget: int = 2000, seed: int = 0, lpf: int = DEFAULT_LPF) -> str:
    """naas's mapping (one seed) and LOMA's even mapping on one layer, each costed in both models: energy,
    cycles and ZigZag's stall / on-, off-loading cycles, as text (where the two models disagree)."""
    from cost_model.nest_evaluate import evaluate_nest
    from experiments.zigzag_crosscheck import ZigZagBridge
    from mapping.nest import LevelMapping, NestMapping

    layer, acc = comparison_layers()[key], array_accelerator(array)
    bridge = ZigZagBridge(acc)
    mine = naas_search(layer, acc, seed, budget)["mapping"]
    lo = run_loma(bridge, layer, mine, lpf, even=True)
    theirs, why = loma_to_template(layer, mine, lo["temporal_mapping"])
    lines = [f"{key} ({layer.describe()}) on {array}: naas seed {seed} vs LOMA-even lpf {lpf}"]
    for name, m in (("naas", mine), ("LOMA-even", theirs)):
        if m is None:
            lines.append(f"{name}: not expressible in naas ({why})")
            continue
        z = bridge.cost(layer, m)
        lines.append(m.loop_nest(acc.parallel_dims))
        try:
            n = evaluate_nest(layer, mac_hierarchy(acc), NestMapping(NestMapping.from_template(m).levels
                                                                          + (LevelMapping(),)))
            lines.append(f"  naas:   energy {n.energy:.4e}  cycles {n.cycles:.4e} (compute {n['compute_cycles']:.4e}, "
                         f"L2 {n.level('L2', 'cycles'):.4e}, DRAM {n.level('DRAM', 'cycles'):.4e})  EDP {n.edp:.4e}")
        except ValueError as exc:  # naas refuses it (e.g. a tile its capacity rule says does not fit)
            lines.append(f"  naas:   refused: {str(exc).splitlines()[0]}")
        lines += [f"  ZigZag: energy {z['energy']:.4e}  cycles {z['cycles']:.4e} (ideal {z['ideal_cycles']:.4e}, "
                  f"stall {z['stall_cycles']:.4e} from {z['stall_from'] or '-'}, onload {z['onload_cycles']:.4e}, "
                  f"offload {z['offload_cycles']:.4e})  EDP {z['edp']:.4e}"]
    return "\n".join(lines)


def warm_up(acc: Accelerator) -> None:
    """Compile naas's kernels (Numba) outside the timed searches."""
    from mapping.nest_search import search_nest_layer

    search_nest_layer(ConvLayer(k=16, c=16, y=4, x=4, r=3, s=3, name="warm-up"), mac_hierarchy(acc),
                      budget=64, seed=0, exact=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"MobileNetV2's block only ({', '.join(QUICK_LAYERS)}) on {QUICK_ARRAY} (unless --arrays), "
                         f"lpf {DEFAULT_LPF}, no even diagnostic")
    ap.add_argument("--seeds", type=int, default=3, help="naas searches per layer, seeds 0.. (3)")
    ap.add_argument("--budget", type=int, default=2000, help="naas evaluations per search (2000)")
    ap.add_argument("--lpf", type=int, nargs="+", default=None,
                    help=f"LOMA lpf limits; the first is the last line's reference ({DEFAULT_LPF} {DEFAULT_LPF + 1})")
    ap.add_argument("--arrays", nargs="+", choices=list(ARRAYS), default=None,
                    help=f"arrays (all: {' '.join(ARRAYS)}; --quick: {QUICK_ARRAY})")
    ap.add_argument("--layers", nargs="+", default=None, help="layer keys (r50.<name>, mbv2.<name>); default all")
    ap.add_argument("--no-even", action="store_true", help="skip the even-mapping LOMA diagnostic")
    ap.add_argument("--explain", nargs=2, metavar=("LAYER", "ARRAY"), default=None,
                    help="print naas's mapping (seed 0) and LOMA's even one on LAYER, costed in both models, and stop")
    ap.add_argument("--out", default=None, help="results folder (experiments/results/zigzag_loma, --quick: .../zigzag_loma/quick)")
    args = ap.parse_args(argv)
    if importlib.util.find_spec("zigzag") is None or importlib.util.find_spec("six") is None:
        print("zigzag_loma: needs the optional ZigZag (pip install 'naas[zigzag]': zigzag-dse and six)",
              file=sys.stderr)
        return 2
    from experiments.zigzag_crosscheck import ZigZagBridge

    if args.explain:
        print(explain(args.explain[0], args.explain[1], args.budget, lpf=(args.lpf or [DEFAULT_LPF])[0]))
        return 0
    lpfs = tuple(args.lpf or ((DEFAULT_LPF,) if args.quick else (DEFAULT_LPF, DEFAULT_LPF + 1)))
    even = not (args.no_even or args.quick)
    all_layers = comparison_layers()
    keys = list(args.layers or (QUICK_LAYERS if args.quick else all_layers))
    unknown = [k for k in keys if k not in all_layers]
    if unknown:
        print(f"zigzag_loma: unknown layers {unknown} (known: {', '.join(all_layers)})", file=sys.stderr)
        return 2
    arrays = args.arrays or ([QUICK_ARRAY] if args.quick else list(ARRAYS))
    out = Path(args.out or ("experiments/results/zigzag_loma" + ("/quick" if args.quick else "")))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = []
    for a in arrays:
        acc = array_accelerator(a)
        bridge = ZigZagBridge(acc)
        warm_up(acc)
        for key in keys:
            row = compare_layer(key, all_layers[key], acc, bridge, args.seeds, args.budget, lpfs, even)
            rows.append(row)
            msg = "  ".join(f"lpf{lp}: best {row[f'lpf{lp}_ratio_best']:.3f} median {row[f'lpf{lp}_ratio_median']:.3f}"
                            f" wall {row[f'lpf{lp}_wall_s']:.1f}s" for lp in lpfs)
            if even:
                msg += f"  even: {row['even_ratio_best']:.3f} naas-model {row['even_naas_model_ratio']:.3f}"
            print(f"{a:14s} {key:28s} {msg}  naas wall {row['naas_wall_s']:.1f}s", flush=True)
            pd.DataFrame(rows).to_csv(out / "rows.csv", index=False)  # partial results survive an interruption
    df = pd.DataFrame(rows)
    df.to_csv(out / "rows.csv", index=False)
    table = markdown_table(df, lpfs)
    (out / "table.md").write_text(table + "\n")
    print()
    print(table)
    print()
    for lpf in lpfs:
        for a, g in df.groupby("array", sort=False):
            print(f"{a}, LOMA lpf {lpf}: geomean naas/LOMA best seed {geomean(g[f'lpf{lpf}_ratio_best']):.3f}, "
                  f"seed median {geomean(g[f'lpf{lpf}_ratio_median']):.3f}, naas pick "
                  f"{geomean(g[f'lpf{lpf}_ratio_pick']):.3f}; wall LOMA {g[f'lpf{lpf}_wall_s'].sum():.1f} s, "
                  f"naas {g['naas_wall_s'].sum():.1f} s ({args.seeds} seeds x {args.budget})")
    if even:
        for a, g in df.groupby("array", sort=False):
            costed = g[g.even_in_naas == "costed"]
            print(f"{a}, LOMA-even lpf {lpfs[0]}: geomean naas/LOMA-even {geomean(g.even_ratio_best):.3f}; in naas's "
                  f"model LOMA-even / naas pick {geomean(costed.even_naas_model_ratio):.3f} over {len(costed)} of "
                  f"{len(g)} layers (> 1: naas's model prefers its own mapping)")
    print(f"{len(df)} layer x array pairs in {time.perf_counter() - t0:.0f} s; wrote {out / 'rows.csv'} and "
          f"{out / 'table.md'}")
    print(summary_line(df, lpfs[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
