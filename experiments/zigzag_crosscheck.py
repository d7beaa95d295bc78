"""Cross-check naas's analytical model against ZigZag (KU Leuven's zigzag-dse) on the same fixed mappings.

Usage: python experiments/zigzag_crosscheck.py [--mappings 200] [--seed 0] [--out experiments/results/zigzag_crosscheck]

Needs the optional ZigZag (``pip install 'naas[zigzag]'``: zigzag-dse 3.9.1 and six). For each layer (a 3x3
conv, a 1x1 conv, a 3x3 depthwise conv) it draws random mappings that divide every dim exactly (ZigZag
takes no padding) and that naas finds valid on the accelerator, translates each to ZigZag objects (the same
array, memory sizes, per-access energies and bandwidths; the same spatial unrolling; the same loops at the
same memory levels, in the same order) and costs it in both models through ZigZag's own
``CostModelEvaluation``, not its mapper. It prints per-level access counts, energy and latency side by side
for one mapping per layer, the Spearman rank correlation of EDP, energy and latency over all mappings, and
how often DRAM counts agree within 10%; it writes rows.csv and table.csv. docs/fidelity.md explains the
differences.

The accelerator is Eyeriss's array (12 x 14 PEs, R/C/K x Y'), word size, clock, buffer sizes and bandwidths
with one unified 520 B L1 per PE (ZigZag's memory holds operands, not partitions) and no NoC energy (ZigZag
has no interconnect energy): the two models see the same machine.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cost_model.accelerator import Accelerator, load_accelerator
from cost_model.energy import get_energy_table
from cost_model.evaluate import evaluate_layer, evaluate_mappings
from cost_model.stats import STAT_INDEX
from mapping.spec import Mapping
from nn_space.layers import DIMS, RELEVANCE_BATCHED, ConvLayer

#: naas dim -> ZigZag loop dim (R pairs with Y' as FY with OY: naas input height = (Y'-1)*stride + R).
ZZ_DIM = {"N": "B", "K": "K", "C": "C", "Y": "OY", "X": "OX", "R": "FY", "S": "FX"}
ZZ_OPERANDS = {"W": "W", "I": "I", "O": "O"}
LAYERS = {
    "conv3x3": ConvLayer(k=64, c=64, y=28, x=28, r=3, s=3, name="conv3x3 (ResNet-style)"),
    "conv1x1": ConvLayer(k=128, c=64, y=28, x=28, r=1, s=1, name="conv1x1 (pointwise)"),
    "dw3x3": ConvLayer(k=96, c=96, y=28, x=28, r=3, s=3, groups=96, name="dw3x3 (depthwise)"),
}


def crosscheck_accelerator() -> Accelerator:
    """Eyeriss with one unified L1 per PE and no NoC energy (what both models can describe alike)."""
    eyeriss = load_accelerator("eyeriss")
    energy = get_energy_table(eyeriss.energy.base_name).with_overrides(noc=0.0)
    return replace(eyeriss, name="eyeriss-unified-l1", l1_partition=None, energy=energy,
                   description="Eyeriss array and buffers, unified L1, NoC energy 0 (ZigZag cross-check)")


# --- naas -> ZigZag ----------------------------------------------------------------------------------
def _port(name: str, kind: str, words: float, word_bits: int, allocation: list[str]) -> dict:
    """A ZigZag port moving one word at least and ``words`` per cycle at most (unlimited: 64 words)."""
    bits = 64 * word_bits if math.isinf(words) else int(round(words * word_bits))
    return {"name": name, "type": kind, "bandwidth_min": word_bits, "bandwidth_max": max(word_bits, bits),
            "allocation": allocation}


def zigzag_accelerator_doc(acc: Accelerator) -> dict:
    """ZigZag's accelerator description of a naas accelerator (unified L1 only).

    Each port reads/writes one word at its minimum and the naas bandwidth at its maximum; ZigZag counts
    accesses of maximum width, so each access costs the naas per-word energy times that width.
    """
    if acc.l1_partition is not None:
        raise ValueError(f"{acc.name}: l1.partition: the ZigZag cross-check needs a unified L1")
    e = acc.hw_vector[12:20]  # mac, l1 r, l1 w, noc, l2 r, l2 w, dram r, dram w (per word)
    wb = acc.word_bits
    all_ops = ["I1", "I2", "O"]
    reads = ["I1, tl", "I2, tl", "O, tl", "O, th"]
    writes = ["I1, fh", "I2, fh", "O, fh", "O, fl"]
    dims = [f"D{i + 1}" for i in range(len(acc.array))]

    def memory(size_bits: float, bw, e_read: float, e_write: float, served: list[str]) -> dict:
        shared, read, write = bw
        if shared:
            ports = [_port("rw_port_1", "read_write", shared, wb, reads + writes)]
        else:
            ports = [_port("r_port_1", "read", read, wb, reads), _port("w_port_1", "write", write, wb, writes)]
        r_width = ports[0]["bandwidth_max"] / wb  # words per access of the read (or shared) port
        w_width = ports[-1]["bandwidth_max"] / wb
        return {"size": int(size_bits), "r_cost": float(e_read * r_width), "w_cost": float(e_write * w_width),
                "area": 0.0, "latency": 1, "operands": all_ops, "ports": ports, "served_dimensions": served}

    inf = (0.0, math.inf, math.inf)
    return {
        "name": acc.name,
        "memories": {
            "l1": memory(acc.l1_bytes * 8, inf, e[1], e[2], []),
            "l2": memory(acc.l2_bytes * 8, acc.l2_bandwidth.as_tuple(), e[4], e[5], dims),
            "dram": memory(1e12, acc.dram_bandwidth.as_tuple(), e[6], e[7], dims),
        },
        "operational_array": {"unit_energy": float(e[0]), "unit_area": 1.0, "dimensions": dims,
                              "sizes": [a.size for a in acc.array]},
    }


def zigzag_layer_doc(layer: ConvLayer, word_bits: int) -> dict:
    """ZigZag's workload entry of a naas layer (ordinary or depthwise), operands at the accelerator's word."""
    n, k, c, y, x, r, s = layer.loop_bounds
    rel = [f"ix={layer.stride_x}*ox+1*fx", f"iy={layer.stride_y}*oy+1*fy"]
    bits = {"W": word_bits, "I": word_bits, "O": word_bits, "O_final": word_bits}
    common = {"id": 0, "name": "layer", "operator_type": "Conv", "dimension_relations": rel,
              "operand_precision": bits, "operand_source": {"I": 0, "W": 0}}
    if layer.depthwise:
        return {**common, "equation": "O[b][g][oy][ox]+=W[g][fy][fx]*I[b][g][iy][ix]",
                "loop_dims": ["B", "G", "OY", "OX", "FY", "FX"], "loop_sizes": [n, k, y, x, r, s]}
    if layer.groups > 1:
        raise ValueError("grouped (non-depthwise) layers are not cross-checked")
    if layer.relevance == RELEVANCE_BATCHED:  # N would index the weights too: this equation has no such dim
        raise ValueError("batched products of two activations (bmm) are not cross-checked with ZigZag")
    return {**common, "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
            "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"], "loop_sizes": [n, k, c, y, x, r, s]}


def _zz_dim(layer: ConvLayer, d: str) -> str:
    return "G" if (layer.depthwise and d == "K") else ZZ_DIM[d]


class ZigZagBridge:
    """Costs naas (layer, mapping) pairs in ZigZag on one accelerator, with ZigZag's CostModelEvaluation."""

    def __init__(self, acc: Accelerator):
        logging.getLogger("zigzag").setLevel(logging.ERROR)
        from zigzag.parser.accelerator_factory import AcceleratorFactory
        from zigzag.parser.accelerator_validator import AcceleratorValidator

        self.acc = acc
        self.word_bits = acc.word_bits  # operand precision of every layer costed here
        validator = AcceleratorValidator(zigzag_accelerator_doc(acc))
        data = validator.normalized_data
        if not validator.validate():
            raise ValueError(f"ZigZag refused the accelerator: {validator.validator.errors}")
        self.zz_acc = AcceleratorFactory(data).create()

    def layer_node(self, layer: ConvLayer, mapping: Mapping):
        from zigzag.parser.mapping_validator import MappingValidator
        from zigzag.parser.workload_factory import WorkloadFactory
        from zigzag.parser.workload_validator import WorkloadValidator

        wv = WorkloadValidator([zigzag_layer_doc(layer, self.word_bits)])
        wdata = wv.normalized_data
        if not wv.validate():
            raise ValueError("ZigZag refused the layer")
        spatial: dict[str, list[str]] = {}
        for d, f in zip(DIMS, mapping.spatial):
            if f > 1:
                spatial.setdefault(f"D{self.acc.axis_of(d) + 1}", []).append(f"{_zz_dim(layer, d)}, {f}")
        mv = MappingValidator([{"name": "default", "spatial_mapping": spatial or None,
                                "memory_operand_links": {"O": "O", "W": "I2", "I": "I1"}}])
        mdata = mv.normalized_data
        if not mv.validate():
            raise ValueError(f"ZigZag refused the spatial mapping {spatial}")
        node = WorkloadFactory(wdata, mdata).create().node_list[0]
        return node

    def cost(self, layer: ConvLayer, mapping: Mapping) -> dict[str, Any]:
        """Energy, latency (cycles), EDP and per-level element accesses of one mapping in ZigZag."""
        from zigzag.cost_model.cost_model import CostModelEvaluation
        from zigzag.datatypes import LayerDim, LayerOperand
        from zigzag.mapping.data_movement import DataDirection
        from zigzag.mapping.temporal_mapping import TemporalMapping, TemporalMappingType
        from zigzag.stages.mapping.spatial_mapping_conversion import SpatialMappingConversionStage

        node = self.layer_node(layer, mapping)
        node.spatial_mapping.initialize_oa_dims(self.zz_acc.operational_array.dimension_sizes)
        conv = SpatialMappingConversionStage([lambda *a, **k: None], accelerator=self.zz_acc, layer=node)
        sm, sm_int = conv.convert_user_spatial_mapping(node.spatial_mapping)
        levels = []
        for factors, order in ((mapping.l1, mapping.l1_order), (mapping.l2, mapping.l2_order),
                               (mapping.dram, mapping.dram_order)):
            loops = [(LayerDim(_zz_dim(layer, d)), factors[DIMS.index(d)]) for d in reversed(order)
                     if factors[DIMS.index(d)] > 1 and not (layer.depthwise and d == "C")]
            levels.append(loops)
        tm = TemporalMapping({LayerOperand(op): [list(lv) for lv in levels] for op in ("W", "I", "O")}, node,
                             TemporalMappingType.UNEVEN)
        cme = CostModelEvaluation(accelerator=self.zz_acc, layer=node, spatial_mapping=sm,
                                  spatial_mapping_int=sm_int, temporal_mapping=tm)
        out: dict[str, Any] = {"energy": float(cme.energy_total), "cycles": float(cme.latency_total2),
                               "ideal_cycles": float(cme.ideal_temporal_cycle),
                               "stall_cycles": float(cme.stall_slack_comb),
                               "onload_cycles": float(cme.data_onloading_cycle),
                               "offload_cycles": float(cme.data_offloading_cycle)}
        out["edp"] = out["energy"] * out["cycles"]
        levels_by_index = [getattr(ml, "name", str(ml)) for ml in self.zz_acc.memory_hierarchy.mem_level_list]
        worst = max(((max(d.values()) if d else 0.0, levels_by_index[i])
                     for i, d in enumerate(cme.stall_slack_comb_collect)), key=lambda t: t[0])
        out["stall_from"] = worst[1] if worst[0] > 0 else ""
        mem_names = ("l1", "l2", "dram")
        for op in ("W", "I", "O"):
            lop = LayerOperand(op)
            mem_levels = self.zz_acc.memory_hierarchy.get_memory_levels(
                mem_op=node.memory_operand_links.layer_to_mem_op(lop))
            for lvl, (acc_count, mem) in enumerate(zip(cme.memory_word_access[lop], mem_levels)):
                for direction, key in ((DataDirection.RD_OUT_TO_LOW, "rd_down"), (DataDirection.WR_IN_BY_HIGH, "wr_from_up"),
                                       (DataDirection.RD_OUT_TO_HIGH, "rd_up"), (DataDirection.WR_IN_BY_LOW, "wr_from_down")):
                    data_dir_mem_op = node.memory_operand_links.layer_to_mem_op(lop)
                    width = mem.get_max_bandwidth(data_dir_mem_op, direction) or 0
                    minimum = mem.get_min_bandwidth(data_dir_mem_op, direction) or 1
                    out[f"{mem_names[lvl]}_{op}_{key}"] = acc_count.get(direction) * width / minimum
        return out


# --- mappings both models take ------------------------------------------------------------------------
def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def random_exact_mappings(layer: ConvLayer, acc: Accelerator, count: int, rng: np.random.Generator,
                          max_draws: int = 200_000) -> list[Mapping]:
    """Mappings whose factors divide every dim exactly and that naas finds valid (buffers hold the tiles)."""
    bounds = layer.loop_bounds
    out: list[Mapping] = []
    draws = 0
    while len(out) < count and draws < max_draws:
        batch = 256
        draws += batch
        factors = np.ones((batch, 4, 7), dtype=np.int64)  # rows: l1, spatial, l2, dram
        for b in range(batch):
            room = [a.size for a in acc.array]
            for d in range(7):
                axis = acc.axis_of(DIMS[d])
                for p in _prime_factors(bounds[d]):
                    choices = [0, 2, 3] + ([1] if axis >= 0 and room[axis] % 1 == 0 else [])
                    lvl = int(rng.choice(choices))
                    if lvl == 1:
                        if factors[b, 1, d] * p > acc.array[axis].size or room[axis] < p:
                            lvl = int(rng.choice([0, 2, 3]))
                        else:
                            room[axis] //= p
                    factors[b, lvl, d] *= p
        orders = np.argsort(rng.random((batch, 3, 7)), axis=2).astype(np.int64)
        stats = evaluate_mappings(layer, acc, factors, orders)
        for b in np.flatnonzero(stats[:, STAT_INDEX["status"]] == 0):
            out.append(Mapping.from_arrays(factors[b], orders[b]))
            if len(out) == count:
                break
    return out


def sliding_window_at_dram(layer: ConvLayer, mapping: Mapping) -> bool:
    """Whether naas fetches only a halo of new input rows/columns from DRAM where ZigZag refetches the tile.

    naas (Timeloop's convention): when the innermost DRAM-level loop that moves the input tile is Y', X', R or
    S and consecutive windows overlap (Y': kernel > stride; R: the L2 tile spans more than one output row;
    likewise X', S), each step fetches only the new rows/columns. ZigZag refetches the whole input tile,
    so its DRAM input reads are higher on these mappings.
    """
    relevant = set("NCYXRS") | ({"K"} if layer.depthwise else set())
    loops = [d for d in mapping.dram_order if mapping.dram[DIMS.index(d)] > 1 and d in relevant]
    if not loops:
        return False
    inner = loops[-1]
    tile = [mapping.l1[d] * mapping.spatial[d] * mapping.l2[d] for d in range(7)]
    return ((inner == "Y" and layer.r > layer.stride_y) or (inner == "X" and layer.s > layer.stride_x)
            or (inner == "R" and tile[DIMS.index("Y")] > 1) or (inner == "S" and tile[DIMS.index("X")] > 1))


def output_count(layer: ConvLayer) -> int:
    n, k, c, y, x, r, s = layer.loop_bounds
    return n * k * y * x


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    ra = pd.Series(a).rank().to_numpy()
    rb = pd.Series(b).rank().to_numpy()
    return float(np.corrcoef(ra, rb)[0, 1])


def register_hierarchy(acc: Accelerator):
    """The accelerator's template as a hierarchy with a register below L1 holding one word of each operand,
    at no energy: the operand reuse ZigZag models inside the MAC (an operand stays while the innermost
    loops do not touch it), so both models see the same reuse."""
    from dataclasses import replace as dc_replace

    from cost_model.hierarchy import StorageLevel, hierarchy_from_accelerator

    h = hierarchy_from_accelerator(acc)
    reg = StorageLevel("register", size_bytes=3 * acc.word_bits / 8, read_energy=(0.0,) * 3,
                       write_energy=(0.0,) * 3)
    return dc_replace(h, name=f"{acc.name}+register", levels=h.levels + (reg,))


def naas_register_row(layer: ConvLayer, acc: Accelerator, mapping: Mapping) -> dict[str, float]:
    """naas's counts of ``mapping`` with the register level (``register_hierarchy``); L1 reads are then the
    words the register fetches, as ZigZag counts L1 reads."""
    from cost_model.nest_evaluate import evaluate_nest
    from mapping.nest import LevelMapping, NestMapping

    hier = register_hierarchy(acc)
    cost = evaluate_nest(layer, hier, NestMapping(NestMapping.from_template(mapping).levels + (LevelMapping(),)))
    row = {"energy": cost.energy, "cycles": cost.cycles, "edp": cost.edp, "compute_cycles": cost["compute_cycles"],
           "l2_cycles": cost.level("L2", "cycles"), "dram_cycles": cost.level("DRAM", "cycles")}
    for lvl, name in (("dram", "DRAM"), ("l2", "L2"), ("l1", "L1")):
        for t in "WIO":
            for action in ("reads", "fills", "updates"):
                row[f"{lvl}_{t}_{action}"] = cost.level(name, f"{t}_{action}")
    return row


def naas_row(layer: ConvLayer, acc: Accelerator, mapping: Mapping) -> dict[str, float]:
    cost = evaluate_layer(layer, acc, mapping)
    row = {"energy": cost.energy, "cycles": cost.cycles, "edp": cost.edp,
           **{k: cost[k] for k in ("compute_cycles", "l2_cycles", "dram_cycles")}}
    for lvl, tensors in cost.counts().items():
        for t, c in tensors.items():
            for action, v in c.items():
                row[f"{lvl}_{t}_{action}"] = v
    return row


def compare(layers: dict[str, ConvLayer], count: int, seed: int, register: bool = False) -> pd.DataFrame:
    """One row per (layer, mapping): naas's and ZigZag's energy, cycles, EDP and DRAM counts (``register``:
    naas with the operand register of ``register_hierarchy``)."""
    acc = crosscheck_accelerator()
    bridge = ZigZagBridge(acc)
    naas = naas_register_row if register else naas_row
    rows = []
    for key, layer in layers.items():
        rng = np.random.default_rng(seed)
        for i, m in enumerate(random_exact_mappings(layer, acc, count, rng)):
            n = naas(layer, acc, m)
            z = bridge.cost(layer, m)
            zz_dram = sum(z[f"dram_{t}_{d}"] for t in "WIO" for d in ("rd_down", "wr_from_down"))
            # ZigZag also reads back each partial sum the first time (zeros); naas, like Timeloop, skips it
            first_reads = output_count(layer) if z["dram_O_rd_down"] > 0 else 0
            rows.append({"layer": key, "mapping": i,
                         **{f"naas_{k}": v for k, v in n.items()}, **{f"zz_{k}": v for k, v in z.items()},
                         "naas_dram_words": n["dram_W_reads"] + n["dram_I_reads"] + n["dram_O_reads"]
                         + n["dram_O_updates"],
                         "zz_dram_words": zz_dram, "zz_dram_words_first_read_skipped": zz_dram - first_reads,
                         "sliding_window": sliding_window_at_dram(layer, m),
                         "mapping_text": str(m.to_dict())})
    return pd.DataFrame(rows)


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for key, g in rows.groupby("layer", sort=False):
        dram_ratio = g.zz_dram_words / g.naas_dram_words
        same = g[~g.sliding_window]
        same_ratio = same.zz_dram_words_first_read_skipped / same.naas_dram_words
        out.append({"layer": key, "mappings": len(g),
                    "rank corr EDP": spearman(g.naas_edp.to_numpy(), g.zz_edp.to_numpy()),
                    "rank corr energy": spearman(g.naas_energy.to_numpy(), g.zz_energy.to_numpy()),
                    "rank corr cycles": spearman(g.naas_cycles.to_numpy(), g.zz_cycles.to_numpy()),
                    "median energy ratio zz/naas": float((g.zz_energy / g.naas_energy).median()),
                    "median cycles ratio zz/naas": float((g.zz_cycles / g.naas_cycles).median()),
                    "DRAM words within 10%": float((abs(dram_ratio - 1) <= 0.10).mean()),
                    "median DRAM ratio zz/naas": float(dram_ratio.median()),
                    "same-tile mappings": len(same),
                    "same tiles: DRAM within 10%": float((abs(same_ratio - 1) <= 0.10).mean()),
                    "same tiles: max DRAM deviation": float(abs(same_ratio - 1).max()) if len(same) else np.nan})
    return pd.DataFrame(out)


def side_by_side(layer: ConvLayer, mapping: Mapping) -> str:
    """Per-level access counts, energy and latency of one mapping in both models, as text."""
    acc = crosscheck_accelerator()
    n = naas_row(layer, acc, mapping)
    z = ZigZagBridge(acc).cost(layer, mapping)
    lines = [f"{layer.name}: {layer.describe()}", mapping.loop_nest(acc.parallel_dims), "",
             f"{'count (words)':28s} {'naas':>14s} {'ZigZag':>14s}"]
    pairs = [("reads (to below)", "reads", "rd_down"), ("fills (from above)", "fills", "wr_from_up"),
             ("updates (from below)", "updates", "wr_from_down")]
    for lvl in ("l1", "l2", "dram"):
        for t in "WIO":
            for label, nk, zk in pairs:
                a, b = n[f"{lvl}_{t}_{nk}"], z[f"{lvl}_{t}_{zk}"]
                if a or b:
                    lines.append(f"{lvl:4s} {t} {label:21s} {a:14.0f} {b:14.0f}")
            up = z[f"{lvl}_{t}_rd_up"]
            if up:
                lines.append(f"{lvl:4s} {t} {'reads (to above)':21s} {'(not counted)':>14s} {up:14.0f}")
    lines += [f"{'energy [' + acc.energy.unit + ']':28s} {n['energy']:14.4e} {z['energy']:14.4e}",
              f"{'cycles':28s} {n['cycles']:14.4e} {z['cycles']:14.4e}",
              f"{'  compute (ideal)':28s} {n['compute_cycles']:14.4e} {z['ideal_cycles']:14.4e}",
              f"{'  naas L2 / DRAM transfer':28s} {max(n['l2_cycles'], n['dram_cycles']):14.4e} {'':>14s}",
              f"{'  ZigZag stall, on/offload':28s} {'':>14s} "
              f"{z['stall_cycles'] + z['onload_cycles'] + z['offload_cycles']:14.4e}",
              f"{'EDP':28s} {n['edp']:14.4e} {z['edp']:14.4e}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mappings", type=int, default=200, help="random valid mappings per layer (200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None,
                    help="results folder (experiments/results/zigzag_crosscheck, or ..._register with --register)")
    ap.add_argument("--register", action="store_true",
                    help="naas with a free 1-word register per operand below L1 (the reuse ZigZag models in the MAC)")
    args = ap.parse_args(argv)
    args.out = args.out or ("experiments/results/zigzag_crosscheck" + ("_register" if args.register else ""))
    import importlib.util
    if importlib.util.find_spec("zigzag") is None or importlib.util.find_spec("six") is None:
        print("zigzag_crosscheck: needs the optional ZigZag (pip install 'naas[zigzag]': zigzag-dse and six)",
              file=sys.stderr)
        return 2
    t = time.perf_counter()
    rows = compare(LAYERS, args.mappings, args.seed, args.register)
    table = summary_table(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "rows.csv", index=False)
    table.to_csv(out / "table.csv", index=False)
    acc = crosscheck_accelerator()
    for key, layer in LAYERS.items():
        first = rows[rows.layer == key].iloc[0]
        mapping = random_exact_mappings(layer, acc, 1, np.random.default_rng(args.seed))[0]
        assert str(mapping.to_dict()) == first.mapping_text
        print(side_by_side(layer, mapping), end="\n\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\n{len(rows)} mappings in {time.perf_counter() - t:.0f} s; wrote {out / 'rows.csv'} and "
          f"{out / 'table.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
