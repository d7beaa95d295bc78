"""A general hierarchy (SPEC §10) and a mapping on it as Timeloop v3 input, and Timeloop v0.3 architectures back.

``export_timeloop(layer, hier, mapping)`` writes the four documents ``timeloop-model`` v3.0.3 reads as they
are (``{"arch", "problem", "mapping", "ert"}``; write each with ``yaml.safe_dump`` or ``TimeloopExport.write``):

- arch: the v0.3 tree form (``architecture: {version: 0.3, subtree: [...]}``). Levels with no fan-out
  between them share one ``local`` list (outermost first); every fan-out opens a nested subtree named
  ``<level>_fanout[0..n-1]`` (n = the fan-out's size), so Timeloop's instance counts (the product of the
  ``[0..n-1]`` ranges down the tree) equal naas's. Axis 0 of a fan-out is Timeloop's X axis, axis 1 its Y
  axis (a third axis is merged into Y: counts do not depend on the geometry once link transfers are off);
  ``meshX``/``meshY`` are the global widths (the products of the X / Y axis sizes above the level). Per
  level: ``depth`` = capacity in words (none for an unlimited level), ``word-bits`` = the tensors' bits,
  ``block-size`` 1, ``read_bandwidth``/``write_bandwidth`` or ``shared_bandwidth`` (BufferLevel::ParseSpecs
  of v3.0.3, src/model/buffer.cpp) in words of that width per cycle per instance, ``addr-gen-energy`` and
  ``energy-per-hop`` 0, and ``naas-fanout-dims`` (ignored by Timeloop; read back by
  ``import_timeloop_arch``) naming the loop dims of each axis. The MAC is an ``intmac`` in the innermost
  local list (or its own subtree when the innermost level has a fan-out).
- problem: Timeloop's CNN layer (C M R S N P Q; naas K -> M, Y' -> P, X' -> Q, stride_y -> Wstride,
  stride_x -> Hstride, as ``nn_space.timeloop_problem``); a depthwise layer is a grouped layer with a G dim
  carrying naas's K (C = M = 1). Other grouped layers are refused.
- mapping: per level (innermost first) a temporal directive (factors, permutation innermost-first), a
  spatial directive at every level with a fan-out (factors of the fan-out below it; the permutation lists
  axis 0's dims, then axis 1's, ``split`` = the number of X dims; ``no_link_transfer`` on every data space,
  since naas has no PE-to-PE forwarding), and a datatype directive (keep / bypass) from ``keeps``.
- ert: Accelergy v0.4 ERT tables: ``random_read`` = the level's read energy, ``random_fill`` and
  ``random_update`` = its write energy (naas charges fills and updates the write energy); ``mac_random`` =
  ``hier.energy_table.mac``.

Refused with a ``ValueError`` naming the reason (Timeloop cannot express them exactly): factors that do not
multiply to exactly the layer's dims (Timeloop takes no padding), per-tensor partitions of a level (Timeloop
has one depth per level), per-tensor precision that differs (one word width per level), per-tensor energies
that differ at a level (one ERT entry per action), grouped non-depthwise layers, mappings naas itself
refuses, and a nonzero fan-out hop energy (``zero_hop_energy=True`` exports it as 0 and says so in
``notes``: Timeloop's network energy is per hop, naas's per word crossing a fan-out).

``import_timeloop_arch(arch_doc, ert_doc, bypass, mapping_doc)`` reads that v0.3 tree form back into a
``Hierarchy``. A Timeloop architecture does not say which loop dims a fan-out parallelizes; the dims of each
axis come, first found, from (1) the level's ``naas-fanout-dims`` attribute (written by the export), (2)
the spatial directive of that level in ``mapping_doc``: each axis parallelizes the dims with a spatial
factor > 1 on it (``permutation[:split]`` is X, the rest Y) or, if it has none, all dims listed on it, (3)
else a one-axis fan-out parallelizes all seven dims (a two-axis fan-out then needs (1) or (2)).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping as MappingT

import yaml

from mapping.nest import NestMapping
from nn_space.layers import DIMS, ConvLayer, dim_index

from .accelerator import TENSORS, ArrayDim, Bandwidth
from .hierarchy import Hierarchy, StorageLevel
from .nest_layout import H_HOP

#: naas dim -> Timeloop dim (ordinary layers; depthwise layers use G for K).
TL_DIM = {"N": "N", "K": "M", "C": "C", "Y": "P", "X": "Q", "R": "R", "S": "S"}
TL_DIM_DW = {**TL_DIM, "K": "G"}
CNN_DIMS = ("C", "M", "R", "S", "N", "P", "Q")
DATASPACES = {"weights": "Weights", "inputs": "Inputs", "outputs": "Outputs"}
_TENSOR_OF = {v: k for k, v in DATASPACES.items()}
FANOUT_ATTR = "naas-fanout-dims"
_BAD_NAME = re.compile(r"[.\[\]\s]")


class TimeloopExport(dict):
    """The four documents {"arch", "problem", "mapping", "ert"}; ``notes`` says what was approximated."""

    def __init__(self, docs: dict[str, dict], notes: Iterable[str] = ()):
        super().__init__(docs)
        self.notes = list(notes)

    def write(self, folder: str | Path) -> dict[str, Path]:
        """Write arch.yaml, problem.yaml, mapping.yaml and ert.yaml into ``folder``; returns their paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for key in ("arch", "problem", "mapping", "ert"):
            paths[key] = folder / f"{key}.yaml"
            paths[key].write_text(yaml.safe_dump(self[key], sort_keys=False))
        return paths


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else float(v)


# --- export -------------------------------------------------------------------------------------------
def _problem(layer: ConvLayer) -> dict:
    n, k, c, y, x, r, s = layer.loop_bounds
    dw = layer.depthwise
    g = [[["G"]]] if dw else []
    shape = {
        "name": "Depthwise-CNN-Layer" if dw else "CNN-Layer",
        "dimensions": (["G"] if dw else []) + list(CNN_DIMS),
        "coefficients": [{"name": cf, "default": 1} for cf in ("Wstride", "Hstride", "Wdilation", "Hdilation")],
        "data-spaces": [
            {"name": "Weights", "projection": g + [[["C"]], [["M"]], [["R"]], [["S"]]]},
            {"name": "Inputs", "projection": [[["N"]]] + g + [[["C"]], [["R", "Wdilation"], ["P", "Wstride"]],
                                                             [["S", "Hdilation"], ["Q", "Hstride"]]]},
            {"name": "Outputs", "projection": [[["N"]]] + g + [[["M"]], [["Q"]], [["P"]]], "read-write": True},
        ],
    }
    inst = {"C": c, "M": 1 if dw else k, "R": r, "S": s, "N": n, "P": y, "Q": x}
    if dw:
        inst = {"G": k, **inst}
    inst.update(Wstride=layer.stride_y, Hstride=layer.stride_x, Wdilation=1, Hdilation=1)
    return {"problem": {"shape": shape, "instance": inst}}


def _axes_used(lv: StorageLevel) -> list[tuple[int, list[str]]]:
    """(size, dims) of the fan-out's X and Y axes (axes of size 1 dropped; a third axis merged into Y)."""
    axes = [(a.size, [DIMS[dim_index(d)] for d in a.dims]) for a in lv.fanout if a.size > 1]
    if len(axes) > 2:
        size = math.prod(a[0] for a in axes[1:])
        axes = [axes[0], (size, [d for a in axes[1:] for d in a[1]])]
    return axes


def _check_exportable(layer: ConvLayer, hier: Hierarchy, mapping: NestMapping) -> list[str]:
    from .nest_evaluate import InvalidNestMappingError, evaluate_nest

    notes = []
    where = f"Timeloop export of {hier.name}"
    if layer.groups > 1 and not layer.depthwise:
        raise ValueError(f"{where}: grouped layer (groups={layer.groups}, not depthwise): Timeloop's grouped "
                         f"shape would cost one group, naas costs {layer.repeats} of them; export one group "
                         f"as an ordinary layer instead")
    if mapping.num_levels != hier.num_levels:
        raise ValueError(f"{where}: the mapping has {mapping.num_levels} levels, the hierarchy "
                         f"{hier.num_levels}")
    covered = mapping.covered_bounds()
    for d, b, cov in zip(DIMS, layer.loop_bounds, covered):
        if cov != b:
            raise ValueError(f"{where}: factors of {d} multiply to {cov}, the layer's {d} is {b}: Timeloop takes "
                             f"no padding (factors must multiply to the exact dims)")
    bits = hier.tensor_bits
    if len(set(bits)) > 1:
        raise ValueError(f"{where}: per-tensor precision {dict(zip(TENSORS, bits))} differs: Timeloop v3 has one "
                         f"word width per storage level")
    for i, lv in enumerate(hier.levels):
        at = f"{where}: level {lv.name}"
        if not lv.name or _BAD_NAME.search(lv.name):
            raise ValueError(f"{at}: the name has '.', '[', ']' or white space, which Timeloop's ERT and "
                             f"subtree names cannot carry")
        if lv.partition is not None and sum(1 for t in lv.keeps if lv.partition[TENSORS.index(t)] > 0) > 1:
            raise ValueError(f"{at}: per-tensor partition {dict(zip(TENSORS, lv.partition))} B: Timeloop v3 has "
                             f"one depth per level, shared by the tensors it keeps")
        reads, writes = hier.level_energies(i)
        kept = [TENSORS.index(t) for t in lv.keeps] or [0]
        for label, e in (("read", reads), ("write", writes)):
            if len({e[k] for k in kept}) > 1:
                raise ValueError(f"{at}: per-tensor {label} energies differ "
                                 f"({', '.join(f'{TENSORS[k]} {e[k]:g}' for k in kept)} pJ): Timeloop's ERT has "
                                 f"one energy per action and level")
        if lv.fanout_size > 1:
            hop = hier.hw_array[i][H_HOP]
            if hop != 0:
                notes.append(f"level {lv.name}: fan-out hop energy {hop:g} pJ/word exported as 0 (Timeloop's "
                             f"network energy is per hop; naas's energy includes it, Timeloop's will not)")
        if len([a for a in lv.fanout if a.size > 1]) > 2:
            notes.append(f"level {lv.name}: fan-out axes 2.. merged into Timeloop's Y axis")
    try:
        evaluate_nest(layer, hier, mapping)
    except InvalidNestMappingError as exc:
        raise ValueError(f"{where}: naas refuses the mapping ({exc})") from None
    return notes


def export_timeloop(layer: ConvLayer, hier: Hierarchy, mapping: NestMapping,
                    zero_hop_energy: bool = False) -> TimeloopExport:
    """The four Timeloop v3.0.3 documents of one layer, hierarchy and mapping (see the module docstring)."""
    notes = _check_exportable(layer, hier, mapping)
    if notes and not zero_hop_energy and any("hop energy" in n for n in notes):
        first = next(n for n in notes if "hop energy" in n)
        raise ValueError(f"Timeloop export of {hier.name}: {first.split(' exported')[0]} is nonzero: Timeloop "
                         f"charges network energy per hop, not per word crossing a fan-out (pass "
                         f"zero_hop_energy=True to export it as 0)")
    bits = hier.tensor_bits[0]
    dmap = TL_DIM_DW if layer.depthwise else TL_DIM
    all_tl = (["G"] if layer.depthwise else []) + list(CNN_DIMS)

    # --- architecture ------------------------------------------------------------------------
    mesh_x, mesh_y = 1, 1
    ert_tables = []
    root: dict[str, Any] = {"name": "system", "local": []}
    node, path = root, "system"
    for i, lv in enumerate(hier.levels):
        level_bits = lv.word_bits or hier.word_bits
        attrs: dict[str, Any] = {}
        if not math.isinf(lv.size_bytes):
            size = lv.size_bytes if lv.partition is None else \
                sum(lv.partition[TENSORS.index(t)] for t in lv.keeps)
            attrs["depth"] = int(math.floor(size * 8 / bits + 1e-9))
        attrs.update({"word-bits": bits, "block-size": 1})
        scale = level_bits / bits  # naas bandwidth counts words of the level; Timeloop words of the tensors
        b = lv.bandwidth
        if b.shared:
            attrs["shared_bandwidth"] = _num(b.shared * scale)
        else:
            if not math.isinf(b.read):
                attrs["read_bandwidth"] = _num(b.read * scale)
            if not math.isinf(b.write):
                attrs["write_bandwidth"] = _num(b.write * scale)
        if mesh_x * mesh_y > 1:
            attrs.update(meshX=mesh_x, meshY=mesh_y)
        attrs.update({"addr-gen-energy": 0, "energy-per-hop": 0})
        axes = _axes_used(lv)
        if axes:
            attrs[FANOUT_ATTR] = " ; ".join(" ".join(dims) for _, dims in axes)
        node["local"].append({"name": lv.name, "class": "DRAM" if i == 0 else "SRAM", "attributes": attrs})
        reads, writes = hier.level_energies(i)
        k = TENSORS.index(lv.keeps[0]) if lv.keeps else 0
        ert_tables.append({"name": f"{path}.{lv.name}", "actions": [
            {"name": "random_read", "energy": float(reads[k])},
            {"name": "random_fill", "energy": float(writes[k])},
            {"name": "random_update", "energy": float(writes[k])}]})
        if axes:
            n = math.prod(s for s, _ in axes)
            mesh_x *= axes[0][0]
            if len(axes) > 1:
                mesh_y *= axes[1][0]
            child = {"name": f"{lv.name}_fanout[0..{n - 1}]", "local": []}
            node["subtree"] = [child]
            node, path = child, f"{path}.{child['name']}"
    mac_attrs: dict[str, Any] = {"datawidth": bits}
    if mesh_x * mesh_y > 1:
        mac_attrs.update(meshX=mesh_x, meshY=mesh_y)
    node["local"].append({"name": "MAC", "class": "intmac", "attributes": mac_attrs})
    ert_tables.append({"name": f"{path}.MAC", "actions": [{"name": "mac_random",
                                                           "energy": float(hier.energy_table.mac)}]})
    arch = {"architecture": {"version": 0.3, "subtree": [root]}}

    # --- mapping ---------------------------------------------------------------------------------
    def factors(f) -> str:
        tl = {dmap[d]: int(v) for d, v in zip(DIMS, f)}
        return " ".join(f"{d}{tl.get(d, 1)}" for d in all_tl)

    def perm(dims_inner_first: list[str]) -> str:
        tl = [dmap[d] for d in dims_inner_first]
        return "".join(tl + [d for d in all_tl if d not in tl])

    entries = []
    for i in range(hier.num_levels - 1, -1, -1):
        lv, lm = hier.levels[i], mapping.levels[i]
        entries.append({"target": lv.name, "type": "temporal", "factors": factors(lm.factors),
                        "permutation": perm(list(reversed(lm.order)))})
        axes = _axes_used(lv)
        if axes:
            x_dims = axes[0][1]
            y_dims = axes[1][1] if len(axes) > 1 else []
            entry = {"target": lv.name, "type": "spatial", "factors": factors(lm.spatial),
                     "permutation": perm(x_dims + y_dims)}
            if y_dims:
                entry["split"] = len(x_dims)
            entry["no_link_transfer"] = list(DATASPACES.values())
            entries.append(entry)
        if i > 0:
            d: dict[str, Any] = {"target": lv.name, "type": "datatype"}
            keep = [DATASPACES[t] for t in TENSORS if t in lv.keeps]
            bypass = [DATASPACES[t] for t in TENSORS if t not in lv.keeps]
            if keep:
                d["keep"] = keep
            if bypass:
                d["bypass"] = bypass
            entries.append(d)
    docs = {"arch": arch, "problem": _problem(layer), "mapping": {"mapping": entries},
            "ert": {"ERT": {"version": "0.4", "tables": ert_tables}}}
    return TimeloopExport(docs, notes)


# --- import -------------------------------------------------------------------------------------------
_RANGE = re.compile(r"^(.*)\[(\d+)\.\.(\d+)\]$")
_NAAS_OF_TL = {"N": "N", "M": "K", "G": "K", "C": "C", "P": "Y", "Q": "X", "R": "R", "S": "S"}


def _split_name(name: str) -> tuple[str, int]:
    m = _RANGE.match(name.strip())
    if not m:
        return name.strip(), 1
    return m.group(1), int(m.group(3)) - int(m.group(2)) + 1


def _tensor(name: str, where: str) -> str:
    key = str(name).lower()
    if key in TENSORS:
        return key
    if name in _TENSOR_OF:
        return _TENSOR_OF[name]
    raise ValueError(f"{where}: data space {name!r} (allowed: Weights, Inputs, Outputs)")


def _directives(mapping_doc: Any) -> list[dict]:
    if mapping_doc is None:
        return []
    if isinstance(mapping_doc, MappingT) and "mapping" in mapping_doc:
        mapping_doc = mapping_doc["mapping"]
    if not isinstance(mapping_doc, list):
        raise ValueError("Timeloop mapping: expected a list of directives (or {mapping: [...]})")
    return [d for d in mapping_doc if isinstance(d, MappingT)]


def _parse_factors(text: str) -> dict[str, int]:
    return {d: int(v) for d, v in re.findall(r"([A-Za-z]+)\s*=?\s*(\d+)", str(text).split("#")[0])}


def _axis_dims_from_mapping(directive: MappingT, n_axes: int) -> list[tuple[str, ...]]:
    f = _parse_factors(directive.get("factors", ""))
    perm = [c for c in str(directive.get("permutation", "")) if not c.isspace()]
    perm += [d for d in ("G", *CNN_DIMS) if d not in perm]
    split = int(directive.get("split", len(perm)))
    groups = [perm[:split], perm[split:]][:n_axes]
    out = []
    for g in groups:
        used = [d for d in g if f.get(d, 1) > 1] or [d for d in g if d in _NAAS_OF_TL]
        dims = []
        for d in used:
            nd = _NAAS_OF_TL.get(d)
            if nd and nd not in dims:
                dims.append(nd)
        out.append(tuple(dims))
    return out


def import_timeloop_arch(arch_doc: MappingT, ert_doc: MappingT | None = None, bypass: Any = None,
                         mapping_doc: Any = None, name: str = "timeloop") -> Hierarchy:
    """A ``Hierarchy`` from a Timeloop v0.3 tree architecture (see the module docstring for fan-out dims).

    ``ert_doc``: an ERT document (``{ERT: {tables}}``) giving per-level read (``random_read``/``read``) and
    write (``random_fill``/``write``) energies and the MAC's (``mac_random``/``mac``/``compute``); without
    it levels are priced by the energy table (class DRAM -> 'dram', regfile -> 'spad', else 'sram').
    ``bypass``: {level name: kept data spaces}, or a Timeloop mapping document whose ``datatype``/``bypass``
    directives are read (it then also serves as ``mapping_doc``). Levels not named keep everything.
    """
    from .energy import DEFAULT_ENERGY_TABLE, get_energy_table

    if isinstance(bypass, (list,)) or (isinstance(bypass, MappingT) and "mapping" in bypass):
        mapping_doc = mapping_doc if mapping_doc is not None else bypass
        bypass = None
    directives = _directives(mapping_doc)
    arch = arch_doc.get("architecture", arch_doc.get("arch", arch_doc)) if isinstance(arch_doc, MappingT) else None
    if not isinstance(arch, MappingT) or "subtree" not in arch:
        raise ValueError("Timeloop architecture: expected the v0.3 tree form (architecture: {subtree: [...]})")

    # Walk the tree: (level name, attributes, class, instances) outermost first, and the MAC.
    found: list[tuple[str, dict, str, int]] = []
    mac = None
    node, mult = arch, 1
    while "subtree" in node:
        subs = node["subtree"]
        if not isinstance(subs, list) or len(subs) != 1:
            raise ValueError("Timeloop architecture: every node must have exactly one subtree (as Timeloop v3)")
        node = subs[0]
        base, count = _split_name(str(node.get("name", "")))
        mult *= count
        for comp in node.get("local", []) or []:
            cname, ccount = _split_name(str(comp.get("name", "")))
            cls = str(comp.get("class", ""))
            attrs = dict(comp.get("attributes", {}) or {})
            if any(k in cls for k in ("mac", "compute", "intmac", "fpmac", "multiplier", "adder")) and \
                    not any(k in cls.lower() for k in ("dram", "sram", "regfile", "buffer", "storage")):
                mac = (cname, attrs, mult * ccount)
            elif any(k in cls.lower() for k in ("dram", "sram", "regfile", "buffer", "storage", "spad", "cache")):
                found.append((cname, attrs, cls, mult * ccount))
    if not found:
        raise ValueError("Timeloop architecture: no storage level found")
    if mac is None:
        raise ValueError("Timeloop architecture: no arithmetic (MAC) component found")

    # ERT energies by component name (text after the last '.', as Timeloop matches them).
    ert: dict[str, dict[str, float]] = {}
    if ert_doc is not None:
        tables = ert_doc.get("ERT", ert_doc).get("tables", []) if isinstance(ert_doc, MappingT) else []
        for t in tables:
            key = _split_name(str(t.get("name", "")).split(".")[-1])[0]
            ert[key] = {str(a.get("name")): float(a.get("energy", 0.0)) for a in t.get("actions", [])}

    keeps_of: dict[str, tuple[str, ...]] = {}
    if bypass is not None:
        for lvl, kept in dict(bypass).items():
            keeps_of[str(lvl)] = tuple(t for t in TENSORS if t in {_tensor(k, f"bypass[{lvl}]") for k in kept})
    for d in directives:
        if d.get("type") in ("datatype", "bypass"):
            tgt = str(d.get("target"))
            kept = set(keeps_of.get(tgt, TENSORS))
            kept |= {_tensor(k, f"mapping {tgt}") for k in d.get("keep", []) or []}
            kept -= {_tensor(k, f"mapping {tgt}") for k in d.get("bypass", []) or []}
            keeps_of[tgt] = tuple(t for t in TENSORS if t in kept)
    spatial_of = {str(d.get("target")): d for d in directives if d.get("type") == "spatial"}

    bits_seen = {int(a.get("word-bits", a.get("word_width", a.get("datawidth", 16)))) for _, a, _, _ in found}
    if len(bits_seen) > 1:
        raise ValueError(f"Timeloop architecture: word-bits differ between levels ({sorted(bits_seen)}): naas "
                         f"has one precision per tensor for the whole hierarchy")
    word_bits = bits_seen.pop()
    mac_energy = None
    if mac[0] in ert:
        for action in ("mac_random", "mult_random", "mac", "mult", "compute"):
            if action in ert[mac[0]]:
                mac_energy = ert[mac[0]][action]
                break

    levels = []
    names = [f[0] for f in found]
    instances = [f[3] for f in found] + [mac[2]]
    meshes = [(int(a.get("meshX", inst)), int(a.get("meshY", 1 if "meshX" not in a else inst // max(1, int(a["meshX"])))))
              for (_, a, _, inst) in found] + [(int(mac[1].get("meshX", mac[2])),
                                                int(mac[1].get("meshY", 1 if "meshX" not in mac[1] else
                                                                 mac[2] // max(1, int(mac[1]["meshX"])))))]
    for i, (lname, attrs, cls, inst) in enumerate(found):
        at = f"Timeloop architecture: {lname}"
        if float(attrs.get("energy-per-hop", 0) or 0) != 0:
            raise ValueError(f"{at}: energy-per-hop {attrs['energy-per-hop']}: naas's hop energy is per word "
                             f"crossing a fan-out, not per hop (set it to 0)")
        if int(attrs.get("block-size", 1)) != 1:
            raise ValueError(f"{at}: block-size {attrs['block-size']}: naas counts word accesses (use 1)")
        size = math.inf
        if "depth" in attrs:
            size = int(attrs["depth"]) * word_bits / 8
        elif "entries" in attrs:
            size = int(attrs["entries"]) * word_bits / 8
        elif "sizeKB" in attrs:
            size = float(attrs["sizeKB"]) * 1024
        if "shared_bandwidth" in attrs:
            bw = Bandwidth(shared=float(attrs["shared_bandwidth"]))
        else:
            bw = Bandwidth(read=float(attrs.get("read_bandwidth", math.inf)),
                           write=float(attrs.get("write_bandwidth", math.inf)))
        kw: dict[str, Any] = {}
        if lname in ert:
            e = ert[lname]
            r = e.get("random_read", e.get("read"))
            w = e.get("random_fill", e.get("write"))
            u = e.get("random_update", w)
            if r is None or w is None:
                raise ValueError(f"{at}: the ERT gives no read or write energy (random_read, random_fill)")
            if u != w:
                raise ValueError(f"{at}: random_update {u} differs from random_fill {w}: naas has one write "
                                 f"energy per level")
            kw.update(read_energy=(r,) * 3, write_energy=(w,) * 3)
        else:
            kw["energy"] = "dram" if "DRAM" in cls else ("spad" if "regfile" in cls.lower() else "sram")
        fanout: tuple[ArrayDim, ...] = ()
        child_inst = instances[i + 1]
        if child_inst != inst:
            if child_inst % inst:
                raise ValueError(f"{at}: {child_inst} instances below {inst}: not a whole fan-out")
            (px, py), (cx, cy) = meshes[i], meshes[i + 1]
            fx, fy = (cx // px, cy // py) if px and py and cx % px == 0 and cy % py == 0 else (child_inst // inst, 1)
            if fx * fy != child_inst // inst:
                fx, fy = child_inst // inst, 1
            sizes = [s for s in (fx, fy) if s > 1]
            if FANOUT_ATTR in attrs:
                dims = [tuple(g.split()) for g in str(attrs[FANOUT_ATTR]).split(";")]
            elif lname in spatial_of:
                dims = _axis_dims_from_mapping(spatial_of[lname], len(sizes))
            elif len(sizes) == 1:
                dims = [tuple(DIMS)]
            else:
                raise ValueError(f"{at}: a {fx} x {fy} fan-out below it, and nothing says which loop dims its "
                                 f"axes parallelize (give the mapping document)")
            if len(dims) != len(sizes) or any(not d for d in dims):
                raise ValueError(f"{at}: fan-out axes {sizes} but dims {dims}")
            fanout = tuple(ArrayDim(s, d if len(d) > 1 else d[0]) for s, d in zip(sizes, dims))
        levels.append(StorageLevel(name=lname, keeps=keeps_of.get(lname, TENSORS), size_bytes=size,
                                   bandwidth=bw, fanout=fanout, hop_energy=0.0 if fanout else None, **kw))
    table = get_energy_table(DEFAULT_ENERGY_TABLE)
    if mac_energy is not None:
        table = table.with_overrides(mac=mac_energy)
    top = arch["subtree"][0].get("name", name) if arch.get("subtree") else name
    return Hierarchy(name=str(top) if name == "timeloop" else name, levels=tuple(levels), word_bits=word_bits,
                     energy_table=table, description=f"imported from a Timeloop v0.3 architecture ({len(names)} "
                                                      f"levels)")
