"""Accelerator specification (SPEC §3): sizing, connectivity, energy; read from YAML with validation."""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping as MappingT

import numpy as np
import yaml

from nn_space.layers import DIMS, LayerSpecError, dim_index

from .energy import DEFAULT_ENERGY_TABLE, ENERGY_TABLES, EnergyTable, get_energy_table
from .units import UnitError, finite_number, format_bytes, parse_bandwidth, parse_clock, parse_size
from .yaml_files import path_exists, read_yaml_file

TENSORS = ("weights", "inputs", "outputs")
DATAFLOWS = ("weight-stationary", "output-stationary", "row-stationary", "input-stationary")
BUILTIN_DIR = Path(__file__).resolve().parent / "accelerators"

# Layout of the float64 vector the kernels read (see ``Accelerator.hw_vector``).
HW_L1_WORDS, HW_L1_PART = 0, 1  # HW_L1_PART..+2: per-tensor L1 partition in words (0 = shared)
HW_L2_WORDS = 4
HW_L2_BW = 5  # shared, read, write (words/cycle); shared > 0 wins
HW_DRAM_BW = 8  # shared, read, write
HW_NUM_PES = 11
HW_ENERGY = 12  # 8 energies, see EnergyTable.vector
HW_AXIS_OF_DIM = 20  # 7 values: the array axis that parallelizes each loop dim, -1 = none
HW_AXIS_SIZE = 27  # 3 values: sizes of the array axes (1 for absent axes)
HW_SIZE = 30
#: Largest size of one array / fan-out axis (the kernels' spatial factors are 64-bit integers).
MAX_AXIS_SIZE = 1 << 20


class AcceleratorSpecError(ValueError):
    """An accelerator description that is not valid; the message names the field and the value."""


@dataclass(frozen=True)
class ArrayDim:
    """One axis of the PE array: its size and the loop dimension(s) it parallelizes.

    With several loop dims, the product of their spatial factors may not exceed ``size`` (Eyeriss
    replicates its R-row PE sets across channels and filters: its rows parallelize R, C and K).
    """

    size: int
    dim: str | tuple[str, ...]

    def __post_init__(self) -> None:
        # Timeloop's names (M, P, Q), primes (Y', X') and lower case read as naas's dims (K, Y, X, ...); names
        # that are no loop dim stay as given, for ``check_axes`` to refuse by name.
        if isinstance(self.dim, str):
            object.__setattr__(self, "dim", canonical_dim(self.dim))
        elif isinstance(self.dim, (list, tuple)):
            object.__setattr__(self, "dim", tuple(canonical_dim(d) for d in self.dim))

    @property
    def dims(self) -> tuple[str, ...]:
        return (self.dim,) if isinstance(self.dim, str) else tuple(self.dim)

    @property
    def label(self) -> str:
        return "/".join(self.dims)


@dataclass(frozen=True)
class Bandwidth:
    """Words per cycle; ``shared`` (reads + writes together) wins over separate read/write figures."""

    shared: float = 0.0
    read: float = math.inf
    write: float = math.inf

    def as_tuple(self) -> tuple[float, float, float]:
        return (self.shared, self.read, self.write)

    def describe(self) -> str:
        if self.shared:
            return f"{self.shared:g} words/cycle"
        return f"read {self.read:g}, write {self.write:g} words/cycle"


@dataclass(frozen=True)
class Accelerator:
    """A spatial accelerator: DRAM -> L2 -> NoC -> PE array -> L1 per PE -> one MAC per PE per cycle."""

    name: str
    array: tuple[ArrayDim, ...]
    l1_bytes: float
    l2_bytes: float
    word_bits: int = 16
    clock_hz: float = 200e6
    l1_partition: tuple[float, float, float] | None = None  # bytes for weights, inputs, outputs
    l2_bandwidth: Bandwidth = Bandwidth()
    dram_bandwidth: Bandwidth = Bandwidth()
    energy: EnergyTable = field(default_factory=lambda: get_energy_table(DEFAULT_ENERGY_TABLE))
    dataflow: str = "weight-stationary"
    description: str = ""
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _check_accelerator(self)

    # --- derived ------------------------------------------------------------------------------
    @property
    def num_pes(self) -> int:
        return math.prod(a.size for a in self.array)

    @property
    def parallel_dims(self) -> tuple[str, ...]:
        """Every loop dim some array axis parallelizes, axis by axis."""
        return tuple(DIMS[dim_index(d)] for a in self.array for d in a.dims)

    def axis_of(self, dim: str) -> int:
        """Index of the array axis that parallelizes loop dim ``dim`` (-1: none)."""
        for i, a in enumerate(self.array):
            if dim in (DIMS[dim_index(d)] for d in a.dims):
                return i
        return -1

    @property
    def l1_words(self) -> int:
        return int(self.l1_bytes * 8 // self.word_bits)

    @property
    def l2_words(self) -> int:
        return int(self.l2_bytes * 8 // self.word_bits)

    @property
    def onchip_bytes(self) -> float:
        """Total on-chip memory: L2 plus every PE's L1 (the resource cap of SPEC §6)."""
        return self.l2_bytes + self.num_pes * self.l1_bytes

    def spatial_limits(self) -> tuple[int, ...]:
        """Largest spatial factor each loop dim may take alone (1 where no array axis parallelizes it)."""
        return tuple(self.array[self.axis_of(d)].size if self.axis_of(d) >= 0 else 1 for d in DIMS)

    @cached_property
    def hw_vector(self) -> np.ndarray:
        """Everything the cost kernels need, as one float64 vector (layout: the HW_* constants)."""
        v = np.zeros(HW_SIZE, dtype=np.float64)
        v[HW_L1_WORDS] = self.l1_words
        if self.l1_partition is not None:
            v[HW_L1_PART:HW_L1_PART + 3] = [int(b * 8 // self.word_bits) for b in self.l1_partition]
        v[HW_L2_WORDS] = self.l2_words
        v[HW_L2_BW:HW_L2_BW + 3] = self.l2_bandwidth.as_tuple()
        v[HW_DRAM_BW:HW_DRAM_BW + 3] = self.dram_bandwidth.as_tuple()
        v[HW_NUM_PES] = self.num_pes
        v[HW_ENERGY:HW_ENERGY + 8] = self.energy.vector(self.l1_bytes, self.l2_bytes, self.word_bits)
        v[HW_AXIS_OF_DIM:HW_AXIS_OF_DIM + 7] = [self.axis_of(d) for d in DIMS]
        v[HW_AXIS_SIZE:HW_AXIS_SIZE + 3] = [a.size for a in self.array] + [1] * (3 - len(self.array))
        v.flags.writeable = False
        return v

    def describe(self) -> str:
        arr = " x ".join(f"{a.size}({a.label})" for a in self.array)
        part = ""
        if self.l1_partition:
            part = " [" + ", ".join(f"{t[0].upper()} {format_bytes(b)}"
                                    for t, b in zip(TENSORS, self.l1_partition)) + "]"
        return (f"{self.name}: {self.num_pes} PEs ({arr}), L1 {format_bytes(self.l1_bytes)}/PE{part}, "
                f"L2 {format_bytes(self.l2_bytes)}, NoC {self.l2_bandwidth.describe()}, "
                f"DRAM {self.dram_bandwidth.describe()}, {self.word_bits}-bit, "
                f"{self.clock_hz / 1e6:g} MHz, energy {self.energy.name}, {self.dataflow}")

    def to_dict(self) -> dict[str, Any]:
        """The YAML-ready form ``load_accelerator`` reads back to an equal accelerator."""
        def bw(b: Bandwidth) -> dict:
            if b.shared:
                return {"bandwidth": _num(b.shared)}
            return {"read_bandwidth": _num(b.read), "write_bandwidth": _num(b.write)}
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d["word_bits"] = self.word_bits
        d["clock"] = f"{_num(self.clock_hz)} Hz"
        d["array"] = [{"size": a.size, "dim": a.dims[0]} if len(a.dims) == 1
                      else {"size": a.size, "dims": list(a.dims)} for a in self.array]
        d["l1"] = {"size": _bytes(self.l1_bytes)}
        if self.l1_partition:
            d["l1"]["partition"] = {t: _bytes(b) for t, b in zip(TENSORS, self.l1_partition)}
        d["l2"] = {"size": _bytes(self.l2_bytes), **bw(self.l2_bandwidth)}
        d["dram"] = bw(self.dram_bandwidth)
        d["energy"] = {"table": self.energy.base_name}
        if self.energy.overrides:
            d["energy"]["overrides"] = {k: _num(v) for k, v in self.energy.overrides}
        d["dataflow"] = self.dataflow
        if self.sources:
            d["sources"] = dict(self.sources)
        return d


def canonical_dim(name):
    """naas's name of a loop dim given by any accepted name (``'q'`` -> ``'X'``); other values unchanged."""
    try:
        return DIMS[dim_index(name)] if isinstance(name, str) else name
    except LayerSpecError:
        return name


def _num(x: float):
    return "unlimited" if math.isinf(x) else (int(x) if float(x).is_integer() else x)


def _bytes(x: float) -> str:
    return f"{_num(x)} B"


def check_axes(axes, path: str, other: str, error: type[ValueError]) -> None:
    """Sizes are integers >= 1 and each axis names known loop dims, none that ``other`` axis has already
    (errors read ``{path}[i].size: ...``)."""
    seen = set()
    for i, a in enumerate(axes):
        if isinstance(a.size, bool) or not isinstance(a.size, int) or not 1 <= a.size <= MAX_AXIS_SIZE:
            raise error(f"{path}[{i}].size: {a.size!r} (allowed: integer 1 to {MAX_AXIS_SIZE})")
        if not a.dims:
            raise error(f"{path}[{i}].dims: empty (name at least one loop dim)")
        for name in a.dims:
            try:
                d = DIMS[dim_index(name)]
            except LayerSpecError:
                raise error(f"{path}[{i}].dim: {name!r} (allowed: one of {', '.join(DIMS)}, or Timeloop's "
                            f"M, P, Q; any case)") from None
            if d in seen:
                raise error(f"{path}[{i}].dim: {name!r} is already parallelized by {other}")
            seen.add(d)


def _check_accelerator(acc: Accelerator) -> None:
    where = acc.name or "accelerator"
    if not 1 <= len(acc.array) <= 3:
        raise AcceleratorSpecError(f"{where}: array: {len(acc.array)} dimensions (allowed: 1 to 3)")
    check_axes(acc.array, f"{where}: array", "another array axis", AcceleratorSpecError)
    if not isinstance(acc.word_bits, int) or not 1 <= acc.word_bits <= 64:
        raise AcceleratorSpecError(f"{where}: word_bits: {acc.word_bits!r} (allowed: 1 to 64)")
    if not (acc.clock_hz > 0 and math.isfinite(acc.clock_hz)):
        raise AcceleratorSpecError(f"{where}: clock: {acc.clock_hz!r} Hz (allowed: a finite value > 0)")
    word = acc.word_bits / 8
    for label, b in (("l1.size", acc.l1_bytes), ("l2.size", acc.l2_bytes), *(
            (f"l1.partition.{t}", x) for t, x in zip(TENSORS, acc.l1_partition or ()))):
        if not math.isfinite(b):
            raise AcceleratorSpecError(f"{where}: {label}: {b!r} B (allowed: a finite size)")
    if not acc.l1_bytes >= 3 * word:
        raise AcceleratorSpecError(
            f"{where}: l1.size: {acc.l1_bytes:g} B cannot hold one word each of weights, inputs and "
            f"outputs (allowed: >= {3 * word:g} B at {acc.word_bits}-bit words)")
    if acc.l1_partition is not None:
        for t, b in zip(TENSORS, acc.l1_partition):
            if not b >= word:
                raise AcceleratorSpecError(
                    f"{where}: l1.partition.{t}: {b:g} B cannot hold one {acc.word_bits}-bit word")
        if sum(acc.l1_partition) > acc.l1_bytes + 1e-9:
            raise AcceleratorSpecError(
                f"{where}: l1.partition: {sum(acc.l1_partition):g} B in all exceeds l1.size "
                f"{acc.l1_bytes:g} B")
    if not acc.l2_bytes >= 3 * word:
        raise AcceleratorSpecError(f"{where}: l2.size: {acc.l2_bytes:g} B (allowed: >= {3 * word:g} B)")
    for label, b in (("l2", acc.l2_bandwidth), ("dram", acc.dram_bandwidth)):
        for part, value in zip(("bandwidth", "read_bandwidth", "write_bandwidth"), b.as_tuple()):
            if part == "bandwidth" and value == 0:
                continue
            if not value > 0:
                raise AcceleratorSpecError(
                    f"{where}: {label}.{part}: {value!r} words/cycle (allowed: > 0 or 'unlimited')")
    if acc.dataflow not in DATAFLOWS:
        raise AcceleratorSpecError(
            f"{where}: dataflow: {acc.dataflow!r} (allowed: {', '.join(DATAFLOWS)})")


# --- YAML -------------------------------------------------------------------------------------------
_TOP_KEYS = {"name", "description", "word_bits", "clock", "array", "l1", "l2", "dram", "energy",
             "dataflow", "sources"}
_L1_KEYS = {"size", "partition"}
_L2_KEYS = {"size", "bandwidth", "read_bandwidth", "write_bandwidth"}
_DRAM_KEYS = {"bandwidth", "read_bandwidth", "write_bandwidth"}
_ENERGY_KEYS = {"table", "overrides"}


class _Reader:
    """Walks a parsed YAML document, producing errors that name the file and the field."""

    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, path: str, message: str) -> AcceleratorSpecError:
        return AcceleratorSpecError(f"{self.origin}: {path}: {message}" if path else f"{self.origin}: {message}")

    def mapping(self, value, path: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if value is None and not path:
            raise self.fail(path, f"empty (expected a mapping with the keys {', '.join(sorted(required))} and "
                                  f"optionally {', '.join(sorted(allowed - set(required)))})")
        if not isinstance(value, MappingT):
            raise self.fail(path, f"{value!r} is not a mapping (allowed keys: {', '.join(sorted(allowed))})")
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else ""
                name = key if isinstance(key, str) and key.isidentifier() else repr(key)
                raise self.fail(f"{path}.{name}" if path else name,
                                f"unknown field (allowed: {', '.join(sorted(allowed))}){extra}")
        for key in required:
            if key not in value:
                raise self.fail(f"{path}.{key}" if path else key, "missing (required)")
        return dict(value)

    def unit(self, parser, value, path: str, *args):
        try:
            return parser(value, *args)
        except UnitError as exc:
            raise self.fail(path, str(exc)) from None

    def bandwidth(self, section: dict, path: str, word_bits: int) -> Bandwidth:
        if "bandwidth" in section and ("read_bandwidth" in section or "write_bandwidth" in section):
            raise self.fail(path, "give either bandwidth (shared) or read_bandwidth/write_bandwidth")
        if "bandwidth" in section:
            shared = self.unit(parse_bandwidth, section["bandwidth"], f"{path}.bandwidth", word_bits)
            if not shared > 0:
                raise self.fail(f"{path}.bandwidth", f"{shared!r} words/cycle (allowed: > 0 or 'unlimited')")
            return Bandwidth(shared=shared)
        return Bandwidth(
            read=self.unit(parse_bandwidth, section.get("read_bandwidth", "unlimited"),
                           f"{path}.read_bandwidth", word_bits),
            write=self.unit(parse_bandwidth, section.get("write_bandwidth", "unlimited"),
                            f"{path}.write_bandwidth", word_bits))


def accelerator_from_dict(doc: Any, origin: str = "<dict>") -> Accelerator:
    """Build and validate an accelerator from its YAML-form dictionary."""
    rd = _Reader(origin)
    doc = rd.mapping(doc, "", _TOP_KEYS, {"name", "array", "l1", "l2"})
    word_bits = doc.get("word_bits", 16)
    if isinstance(word_bits, bool) or not isinstance(word_bits, int) or not 1 <= word_bits <= 64:
        raise rd.fail("word_bits", f"{word_bits!r} (allowed: integer 1 to 64)")
    array_doc = doc["array"]
    if not isinstance(array_doc, list) or not array_doc:
        raise rd.fail("array", f"{array_doc!r} is not a list of {{size, dim}} entries (1 to 3 of them)")
    array = []
    for i, entry in enumerate(array_doc):
        entry = rd.mapping(entry, f"array[{i}]", {"size", "dim", "dims"}, {"size"})
        size = entry["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_AXIS_SIZE:
            raise rd.fail(f"array[{i}].size", f"{size!r} (allowed: integer 1 to {MAX_AXIS_SIZE})")
        if ("dim" in entry) == ("dims" in entry):
            raise rd.fail(f"array[{i}]", "give exactly one of dim (a loop dim) or dims (a list of them)")
        if "dim" in entry:
            array.append(ArrayDim(size, str(entry["dim"])))
        else:
            dims = entry["dims"]
            if not isinstance(dims, list) or not dims:
                raise rd.fail(f"array[{i}].dims", f"{dims!r} is not a non-empty list of loop dims")
            array.append(ArrayDim(size, tuple(str(d) for d in dims)))
    l1 = rd.mapping(doc["l1"], "l1", _L1_KEYS, {"size"})
    l1_bytes = rd.unit(parse_size, l1["size"], "l1.size", word_bits)
    partition = None
    if "partition" in l1:
        part = rd.mapping(l1["partition"], "l1.partition", set(TENSORS), set(TENSORS))
        partition = tuple(rd.unit(parse_size, part[t], f"l1.partition.{t}", word_bits) for t in TENSORS)
    l2 = rd.mapping(doc["l2"], "l2", _L2_KEYS, {"size"})
    l2_bytes = rd.unit(parse_size, l2["size"], "l2.size", word_bits)
    dram = rd.mapping(doc.get("dram", {}), "dram", _DRAM_KEYS)
    energy_doc = doc.get("energy", {"table": DEFAULT_ENERGY_TABLE})
    if isinstance(energy_doc, str):
        energy_doc = {"table": energy_doc}
    energy_doc = rd.mapping(energy_doc, "energy", _ENERGY_KEYS)
    table_name = energy_doc.get("table", DEFAULT_ENERGY_TABLE)
    if not isinstance(table_name, str) or table_name not in ENERGY_TABLES:
        raise rd.fail("energy.table", f"{table_name!r} (allowed: {', '.join(ENERGY_TABLES)})")
    table = get_energy_table(table_name)
    if "overrides" in energy_doc:
        over = rd.mapping(energy_doc["overrides"], "energy.overrides", {"mac", "noc", "l1", "l2", "dram"})
        for key, value in over.items():
            if finite_number(value) is None or value < 0:
                raise rd.fail(f"energy.overrides.{key}", f"{value!r} (allowed: a finite number >= 0)")
        table = table.with_overrides(**over)
    sources = doc.get("sources", {})
    if not isinstance(sources, MappingT):
        raise rd.fail("sources", f"{sources!r} is not a mapping of field -> citation")
    try:
        return Accelerator(
            name=str(doc["name"]),
            array=tuple(array),
            l1_bytes=l1_bytes,
            l2_bytes=l2_bytes,
            word_bits=word_bits,
            clock_hz=rd.unit(parse_clock, doc.get("clock", "200 MHz"), "clock"),
            l1_partition=partition,
            l2_bandwidth=rd.bandwidth(l2, "l2", word_bits),
            dram_bandwidth=rd.bandwidth(dram, "dram", word_bits),
            energy=table,
            dataflow=str(doc.get("dataflow", "weight-stationary")),
            description=str(doc.get("description", "")),
            sources=tuple((str(k), str(v)) for k, v in sources.items()),
        )
    except AcceleratorSpecError as exc:
        # Re-anchor the dataclass check on the file name rather than the accelerator name.
        raise AcceleratorSpecError(f"{origin}: {str(exc).split(': ', 1)[1]}") from None


def builtin_accelerators() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_accelerator(name_or_path: str | Path) -> Accelerator:
    """A built-in accelerator by name (``eyeriss``) or an accelerator YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path_exists(path):
        candidate = BUILTIN_DIR / f"{str(name_or_path).lower().replace('_', '-')}.yaml"
        if not path_exists(candidate):
            raise AcceleratorSpecError(
                f"accelerator: {str(name_or_path)!r} is neither a file nor built in "
                f"(built in: {', '.join(builtin_accelerators())})")
        path = candidate
    doc = read_yaml_file(path, AcceleratorSpecError, "accelerator")
    return accelerator_from_dict(doc, origin=str(path))


def save_accelerator(acc: Accelerator, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(acc.to_dict(), sort_keys=False))
