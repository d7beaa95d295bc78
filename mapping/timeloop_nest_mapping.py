"""Timeloop v0.3 / v0.4 mapping files onto a general hierarchy (SPEC §10): a ``NestMapping`` and keep masks.

``nest_mapping_from_timeloop(doc, layer, hier)`` reads the list under ``mapping:`` (or a bare list) of
directives ``{target, type, factors, permutation, split, keep, bypass}`` as ``timeloop-model`` v3.0.3 does
(src/mapping/parser.cpp), with every level named, never guessed:

- ``target`` names a level of ``hier`` (the architecture's own names): exact, else case-insensitive if that
  is unique. An unknown or ambiguous name, or a numeric storage-level id, is an error listing the levels.
- ``type``: ``temporal`` (the level's loops), ``spatial`` (the loops of the fan-out below it), ``datatype``
  or its synonym ``bypass`` (``keep`` / ``bypass`` lists of Weights, Inputs, Outputs). At most one temporal
  and one spatial directive per level (Timeloop silently keeps the last one; naas refuses the repeat).
- ``factors``: a string as Timeloop's mapper writes it (``C1 M4 R3``, ``C=1 M=4``, a ``#`` comment ends it)
  or a dict ``{C: 1, M: 4}``; Timeloop's dims (C M R S N P Q, and G for a depthwise layer, whose channels
  are naas's K). A dim not given is 1; ``0`` is the whole dim (Timeloop v3.0.3: "interpreting 0 to mean
  full problem dimension"; the product rule below then needs 1 for that dim elsewhere). Imperfect factors
  (``Q3,1``: a last iteration of 1) are refused: naas costs perfect factorizations only. The factors of
  each dim over all levels (temporal and spatial) must multiply to exactly the problem's dim, as Timeloop
  requires.
- ``permutation``: innermost first, a string (one letter per dim) or a list; dims it leaves out are
  appended outermost, in the problem's dim order, as Timeloop pads it.
- spatial ``split``: the dims at positions ``< split`` of the (padded) permutation run along the fan-out's
  X axis, the rest along Y (default: all X). naas axis 0 is Timeloop's X axis and axes 1.. its Y axis, unless
  ``fanout_xy`` ({level: (X size, Y size)} of Timeloop's mesh) says a one-axis fan-out is a Y axis. Every
  spatial factor must sit on an axis that parallelizes its dim, and each axis's factors must fit its size
  (naas checks each level's own fan-out; Timeloop v3 only checks the product over the whole array).
- ``no_link_transfer`` is accepted (naas never forwards tiles between instances; without it Timeloop may,
  which a note says). Directives naas does not model (``skew``, ``no_multicast_no_reduction``,
  ``no_temporal_reuse``) are refused.

Matrix products (gemm / bmm layers) use the matmul problem's dims, [B] M N K (naas N, Y, K, C; see
``nn_space.timeloop_problem``); the naas dims such a problem lacks (X, R, S, and N without a batch) are 1 and
go outermost in each level's order, in N K C Y X R S order. keep / bypass lists may name the operands A, B,
Z (inputs, weights, outputs) as well as Weights, Inputs, Outputs.

Keep masks: a level with datatype directives keeps every tensor but those it bypasses (Timeloop's default
is keep); the returned hierarchy is a copy of ``hier`` with those levels' ``keeps`` replaced. Levels without
one keep what ``hier`` says (a note names those that differ from Timeloop's keep-all default).

Every error is a one-line ``MappingSpecError`` naming the origin, the entry (index and target), the value and
what is allowed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping as MappingT, Sequence

from cost_model.accelerator import TENSORS
from cost_model.hierarchy import Hierarchy
from cost_model.yaml_files import shown_key
from nn_space.layers import DIMS, ConvLayer
from nn_space.timeloop_problem import (TimeloopFormatError, absent_dims, problem_dims, timeloop_instance,
                                       timeloop_order)

from .nest import LevelMapping, NestMapping
from .spec import MappingSpecError

__all__ = ["nest_mapping_from_timeloop", "parse_timeloop_directives", "timeloop_dims", "TimeloopDirective",
           "nest_timeloop_form"]

DATASPACE_OF = {"weights": "Weights", "inputs": "Inputs", "outputs": "Outputs"}
_TENSOR_OF = {v.lower(): k for k, v in DATASPACE_OF.items()}
_TYPES = ("temporal", "spatial", "datatype", "bypass")
_KEYS = {"temporal": {"target", "type", "factors", "permutation"},
         "spatial": {"target", "type", "factors", "permutation", "split", "no_link_transfer"},
         "datatype": {"target", "type", "keep", "bypass"}}
_UNMODELLED = {"no_multicast_no_reduction": "naas always multicasts and reduces spatially",
               "no_temporal_reuse": "naas always reuses a tile while it stays resident",
               "skew": "naas has no skewed loop nests"}
_FACTOR_RE = re.compile(r"([A-Za-z]+)\s*=*\s*([0-9]+)(,([0-9]+))?")


def _line(text: str) -> str:
    return " ".join(str(text).split("\n"))


def _err(text: str) -> MappingSpecError:
    return MappingSpecError(_line(text))


def timeloop_dims(layer: ConvLayer) -> tuple[tuple[str, ...], dict[str, str | None], dict[str, int]]:
    """(Timeloop dims in the problem's order, Timeloop dim -> naas dim (None: always 1), Timeloop bounds)."""
    try:
        inst = timeloop_instance(layer)
    except TimeloopFormatError as exc:
        raise _err(str(exc)) from None
    dims, naas = problem_dims(layer)
    return dims, naas, {d: int(inst[d]) for d in dims}


@dataclass
class TimeloopDirective:
    """One parsed mapping entry (Timeloop dim names; factors already checked for syntax and perfection)."""

    index: int
    target: str
    kind: str  # temporal, spatial or datatype
    factors: dict[str, int] = field(default_factory=dict)
    permutation: list[str] = field(default_factory=list)  # innermost first, as listed (not padded)
    split: int | None = None
    keep: list[str] = field(default_factory=list)  # naas tensor names
    bypass: list[str] = field(default_factory=list)
    no_link_transfer: bool = False

    @property
    def where(self) -> str:
        return f"mapping[{self.index}] ({self.target} {self.kind})"

    def padded(self, dims: Sequence[str]) -> list[str]:
        """The permutation with the dims it leaves out appended (outermost), as Timeloop pads it."""
        return self.permutation + [d for d in dims if d not in self.permutation]

    def to_timeloop(self, dims: Sequence[str]) -> dict[str, Any]:
        """A normalized Timeloop directive (every dim's factor, the padded permutation)."""
        d: dict[str, Any] = {"target": self.target, "type": self.kind}
        if self.kind == "datatype":
            if self.keep:
                d["keep"] = [DATASPACE_OF[t] for t in self.keep]
            if self.bypass:
                d["bypass"] = [DATASPACE_OF[t] for t in self.bypass]
            return d
        d["factors"] = " ".join(f"{x}{self.factors.get(x, 1)}" for x in dims)
        d["permutation"] = "".join(self.padded(dims))
        if self.kind == "spatial":
            d["split"] = len(dims) if self.split is None else self.split
        return d


def _entries(doc: Any, origin: str) -> list:
    entries = doc
    if isinstance(entries, MappingT):
        if "mapping" not in entries:
            raise _err(f"{origin}: mapping: missing (expected a list of target/type/factors/permutation "
                       f"directives under 'mapping:', or a bare list)")
        entries = entries["mapping"]
        if isinstance(entries, MappingT) and "mapping" in entries:
            entries = entries["mapping"]
    if not isinstance(entries, list):
        raise _err(f"{origin}: mapping: {type(entries).__name__} (expected a list of target/type/factors/"
                   f"permutation directives)")
    return entries


def _parse_factor_items(raw: Any, where: str) -> list[tuple[str, int, int | None]]:
    """[(dim, factor, residual or None)] of a factor string, list of strings or dict."""
    if isinstance(raw, MappingT):
        items = []
        for k, v in raw.items():
            if isinstance(v, str):
                m = re.fullmatch(r"\s*([0-9]+)\s*(,\s*([0-9]+))?\s*", v)
                if not m:
                    raise _err(f"{where}.factors.{k}: {v!r} (allowed: an integer >= 0)")
                items.append((str(k), int(m.group(1)), int(m.group(3)) if m.group(3) else None))
            elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise _err(f"{where}.factors.{k}: {v!r} (allowed: an integer >= 0; 0 = the whole dim)")
            else:
                items.append((str(k), v, None))
        return items
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        raw = " ".join(raw)
    if not isinstance(raw, str):
        raise _err(f"{where}.factors: {raw!r} (allowed: a string such as 'C1 M4 R3', or a dict {{C: 1, M: 4}})")
    text = raw.split("#")[0]
    items, pos = [], 0
    for m in _FACTOR_RE.finditer(text):
        gap = text[pos:m.start()]
        if gap.strip(" \t,"):
            raise _err(f"{where}.factors: {raw!r}: {gap.strip()!r} is not DIM<factor> (write e.g. 'C1 M4 R3')")
        items.append((m.group(1), int(m.group(2)), int(m.group(4)) if m.group(4) else None))
        pos = m.end()
    if text[pos:].strip(" \t,"):
        raise _err(f"{where}.factors: {raw!r}: {text[pos:].strip()!r} is not DIM<factor> (write e.g. 'C1 M4 R3')")
    return items


#: The operands of Timeloop's gemm-ABZ example, read for matrix products only.
_MATMUL_TENSOR_OF = {"a": "inputs", "b": "weights", "z": "outputs"}


def _tensors(raw: Any, where: str, matmul: bool = False) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    names = {**_TENSOR_OF, **_MATMUL_TENSOR_OF} if matmul else _TENSOR_OF
    allowed = "Weights, Inputs, Outputs" + (" (or B, A, Z)" if matmul else "")
    if not isinstance(raw, list):
        raise _err(f"{where}: {raw!r} (allowed: a list of {allowed})")
    out = []
    for t in raw:
        key = names.get(str(t).lower())
        if key is None:
            raise _err(f"{where}: data space {t!r} (allowed: {allowed})")
        if key not in out:
            out.append(key)
    return out


def parse_timeloop_directives(doc: Any, layer: ConvLayer, origin: str = "mapping") -> list[TimeloopDirective]:
    """The directives of a Timeloop mapping document, checked for syntax (targets are not resolved here)."""
    dims, _, bounds = timeloop_dims(layer)
    out = []
    for i, e in enumerate(_entries(doc, origin)):
        where = f"{origin}: mapping[{i}]"
        if not isinstance(e, MappingT):
            raise _err(f"{where}: {e!r} (allowed: a directive with target, type, factors, permutation)")
        if "target" not in e:
            raise _err(f"{where}.target: missing (allowed: the name of a storage level)")
        target = e["target"]
        if isinstance(target, bool) or not isinstance(target, str) or not target.strip():
            raise _err(f"{where}.target: {target!r} (allowed: the name of a storage level; naas does not take "
                       f"Timeloop's numeric level ids)")
        target = target.strip()
        kind = e.get("type")
        where = f"{origin}: mapping[{i}] ({shown_key(target)})"
        if kind == "skew":
            raise _err(f"{where}.type: 'skew' ({_UNMODELLED['skew']}; allowed: {', '.join(_TYPES)})")
        if kind not in _TYPES:
            raise _err(f"{where}.type: {kind!r} (allowed: {', '.join(_TYPES)})")
        kind = "datatype" if kind == "bypass" else kind
        for key in e:
            if key in _UNMODELLED:
                raise _err(f"{where}.{key}: {e[key]!r} ({_UNMODELLED[key]}; remove it)")
            if key not in _KEYS[kind]:
                raise _err(f"{where}.{shown_key(key)}: not a field of a {kind} directive (allowed: "
                           f"{', '.join(sorted(_KEYS[kind]))})")
        d = TimeloopDirective(i, target, kind)
        if kind == "datatype":
            d.keep = _tensors(e.get("keep"), f"{where}.keep", layer.is_matmul)
            d.bypass = _tensors(e.get("bypass"), f"{where}.bypass", layer.is_matmul)
            both = [t for t in d.keep if t in d.bypass]
            if both:
                raise _err(f"{where}: {DATASPACE_OF[both[0]]} is in both keep and bypass (allowed: one of them)")
            out.append(d)
            continue
        for name, f, res in _parse_factor_items(e.get("factors", {}) or {}, where):
            if name not in dims:
                raise _err(f"{where}.factors: dim {name!r} (allowed: {', '.join(dims)}, the problem's dims)")
            if name in d.factors:
                raise _err(f"{where}.factors: {name} is given twice (allowed: one factor per dim)")
            if res is not None and res != f:
                raise _err(f"{where}.factors: {name}{f},{res} is an imperfect factor (last iteration {res} of {f}): "
                           f"naas costs perfect factorizations only (allowed: {name}<f> with no ',<residual>')")
            d.factors[name] = bounds[name] if f == 0 else f
        raw = e.get("permutation", "")
        if raw is None:
            raw = ""
        if isinstance(raw, str):
            perm = [c for c in raw if not c.isspace()]
        elif isinstance(raw, list) and all(isinstance(p, str) for p in raw):
            perm = [p.strip() for p in raw if p.strip()]
        else:
            raise _err(f"{where}.permutation: {raw!r} (allowed: a string such as 'QPMCRSN', innermost first, "
                       f"or a list of dims)")
        for p in perm:
            if p not in dims:
                raise _err(f"{where}.permutation: dim {p!r} in {raw!r} (allowed: {', '.join(dims)})")
            if perm.count(p) > 1:
                raise _err(f"{where}.permutation: dim {p!r} appears twice in {raw!r} (allowed: each dim once)")
        d.permutation = perm
        if kind == "spatial":
            split = e.get("split")
            if split is not None and (isinstance(split, bool) or not isinstance(split, int) or split < 0):
                raise _err(f"{where}.split: {split!r} (allowed: an integer >= 0, the number of permutation "
                           f"positions on the X axis)")
            d.split = split
            nlt = e.get("no_link_transfer")
            if nlt is not None:
                listed = _tensors(nlt, f"{where}.no_link_transfer", layer.is_matmul)
                d.no_link_transfer = set(listed) == set(TENSORS)
        out.append(d)
    return out


def resolve_target(target: str, names: Sequence[str], where: str, hier_name: str = "") -> int:
    """Index of the level ``target`` names: exact, else case-insensitive if unique; else a one-line error."""
    names = list(names)
    if target in names:
        return names.index(target)
    ci = [i for i, n in enumerate(names) if n.lower() == target.lower()]
    if len(ci) == 1:
        return ci[0]
    of = f" of {hier_name}" if hier_name else ""
    if ci:
        raise _err(f"{where}.target: {target!r} is ambiguous: it matches {', '.join(names[i] for i in ci)} "
                   f"ignoring case (allowed, exactly: {', '.join(names)})")
    raise _err(f"{where}.target: {target!r} is not a storage level{of} (allowed, outermost first: "
               f"{', '.join(names)})")


def _axis_groups(hier: Hierarchy, level: int, fanout_xy: MappingT[str, tuple[int, int]] | None
                 ) -> dict[str, list[int]]:
    """{'X': naas axes, 'Y': naas axes} of the fan-out below ``level`` (axes of size 1 left out)."""
    lv = hier.levels[level]
    axes = [k for k, a in enumerate(lv.fanout) if a.size > 1]
    xy = (fanout_xy or {}).get(lv.name)
    if xy is not None and len(axes) == 1:
        fx, fy = xy
        if fy > 1 and fx <= 1:
            return {"X": [], "Y": axes}
    return {"X": axes[:1], "Y": axes[1:]}


def _describe_fanout(hier: Hierarchy, level: int, groups: dict[str, list[int]]) -> str:
    lv = hier.levels[level]
    parts = []
    for axis in ("X", "Y"):
        for k in groups[axis]:
            a = lv.fanout[k]
            parts.append(f"{axis} {a.size} ({a.label})")
    return ", ".join(parts) or "none"


def nest_mapping_from_timeloop(doc: Any, layer: ConvLayer, hier: Hierarchy, origin: str = "mapping", *,
                               fanout_xy: MappingT[str, tuple[int, int]] | None = None
                               ) -> tuple[NestMapping, Hierarchy, list[str]]:
    """(the mapping, ``hier`` with the keep masks the datatype directives give, notes); see the module doc."""
    dims, naas_of, bounds = timeloop_dims(layer)
    directives = parse_timeloop_directives(doc, layer, origin)
    names = hier.level_names
    notes: list[str] = []
    temporal: dict[int, TimeloopDirective] = {}
    spatial: dict[int, TimeloopDirective] = {}
    datatype: dict[int, list[TimeloopDirective]] = {}
    for d in directives:
        at = f"{origin}: mapping[{d.index}]"
        lvl = resolve_target(d.target, names, at, hier.name)
        where = f"{origin}: {d.where}"
        if d.kind in ("temporal", "spatial"):
            seen = temporal if d.kind == "temporal" else spatial
            if lvl in seen:
                raise _err(f"{where}: a second {d.kind} directive for {names[lvl]} (the first is "
                           f"mapping[{seen[lvl].index}]; allowed: one per level, Timeloop would keep only the last)")
            if d.kind == "spatial" and hier.levels[lvl].fanout_size <= 1:
                with_fan = [lv.name for lv in hier.levels if lv.fanout_size > 1]
                raise _err(f"{where}: {names[lvl]} has no fan-out below it, so no spatial loops (allowed targets "
                           f"of a spatial directive: {', '.join(with_fan) or 'none in this hierarchy'})")
            seen[lvl] = d
        else:
            if lvl == 0 and d.bypass:
                raise _err(f"{where}.bypass: {[DATASPACE_OF[t] for t in d.bypass]} at {names[0]}, the outermost "
                           f"level (allowed: none; every tensor comes from it)")
            datatype.setdefault(lvl, []).append(d)
        if d.target != names[lvl]:
            notes.append(f"mapping[{d.index}]: target {d.target!r} read as level {names[lvl]!r} (case differs)")

    # --- factors and orders ---------------------------------------------------------------------
    tf = [[1] * 7 for _ in names]
    sf = [[1] * 7 for _ in names]
    absent = absent_dims(layer)  # a matmul's X, R, S (and N without a batch): outermost
    orders = [timeloop_order("NKCYXRS", layer)] * len(names)
    tl_factors: dict[str, list[tuple[str, int]]] = {x: [] for x in dims}  # for the product message
    for lvl, d in temporal.items():
        for x, f in d.factors.items():
            nd = naas_of[x]
            if nd is not None:
                tf[lvl][DIMS.index(nd)] *= f
            if f != 1:
                tl_factors[x].append((names[lvl], f))
        orders[lvl] = absent + "".join(naas_of[x] for x in reversed(d.padded(dims)) if naas_of[x] is not None)
    for lvl, d in spatial.items():
        groups = _axis_groups(hier, lvl, fanout_xy)
        lv = hier.levels[lvl]
        split = len(dims) if d.split is None else d.split
        padded = d.padded(dims)
        used: dict[int, list[tuple[str, int]]] = {}
        where = f"{origin}: {d.where}"
        for pos, x in enumerate(padded):
            f = d.factors.get(x, 1)
            if f == 1:
                continue
            tl_factors[x].append((f"{names[lvl]} (spatial)", f))
            nd = naas_of[x]
            if nd is None:
                continue  # the product rule refuses it (the dim is 1)
            axis = "X" if pos < split else "Y"
            k = lv.axis_of(nd)
            if not groups[axis]:
                raise _err(f"{where}: {x}{f} runs along Timeloop's {axis} axis (permutation position {pos}, "
                           f"split {split}), but the fan-out below {lv.name} has no {axis} axis (its axes: "
                           f"{_describe_fanout(hier, lvl, groups)})")
            if k not in groups[axis]:
                if k < 0:
                    raise _err(f"{where}: {x}{f} on the {axis} axis below {lv.name}, whose fan-out does not "
                               f"parallelize {x} (its axes: {_describe_fanout(hier, lvl, groups)})")
                other = "Y" if axis == "X" else "X"
                raise _err(f"{where}: {x}{f} on the {axis} axis below {lv.name}, but {x} is parallelized by its "
                           f"{other} axis (size {lv.fanout[k].size}; set split so that {x} is on {other})")
            used.setdefault(k, []).append((x, f))
            sf[lvl][DIMS.index(nd)] *= f
        for k, fs in used.items():
            prod = math.prod(f for _, f in fs)
            a = lv.fanout[k]
            if prod > a.size:
                axis = "X" if k in groups["X"] else "Y"
                listed = " x ".join(f"{x}{f}" for x, f in fs)
                raise _err(f"{where}: spatial factors {listed} = {prod} on the {axis} axis below {lv.name} "
                           f"({a.label}), whose size is {a.size} (allowed: a product <= {a.size})")
        if not d.no_link_transfer and any(f > 1 for f in d.factors.values()):
            notes.append(f"mapping[{d.index}] ({lv.name} spatial): no no_link_transfer for every data space: "
                         f"Timeloop may forward tiles between neighbouring instances, naas never does")
    for x in dims:
        prod = math.prod(f for _, f in tl_factors[x])
        if prod != bounds[x]:
            parts = " x ".join(f"{n} {x}{f}" for n, f in tl_factors[x]) or "none > 1"
            raise _err(f"{origin}: factors of {x} multiply to {prod} ({parts}), the problem's {x} is {bounds[x]} "
                       f"(allowed: factors over all levels whose product is exactly {bounds[x]}, as Timeloop "
                       f"requires; 0 stands for the whole dim)")
    mapping = NestMapping(tuple(LevelMapping(tuple(tf[i]), orders[i], tuple(sf[i])) for i in range(len(names))),
                          label=origin)

    # --- keep masks -----------------------------------------------------------------------------
    levels = list(hier.levels)
    for lvl, ds in datatype.items():
        kept = set(TENSORS)
        for d in ds:
            kept |= set(d.keep)
            kept -= set(d.bypass)
        levels[lvl] = replace(levels[lvl], keeps=tuple(t for t in TENSORS if t in kept))
    for lvl, lv in enumerate(hier.levels):
        if lvl not in datatype and set(lv.keeps) != set(TENSORS):
            notes.append(f"level {lv.name}: no datatype directive; keeps {', '.join(lv.keeps) or 'nothing'} as "
                         f"the hierarchy says (Timeloop's default would keep every data space)")
    new_hier = replace(hier, levels=tuple(levels)) if datatype else hier
    return mapping, new_hier, notes


def nest_timeloop_form(mapping: NestMapping, layer: ConvLayer) -> NestMapping:
    """``mapping`` as it reads back from the Timeloop file ``export_timeloop`` writes: for a matrix product,
    the naas dims its problem has no name for (X, R, S, and N without a batch) moved outermost in every
    level's order (the same loops, the same cost); any other layer's mapping as it is."""
    if not layer.is_matmul:
        return mapping
    return NestMapping(tuple(replace(lm, order=timeloop_order(lm.order, layer)) for lm in mapping.levels),
                       label=mapping.label)
