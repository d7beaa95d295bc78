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
  carrying naas's K (C = M = 1). Other grouped layers are refused. A matrix product (gemm / bmm) is a
  matmul shape, dims [B] M N K (naas N, Y, K, C) and data spaces Weights[B, K, N] (B on a bmm's only),
  Inputs[B, M, K], Outputs[B, M, N] (``nn_space.timeloop_problem.matmul_shape``); its mapping names those
  dims only (X, R, S are 1 and Timeloop knows no dim its shape does not declare).
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

Timeloop v0.4 architectures (timeloopfe's ``architecture: {version: 0.4, nodes: [...]}`` with ``!Container``,
``!Component``, ``!Hierarchical`` tags) are read too: ``v04_to_v03(arch_doc)`` writes the equivalent v0.3 tree
(a ``!Container``'s or component's ``spatial: {meshX, meshY}`` becomes a nested ``name[0..n-1]`` subtree, with
global ``meshX``/``meshY`` on every component below it; ``datawidth`` -> ``word-bits``; a component's
``constraints.dataspace`` -> ``naas-dataspace-keep``, used where the mapping has no datatype directive), and
``import_timeloop_arch`` converts a v0.4 document with it first. See ``v04_to_v03`` for what it refuses.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterable, Mapping as MappingT

import yaml

from mapping.nest import NestMapping
from nn_space.layers import DIMS, ConvLayer, dim_index
from nn_space.timeloop_problem import matmul_shape, problem_dims, timeloop_instance

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
    if layer.is_matmul:
        return {"problem": {"shape": matmul_shape(layer, v04=False), "instance": timeloop_instance(layer)}}
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
    all_tl, naas_of = problem_dims(layer)
    dmap = {nd: x for x, nd in naas_of.items() if nd is not None}  # naas dim -> Timeloop dim

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
        tl = {dmap[d]: int(v) for d, v in zip(DIMS, f) if d in dmap}  # a matmul's X, R, S (N): 1, unnamed
        return " ".join(f"{d}{tl.get(d, 1)}" for d in all_tl)

    def perm(dims_inner_first: list[str]) -> str:
        tl = [dmap[d] for d in dims_inner_first if d in dmap]
        return "".join(tl + [d for d in all_tl if d not in tl])

    entries = []
    for i in range(hier.num_levels - 1, -1, -1):
        lv, lm = hier.levels[i], mapping.levels[i]
        entries.append({"target": lv.name, "type": "temporal", "factors": factors(lm.factors),
                        "permutation": perm(list(reversed(lm.order)))})
        axes = _axes_used(lv)
        if axes:
            x_dims = [d for d in axes[0][1] if d in dmap]
            y_dims = [d for d in axes[1][1] if d in dmap] if len(axes) > 1 else []
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


def _axis_dims_from_mapping(directive: MappingT, n_axes: int,
                            layer: ConvLayer | None = None) -> list[tuple[str, ...]]:
    f = _parse_factors(directive.get("factors", ""))
    perm = [c for c in str(directive.get("permutation", "")) if not c.isspace()]
    if layer is not None:  # the layer's own problem dims (a matrix product's M N K differ from a CNN's)
        order, naas_of = problem_dims(layer)
        naas_of = {x: nd for x, nd in naas_of.items() if nd is not None}
    else:
        order, naas_of = ("G", *CNN_DIMS), _NAAS_OF_TL
    perm += [d for d in order if d not in perm]
    split = int(directive.get("split", len(perm)))
    groups = [perm[:split], perm[split:]][:n_axes]
    out = []
    for g in groups:
        used = [d for d in g if f.get(d, 1) > 1] or [d for d in g if d in naas_of]
        dims = []
        for d in used:
            nd = naas_of.get(d)
            if nd and nd not in dims:
                dims.append(nd)
        out.append(tuple(dims))
    return out


# --- Timeloop v0.4 (the ``nodes`` form) -> the v0.3 tree ------------------------------------------------
#: Component classes as timeloopfe v4 sorts them (substring match, storage first), lower-cased.
V04_STORAGE_CLASSES = ("dram", "sram", "regfile", "smartbuffer", "storage")
V04_COMPUTE_CLASSES = ("mac", "compute")
V04_NETWORK_CLASSES = ("xy_noc", "legacy", "reductiontree", "simplemulticast")
#: v0.3 attribute (ignored by Timeloop) carrying a v0.4 component's dataspace constraint: the data spaces it
#: keeps. ``import_timeloop_arch`` uses it for levels no datatype directive (and no ``bypass`` entry) names.
KEEP_ATTR = "naas-dataspace-keep"
_V04 = "Timeloop v0.4 architecture"
_WORD_BITS_KEYS = ("word-bits", "word_width", "datawidth")
_BLOCK_KEYS = ("block-size", "block_size", "n_words")
_WIDTH_KEYS = ("width", "memory_width", "data_storage_width")
_DEPTH_KEYS = ("depth", "memory_depth", "data_storage_depth")
_CLUSTER_KEYS = ("cluster-size", "cluster_size")
_V04_DROPPED = set(_WORD_BITS_KEYS + _BLOCK_KEYS + _WIDTH_KEYS + _DEPTH_KEYS + _CLUSTER_KEYS) | {
    "entries", "sizeKB", "multiple_buffering", "multiple-buffering", "meshX", "meshY", "instances", "n_instances",
    "bandwidth", "read_bandwidth", "write_bandwidth", "shared_bandwidth", KEEP_ATTR}


class TaggedNode(dict):
    """A YAML mapping read with a ``!Tag`` (v0.4's ``!Container``, ``!Component``, ...); ``tag`` is its name."""

    def __init__(self, data: Any = (), tag: str = ""):
        super().__init__(data)
        self.tag = tag


def _arch_body(arch_doc: Any) -> Any:
    return arch_doc.get("architecture", arch_doc.get("arch", arch_doc)) if isinstance(arch_doc, MappingT) else None


def is_timeloop_v04(arch_doc: Any) -> bool:
    """True for a v0.4 ``nodes`` document (``architecture: {version: 0.4, nodes: [...]}``)."""
    body = _arch_body(arch_doc)
    return isinstance(body, MappingT) and "nodes" in body and "subtree" not in body


def _v04_number(value: Any, at: str, key: str, whole: bool = False, positive: bool = True,
                allow_inf: bool = False) -> float:
    """A numeric v0.4 attribute (numbers or numeric strings; 'inf' is unlimited); expressions are refused."""
    v: Any = value
    if isinstance(v, str):
        text = v.strip()
        if text.lower() in ("inf", "+inf", "infinity"):
            v = math.inf
        else:
            try:
                v = float(text)
            except ValueError:
                raise ValueError(f"{at}: {key} {value!r}: an expression or a name (naas reads numbers only; "
                                 f"write the number)") from None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        raise ValueError(f"{at}: {key} {value!r}: not a number")
    if (positive and v <= 0) or (not positive and v < 0):
        raise ValueError(f"{at}: {key} {value!r}: must be {'positive' if positive else 'non-negative'}")
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{at}: {key} {value!r}: must be finite")
    if whole and not math.isinf(v) and not float(v).is_integer():
        raise ValueError(f"{at}: {key} {value!r}: not a whole number")
    return v


def _v04_kind(node: MappingT) -> str:
    tag = str(getattr(node, "tag", "") or "").lstrip("!")
    if tag:
        return tag
    if "nodes" in node:
        return "Hierarchical"
    return "Component" if "class" in node else "Container"


def _v04_spatial(node: MappingT, at: str) -> tuple[int, int]:
    sp = node.get("spatial")
    if sp is None or sp == {}:
        return 1, 1
    if not isinstance(sp, MappingT):
        raise ValueError(f"{at}: spatial {sp!r}: expected {{meshX: N, meshY: M}}")
    extra = [k for k in sp if k not in ("meshX", "meshY")]
    if extra:
        raise ValueError(f"{at}: spatial.{extra[0]} {sp[extra[0]]!r}: naas reads meshX and meshY only")
    mx = int(_v04_number(sp.get("meshX", 1), at, "spatial.meshX", whole=True))
    my = int(_v04_number(sp.get("meshY", 1), at, "spatial.meshY", whole=True))
    return mx, my


def _v04_keeps(node: MappingT, at: str) -> list[str] | None:
    """Data spaces kept by a component's ``constraints.dataspace`` (unlisted ones kept), or None."""
    cons = node.get("constraints")
    if cons is None:
        return None
    if not isinstance(cons, MappingT):
        raise ValueError(f"{at}: constraints {cons!r}: expected a mapping")
    ds = cons.get("dataspace")
    if ds is None:
        return None
    if not isinstance(ds, MappingT):
        raise ValueError(f"{at}: constraints.dataspace {ds!r}: expected {{keep: [...], bypass: [...]}}")
    extra = [k for k in ds if k not in ("keep", "bypass")]
    if extra:
        raise ValueError(f"{at}: constraints.dataspace.{extra[0]} {ds[extra[0]]!r}: naas reads keep and bypass only")
    lists = {}
    for k in ("keep", "bypass"):
        v = ds.get(k) or []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list):
            raise ValueError(f"{at}: constraints.dataspace.{k} {v!r}: expected a list of data spaces")
        for name in v:
            if str(name) not in DATASPACES.values():
                raise ValueError(f"{at}: constraints.dataspace.{k}: data space {name!r} (allowed: Weights, Inputs, "
                                 f"Outputs)")
        lists[k] = [str(x) for x in v]
    both = [x for x in lists["keep"] if x in lists["bypass"]]
    if both:
        raise ValueError(f"{at}: constraints.dataspace: {both[0]} is in both keep and bypass")
    return [d for d in DATASPACES.values() if d not in lists["bypass"]]


def _v04_attributes(raw: Any, at: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, MappingT):
        raise ValueError(f"{at}: attributes {raw!r}: expected a mapping")
    return dict(raw)


def _v04_storage_attrs(a: dict, at: str) -> dict:
    """v0.3 (timeloop-model v3.0.3 BufferLevel::ParseSpecs) attributes of a v0.4 storage component."""
    out = {k: v for k, v in a.items() if k not in _V04_DROPPED}
    wkey = next((k for k in _WORD_BITS_KEYS if k in a), None)
    word_bits = int(_v04_number(a[wkey], at, wkey, whole=True)) if wkey else 16
    out["word-bits"] = word_bits
    bkey = next((k for k in _BLOCK_KEYS if k in a), None)
    block = int(_v04_number(a[bkey], at, bkey, whole=True)) if bkey else None
    width_key = next((k for k in _WIDTH_KEYS if k in a), None)
    if width_key:
        width = _v04_number(a[width_key], at, width_key, whole=True, allow_inf=True)
        if not math.isinf(width):
            width = int(width)
            if width % (word_bits * (block or 1)):
                raise ValueError(f"{at}: {width_key} {width} is not a multiple of {wkey or 'word-bits'} {word_bits}"
                                 + (f" x {bkey} {block}" if block else "") + " (Timeloop asserts it is)")
            if block is None:  # Timeloop: block = width / word bits / cluster size (written as width)
                ckey = next((k for k in _CLUSTER_KEYS if k in a), None)
                cluster = int(_v04_number(a[ckey], at, ckey, whole=True)) if ckey else 1
                if width % (word_bits * cluster):
                    raise ValueError(f"{at}: {width_key} {width} is not a multiple of {wkey or 'word-bits'} "
                                     f"{word_bits} x {ckey} {cluster}")
                out["width"] = width
                if cluster != 1:
                    out["cluster-size"] = cluster
    if block is not None or "width" not in out:
        out["block-size"] = block or 1
    if "entries" in a:
        v = _v04_number(a["entries"], at, "entries", whole=True, allow_inf=True)
        if not math.isinf(v):
            out["entries"] = int(v)
    elif any(k in a for k in _DEPTH_KEYS):
        dkey = next(k for k in _DEPTH_KEYS if k in a)
        v = _v04_number(a[dkey], at, dkey, whole=True, allow_inf=True)
        if not math.isinf(v):
            out["depth"] = int(v)
    elif "sizeKB" in a:
        v = _v04_number(a["sizeKB"], at, "sizeKB", allow_inf=True)
        if not math.isinf(v):
            out["sizeKB"] = _num(v)
    mb_key = next((k for k in ("multiple-buffering", "multiple_buffering") if k in a), None)
    if mb_key:
        mb = _v04_number(a[mb_key], at, mb_key)
        if mb != 1:
            out["multiple-buffering"] = _num(mb)
    if "bandwidth" in a:  # Timeloop: deprecated; read = write = bandwidth / 2, overridden by either
        bw = _v04_number(a["bandwidth"], at, "bandwidth", allow_inf=True)
        out["read_bandwidth"] = out["write_bandwidth"] = _num(bw / 2) if not math.isinf(bw) else bw
    for key in ("read_bandwidth", "write_bandwidth", "shared_bandwidth"):
        if key in a:
            bw = _v04_number(a[key], at, key, allow_inf=True)
            if not math.isinf(bw):
                out[key] = _num(bw)
            else:
                out.pop(key, None)
    return out


def v04_to_v03(arch_doc: MappingT) -> dict:
    """The v0.3 tree document equivalent to a Timeloop v0.4 ``nodes`` architecture.

    ``nodes`` is read outermost first. ``!Container``: its ``attributes`` become defaults of every leaf after it
    in its list (as timeloopfe passes them down), and its ``spatial: {meshX, meshY}`` replicates everything
    after it up to the end of its list: a fan-out below the storage component before it. ``!Component`` with a
    storage class (DRAM, SRAM, regfile, smartbuffer, storage) is a storage level; its own ``spatial`` replicates
    itself and what follows. A compute class (``intmac``, ``compute``...) is the MAC and must come last.
    ``!Hierarchical`` nests a ``nodes`` list. ``!Nothing`` and ``enabled: false`` components are skipped.

    Attributes (word bits ``datawidth``; block size from ``block_size``, else ``width`` / ``datawidth``; depth,
    entries or sizeKB; read/write/shared bandwidth) are written as timeloop-model v3.0.3 reads them; the global
    ``meshX``/``meshY`` of every replicated component come from the ``spatial`` products. A component's
    ``constraints.dataspace`` (keep / bypass; unlisted data spaces kept) goes to ``naas-dataspace-keep``;
    mapper constraints (temporal, spatial) are not read. Refused, with a one-line ``ValueError`` naming the node
    and the value: ``!Parallel`` / ``!Pipelined`` branches, networks, unknown classes, sparse optimizations,
    expressions (non-numeric attributes), fan-out above the outermost storage level, a fan-out that ends before
    a later component (instance counts must only grow inward), storage below the MAC, duplicate or odd names.
    """
    body = _arch_body(arch_doc)
    if not isinstance(body, MappingT) or "nodes" not in body:
        raise ValueError(f"{_V04}: expected architecture: {{version: 0.4, nodes: [...]}}")
    top = "architecture" if isinstance(arch_doc, MappingT) and "architecture" in arch_doc else \
        ("arch" if isinstance(arch_doc, MappingT) and "arch" in arch_doc else "")
    root_path = f"{top}." if top else ""
    version = body.get("version")
    if version is not None and str(version).strip() not in ("0.4", "0.4.0"):
        raise ValueError(f"{_V04}: {root_path}version {version!r}: naas reads the nodes form of version 0.4 (and "
                         f"the v0.3 tree form)")
    if "subtree" in body or "local" in body:
        raise ValueError(f"{_V04}: {root_path}nodes together with {'subtree' if 'subtree' in body else 'local'}: "
                         f"expected one form")

    leaves: list[dict] = []
    labels: list[str] = []  # names of the nodes whose spatial opened the fan-out pending above the next leaf
    root_names: list[str] = []
    seen: dict[str, str] = {}

    def walk(nodes: Any, path: str, defaults: dict, mx: int, my: int) -> None:
        if not isinstance(nodes, list):
            raise ValueError(f"{_V04}: {path}: {type(nodes).__name__} (expected a list of nodes)")
        defaults = dict(defaults)
        n_labels = len(labels)
        for i, node in enumerate(nodes):
            p = f"{path}[{i}]"
            if not isinstance(node, MappingT):
                raise ValueError(f"{_V04}: {p}: {node!r} (expected a !Container, !Component or !Hierarchical node)")
            kind = _v04_kind(node)
            name = node.get("name")
            at = f"{_V04}: {p} ({'!' + kind}{' ' + str(name) if name is not None else ''})"
            if "<<<" in node:
                raise ValueError(f"{at}: '<<<' (timeloopfe's merge) is not read: merge it into the node first")
            if kind in ("Parallel", "Pipelined"):
                raise ValueError(f"{at}: a !{kind} branch: naas's hierarchy is one chain of storage levels, "
                                 f"not components side by side")
            if kind == "Hierarchical":
                walk(node.get("nodes", []), f"{p}.nodes", defaults, mx, my)
                continue
            if kind == "Nothing" or str(node.get("class", "")).lower() == "nothing":
                continue
            if kind not in ("Container", "Component"):
                raise ValueError(f"{at}: tag !{kind} (allowed: !Container, !Component, !Hierarchical, !Nothing)")
            if not isinstance(name, str) or not name or _BAD_NAME.search(name):
                raise ValueError(f"{at}: name {name!r}: expected a name without '.', '[', ']' or white space")
            if node.get("sparse_optimizations"):
                raise ValueError(f"{at}: sparse_optimizations: naas models dense tensors only")
            sx, sy = _v04_spatial(node, at)
            attrs = _v04_attributes(node.get("attributes"), at)
            if kind == "Container":
                if node.get("networks"):
                    raise ValueError(f"{at}: networks {node['networks']!r}: naas has no Timeloop network model")
                if not leaves and not root_names:
                    root_names.append(name)
                defaults.update(attrs)
                if sx * sy > 1:
                    mx, my = mx * sx, my * sy
                    labels.append(name)
                continue
            if node.get("enabled", True) is False:
                continue
            if name in seen:
                raise ValueError(f"{at}: name {name!r} is also {seen[name]} (names must be unique)")
            seen[name] = p
            cls = node.get("class")
            if not isinstance(cls, str) or not cls:
                raise ValueError(f"{at}: class {cls!r}: missing (a storage or compute class)")
            low = cls.lower()
            if any(k in low for k in V04_STORAGE_CLASSES):
                role = "storage"
            elif any(k in low for k in V04_COMPUTE_CLASSES):
                role = "compute"
            elif any(k in low for k in V04_NETWORK_CLASSES):
                raise ValueError(f"{at}: class {cls!r}: a network; naas has no Timeloop network model")
            else:
                raise ValueError(f"{at}: class {cls!r}: not a storage ({', '.join(V04_STORAGE_CLASSES)}) or "
                                 f"compute ({', '.join(V04_COMPUTE_CLASSES)}) class")
            if sx * sy > 1:
                mx, my = mx * sx, my * sy
                labels.append(name)
            merged = {**defaults, **attrs}
            if role == "storage":
                v3_attrs = _v04_storage_attrs(merged, at)
                keeps = _v04_keeps(node, at)
                if keeps is not None:
                    v3_attrs[KEEP_ATTR] = keeps
            else:
                v3_attrs = {k: v for k, v in merged.items() if k not in _V04_DROPPED}
                wkey = next((k for k in _WORD_BITS_KEYS if k in merged), None)
                if wkey:
                    v3_attrs["datawidth"] = int(_v04_number(merged[wkey], at, wkey, whole=True))
            comp: dict[str, Any] = {"name": name, "class": cls}
            if node.get("subclass") is not None:
                comp["subclass"] = node["subclass"]
            comp["attributes"] = v3_attrs
            leaves.append({"comp": comp, "role": role, "at": at, "mesh": (mx, my),
                           "label": labels[-1] if labels else name})
        del labels[n_labels:]

    walk(body.get("nodes"), f"{root_path}nodes", {}, 1, 1)

    storage = [lf for lf in leaves if lf["role"] == "storage"]
    compute = [lf for lf in leaves if lf["role"] == "compute"]
    if not storage:
        raise ValueError(f"{_V04}: {root_path}nodes: no storage component (a !Component of class DRAM, SRAM, "
                         f"regfile, smartbuffer or storage)")
    if not compute:
        raise ValueError(f"{_V04}: {root_path}nodes: no compute component (a !Component of class intmac or "
                         f"compute)")
    if len(compute) > 1:
        raise ValueError(f"{compute[1]['at']}: a second compute component (after "
                         f"{compute[0]['comp']['name']}): naas has one MAC")
    if leaves[-1]["role"] != "compute":
        raise ValueError(f"{leaves[-1]['at']}: storage below the compute component "
                         f"{compute[0]['comp']['name']} (the MAC must be the innermost component)")
    first = leaves[0]
    if first["mesh"] != (1, 1):
        raise ValueError(f"{first['at']}: {first['mesh'][0] * first['mesh'][1]} instances of the outermost storage "
                         f"level (a fan-out above it; naas's outermost level is one instance)")
    if storage[0]["comp"]["attributes"].get(KEEP_ATTR, list(DATASPACES.values())) != list(DATASPACES.values()):
        kept = storage[0]["comp"]["attributes"][KEEP_ATTR]
        raise ValueError(f"{first['at']}: constraints.dataspace keeps {kept}: the outermost storage level keeps "
                         f"every data space")
    for prev, cur in zip(leaves, leaves[1:]):
        (px, py), (cx, cy) = prev["mesh"], cur["mesh"]
        if cx % px or cy % py:
            raise ValueError(f"{cur['at']}: {cx} x {cy} instances below {prev['comp']['name']}'s {px} x {py}: a "
                             f"fan-out ended at the end of a nested nodes list (naas reads one chain whose "
                             f"instance counts only grow inward)")

    root: dict[str, Any] = {"name": root_names[0] if root_names else "system", "local": []}
    node, count = root, 1
    for lf in leaves:
        mx, my = lf["mesh"]
        if mx * my != count:
            child = {"name": f"{lf['label']}[0..{mx * my // count - 1}]", "local": []}
            node["subtree"] = [child]
            node, count = child, mx * my
        if count > 1:
            lf["comp"]["attributes"].update(meshX=mx, meshY=my)
        node["local"].append(lf["comp"])
    return {"architecture": {"version": 0.3, "subtree": [root]}}


def _block_size(attrs: MappingT, word_bits: int) -> tuple[int, str]:
    """(words per block, how it was found) as timeloop-model v3.0.3's BufferLevel::ParseSpecs sets it."""
    bkey = next((k for k in _BLOCK_KEYS if k in attrs), None)
    if bkey:
        return int(attrs[bkey]), ""
    wkey = next((k for k in _WIDTH_KEYS if k in attrs), None)
    if wkey and word_bits:
        cluster = int(attrs["cluster-size"]) if "cluster-size" in attrs else 1
        width = int(attrs[wkey])
        why = f" ({wkey} {width} / word-bits {word_bits}" + (f" / cluster-size {cluster})" if cluster != 1 else ")")
        return max(1, width // word_bits // cluster), why
    return 1, ""


def import_timeloop_arch(arch_doc: MappingT, ert_doc: MappingT | None = None, bypass: Any = None,
                         mapping_doc: Any = None, name: str = "timeloop", layer: ConvLayer | None = None
                         ) -> Hierarchy:
    """A ``Hierarchy`` from a Timeloop v0.3 tree architecture, or a v0.4 ``nodes`` one (read by ``v04_to_v03``).

    See the module docstring for fan-out dims.

    ``ert_doc``: an ERT document (``{ERT: {tables}}``) giving per-level read (``random_read``/``read``) and
    write (``random_fill``/``write``) energies and the MAC's (``mac_random``/``mac``/``compute``); without
    it levels are priced by the energy table (class DRAM -> 'dram', regfile -> 'spad', else 'sram').
    ``layer``: the layer ``mapping_doc`` maps, whose problem dims its spatial directives name (default: a CNN
    layer's, C M R S N P Q and G; a matrix product's are M N K and B).
    ``bypass``: {level name: kept data spaces}, or a Timeloop mapping document whose ``datatype``/``bypass``
    directives are read (it then also serves as ``mapping_doc``). Levels named by neither keep what their
    ``naas-dataspace-keep`` attribute says (a v0.4 dataspace constraint), else everything.

    Refused (one-line ``ValueError``): block sizes other than 1 (``block-size``/``block_size``/``n_words``, or
    ``width`` / word bits: Timeloop then charges ceil(words / block) accesses per data space, naas one per word),
    ``multiple-buffering`` other than 1, nonzero ``energy-per-hop``, an ERT ``update`` energy unlike the fill's.
    """
    from .energy import DEFAULT_ENERGY_TABLE, get_energy_table

    if isinstance(bypass, (list,)) or (isinstance(bypass, MappingT) and "mapping" in bypass):
        mapping_doc = mapping_doc if mapping_doc is not None else bypass
        bypass = None
    directives = _directives(mapping_doc)
    version = "v0.3"
    if is_timeloop_v04(arch_doc):
        arch_doc, version = v04_to_v03(arch_doc), "v0.4"
    arch = arch_doc.get("architecture", arch_doc.get("arch", arch_doc)) if isinstance(arch_doc, MappingT) else None
    if not isinstance(arch, MappingT) or "subtree" not in arch:
        raise ValueError("Timeloop architecture: expected the v0.3 tree form (architecture: {subtree: [...]}) or "
                         "the v0.4 nodes form (architecture: {version: 0.4, nodes: [...]})")

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
            for key, value in attrs.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"Timeloop architecture: {cname}: attributes.{key} {value!r}: must be a "
                                     f"finite number")
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
            for action, energy in ert[key].items():
                if not (math.isfinite(energy) and energy >= 0):
                    raise ValueError(f"Timeloop ERT: {key}: {action} energy {energy!r}: must be a finite number "
                                     f">= 0")

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
    for lname, attrs, _, _ in found:  # a v0.4 dataspace constraint, where neither bypass nor the mapping says
        if KEEP_ATTR in attrs and lname not in keeps_of:
            kept_spaces = attrs[KEEP_ATTR]
            if isinstance(kept_spaces, str):
                kept_spaces = kept_spaces.split()
            kept_set = {_tensor(k, f"Timeloop architecture: {lname}: {KEEP_ATTR}") for k in kept_spaces or []}
            keeps_of[lname] = tuple(t for t in TENSORS if t in kept_set)

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
        block, why = _block_size(attrs, word_bits)
        if block != 1:
            raise ValueError(f"{at}: block-size {block}{why}: Timeloop charges ceil(words / {block}) block accesses "
                             f"per data space, naas one access per word (use a block of 1 word)")
        mb = attrs.get("multiple-buffering", 1)
        if float(mb) != 1:
            raise ValueError(f"{at}: multiple-buffering {mb}: naas has no multiple buffering (Timeloop divides the "
                             f"capacity by it; use 1)")
        size = math.inf
        dkey = next((k for k in _DEPTH_KEYS if k in attrs), None)
        if "entries" in attrs:
            size = int(attrs["entries"]) * word_bits / 8
        elif dkey:
            size = int(attrs[dkey]) * word_bits / 8
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
            u = e.get("random_update", e.get("update", w))
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
                dims = _axis_dims_from_mapping(spatial_of[lname], len(sizes), layer)
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
                     energy_table=table, description=f"imported from a Timeloop {version} architecture "
                                                      f"({len(names)} levels)")
