"""Cost a set of Timeloop v3 input files (architecture, problem, mapping, ERT) with naas's hierarchy model.

``evaluate_timeloop_files(arch, problem, mapping, ert=None)`` reads the files ``timeloop-model`` v3.0.3 reads
and returns ``(result, notes)``; ``result`` is JSON-ready::

    {"layer", "cycles", "energy_pJ", "edp", "macs", "utilization",
     "levels": {level: {"Weights"|"Inputs"|"Outputs": {"reads", "fills", "updates"}}}}

with the counts as totals over a level's instances (Timeloop's per-instance counts times its utilized
instances) and the data spaces a level bypasses left out, as Timeloop prints them.

- The architecture (v0.3 tree form, or v0.4 ``nodes`` form with ``!Container`` / ``!Component`` /
  ``!Hierarchical`` tags, converted first by ``cost_model.timeloop_arch.v04_to_v03``) is read by
  ``cost_model.timeloop_arch.import_timeloop_arch``. A v0.4 component's ``constraints.dataspace`` gives the
  level's keeps where the mapping has no datatype directive for it (the mapping's directives win). A Timeloop
  architecture does not say which loop dims a fan-out parallelizes: unless the file says so
  (``naas-fanout-dims``, written by ``export_timeloop``), each axis parallelizes the dims the mapping's
  spatial directive puts on it (X: permutation positions ``< split``, Y: the rest) with a factor > 1, or all
  the dims it puts there if none has one. Only the spatial directives inform it; keep masks come from the
  mapping's datatype directives (``mapping.timeloop_nest_mapping``).
- The ERT: the ``ert`` file, else an ``ERT:`` key in any of the other files (``timeloop-model`` merges the
  top-level keys of all its files); without one, levels are priced by naas's energy table (a note says so).
- The problem: ``nn_space.timeloop_problem`` (the layer is named after the problem file, as
  ``load_timeloop_problem`` names it); the mapping: ``nest_mapping_from_timeloop`` (levels by the
  architecture's names only).
- Known differences from timeloop-model (TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION=1): naas does not round
  cycles up to an integer, and credits the halo when an outer loop's advance repeats the same translation
  where Timeloop re-fetches it (SPEC §10 measurements).

Errors are one-line ``ValueError`` subclasses naming the file and the field: ``TimeloopFileError`` (a file
missing, a directory, not UTF-8, not YAML, a key missing), ``TimeloopFormatError`` (the problem),
``MappingSpecError`` (the mapping) and ``InvalidNestMappingError`` (a mapping naas refuses to cost).

Command line: ``python -m cost_model.timeloop_evaluate ARCH PROBLEM MAPPING [ERT]`` prints the JSON.
"""
from __future__ import annotations

import copy
import json
import math
import sys
from pathlib import Path
from typing import Any, Mapping as MappingT

import yaml

from mapping.spec import MappingSpecError
from mapping.timeloop_nest_mapping import (TimeloopDirective, nest_mapping_from_timeloop,
                                           parse_timeloop_directives, timeloop_dims)
from nn_space.layers import DIMS
from nn_space.timeloop_problem import TimeloopFormatError, layer_from_timeloop

from .accelerator import TENSORS
from .nest_evaluate import DATASPACE_NAMES, InvalidNestMappingError, evaluate_nest
from .nest_layout import TENSOR_KEYS
from .timeloop_arch import (FANOUT_ATTR, TaggedNode, _split_name, import_timeloop_arch, is_timeloop_v04,
                            v04_to_v03)
from .yaml_files import StrictLoader, non_finite, read_yaml_file

__all__ = ["evaluate_timeloop_files", "TimeloopFileError"]

_STORAGE_CLASSES = ("dram", "sram", "regfile", "buffer", "storage", "spad", "cache")
_MAC_CLASSES = ("mac", "compute", "intmac", "fpmac", "multiplier", "adder")


class TimeloopFileError(ValueError):
    """A Timeloop input file naas cannot read (names the file and the field)."""


def _line(text: Any) -> str:
    return " ".join(str(text).split())


class _Loader(StrictLoader):
    """The project's safe loader (``cost_model.yaml_files.StrictLoader``) that also reads any ``!Tag``
    (Timeloop v0.4's ``!Component``, ``!Container``) as its plain node; a tagged mapping is a ``TaggedNode``
    (a dict whose ``tag`` is the tag's name, e.g. ``"Container"``)."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return TaggedNode(loader.construct_mapping(node, deep=True), tag=suffix)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)
    return TaggedNode({}, tag=suffix) if value == "" else value  # e.g. a bare ``- !Nothing``


_Loader.add_multi_constructor("!", _any_tag)


def _read(path: str | Path, role: str) -> Any:
    doc = read_yaml_file(path, TimeloopFileError, role, loader=_Loader)
    bad = non_finite(doc)
    if bad is not None:  # no Timeloop number is infinite (or not a number)
        raise TimeloopFileError(f"{path}: {bad[0]}: {bad[1]!r} (allowed: a finite number)")
    return doc


def _find(docs: list[tuple[str, Any]], keys: tuple[str, ...]) -> tuple[str, Any, str] | None:
    """(file, value, key) of the first file holding one of ``keys`` at its top level."""
    for origin, doc in docs:
        if isinstance(doc, MappingT):
            for k in keys:
                if k in doc:
                    return origin, doc[k], k
    return None


# --- the architecture's mesh (which fan-out axis is X, which Y), as import_timeloop_arch reads it --------
def _components(arch_doc: Any) -> tuple[list[tuple[str, dict, int]], tuple[str, dict, int] | None]:
    """Storage components (name, attributes, instances) outermost first, and the MAC."""
    arch = arch_doc.get("architecture", arch_doc.get("arch", arch_doc))
    found, mac, node, mult = [], None, arch, 1
    while isinstance(node, MappingT) and isinstance(node.get("subtree"), list) and len(node["subtree"]) == 1:
        node = node["subtree"][0]
        if not isinstance(node, MappingT):
            break
        mult *= _split_name(str(node.get("name", "")))[1]
        local = node.get("local", []) or []
        for comp in local if isinstance(local, list) else []:  # import_timeloop_arch reports a malformed one
            if not isinstance(comp, MappingT):
                continue
            cname, count = _split_name(str(comp.get("name", "")))
            cls = str(comp.get("class", ""))
            attrs = comp.get("attributes", {}) or {}
            attrs = dict(attrs) if isinstance(attrs, MappingT) else {}
            if any(k in cls for k in _MAC_CLASSES) and not any(k in cls.lower() for k in _STORAGE_CLASSES):
                mac = (cname, attrs, mult * count)
            elif any(k in cls.lower() for k in _STORAGE_CLASSES):
                found.append((cname, attrs, mult * count))
    return found, mac


def _fanout_xy(arch_doc: Any) -> dict[str, tuple[int, int]]:
    """{storage level: (X, Y) sizes of the fan-out below it} by meshX / meshY (import_timeloop_arch's rule)."""
    try:
        found, mac = _components(arch_doc)
        if mac is None:
            return {}
        comps = found + [mac]

        def mesh(a: dict, inst: int) -> tuple[int, int]:
            mx = int(a.get("meshX", inst))
            return mx, int(a.get("meshY", 1 if "meshX" not in a else inst // max(1, mx)))

        out = {}
        for (name, a, inst), (_, ca, cinst) in zip(comps, comps[1:]):
            if cinst == inst or cinst % inst:
                continue
            (px, py), (cx, cy) = mesh(a, inst), mesh(ca, cinst)
            n = cinst // inst
            fx, fy = (cx // px, cy // py) if px and py and cx % px == 0 and cy % py == 0 else (n, 1)
            if fx * fy != n:
                fx, fy = n, 1
            out[name] = (fx, fy)
        return out
    except (TypeError, ValueError, AttributeError, ArithmeticError):
        return {}


def _axis_dims(d: TimeloopDirective, dims, naas_of, axes: list[str]) -> list[list[str]]:
    """naas dims of each present Timeloop axis ('X'/'Y') from a spatial directive (see the module doc)."""
    padded = d.padded(dims)
    split = len(dims) if d.split is None else d.split
    groups = {"X": padded[:split], "Y": padded[split:]}
    out = []
    for axis in axes:
        g = groups[axis]
        used = [x for x in g if d.factors.get(x, 1) > 1 and naas_of[x]] or [x for x in g if naas_of[x]]
        nd = []
        for x in used:
            if naas_of[x] not in nd:
                nd.append(naas_of[x])
        out.append(nd)
    if len(out) == 1 and not out[0]:
        out[0] = list(DIMS)
    elif len(out) == 2:
        for i in (0, 1):
            if not out[i]:
                out[i] = [x for x in DIMS if x not in out[1 - i]]
    return out


def _with_fanout_dims(arch_doc: Any, directives: list[TimeloopDirective], dims, naas_of,
                      xy: dict[str, tuple[int, int]], notes: list[str]) -> Any:
    """A copy of the architecture with ``naas-fanout-dims`` on every fan-out level that lacks it."""
    doc = copy.deepcopy(arch_doc)
    found, _ = _components(doc)
    names = [n for n, _, _ in found]
    spatial: dict[str, TimeloopDirective] = {}
    for d in directives:
        if d.kind != "spatial":
            continue
        hit = [n for n in names if n == d.target] or [n for n in names if n.lower() == d.target.lower()]
        if len(hit) == 1:
            spatial.setdefault(hit[0], d)
    for name, attrs_copy, _ in found:
        fx, fy = xy.get(name, (1, 1))
        if fx * fy <= 1 or FANOUT_ATTR in attrs_copy:
            continue
        axes = [a for a, s in (("X", fx), ("Y", fy)) if s > 1]
        if name in spatial:
            groups = _axis_dims(spatial[name], dims, naas_of, axes)
        elif len(axes) == 1:
            groups = [list(DIMS)]
        else:
            groups = [["N", "K", "C", "Y"], ["X", "R", "S"]]
            notes.append(f"{name}: a {fx} x {fy} fan-out with no spatial directive: its axes read as "
                         f"parallelizing N K C Y (X) and X R S (Y); no spatial loop uses them")
        _set_attr(doc, name, " ; ".join(" ".join(g) for g in groups))
    return doc


def _set_attr(arch_doc: Any, name: str, value: str) -> None:
    arch = arch_doc.get("architecture", arch_doc.get("arch", arch_doc))
    node = arch
    while isinstance(node, MappingT) and isinstance(node.get("subtree"), list) and len(node["subtree"]) == 1:
        node = node["subtree"][0]
        local = (node.get("local", []) or []) if isinstance(node, MappingT) else []
        for comp in local if isinstance(local, list) else []:  # import_timeloop_arch reports a malformed one
            if isinstance(comp, MappingT) and _split_name(str(comp.get("name", "")))[0] == name:
                attrs = comp.get("attributes")
                if attrs and not isinstance(attrs, MappingT):
                    continue
                if not isinstance(attrs, dict):
                    attrs = comp["attributes"] = dict(attrs or {})
                attrs[FANOUT_ATTR] = value
                return


# --- the entry point -------------------------------------------------------------------------------------
def evaluate_timeloop_files(arch: str | Path, problem: str | Path, mapping: str | Path,
                            ert: str | Path | None = None) -> tuple[dict, list[str]]:
    """(JSON-ready result, notes) of one layer's Timeloop files costed by naas (see the module docstring)."""
    notes: list[str] = []
    paths = {"architecture": arch, "problem": problem, "mapping": mapping}
    if ert is not None:
        paths["ERT"] = ert
    docs = {role: _read(p, role) for role, p in paths.items()}
    if isinstance(docs.get("ERT"), MappingT) and "ERT" not in docs["ERT"] and "tables" in docs["ERT"]:
        docs["ERT"] = {"ERT": docs["ERT"]}  # a bare table list
    ordered = [(str(paths[r]), docs[r]) for r in paths]

    def locate(role: str, keys: tuple[str, ...], bare_ok: bool = False) -> tuple[str, Any]:
        own = str(paths[role]) if role in paths else None
        doc = docs.get(role)
        if own is not None:
            if isinstance(doc, MappingT):
                for k in keys:
                    if k in doc:
                        return own, doc
            elif bare_ok and isinstance(doc, list):
                return own, doc
        hit = _find([o for o in ordered if o[0] != own], keys)
        if hit is not None:
            notes.append(f"{role} read from {hit[0]} (its '{hit[2]}:' key)")
            return hit[0], {hit[2]: hit[1]}
        if own is None:
            raise KeyError(role)
        what = type(doc).__name__ if not isinstance(doc, MappingT) else "a mapping without it"
        raise TimeloopFileError(f"{own}: {keys[0]}: missing (the file holds {what}; expected a top-level "
                                f"'{keys[0]}:' key)")

    arch_origin, arch_doc = locate("architecture", ("architecture", "arch"))
    problem_origin, problem_doc = locate("problem", ("problem",))
    mapping_origin, mapping_doc = locate("mapping", ("mapping",), bare_ok=True)
    try:
        ert_origin, ert_doc = locate("ERT", ("ERT",))
    except KeyError:
        ert_origin, ert_doc = None, None
        notes.append("no ERT: level energies from naas's energy table by class and size, not Timeloop's")
    if ert_doc is not None and not isinstance(ert_doc.get("ERT"), MappingT):
        raise TimeloopFileError(f"{ert_origin}: ERT: {type(ert_doc.get('ERT')).__name__} (expected a mapping "
                                f"with 'tables:')")
    if ert_doc is not None and not isinstance(ert_doc["ERT"].get("tables"), list):
        raise TimeloopFileError(f"{ert_origin}: ERT.tables: missing or not a list (expected Accelergy's "
                                f"[{{name, actions: [{{name, energy}}]}}] tables)")

    # the layer
    layer = layer_from_timeloop(problem_doc, origin=problem_origin, name=Path(problem_origin).stem)

    # the mapping's directives (syntax), then the architecture with each fan-out's dims
    directives = parse_timeloop_directives(mapping_doc, layer, mapping_origin)
    dims, naas_of, _ = timeloop_dims(layer)
    if is_timeloop_v04(arch_doc):
        try:
            arch_doc = v04_to_v03(arch_doc)
        except ValueError as exc:
            raise TimeloopFileError(f"{arch_origin}: {_line(exc)}") from None
        notes.append("architecture: Timeloop v0.4 nodes form, read as the equivalent v0.3 tree")
    arch_tree = arch_doc.get("architecture", arch_doc.get("arch"))
    if not isinstance(arch_tree, MappingT) or "subtree" not in arch_tree:
        version = arch_tree.get("version") if isinstance(arch_tree, MappingT) else None
        raise TimeloopFileError(f"{arch_origin}: architecture: {'version ' + str(version) + ' ' if version else ''}"
                                f"without 'subtree' or 'nodes' (naas reads Timeloop's v0.3 tree form, "
                                f"architecture: {{version: 0.3, subtree: [...]}}, and the v0.4 nodes form, "
                                f"architecture: {{version: 0.4, nodes: [...]}})")
    xy = _fanout_xy(arch_doc)
    arch_named = _with_fanout_dims(arch_doc, directives, dims, naas_of, xy, notes)
    try:
        hier = import_timeloop_arch(arch_named, ert_doc, None, None, name=Path(arch_origin).stem)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        msg = _line(exc)
        origin = ert_origin if ert_origin and ("ERT" in msg or "random_" in msg) else arch_origin
        if not isinstance(exc, ValueError):
            msg = f"architecture: malformed ({type(exc).__name__}: {msg})"
        raise TimeloopFileError(f"{origin}: {msg}") from None

    nest, hier, more = nest_mapping_from_timeloop(mapping_doc, layer, hier, origin=mapping_origin, fanout_xy=xy)
    notes += more
    try:
        cost = evaluate_nest(layer, hier, nest)
    except InvalidNestMappingError as exc:
        raise InvalidNestMappingError(_line(f"{mapping_origin}: {exc}"), exc.status) from None

    counts = cost.counts()
    levels = {}
    for lv in hier.levels:
        levels[lv.name] = {DATASPACE_NAMES[k]: counts[lv.name][DATASPACE_NAMES[k]]
                           for k, t in zip(TENSOR_KEYS, TENSORS) if t in lv.keeps}
    result = {"layer": layer.name, "cycles": float(cost.cycles), "energy_pJ": float(cost.energy),
              "edp": float(cost.edp), "macs": int(cost["macs"]), "utilization": float(cost["utilization"]),
              "levels": levels}
    if not float(cost.cycles).is_integer():
        notes.append(f"cycles {cost.cycles:g} not rounded up (Timeloop reports {math.ceil(cost.cycles)})")
    return result, notes


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (3, 4):
        print("usage: python -m cost_model.timeloop_evaluate ARCH PROBLEM MAPPING [ERT]", file=sys.stderr)
        return 2
    try:
        result, notes = evaluate_timeloop_files(*args)
    except (ValueError, MappingSpecError, TimeloopFormatError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
