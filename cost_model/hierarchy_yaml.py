"""Hierarchy files (YAML): a ``levels`` list from DRAM down to the MAC; 3-level accelerator files read as
their template hierarchy. Every error names the file, the field and the value.

    name: eyeriss-hier
    word_bits: 16                      # default word of every tensor
    precision: {weights: 8, inputs: 8, outputs: 24}   # optional, bits per tensor
    clock: 200 MHz
    energy: {table: timeloop-eyeriss-65nm}
    levels:
      - {name: DRAM, energy: dram, bandwidth: 4}
      - name: GLB
        size: 108 KiB
        keeps: [inputs, outputs]       # weights bypass it
        read_bandwidth: 12
        write_bandwidth: 8
        fanout: [{size: 12, dims: [R, C, K]}, {size: 14, dim: Y}]
      - {name: PE, size: {weights: 224 words, inputs: 12 words, outputs: 24 words}, energy: spad}
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping as MappingT

import yaml

from .accelerator import (BUILTIN_DIR, MAX_AXIS_SIZE, TENSORS, AcceleratorSpecError, ArrayDim, _Reader,
                          accelerator_from_dict)
from .energy import DEFAULT_ENERGY_TABLE, ENERGY_TABLES, get_energy_table
from .hierarchy import (ENERGY_CLASSES, Hierarchy, HierarchySpecError, StorageLevel, check_word_room,
                        hierarchy_from_accelerator, level_dict)
from .units import finite_number, parse_clock, parse_size
from .yaml_files import path_exists, read_yaml_file

HIERARCHY_DIR = Path(__file__).resolve().parent / "hierarchies"
_TOP = {"name", "description", "word_bits", "precision", "clock", "energy", "levels", "sources"}
_LEVEL = {"name", "keeps", "size", "bandwidth", "read_bandwidth", "write_bandwidth", "energy", "fanout",
          "fanout_hop_energy", "word_bits"}


def _bits(rd: _Reader, value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise rd.fail(path, f"{value!r} (allowed: integer 1 to 64)")
    return value


def _axes(rd: _Reader, doc, path: str) -> tuple[ArrayDim, ...]:
    if not isinstance(doc, list) or not doc:
        raise rd.fail(path, f"{doc!r} is not a list of {{size, dim}} or {{size, dims}} entries (1 to 3)")
    axes = []
    for i, entry in enumerate(doc):
        entry = rd.mapping(entry, f"{path}[{i}]", {"size", "dim", "dims"}, {"size"})
        size = entry["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_AXIS_SIZE:
            raise rd.fail(f"{path}[{i}].size", f"{size!r} (allowed: integer 1 to {MAX_AXIS_SIZE})")
        if ("dim" in entry) == ("dims" in entry):
            raise rd.fail(f"{path}[{i}]", "give exactly one of dim (a loop dim) or dims (a list of them)")
        dims = [entry["dim"]] if "dim" in entry else entry["dims"]
        if not isinstance(dims, list) or not dims:
            raise rd.fail(f"{path}[{i}].dims", f"{dims!r} is not a non-empty list of loop dims")
        axes.append(ArrayDim(size, tuple(str(d) for d in dims) if "dims" in entry else str(dims[0])))
    return tuple(axes)


def _level(rd: _Reader, doc, i: int, word_bits: int, bits: tuple[int, int, int]) -> StorageLevel:
    path = f"levels[{i}]"
    doc = rd.mapping(doc, path, _LEVEL, {"name"})
    name = doc["name"]
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise rd.fail(f"{path}.name", f"{name!r} (allowed: a non-empty name on one line)")
    path = f"levels[{i}] ({name})"
    keeps = doc.get("keeps", list(TENSORS))
    if not isinstance(keeps, list) or any(not isinstance(k, str) or k not in TENSORS for k in keeps) \
            or len(set(keeps)) != len(keeps):
        raise rd.fail(f"{path}.keeps", f"{keeps!r} (allowed: a list of distinct {', '.join(TENSORS)})")
    lw = _bits(rd, doc["word_bits"], f"{path}.word_bits") if "word_bits" in doc else None
    size, partition = math.inf, None
    if "size" in doc:
        if isinstance(doc["size"], MappingT):
            part = rd.mapping(doc["size"], f"{path}.size", set(TENSORS), set(keeps))
            partition = tuple(rd.unit(parse_size, part[t], f"{path}.size.{t}", bits[k]) if t in part else 0.0
                              for k, t in enumerate(TENSORS))
            size = sum(partition)
        else:
            size = rd.unit(parse_size, doc["size"], f"{path}.size", lw or word_bits)
    bandwidth = rd.bandwidth(doc, path, lw or word_bits)
    energy, read_e, write_e = "sram", None, None
    if "energy" in doc:
        e = doc["energy"]
        if isinstance(e, str):
            if e not in ENERGY_CLASSES:
                raise rd.fail(f"{path}.energy", f"{e!r} (allowed: {', '.join(ENERGY_CLASSES)}, or "
                                                f"{{read: ..., write: ...}} per word)")
            energy = e
        else:
            e = rd.mapping(e, f"{path}.energy", {"read", "write"}, {"read", "write"})
            per = []
            for key in ("read", "write"):
                v = e[key]
                vals = ([v.get(t) for t in TENSORS] if isinstance(v, MappingT) else [v] * 3)
                for t, x in zip(TENSORS, vals):
                    if finite_number(x) is None or not x >= 0:
                        raise rd.fail(f"{path}.energy.{key}", f"{x!r} for {t} (allowed: a number >= 0, or one "
                                                             f"per tensor)")
                per.append(tuple(float(x) for x in vals))
            read_e, write_e = per
    elif i == 0:
        energy = "dram"
    fanout = _axes(rd, doc["fanout"], f"{path}.fanout") if "fanout" in doc else ()
    hop = doc.get("fanout_hop_energy")
    if hop is not None and (finite_number(hop) is None or not hop >= 0):
        raise rd.fail(f"{path}.fanout_hop_energy", f"{hop!r} (allowed: a finite number >= 0)")
    return StorageLevel(name=name, keeps=tuple(keeps), size_bytes=size, partition=partition,
                        bandwidth=bandwidth, energy=energy, read_energy=read_e, write_energy=write_e,
                        fanout=fanout, hop_energy=None if hop is None else float(hop), word_bits=lw)


def hierarchy_from_dict(doc: Any, origin: str = "<dict>") -> Hierarchy:
    """A hierarchy from its YAML form; a 3-level accelerator document gives its template hierarchy."""
    if isinstance(doc, MappingT) and "levels" not in doc and "array" in doc:
        return hierarchy_from_accelerator(accelerator_from_dict(doc, origin))
    rd = _Reader(origin)
    doc = rd.mapping(doc, "", _TOP, {"name", "levels"})
    if not isinstance(doc["name"], str) or not doc["name"].strip() or not doc["name"].isprintable():
        raise rd.fail("name", f"{doc['name']!r} (allowed: a non-empty name on one line)")
    word_bits = _bits(rd, doc.get("word_bits", 16), "word_bits")
    precision = None
    if "precision" in doc:
        p = rd.mapping(doc["precision"], "precision", set(TENSORS), set(TENSORS))
        precision = tuple(_bits(rd, p[t], f"precision.{t}") for t in TENSORS)
    bits = precision or (word_bits,) * 3
    levels_doc = doc["levels"]
    if not isinstance(levels_doc, list) or not levels_doc:
        raise rd.fail("levels", f"{levels_doc!r} is not a list of levels (outermost, DRAM, first)")
    energy_doc = doc.get("energy", {"table": DEFAULT_ENERGY_TABLE})
    if isinstance(energy_doc, str):
        energy_doc = {"table": energy_doc}
    energy_doc = rd.mapping(energy_doc, "energy", {"table", "overrides"})
    table_name = energy_doc.get("table", DEFAULT_ENERGY_TABLE)
    if not isinstance(table_name, str) or table_name not in ENERGY_TABLES:
        raise rd.fail("energy.table", f"{table_name!r} (allowed: {', '.join(ENERGY_TABLES)})")
    table = get_energy_table(table_name)
    if "overrides" in energy_doc:
        over = rd.mapping(energy_doc["overrides"], "energy.overrides", {"mac", "noc"})
        for key, value in over.items():
            if finite_number(value) is None or not value >= 0:
                raise rd.fail(f"energy.overrides.{key}", f"{value!r} (allowed: a finite number >= 0)")
        table = table.with_overrides(**over)
    sources = doc.get("sources", {})
    if not isinstance(sources, MappingT):
        raise rd.fail("sources", f"{sources!r} is not a mapping of field -> citation")
    levels = tuple(_level(rd, lv, i, word_bits, bits) for i, lv in enumerate(levels_doc))
    try:
        h = Hierarchy(name=str(doc["name"]), levels=levels, word_bits=word_bits, precision=precision,
                      clock_hz=rd.unit(parse_clock, doc.get("clock", "200 MHz"), "clock"),
                      energy_table=table, description=str(doc.get("description", "")),
                      sources=tuple((str(k), str(v)) for k, v in sources.items()))
        check_word_room(h)
        return h
    except HierarchySpecError as exc:
        raise HierarchySpecError(f"{origin}: {str(exc).split(': ', 1)[1]}") from None


def builtin_hierarchies() -> list[str]:
    """Names of the built-in hierarchies: the published ones and every 3-level accelerator."""
    return sorted([p.stem for p in HIERARCHY_DIR.glob("*.yaml")] + [p.stem for p in BUILTIN_DIR.glob("*.yaml")])


def load_hierarchy(name_or_path: str | Path) -> Hierarchy:
    """A built-in hierarchy or 3-level accelerator by name, or a hierarchy / accelerator YAML file."""
    path = Path(name_or_path)
    if not path.suffix and not path_exists(path):
        key = str(name_or_path).lower().replace("_", "-")
        for folder in (HIERARCHY_DIR, BUILTIN_DIR):
            if path_exists(folder / f"{key}.yaml"):
                path = folder / f"{key}.yaml"
                break
        else:
            raise HierarchySpecError(f"accelerator: {str(name_or_path)!r} is neither a file nor built in "
                                     f"(built in: {', '.join(builtin_hierarchies())})")
    doc = read_yaml_file(path, HierarchySpecError, "hierarchy")
    try:
        return hierarchy_from_dict(doc, origin=str(path))
    except AcceleratorSpecError as exc:
        raise HierarchySpecError(str(exc)) from None


def hierarchy_to_dict(h: Hierarchy) -> dict[str, Any]:
    """The YAML form ``hierarchy_from_dict`` reads back to an equal hierarchy."""
    d: dict[str, Any] = {"name": h.name}
    if h.description:
        d["description"] = h.description
    d["word_bits"] = h.word_bits
    if h.precision:
        d["precision"] = dict(zip(TENSORS, h.precision))
    d["clock"] = f"{h.clock_hz:g} Hz"
    d["energy"] = {"table": h.energy_table.base_name}
    over = {k: v for k, v in h.energy_table.overrides}
    if over:
        d["energy"]["overrides"] = over
    d["levels"] = [level_dict(lv, h.word_bits) for lv in h.levels]
    if h.sources:
        d["sources"] = dict(h.sources)
    return d


def save_hierarchy(h: Hierarchy, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(hierarchy_to_dict(h), sort_keys=False))


def is_hierarchy_file(name_or_path: str | Path) -> bool:
    """True for a built-in hierarchy name or a file with a ``levels`` list (not a 3-level accelerator)."""
    path = Path(name_or_path)
    if not path.suffix and not path_exists(path):
        return path_exists(HIERARCHY_DIR / f"{str(name_or_path).lower().replace('_', '-')}.yaml")
    try:
        doc = read_yaml_file(path)
    except ValueError:  # unreadable: the accelerator reader reports why
        return False
    return isinstance(doc, MappingT) and "levels" in doc

