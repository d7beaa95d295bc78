"""Cross-check naas's general-hierarchy model (``evaluate_nest``) against Timeloop v3's ``timeloop-model``.

Usage: python experiments/timeloop_crosscheck.py --timeloop PATH/timeloop-model [--cases 100] [--seed 0]
       [--keep DIR] [--show-all]      (or set $TIMELOOP_MODEL instead of --timeloop)
       python experiments/timeloop_crosscheck.py --timeloop PATH --matmul [--cases 150] [--csv DIR]
       [--cli-network NAME ...] [--cli-only]

Each case (a layer, a hierarchy and a mapping with exact factors) is exported with
``cost_model.timeloop_arch.export_timeloop``, run through ``timeloop-model`` with
TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION=1 in a temporary folder, and compared with naas: every level's
reads / fills / updates per data space (totals over instances: Timeloop's per-instance counts times its
utilized instances), cycles and energy (Timeloop's XML, full precision; equal within 1e-9 relative). The
cases are the named ones (a: DRAM -> GLB -> PE buffer -> MAC; b: with a 1-word-per-tensor register below
the PE buffer; c: two spatial levels, cluster then PE; d: weights bypassing the cluster buffer; e: SPEC §5's
R-innermost window above a level at stride 2; eyeriss: the 3-level template of Eyeriss, with a unified L1
and no hop energy, as Timeloop expresses it; deep: 6 levels with registers and two fan-outs) and N random
ones (seeded: 2-6 levels, random keep masks, registers of 1-3 words, 0-2 fan-outs of 1-2 axes with 1-2 dims
each, strides 1-2, R/S innermost at some levels, exact factors, shared capacities that fit). It prints a
table and, last, ``N cases: X equal in every count, cycles and energy; Y differ``.

``--matmul`` runs matrix products instead (gemm and bmm layers, exported with Timeloop's matmul shape,
``nn_space.timeloop_problem``): on the 3-level template of every built-in accelerator (hop energy 0, L1
unpartitioned, as Timeloop expresses it exactly), on the built-in hierarchy files (those ``export_timeloop``
takes as they are, with hop energy 0, and uniform-precision, unpartitioned variants of the others), N random
hierarchies as above, and ``naas timeloop export`` of gemm / bmm problem files on ``eyeriss-hier`` (each
written folder run through timeloop-model and ``naas timeloop evaluate --arch`` on the same files;
``--cli-network NAME`` adds a network's distinct layers, e.g. a transformer from the zoo).
``--csv DIR`` writes ``cases.csv`` (one row per case) and ``levels.csv`` (every level, data space and
action, both models' counts).

It never builds or downloads Timeloop; without a binary it exits with status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from cost_model.accelerator import TENSORS, ArrayDim, Bandwidth, builtin_accelerators, load_accelerator
from cost_model.hierarchy import Hierarchy, StorageLevel, hierarchy_from_accelerator
from cost_model.nest_evaluate import InvalidNestMappingError, evaluate_nest, nest_stats
from cost_model.nest_layout import NS, P_TILES, PER
from cost_model.timeloop_arch import export_timeloop
from mapping.nest import LevelMapping, NestMapping
from nn_space.layers import DIMS, ConvLayer

DATASPACES = ("Weights", "Inputs", "Outputs")
ACTIONS = ("reads", "fills", "updates")


# --- running Timeloop ------------------------------------------------------------------------------
def _stats_text(text: str) -> tuple[dict, int]:
    """{level: {dataspace: (reads, fills, updates) totals}} and cycles from timeloop-model.stats.txt."""
    head = text.split("\nNetworks\n--------\n")[0]
    levels: dict[str, dict[str, tuple[int, int, int]]] = {}
    cur, ds, kv, in_stats = None, None, {}, False

    def flush():
        if cur is not None and ds is not None and "Scalar reads (per-instance)" in kv:
            ui = kv.get("Utilized instances (max)", 0)
            levels.setdefault(cur, {})[ds] = tuple(
                int(round(kv.get(f"Scalar {a} (per-instance)", 0) * ui)) for a in ACTIONS)

    for line in head.splitlines():
        m = re.match(r"^=== (.+) ===$", line.strip()) if line.startswith("===") else None
        if m:
            flush()
            cur, ds, kv, in_stats = m.group(1), None, {}, False
            continue
        if line.strip() == "STATS":
            in_stats = True
            continue
        if cur is None or not in_stats:
            continue
        m = re.match(r"^    (\w+):$", line)
        if m:
            flush()
            ds, kv = m.group(1), {}
            continue
        m = re.match(r"^\s+(.+?)\s*:\s*([-0-9.eE+]+)", line)
        if m and ds is not None:
            try:
                kv[m.group(1)] = float(m.group(2))
            except ValueError:
                pass
    flush()
    m = re.search(r"^Cycles: (\d+)", text, re.M)
    return levels, int(m.group(1)) if m else -1


def _energy_xml(path: Path) -> float:
    """Total energy (pJ) from timeloop-model.map+stats.xml: storage levels and arithmetic, full precision."""
    root = ET.parse(path).getroot()
    total = 0.0
    for item in root.find("./engine/topology_/levels_").findall("item"):
        px = item.find("px")
        if px is None:
            continue
        if px.find("energy_") is not None:
            total += float(px.find("energy_").text)
            continue

        def arr(tag):
            node = px.find(f"./stats_/{tag}/PerDataSpace")
            return [float(x.text) for x in node.findall("item")]
        ui, en, tre, age, uc = (arr(t) for t in ("utilized_instances", "energy", "temporal_reduction_energy",
                                                 "addr_gen_energy", "utilized_clusters"))
        total += sum(en[i] * ui[i] + tre[i] * ui[i] + age[i] * uc[i] for i in range(len(ui)))
    return total


def run_timeloop_files(binary: str, work: Path, paths: dict) -> dict:
    """timeloop-model on the four files ``paths`` (arch, problem, mapping, ert), run in ``work``."""
    env = dict(os.environ, TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION="1")
    proc = subprocess.run([binary] + [str(paths[k]) for k in ("arch", "problem", "mapping", "ert")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    stats = work / "timeloop-model.stats.txt"
    if proc.returncode != 0 or not stats.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"timeloop-model failed (rc {proc.returncode}): {' | '.join(tail)}")
    levels, cycles = _stats_text(stats.read_text())
    return {"levels": levels, "cycles": cycles, "energy": _energy_xml(work / "timeloop-model.map+stats.xml")}


def run_timeloop(binary: str, docs: dict, keep: Path | None = None) -> dict:
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="naas-timeloop-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return run_timeloop_files(binary, work, docs.write(work))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def count_rows(naas_levels: dict, tl: dict) -> list[tuple[str, str, str, int, int]]:
    """(level, data space, action, naas, timeloop) of every count naas reports (``{level: {data space:
    {action: count}}}``); a data space Timeloop does not print at a level counts 0 there."""
    rows = []
    for name, per in naas_levels.items():
        for ds in DATASPACES:
            if ds not in per:
                continue
            theirs = tl["levels"].get(name, {}).get(ds, (0, 0, 0))
            for a, y in zip(ACTIONS, theirs):
                rows.append((name, ds, a, int(per[ds][a]), int(y)))
    return rows


def differences(rows, cycles: float, energy: float, tl: dict) -> list[str]:
    diffs = [f"{lv}.{ds}.{a}: naas {x} timeloop {y}" for lv, ds, a, x, y in rows if x != y]
    if not math.isclose(cycles, tl["cycles"], rel_tol=0, abs_tol=1e-9):
        diffs.append(f"cycles: naas {cycles:g} timeloop {tl['cycles']}")
    if not math.isclose(energy, tl["energy"], rel_tol=1e-9, abs_tol=1e-9):
        diffs.append(f"energy: naas {energy:.6f} timeloop {tl['energy']:.6f} pJ")
    return diffs


def compare(layer, hier, mapping, tl: dict) -> list[str]:
    """What differs between naas and Timeloop (empty: equal in every count, cycles and energy)."""
    cost = evaluate_nest(layer, hier, mapping)
    return differences(count_rows(cost.counts(), tl), cost.cycles, cost.energy, tl)


# --- cases -------------------------------------------------------------------------------------------
def _lv(name, size=math.inf, e=1.0, keeps=TENSORS, fanout=(), bw=Bandwidth(), word_bits=None):
    return StorageLevel(name, keeps=tuple(keeps), size_bytes=size, read_energy=(e,) * 3,
                        write_energy=(round(e * 1.25, 6),) * 3, fanout=tuple(fanout),
                        hop_energy=0.0 if fanout else None, bandwidth=bw, word_bits=word_bits)


def _m(*levels):
    """LevelMappings from (factors dict, order, spatial dict) tuples."""
    out = []
    for f, order, sp in levels:
        out.append(LevelMapping(tuple(f.get(d, 1) for d in DIMS), order, tuple(sp.get(d, 1) for d in DIMS)))
    return NestMapping(tuple(out))


def named_cases() -> list[tuple[str, ConvLayer, Hierarchy, NestMapping]]:
    cases = []
    L = ConvLayer(k=8, c=4, y=4, x=4, r=3, s=3)
    # (a) DRAM -> GLB -> PE buffer -> MAC, 4 PEs on K
    h = Hierarchy("a", (_lv("DRAM", e=200), _lv("GLB", 4096, 6, fanout=[ArrayDim(4, "K")]),
                        _lv("PEBuf", 256, 0.5)), word_bits=8)
    m = _m(({}, "NKCYXRS", {}), ({"K": 2, "Y": 4, "X": 4}, "NKCYXRS", {"K": 4}), ({"C": 4, "R": 3, "S": 3}, "NKYXCRS", {}))
    cases.append(("a: DRAM-GLB-PEbuf", L, h, m))
    # (b) + a register of 1 word per tensor below the PE buffer
    h = Hierarchy("b", h.levels + (_lv("Reg", 3, 0.05),), word_bits=8)
    m = NestMapping(m.levels + (LevelMapping(),))
    cases.append(("b: + 1-word register", L, h, m))
    # (c) two spatial levels: cluster then PE
    h = Hierarchy("c", (_lv("DRAM", e=200), _lv("GLB", 8192, 6, fanout=[ArrayDim(2, "K")]),
                        _lv("Cluster", 1024, 2, fanout=[ArrayDim(2, "K"), ArrayDim(2, "C")]),
                        _lv("PESpad", 128, 0.5), _lv("Reg", 3, 0.05)), word_bits=8)
    m = _m(({}, "NKCYXRS", {}), ({"K": 2, "Y": 2, "X": 4}, "NKCYXRS", {"K": 2}),
           ({"Y": 2}, "NYKCXRS", {"K": 2, "C": 2}), ({"C": 2, "R": 3, "S": 3}, "NKYXCRS", {}), ({}, "NKCYXRS", {}))
    cases.append(("c: cluster + PE fan-outs", L, h, m))
    # (d) weights bypass the cluster buffer
    h = replace(h, name="d", levels=h.levels[:2] + (replace(h.levels[2], keeps=("inputs", "outputs")),) + h.levels[3:])
    cases.append(("d: W bypass cluster", L, h, m))
    # (e) SPEC §5: L1 input tile Y'2 x R1 at stride 2 x S3, with R3 innermost above L1
    Le = ConvLayer(k=2, c=2, y=4, x=3, r=3, s=3, stride_y=2, stride_x=1)
    h = Hierarchy("e", (_lv("DRAM", e=200), _lv("GLB", 8192, 6), _lv("L1", 512, 0.5)), word_bits=16)
    m = _m(({"K": 2}, "NKCYXRS", {}), ({"Y": 2, "C": 2, "R": 3}, "NKCYXSR", {}),
           ({"Y": 2, "X": 3, "S": 3}, "NKCYXRS", {}))
    cases.append(("e: R innermost, stride 2", Le, h, m))
    # Eyeriss's 3-level template (unified L1, no hop energy: what Timeloop expresses exactly)
    acc = load_accelerator("eyeriss")
    he = hierarchy_from_accelerator(acc)
    lv = list(he.levels)
    lv[1] = replace(lv[1], hop_energy=0.0)
    lv[2] = replace(lv[2], partition=None)
    he = replace(he, levels=tuple(lv), name="eyeriss-template")
    Ly = ConvLayer(k=16, c=8, y=14, x=14, r=3, s=3, name="eyeriss-conv")
    rng = random.Random(7)
    for _ in range(2000):
        mm = random_mapping(rng, Ly, he)
        if mm is not None:
            cases.append(("eyeriss template", Ly, he, mm))
            break
    # deep: 6 levels, registers, two fan-outs (two dims on one axis), stride 2
    Ld = ConvLayer(k=4, c=4, y=4, x=2, r=3, s=1, stride_y=2)
    hd = Hierarchy("deep6", (_lv("DRAM", e=200), _lv("GLB", 4096, 6, fanout=[ArrayDim(4, ("K", "C"))]),
                             _lv("Cluster", 512, 2, keeps=("inputs",), fanout=[ArrayDim(2, "Y"), ArrayDim(3, "R")]),
                             _lv("PESpad", 64, 0.5, keeps=("weights", "outputs")), _lv("RegW", 2, 0.05, keeps=("weights",)),
                             _lv("RegIO", 4, 0.05, keeps=("inputs", "outputs"))), word_bits=16)
    md = _m(({"C": 2}, "NCKYXRS", {}), ({"Y": 2, "X": 2}, "NYXKCRS", {"K": 2, "C": 2}),
            ({}, "NKCYXRS", {"Y": 2, "R": 3}), ({"K": 2}, "NKCYXRS", {}), ({}, "NKCYXRS", {}), ({}, "NKCYXRS", {}))
    cases.append(("deep: 6 levels, 2 fan-outs", Ld, hd, md))
    return cases


def _factorize(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def random_mapping(rng: random.Random, layer: ConvLayer, hier: Hierarchy, registers: frozenset = frozenset(),
                   tries: int = 1) -> NestMapping | None:
    """Exact factors: each prime factor of each dim goes to a random place (temporal at a non-register
    level, or an axis of a fan-out parallelizing the dim, while it fits); orders random, R/S sometimes
    innermost. None if naas refuses it (capacity)."""
    nl = hier.num_levels
    for _ in range(tries):
        tf = [[1] * 7 for _ in range(nl)]
        sf = [[1] * 7 for _ in range(nl)]
        used = {(lv, k): 1 for lv in range(nl) for k in range(len(hier.levels[lv].fanout))}
        for d, bound in enumerate(layer.loop_bounds):
            for p in _factorize(bound):
                places = [("t", lv, None) for lv in range(nl) if lv not in registers]
                for lv, level in enumerate(hier.levels):
                    for k, a in enumerate(level.fanout):
                        if DIMS[d] in a.dims and used[(lv, k)] * p <= a.size:
                            places += [("s", lv, k)] * 2
                kind, lv, k = rng.choice(places)
                if kind == "t":
                    tf[lv][d] *= p
                else:
                    sf[lv][d] *= p
                    used[(lv, k)] *= p
        orders = []
        for lv in range(nl):
            o = list(DIMS)
            rng.shuffle(o)
            if rng.random() < 0.3:
                w = rng.choice("RS")
                o.remove(w)
                o.append(w)
            orders.append("".join(o))
        m = NestMapping(tuple(LevelMapping(tuple(tf[i]), orders[i], tuple(sf[i])) for i in range(nl)))
        try:
            evaluate_nest(layer, hier, m)
            return m
        except InvalidNestMappingError:
            continue
    return None


def random_case(rng: random.Random, index: int):
    while True:
        dw = rng.random() < 0.1
        k = rng.choice([1, 2, 3, 4, 6, 8])
        c = k if dw else rng.choice([1, 2, 3, 4, 6])
        layer = ConvLayer(k=k, c=c, y=rng.choice([1, 2, 3, 4, 6]), x=rng.choice([1, 2, 3, 4]),
                          r=rng.choice([1, 2, 3]), s=rng.choice([1, 2, 3]), stride_y=rng.choice([1, 1, 2]),
                          stride_x=rng.choice([1, 1, 2]), n=rng.choice([1, 1, 2]), groups=k if dw else 1)
        if math.prod(layer.loop_bounds) <= 3000:
            break
    return random_hierarchy_case(rng, index, layer)


def random_matmul_layer(rng: random.Random) -> ConvLayer:
    """A small gemm, bmm or batched gemm (at most 3,000 MACs)."""
    while True:
        kind = rng.choice(["gemm", "gemm", "bmm", "bmm", "batched gemm"])
        m, n, k = (rng.choice([1, 2, 3, 4, 6, 8, 12]) for _ in range(3))
        b = rng.choice([1, 2, 3, 4])
        if kind == "gemm":
            layer = ConvLayer.gemm(m, n, k)
        elif kind == "bmm":
            layer = ConvLayer.bmm(b, m, n, k)
        else:
            layer = ConvLayer(k=n, c=k, y=m, x=1, n=max(b, 2), op="gemm")
        if layer.macs <= 3000:
            return layer


def random_hierarchy_case(rng: random.Random, index: int, layer: ConvLayer, prefix: str = "random"):
    """A random hierarchy and exact mapping for ``layer`` (see the module docstring), or None."""
    nl = rng.randint(2, 6)
    bits = rng.choice([8, 16])
    n_reg = rng.choice([0, 0, 1, 2]) if nl >= 3 else 0
    registers = frozenset(range(nl - n_reg, nl))
    fan_levels = rng.sample([lv for lv in range(nl) if lv not in registers or lv == nl - 1],
                            k=min(rng.choice([0, 1, 1, 2, 2]), nl - n_reg))
    levels = []
    for lv in range(nl):
        keeps = TENSORS if lv == 0 else tuple(t for t in TENSORS if rng.random() < 0.7)
        fan = []
        if lv in fan_levels:
            dims = rng.sample(DIMS, rng.randint(1, 3))
            n_axes = rng.randint(1, min(2, len(dims)))
            fan = [ArrayDim(rng.choice([2, 3, 4, 6]), tuple(dims[i::n_axes])) for i in range(n_axes)]
        bw = rng.choice([Bandwidth(), Bandwidth(), Bandwidth(shared=rng.choice([1.0, 2.5, 4.0])),
                         Bandwidth(read=rng.choice([1.0, 3.0]), write=rng.choice([0.5, 2.0])),
                         Bandwidth(read=0.75)])
        levels.append(_lv(f"L{lv}", e=rng.choice([0.05, 0.5, 2.0, 6.0, 200.0]), keeps=keeps, fanout=fan, bw=bw,
                          word_bits=rng.choice([None, None, 2 * bits])))
    hier = Hierarchy(f"{prefix}{index}", tuple(levels), word_bits=bits)
    mapping = random_mapping(rng, layer, hier, registers, tries=20)
    if mapping is None:
        return None
    # capacities: registers hold 1 word per kept tensor; other levels their tiles plus some slack
    stats = nest_stats(layer, hier, mapping)
    new = list(hier.levels)
    for lv in range(1, nl):
        tiles = [stats[NS + lv * PER + P_TILES + i] for i in range(3)]
        kept = sum(tiles[i] for i in range(3) if TENSORS[i] in new[lv].keeps)
        words = max(1, kept) if lv in registers else max(1, kept + rng.choice([0, 0, 3, 64]))
        new[lv] = replace(new[lv], size_bytes=words * bits / 8)
    hier = replace(hier, levels=tuple(new))
    return (f"{prefix} {index}", layer, hier, mapping)


# --- matrix products (--matmul) ------------------------------------------------------------------------
MATMUL_LAYERS = (
    ConvLayer.gemm(32, 48, 24, name="gemm"),
    ConvLayer.gemm(12, 64, 36, name="gemm-wide"),
    ConvLayer.bmm(4, 16, 16, 8, name="bmm"),
    ConvLayer.bmm(2, 24, 12, 32, name="bmm-2"),
    ConvLayer(k=16, c=8, y=12, x=1, n=2, op="gemm", name="gemm-batched"),
)
#: The hierarchy files tried as they are (the others differ in per-tensor precision or partitions).
HIERARCHY_FILES = ("eyeriss-hier", "edgetpu-hier", "nvdla-256-hier", "shidiannao-hier", "tpu-v1-hier")


def template_hierarchy(name: str) -> Hierarchy:
    """A built-in accelerator's 3-level template as Timeloop expresses it exactly: hop energy 0 (Timeloop's
    network energy is per hop), L1 unpartitioned (one depth per level)."""
    he = hierarchy_from_accelerator(load_accelerator(name))
    levels = tuple(replace(lv, hop_energy=0.0 if lv.fanout else lv.hop_energy, partition=None) for lv in he.levels)
    return replace(he, levels=levels, name=f"{name}-template")


def exportable_hierarchy(name: str) -> tuple[Hierarchy, list[str]]:
    """A built-in hierarchy file with hop energy 0 and, where export_timeloop would refuse it, one precision
    (the hierarchy's word) and unpartitioned levels (the kept partitions' sum); the changes made."""
    from cost_model.hierarchy_yaml import load_hierarchy

    hier = load_hierarchy(name)
    changes = []
    if len(set(hier.tensor_bits)) > 1:
        changes.append(f"precision {'/'.join(map(str, hier.tensor_bits))} -> {hier.word_bits} bits")
        hier = replace(hier, precision=None)
    levels = []
    for lv in hier.levels:
        if lv.partition is not None and sum(1 for t in lv.keeps if lv.partition[TENSORS.index(t)] > 0) > 1:
            size = sum(lv.partition[TENSORS.index(t)] for t in lv.keeps)
            changes.append(f"{lv.name} unpartitioned ({size:g} B)")
            lv = replace(lv, partition=None, size_bytes=size)
        if lv.fanout:
            lv = replace(lv, hop_energy=0.0)
        levels.append(lv)
    return replace(hier, levels=tuple(levels), name=name + ("-tl" if changes else "")), changes


def matmul_cases(rng: random.Random, n_random: int) -> list[tuple[str, str, ConvLayer, Hierarchy, NestMapping]]:
    """(group, case, layer, hierarchy, mapping): MATMUL_LAYERS on every built-in's template and on the
    hierarchy files, with random exact mappings, then ``n_random`` random hierarchies with random products."""
    cases = []
    targets = [("template", template_hierarchy(a)) for a in sorted(builtin_accelerators())]
    for name in HIERARCHY_FILES:
        hier, _ = exportable_hierarchy(name)
        targets.append(("hierarchy", hier))
    for group, hier in targets:
        for layer in MATMUL_LAYERS:
            mapping = random_mapping(rng, layer, hier, tries=2000)
            if mapping is not None:
                cases.append((group, f"{hier.name} {layer.name}", layer, hier, mapping))
    i = 0
    while sum(1 for c in cases if c[0] == "random") < n_random:
        c = random_hierarchy_case(rng, i, random_matmul_layer(rng), prefix="mm-random")
        i += 1
        if c is not None:
            cases.append(("random",) + c)
    return cases


def cli_export_cases(binary: str, work: Path, budget: int = 60, networks: tuple[str, ...] = ()) -> list[dict]:
    """``naas timeloop export -a eyeriss-hier -n PROBLEM.yaml`` of gemm / bmm problem files (and of each
    network in ``networks``: a zoo name or a file ``--network`` takes); each written folder run through
    timeloop-model and ``evaluate_timeloop_files`` (naas timeloop evaluate --arch)."""
    import yaml

    from cost_model.timeloop_evaluate import evaluate_timeloop_files
    from nn_space.timeloop_problem import load_timeloop_problem, timeloop_problem

    out = []
    sources = []
    for layer in (MATMUL_LAYERS[0], MATMUL_LAYERS[2], MATMUL_LAYERS[4]):
        problem = work / f"{layer.name}.yaml"
        problem.write_text(yaml.safe_dump(timeloop_problem(layer), sort_keys=False))
        sources.append((layer.name, str(problem)))
    sources += [(re.sub(r"\W+", "_", Path(n).stem), n) for n in networks]
    for label, source in sources:
        folder = work / f"export-{label}"
        cmd = [sys.executable, "-m", "naas", "timeloop", "export", "-a", "eyeriss-hier", "-n", source,
               "--out", str(folder), "--budget", str(budget), "--seed", "0"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200,
                              cwd=Path(__file__).resolve().parents[1])
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: rc {proc.returncode}: {proc.stderr.strip()[-300:]}")
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            paths = {k: sub / f"{k}.yaml" for k in ("arch", "problem", "mapping", "ert")}
            tl = run_timeloop_files(binary, sub, paths)
            result, _ = evaluate_timeloop_files(paths["arch"], paths["problem"], paths["mapping"], paths["ert"])
            one = len([p for p in folder.iterdir() if p.is_dir()]) == 1
            case = f"cli eyeriss-hier {label}" + ("" if one else f" {sub.name}")
            out.append({"case": case, "layer": load_timeloop_problem(paths["problem"]), "tl": tl,
                        "rows": count_rows(result["levels"], tl), "cycles": result["cycles"],
                        "energy": result["energy_pJ"], "macs": result["macs"]})
    return out


def run_matmul(binary: str, n_random: int, seed: int, keep: Path | None, csv_dir: Path | None,
               show_all: bool, networks: tuple[str, ...] = (), cli_only: bool = False) -> int:
    import csv

    rng = random.Random(seed)
    results = []  # (group, case, layer, hier name, macs, rows, cycles, energy, tl, error)
    for group, name, layer, hier, mapping in ([] if cli_only else matmul_cases(rng, n_random)):
        docs = export_timeloop(layer, hier, mapping)
        kept = keep / re.sub(r"\W+", "_", name) if keep else None
        cost = evaluate_nest(layer, hier, mapping)
        try:
            tl = run_timeloop(binary, docs, kept)
        except RuntimeError as exc:
            results.append((group, name, layer, describe(layer, hier), int(cost["macs"]), [], cost.cycles,
                            cost.energy, None, str(exc)))
            continue
        results.append((group, name, layer, describe(layer, hier), int(cost["macs"]),
                        count_rows(cost.counts(), tl), cost.cycles, cost.energy, tl, ""))
    with tempfile.TemporaryDirectory(prefix="naas-tl-cli-") as tmp:
        for r in cli_export_cases(binary, Path(tmp), networks=networks):
            results.append(("cli", r["case"], r["layer"], "eyeriss-hier (naas timeloop export)", r["macs"],
                            r["rows"], r["cycles"], r["energy"], r["tl"], ""))
    equal = differ = counts_energy = cycles_equal = 0
    table, levels_rows = [], []
    print(f"{'case':34s} {'shape':52s} {'MACs':>6s} {'cycles':>8s}  result")
    for group, name, layer, shape, macs, rows, cycles, energy, tl, error in results:
        if tl is None:
            differ += 1
            verdict = f"TIMELOOP ERROR {error}"
        else:
            diffs = differences(rows, cycles, energy, tl)
            shown = diffs if show_all else diffs[:3] + ([f"... {len(diffs) - 3} more"] if len(diffs) > 3 else [])
            verdict = "equal" if not diffs else "DIFFER: " + "; ".join(shown)
            equal += not diffs
            differ += bool(diffs)
            counts_energy += all(r[3] == r[4] for r in rows) and not any(d.startswith("energy") for d in diffs)
            cycles_equal += not any(d.startswith("cycles") for d in diffs)
        print(f"{name:34s} {shape:52s} {macs:6d} {cycles:8g}  {verdict}")
        table.append({"group": group, "case": name, "layer": layer.describe(), "hierarchy": shape,
                      "macs": macs, "naas_cycles": f"{cycles:.6g}",
                      "timeloop_cycles": tl["cycles"] if tl else "", "naas_energy_pJ": f"{energy:.6f}",
                      "timeloop_energy_pJ": f"{tl['energy']:.6f}" if tl else "",
                      "counts": len(rows), "counts_equal": sum(1 for r in rows if r[3] == r[4]),
                      "result": verdict.split(":")[0]})
        levels_rows += [{"case": name, "level": lv, "dataspace": ds, "action": a, "naas": x, "timeloop": y}
                        for lv, ds, a, x, y in rows]
    print(f"{len(results)} matmul cases: {equal} equal in every count, cycles and energy; {differ} differ "
          f"(every count and the energy equal in {counts_energy}, cycles in {cycles_equal})")
    if csv_dir:
        csv_dir.mkdir(parents=True, exist_ok=True)
        for fname, rows in (("cases.csv", table), ("levels.csv", levels_rows)):
            with open(csv_dir / fname, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
        print(f"wrote {csv_dir / 'cases.csv'} and {csv_dir / 'levels.csv'}")
    return 0


def describe(layer, hier) -> str:
    keep = "/".join("".join(t[0].upper() for t in lv.keeps) or "-" for lv in hier.levels)
    fans = sum(1 for lv in hier.levels if lv.fanout_size > 1)
    if layer.is_matmul:
        return f"{len(hier.levels)}L keeps {keep} fan-outs {fans} {layer.describe()}"
    return (f"{len(hier.levels)}L keeps {keep} fan-outs {fans} "
            f"K{layer.loop_bounds[1]}C{layer.loop_bounds[2]}Y{layer.y}X{layer.x}R{layer.r}S{layer.s}"
            f"/{layer.stride_y}{layer.stride_x}{' dw' if layer.depthwise else ''}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeloop", default=os.environ.get("TIMELOOP_MODEL"),
                    help="path of timeloop-model (default: $TIMELOOP_MODEL)")
    ap.add_argument("--cases", type=int, default=100, help="random cases besides the named ones")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="keep each case's Timeloop files in DIR/<case>")
    ap.add_argument("--show-all", action="store_true", help="list every difference, not the first 3")
    ap.add_argument("--matmul", action="store_true", help="gemm / bmm cases instead (see the module docstring)")
    ap.add_argument("--csv", type=Path, help="with --matmul: write cases.csv and levels.csv into DIR")
    ap.add_argument("--cli-network", action="append", default=[], metavar="NAME",
                    help="with --matmul: also naas timeloop export this network on eyeriss-hier (repeatable)")
    ap.add_argument("--cli-only", action="store_true", help="with --matmul: only the naas timeloop export cases")
    a = ap.parse_args(argv)
    binary = a.timeloop
    if not binary or not (Path(binary).is_file() and os.access(binary, os.X_OK)) and not shutil.which(binary):
        print("no Timeloop binary: pass --timeloop PATH_TO/timeloop-model or set TIMELOOP_MODEL (this script "
              "does not build or download Timeloop)", file=sys.stderr)
        return 2
    if a.matmul:
        return run_matmul(binary, a.cases, a.seed, a.keep, a.csv, a.show_all, tuple(a.cli_network), a.cli_only)
    rng = random.Random(a.seed)
    cases = named_cases()
    i, target = 0, len(cases) + a.cases
    while len(cases) < target:
        c = random_case(rng, i)
        i += 1
        if c is not None:
            cases.append(c)
    equal = differ = 0
    print(f"{'case':28s} {'shape':52s} {'MACs':>6s} {'cycles':>8s}  result")
    for name, layer, hier, mapping in cases:
        docs = export_timeloop(layer, hier, mapping)
        keep = a.keep / re.sub(r"\W+", "_", name) if a.keep else None
        try:
            tl = run_timeloop(binary, docs, keep)
        except RuntimeError as exc:
            differ += 1
            print(f"{name:28s} {describe(layer, hier):52s} {'':>6s} {'':>8s}  TIMELOOP ERROR {exc}")
            continue
        diffs = compare(layer, hier, mapping, tl)
        cost = evaluate_nest(layer, hier, mapping)
        macs = int(cost["macs"])
        if diffs:
            differ += 1
            shown = diffs if a.show_all else diffs[:3] + ([f"... {len(diffs) - 3} more"] if len(diffs) > 3 else [])
            print(f"{name:28s} {describe(layer, hier):52s} {macs:6d} {cost.cycles:8g}  DIFFER: " + "; ".join(shown))
        else:
            equal += 1
            print(f"{name:28s} {describe(layer, hier):52s} {macs:6d} {cost.cycles:8g}  equal")
    print(f"{len(cases)} cases: {equal} equal in every count, cycles and energy; {differ} differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
