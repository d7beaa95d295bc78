"""Timeloop mapping files (``mapping:`` lists of target/type/factors/permutation) to and from ``Mapping``.

Reading. Each entry's ``target`` (a storage level of the Timeloop architecture) is assigned a naas level —
``dram``, ``l2`` (global buffer) or ``l1`` (per-PE buffer) — by ``levels`` if given, else by its name
(DRAM/MainMemory -> dram; names with spad/reg/RF/L1 -> l1; GLB/Global/Buffer/SRAM/L2 -> l2), else by position
(the first target listed is dram, the last l1, the others l2). Targets are taken outermost first, in the
order they first appear. Then:

- ``temporal`` factors of the targets of one naas level multiply into that level's factors; a dim with a
  factor > 1 in two targets of the same naas level cannot be expressed (one loop per dim and level). The
  level's order is the targets' permutations (Timeloop lists them innermost first) from the outermost target
  in; dims a permutation omits go outermost, in N K C Y X R S order.
- ``spatial`` factors must sit at a target of the l2 level (naas fans out between L2 and the PEs); several
  spatial entries multiply.
- A dim whose factors do not reach the layer's bound, and that exactly one temporal entry leaves out (or
  gives as 0), gets the remainder there (as Timeloop fills an unspecified factor); otherwise too few is an
  error and more is padding (ceil), which naas costs.
- ``bypass``/``datatype`` entries (``keep``/``bypass`` lists): naas keeps every tensor at DRAM and L2, so a
  bypass there is refused, except at a pass-through level with no temporal factors beside a target of the
  same level that keeps everything (Eyeriss's DummyBuffer); the targets of l1 may split the tensors between
  them (Eyeriss's three spads are one partitioned naas L1), as long as together they keep all three.

Writing (``mapping_to_timeloop``) produces one temporal entry per naas level and one spatial entry at the L2
target, with every dim's factor and a full permutation, so a file naas writes reads back to the same mapping.

Matrix products (gemm / bmm layers) use the matmul problem's dims (``nn_space.timeloop_problem``): M (naas Y),
N (naas K), K (naas C) and B (naas N) for a bmm or a batched gemm. The naas dims such a problem lacks (X, R,
S, and N without a batch) are 1 and are not written; read back, they go outermost in each order (N K C Y X R
S order), so a mapping whose orders have them there reads back equal, and any other reads back to that form
(the same loops, the same cost). keep/bypass lists may also name the matmul operands A (inputs), B (weights)
and Z (outputs), as Timeloop's gemm-ABZ example does.
"""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping as MappingT, Sequence

from cost_model.yaml_files import shown_key
from nn_space.layers import DIMS, ConvLayer
from nn_space.timeloop_problem import (MAX_BOUND, NAAS_TO_TIMELOOP, TIMELOOP_TO_NAAS, TimeloopFormatError,
                                       problem_dims, read_yaml, timeloop_instance, timeloop_order)

from .spec import Mapping

NAAS_LEVELS = ("dram", "l2", "l1")
DEFAULT_TARGETS = {"dram": "DRAM", "l2": "GlobalBuffer", "l1": "RegisterFile"}
TENSOR_NAMES = {"weights": "weights", "inputs": "inputs", "outputs": "outputs", "w": "weights",
                "i": "inputs", "o": "outputs", "ifmap": "inputs", "ofmap": "outputs", "psum": "outputs"}
_ENTRY_KEYS = {"target", "type", "factors", "permutation", "split", "keep", "bypass"}
_TYPES = ("temporal", "spatial", "bypass", "datatype")


#: Target names read without an architecture (exact, case-insensitive): Timeloop's example names and the
#: names naas exports. Anything else needs --arch (levels by the architecture's names) or --levels.
KNOWN_TARGETS = {
    "dram": ("dram", "mainmemory", "main_memory", "offchip", "off_chip", "backingstorage"),
    "l2": ("l2", "glb", "shared_glb", "globalbuffer", "global_buffer", "gbuf", "dummybuffer", "dummy_buffer"),
    "l1": ("l1", "registerfile", "register_file", "rf", "regfile", "spad", "pe_spad", "ifmap_spad",
           "weights_spad", "psum_spad", "pebuffer", "pe_buffer"),
}
_KNOWN = {name: lvl for lvl, names in KNOWN_TARGETS.items() for name in names}


def _levels_error(message: str) -> TimeloopFormatError:
    """An error about the ``levels`` argument (the command line's --levels)."""
    err = TimeloopFormatError(message)
    err.argument = "levels"
    return err


def _known_level(target: str) -> str | None:
    return _KNOWN.get(target.lower())


def _dim_map(layer: ConvLayer) -> dict[str, str]:
    """Timeloop dim name -> naas dim for this layer (depthwise: G carries the channels, as naas's K; a matrix
    product: its matmul dims, ``nn_space.timeloop_problem.problem_dims``)."""
    if layer.is_matmul:
        return dict(problem_dims(layer)[1])
    if layer.depthwise:
        return {"G": "K", "C": "C", "N": "N", "P": "Y", "Q": "X", "R": "R", "S": "S", "M": "_one"}
    return {**TIMELOOP_TO_NAAS, "G": "_one"}


def _parse_factors(raw: Any, where: str, dims: dict[str, str]) -> dict[str, int]:
    """``'C=1 M=4 P=7'`` or ``['C=1', 'M=4']`` or ``{C: 1, M: 4}`` -> {naas dim or '_one': factor}."""
    if isinstance(raw, MappingT):
        items = [(str(k), v) for k, v in raw.items()]
    else:
        parts = raw.split() if isinstance(raw, str) else raw
        if not isinstance(parts, list):
            raise TimeloopFormatError(f"{where}.factors: {raw!r} (write e.g. 'C=1 M=4 P=7')")
        items = []
        for part in parts:
            m = re.fullmatch(r"\s*([A-Za-z]+)\s*=\s*(\d+)\s*", str(part))
            if not m:
                raise TimeloopFormatError(f"{where}.factors: {part!r} is not DIM=FACTOR (e.g. 'M=4')")
            items.append((m.group(1), int(m.group(2))))
    out: dict[str, int] = {}
    for name, value in items:
        if name not in dims:
            raise TimeloopFormatError(f"{where}.factors: dim {name!r} (allowed: {', '.join(dims)})")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BOUND:
            raise TimeloopFormatError(f"{where}.factors.{name}: {value!r} (allowed: integer 1 to {MAX_BOUND}, or 0 "
                                      f"for 'the rest of the bound')")
        naas = dims[name]
        if naas == "_one" and value > 1:
            raise TimeloopFormatError(f"{where}.factors.{name}: {value} (this layer has {name} = 1)")
        if naas != "_one" and value != 0:  # 0: left out, filled with the rest like an unlisted dim
            out[naas] = value
    return out


def _parse_permutation(raw: Any, where: str, dims: dict[str, str]) -> list[str]:
    """Timeloop permutation (innermost first, string or list) -> naas dims, innermost first."""
    names = list(raw) if isinstance(raw, str) else raw
    if not isinstance(names, list):
        raise TimeloopFormatError(f"{where}.permutation: {raw!r} (write e.g. 'QPMCRSN', innermost first)")
    out = []
    for n in names:
        n = str(n).strip()
        if not n:
            continue
        if n not in dims:
            raise TimeloopFormatError(f"{where}.permutation: dim {n!r} (allowed: {', '.join(dims)})")
        if dims[n] != "_one":
            if dims[n] in out:
                raise TimeloopFormatError(f"{where}.permutation: dim {n!r} appears twice")
            out.append(dims[n])
    return out


#: The operands of Timeloop's gemm-ABZ example, read for matrix products only.
MATMUL_TENSOR_NAMES = {"a": "inputs", "b": "weights", "z": "outputs"}


def _tl_names(layer: ConvLayer) -> dict[str, str]:
    """naas dim -> its Timeloop name in this layer's problem (for messages)."""
    if layer.is_matmul:
        return {**{d: d for d in DIMS}, **{v: k for k, v in _dim_map(layer).items()}}
    return NAAS_TO_TIMELOOP


def _tensors(raw: Any, where: str, matmul: bool = False) -> set[str]:
    if raw is None:
        return set()
    names = {**TENSOR_NAMES, **MATMUL_TENSOR_NAMES} if matmul else TENSOR_NAMES
    allowed = "Weights, Inputs, Outputs" + (" (or B, A, Z)" if matmul else "")
    if not isinstance(raw, list):
        raise TimeloopFormatError(f"{where}: {raw!r} is not a list of {allowed}")
    out = set()
    for t in raw:
        key = str(t).lower()
        if key not in names:
            raise TimeloopFormatError(f"{where}: tensor {t!r} (allowed: {allowed})")
        out.add(names[key])
    return out


def mapping_from_timeloop(doc: Any, layer: ConvLayer, levels: MappingT[str, str] | None = None,
                          origin: str = "<mapping>") -> tuple[Mapping, list[str]]:
    """(the naas mapping, notes on what was merged or filled) of a Timeloop mapping document."""
    entries = doc.get("mapping") if isinstance(doc, MappingT) else doc
    if isinstance(entries, MappingT) and "mapping" in entries:  # {mapping: {mapping: [...]}} wrappers
        entries = entries["mapping"]
    if not isinstance(entries, list) or not entries:
        raise TimeloopFormatError(f"{origin}: mapping: missing or not a list of target/type/factors entries")
    dims = _dim_map(layer)
    tl_name = _tl_names(layer)
    levels = dict(levels or {})
    for t, lvl in levels.items():
        if lvl not in NAAS_LEVELS:
            raise _levels_error(f"levels: {t}={lvl!r} (allowed levels: {', '.join(NAAS_LEVELS)})")
    targets: list[str] = []
    for i, e in enumerate(entries):
        where = f"{origin}: mapping[{i}]"
        if not isinstance(e, MappingT):
            raise TimeloopFormatError(f"{where}: {e!r} is not a mapping with target and type")
        for key in e:
            if key not in _ENTRY_KEYS:
                raise TimeloopFormatError(f"{where}.{shown_key(key)}: unknown field (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
        if "target" not in e:
            raise TimeloopFormatError(f"{where}.target: missing")
        if str(e["target"]) not in targets:
            targets.append(str(e["target"]))
    level_of: dict[str, str] = {}
    for t in targets:
        lvl = levels.get(t) or _known_level(t)
        if lvl is None:
            raise TimeloopFormatError(
                f"{origin}: target {t!r} is not a level name naas knows (levels: {', '.join(NAAS_LEVELS)}); "
                f"give the architecture (--arch ARCH.yaml) or --levels {t}=dram|l2|l1")
        level_of[t] = lvl
    unknown = sorted(set(levels) - set(targets))
    if unknown:
        raise _levels_error(f"levels: target {unknown[0]!r} is not in {origin} (targets: {', '.join(targets)})")

    temporal = {lvl: {} for lvl in NAAS_LEVELS}  # naas level -> {dim: factor}
    owner: dict[tuple[str, str], str] = {}  # (level, dim) -> target that set a factor > 1
    orders: dict[str, list[tuple[str, list[str]]]] = {lvl: [] for lvl in NAAS_LEVELS}  # (target, outer first)
    spatial: dict[str, int] = {}
    omitted: dict[str, list[str]] = {d: [] for d in DIMS}  # dim -> temporal targets whose factors omit it
    keeps: dict[str, set[str]] = {}
    bypassing: dict[str, tuple[str, set[str]]] = {}  # non-l1 targets that bypass tensors
    notes: list[str] = []
    for i, e in enumerate(entries):
        where = f"{origin}: mapping[{i}] ({e['target']})"
        target, kind = str(e["target"]), str(e.get("type", "temporal"))
        lvl = level_of[target]
        if kind not in _TYPES:
            raise TimeloopFormatError(f"{where}.type: {kind!r} (allowed: {', '.join(_TYPES)})")
        if kind in ("bypass", "datatype"):
            keep = _tensors(e.get("keep"), f"{where}.keep", layer.is_matmul)
            bypass = _tensors(e.get("bypass"), f"{where}.bypass", layer.is_matmul)
            if bypass and lvl != "l1":
                bypassing.setdefault(target, (where, bypass))
            if lvl == "l1":
                keeps[target] = (keep or {"weights", "inputs", "outputs"}) - bypass
            continue
        factors = _parse_factors(e.get("factors", {}), where, dims)
        if kind == "spatial":
            if any(f > 1 for f in factors.values()) and lvl != "l2":
                raise TimeloopFormatError(f"{where}: spatial factors below a {lvl} target (naas fans out only "
                                          f"between L2 and the PEs' L1; map the fanout's parent to l2)")
            for d, f in factors.items():
                spatial[d] = spatial.get(d, 1) * f
            continue
        for d in DIMS:
            if d not in factors:
                omitted[d].append(target)
        for d, f in factors.items():
            if f > 1:
                if (lvl, d) in owner and owner[(lvl, d)] != target:
                    raise TimeloopFormatError(
                        f"{where}: {tl_name.get(d, d)}={f} here and at {owner[(lvl, d)]}, both naas "
                        f"level {lvl} (one loop per dim and level; map one of them to another level)")
                owner[(lvl, d)] = target
                temporal[lvl][d] = temporal[lvl].get(d, 1) * f
        perm = _parse_permutation(e.get("permutation", ""), where, dims)
        orders[lvl].append((target, perm[::-1]))  # outermost first
    for target, (where, bypass) in bypassing.items():
        # a pass-through fanout level (Eyeriss's DummyBuffer): no tiles of its own, and another target of the
        # same naas level keeps every tensor; anything else would need a bypass naas does not model
        lvl = level_of[target]
        holders = [t for t in targets if level_of[t] == lvl and t not in bypassing]
        if any(owner.get((lvl, d)) == target for d in DIMS) or not holders:
            raise TimeloopFormatError(f"{where}.bypass: {sorted(bypass)} at {target} ({lvl}) (naas keeps every "
                                      f"tensor at DRAM and L2; only a pass-through level without temporal "
                                      f"factors, beside one that keeps them, can bypass)")
        notes.append(f"{target}: a pass-through level of naas {lvl} (bypasses {', '.join(sorted(bypass))})")
    l1_targets = [t for t in targets if level_of[t] == "l1"]
    if keeps:
        union = set().union(*(keeps.get(t, {"weights", "inputs", "outputs"}) for t in l1_targets))
        if union != {"weights", "inputs", "outputs"}:
            missing = sorted({"weights", "inputs", "outputs"} - union)
            raise TimeloopFormatError(f"{origin}: no l1 target keeps {', '.join(missing)} (naas's L1 holds all "
                                      f"three tensors; l1 targets: {', '.join(l1_targets)})")
        if len(l1_targets) > 1:
            notes.append(f"targets {', '.join(l1_targets)} are one (partitioned) naas L1")

    bounds = dict(zip(DIMS, layer.loop_bounds))
    for d in DIMS:
        covered = spatial.get(d, 1)
        for lvl in NAAS_LEVELS:
            covered *= temporal[lvl].get(d, 1)
        if covered < bounds[d]:
            if len(omitted[d]) == 1:
                lvl = level_of[omitted[d][0]]
                rest = -(-bounds[d] // covered)
                temporal[lvl][d] = temporal[lvl].get(d, 1) * rest
                notes.append(f"{tl_name.get(d, d)}={rest} filled in at {omitted[d][0]} (not listed there)")
            else:
                raise TimeloopFormatError(f"{origin}: factors of {tl_name.get(d, d)} multiply to {covered}, "
                                          f"below the layer's bound {bounds[d]}")
        elif covered > bounds[d]:
            notes.append(f"{tl_name.get(d, d)}: factors cover {covered} > bound {bounds[d]} (padding)")

    def order_of(lvl: str) -> str:
        seqs = orders[lvl]
        if len(seqs) == 1:
            listed = seqs[0][1]
        else:  # merged targets: the nontrivial loops of each, outermost target first
            listed = [d for target, seq in seqs for d in seq if owner.get((lvl, d)) == target]
        rest = [d for d in DIMS if d not in listed]
        return timeloop_order("".join(rest + listed), layer)  # a matmul's unnamed dims outermost

    mapping = Mapping(dram=temporal["dram"], l2=temporal["l2"], spatial=spatial, l1=temporal["l1"],
                      dram_order=order_of("dram"), l2_order=order_of("l2"), l1_order=order_of("l1"),
                      label=f"Timeloop mapping {origin}")
    return mapping, notes


def load_timeloop_mapping(path: str | Path, layer: ConvLayer,
                          levels: MappingT[str, str] | None = None) -> tuple[Mapping, list[str]]:
    """(mapping, notes) from a Timeloop mapping file for ``layer``."""
    return mapping_from_timeloop(read_yaml(path, "mapping"), layer, levels, origin=str(path))


def mapping_to_timeloop(mapping: Mapping, layer: ConvLayer, parallel_axes: Sequence[Sequence[str]] = (),
                        targets: MappingT[str, str] | None = None) -> dict:
    """A Timeloop mapping document for ``mapping`` of ``layer``; ``parallel_axes``: the array's dims per axis.

    The spatial entry lists the dims of array axis 0 first, and ``split`` = their count (Timeloop maps the
    loops before the split to the fabric's X dimension, the rest to Y).
    """
    names = {**DEFAULT_TARGETS, **dict(targets or {})}
    timeloop_instance(layer)  # refuses what Timeloop export does not cover
    to_tl = {v: k for k, v in _dim_map(layer).items() if v != "_one"}
    ones = ["M"] if layer.depthwise else []  # in the problem's shape, always 1 (CNN_Layer has no G)
    where = f"Timeloop mapping of {layer.name or layer.describe()!r}"
    for level, f in (("dram", mapping.dram), ("l2", mapping.l2), ("spatial", mapping.spatial), ("l1", mapping.l1)):
        for d, v in zip(DIMS, f):
            if d not in to_tl and v != 1:  # a matrix product's X, R, S (and N without a batch): no such dim
                raise TimeloopFormatError(f"{where}: {level} factor {d}={v} (a {layer.op} problem has no dim for "
                                          f"naas {d}; allowed: 1, i.e. no padding there)")
    present = [d for d in DIMS if d in to_tl]
    # factors in N K C Y X R S order (a conv's N M C P Q R S); a matrix product's in its problem's, [B] M N K
    listed = [_dim_map(layer)[x] for x in problem_dims(layer)[0]] if layer.is_matmul else present

    def factors(f: Sequence[int]) -> str:
        value = dict(zip(DIMS, f))
        return " ".join([f"{to_tl[d]}={value[d]}" for d in listed] + [f"{o}=1" for o in ones])

    def perm(order: str) -> str:  # naas outermost-first -> Timeloop innermost-first, every dim listed
        return "".join(to_tl[d] for d in reversed(order) if d in to_tl) + "".join(ones)

    axis_dims = [[d for d in axis] for axis in parallel_axes]
    first = [d for d in present if axis_dims and d in axis_dims[0]]
    spatial_order = first + [d for d in present if d not in first]
    return {"mapping": [
        {"target": names["dram"], "type": "temporal", "factors": factors(mapping.dram),
         "permutation": perm(mapping.dram_order)},
        {"target": names["l2"], "type": "temporal", "factors": factors(mapping.l2),
         "permutation": perm(mapping.l2_order)},
        {"target": names["l2"], "type": "spatial", "factors": factors(mapping.spatial),
         "permutation": "".join(to_tl[d] for d in spatial_order) + "".join(ones), "split": len(first)},
        {"target": names["l1"], "type": "temporal", "factors": factors(mapping.l1),
         "permutation": perm(mapping.l1_order)},
    ]}


def timeloop_form(mapping: Mapping, layer: ConvLayer) -> Mapping:
    """``mapping`` as it reads back from the Timeloop file ``mapping_to_timeloop`` writes: for a matrix
    product, the naas dims its problem has no name for (X, R, S, and N without a batch) moved outermost in
    each order, in N K C Y X R S order (the same loops, the same cost); any other layer's mapping as it is."""
    if not layer.is_matmul:
        return mapping
    return replace(mapping, dram_order=timeloop_order(mapping.dram_order, layer),
                   l2_order=timeloop_order(mapping.l2_order, layer),
                   l1_order=timeloop_order(mapping.l1_order, layer))
