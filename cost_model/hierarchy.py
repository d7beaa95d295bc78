"""A general storage hierarchy (SPEC §10): an ordered list of storage levels from DRAM down to the MAC.

Each level has a capacity per instance (shared, or split per tensor), the tensors it keeps (the others
bypass it), bandwidths, per-access energies (from the energy table by size, or given), and optionally a
spatial fan-out below it (1 to 3 axes, each parallelizing one or several loop dims). A register is a small
level. ``hierarchy_from_accelerator`` writes the 3-level template (DRAM -> L2 -> array -> L1 -> MAC) in this
form with the same energies, so both models cost it alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from nn_space.layers import DIMS, dim_index

from .accelerator import TENSORS, Accelerator, ArrayDim, Bandwidth, check_axes
from .energy import DEFAULT_ENERGY_TABLE, EnergyTable, get_energy_table
from .nest_layout import (G_MAC_ENERGY, G_MAC_UNITS, GLOB, H_AXIS_OF_DIM, H_AXIS_SIZE, H_BITS, H_BW,
                          H_CAP, H_E_READ, H_E_WRITE, H_HOP, H_KEEP, H_PART, H_PARTED, H_WORD_RATIO, HWF,
                          MAX_LEVELS)
from .units import format_bytes

ENERGY_CLASSES = ("dram", "sram", "spad")  # table entries: DRAM, global-buffer curve, per-PE curve
TENSOR_SHORT = {"weights": "W", "inputs": "I", "outputs": "O"}


class HierarchySpecError(ValueError):
    """A hierarchy description that is not valid; the message names the field and the value."""


@dataclass(frozen=True)
class StorageLevel:
    """One storage level. Sizes are bytes per instance; ``partition`` splits it per tensor (W, I, O).

    ``energy`` picks the energy table's entry priced at the level's size ('dram', 'sram' = the global
    buffer curve, 'spad' = the per-PE curve; per tensor at its partition's size), unless ``read_energy``
    / ``write_energy`` give the energy of one word access per tensor. ``fanout`` is the spatial fan-out
    below the level; ``hop_energy`` the energy per word crossing it (None: the table's NoC energy).
    """

    name: str
    keeps: tuple[str, ...] = TENSORS
    size_bytes: float = math.inf
    partition: tuple[float, float, float] | None = None
    bandwidth: Bandwidth = Bandwidth()
    energy: str = "sram"
    read_energy: tuple[float, float, float] | None = None
    write_energy: tuple[float, float, float] | None = None
    fanout: tuple[ArrayDim, ...] = ()
    hop_energy: float | None = None
    word_bits: int | None = None  # the word its bandwidth counts; None = the hierarchy's word_bits

    def keeps_tensor(self, tensor: str) -> bool:
        return tensor in self.keeps

    @property
    def fanout_size(self) -> int:
        return math.prod(a.size for a in self.fanout)

    def axis_of(self, dim: str) -> int:
        for i, a in enumerate(self.fanout):
            if dim in (DIMS[dim_index(d)] for d in a.dims):
                return i
        return -1

    def capacity_bytes(self, tensor: str) -> float:
        """What this level can give ``tensor`` (its partition, else the whole level)."""
        if self.partition is not None:
            return self.partition[TENSORS.index(tensor)]
        return self.size_bytes


@dataclass(frozen=True)
class Hierarchy:
    """Storage levels outermost (DRAM, level 0) first; the MAC sits below the last one."""

    name: str
    levels: tuple[StorageLevel, ...]
    word_bits: int = 16
    precision: tuple[int, int, int] | None = None  # bits of weights, inputs, outputs (None: word_bits)
    clock_hz: float = 200e6
    energy_table: EnergyTable = field(default_factory=lambda: get_energy_table(DEFAULT_ENERGY_TABLE))
    description: str = ""
    sources: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _check_hierarchy(self)

    # --- derived ------------------------------------------------------------------------------
    @property
    def tensor_bits(self) -> tuple[int, int, int]:
        return self.precision or (self.word_bits,) * 3

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(lv.name for lv in self.levels)

    def level_index(self, name: str) -> int:
        """Index of the level called ``name`` (exact, then case-insensitive); KeyError lists the names."""
        for i, lv in enumerate(self.levels):
            if lv.name == name:
                return i
        matches = [i for i, lv in enumerate(self.levels) if lv.name.lower() == str(name).lower()]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"{name!r} is not a level of {self.name} (levels: {', '.join(self.level_names)})")

    @property
    def num_macs(self) -> int:
        return math.prod(lv.fanout_size for lv in self.levels)

    def instances(self, level: int) -> int:
        """Hardware instances of a level: the product of the fan-out sizes above it."""
        return math.prod(lv.fanout_size for lv in self.levels[:level])

    @property
    def onchip_bytes(self) -> float:
        """Every level but the outermost, times its instances."""
        total = 0.0
        for i, lv in enumerate(self.levels[1:], start=1):
            size = sum(lv.partition) if lv.partition is not None else lv.size_bytes
            total += size * self.instances(i)
        return total

    def level_energies(self, i: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(read, write) energy of one word access per tensor at level ``i``."""
        lv = self.levels[i]
        reads, writes = [], []
        for t, bits in zip(TENSORS, self.tensor_bits):
            if lv.read_energy is not None:
                r, w = lv.read_energy[TENSORS.index(t)], lv.write_energy[TENSORS.index(t)]
            else:
                entry = {"dram": self.energy_table.dram, "sram": self.energy_table.l2,
                         "spad": self.energy_table.l1}[lv.energy]
                size = lv.capacity_bytes(t)
                r, w = entry.at(0 if math.isinf(size) else size, bits)
            reads.append(float(r))
            writes.append(float(w))
        return tuple(reads), tuple(writes)

    @cached_property
    def hw_array(self) -> np.ndarray:
        """float64[L, HWF]: what the kernel reads of each level (layout: ``nest_layout``)."""
        hw = np.zeros((self.num_levels, HWF), dtype=np.float64)
        bits = self.tensor_bits
        for i, lv in enumerate(self.levels):
            row = hw[i]
            row[H_CAP] = lv.size_bytes * 8
            if lv.partition is not None:
                row[H_PARTED] = 1.0
                row[H_PART:H_PART + 3] = [b * 8 for b in lv.partition]
            row[H_KEEP:H_KEEP + 3] = [1.0 if t in lv.keeps else 0.0 for t in TENSORS]
            row[H_BW:H_BW + 3] = lv.bandwidth.as_tuple()
            reads, writes = self.level_energies(i)
            row[H_E_READ:H_E_READ + 3] = reads
            row[H_E_WRITE:H_E_WRITE + 3] = writes
            if lv.fanout:
                row[H_HOP] = self.energy_table.noc if lv.hop_energy is None else lv.hop_energy
            row[H_AXIS_OF_DIM:H_AXIS_OF_DIM + 7] = [lv.axis_of(d) for d in DIMS]
            row[H_AXIS_SIZE:H_AXIS_SIZE + 3] = [a.size for a in lv.fanout] + [1] * (3 - len(lv.fanout))
            level_bits = lv.word_bits or self.word_bits
            row[H_WORD_RATIO:H_WORD_RATIO + 3] = [b / level_bits for b in bits]
            row[H_BITS:H_BITS + 3] = bits
        hw.flags.writeable = False
        return hw

    @cached_property
    def glob_vector(self) -> np.ndarray:
        g = np.zeros(GLOB, dtype=np.float64)
        g[G_MAC_ENERGY] = self.energy_table.mac
        g[G_MAC_UNITS] = self.num_macs
        g.flags.writeable = False
        return g

    def describe(self) -> str:
        parts = []
        for i, lv in enumerate(self.levels):
            if lv.partition is not None:
                size = "[" + ", ".join(f"{TENSOR_SHORT[t]} {format_bytes(b)}"
                                       for t, b in zip(TENSORS, lv.partition) if t in lv.keeps) + "]"
            else:
                size = "unlimited" if math.isinf(lv.size_bytes) else format_bytes(lv.size_bytes)
            keeps = "" if set(lv.keeps) == set(TENSORS) else \
                " keeps " + "".join(TENSOR_SHORT[t] for t in lv.keeps) if lv.keeps else " keeps nothing"
            inst = self.instances(i)
            text = f"{lv.name} {size}{keeps}" + (f" x{inst}" if inst > 1 else "")
            if lv.fanout:
                text += " -> " + " x ".join(f"{a.size}({a.label})" for a in lv.fanout)
            parts.append(text)
        bits = "/".join(str(b) for b in self.tensor_bits) if self.precision else str(self.word_bits)
        return (f"{self.name}: {' | '.join(parts)} | {self.num_macs} MACs, {bits}-bit, "
                f"{self.clock_hz / 1e6:g} MHz, energy {self.energy_table.name}")


def _check_hierarchy(h: Hierarchy) -> None:
    where = h.name or "hierarchy"
    if not 1 <= len(h.levels) <= MAX_LEVELS:
        raise HierarchySpecError(f"{where}: levels: {len(h.levels)} (allowed: 1 to {MAX_LEVELS})")
    if not isinstance(h.word_bits, int) or isinstance(h.word_bits, bool) or not 1 <= h.word_bits <= 64:
        raise HierarchySpecError(f"{where}: word_bits: {h.word_bits!r} (allowed: integer 1 to 64)")
    if h.precision is not None:
        for t, b in zip(TENSORS, h.precision):
            if not isinstance(b, int) or isinstance(b, bool) or not 1 <= b <= 64:
                raise HierarchySpecError(f"{where}: precision.{t}: {b!r} (allowed: integer 1 to 64)")
    if not (h.clock_hz > 0 and math.isfinite(h.clock_hz)):
        raise HierarchySpecError(f"{where}: clock: {h.clock_hz!r} Hz (allowed: a finite value > 0)")
    names = set()
    for i, lv in enumerate(h.levels):
        at = f"{where}: levels[{i}] ({lv.name})"
        if not lv.name or lv.name in names:
            raise HierarchySpecError(f"{at}: name: {lv.name!r} (allowed: a name no other level has)")
        names.add(lv.name)
        for t in lv.keeps:
            if t not in TENSORS:
                raise HierarchySpecError(f"{at}: keeps: {t!r} (allowed: {', '.join(TENSORS)})")
        if i == 0 and set(lv.keeps) != set(TENSORS):
            raise HierarchySpecError(f"{at}: keeps: {list(lv.keeps)} (the outermost level must keep "
                                     f"weights, inputs and outputs: it is where they come from)")
        if not lv.size_bytes > 0:
            raise HierarchySpecError(f"{at}: size: {lv.size_bytes!r} B (allowed: > 0)")
        if lv.partition is not None:
            for t, b in zip(TENSORS, lv.partition):
                if not b >= 0 or (t in lv.keeps and not b > 0):
                    raise HierarchySpecError(f"{at}: size.{t}: {b!r} B (allowed: > 0 for a kept tensor)")
        for part, value in zip(("bandwidth", "read_bandwidth", "write_bandwidth"), lv.bandwidth.as_tuple()):
            if part == "bandwidth" and value == 0:
                continue
            if not value > 0:
                raise HierarchySpecError(f"{at}: {part}: {value!r} words/cycle (allowed: > 0 or 'unlimited')")
        if lv.read_energy is None:
            if lv.energy not in ENERGY_CLASSES:
                raise HierarchySpecError(f"{at}: energy: {lv.energy!r} (allowed: {', '.join(ENERGY_CLASSES)}, "
                                         f"or read/write energies)")
        else:
            for label, values in (("read", lv.read_energy), ("write", lv.write_energy)):
                if values is None or len(values) != 3 or any(not (v >= 0 and math.isfinite(v)) for v in values):
                    raise HierarchySpecError(f"{at}: energy.{label}: {values!r} (allowed: a number >= 0 "
                                             f"per tensor)")
        if len(lv.fanout) > 3:
            raise HierarchySpecError(f"{at}: fanout: {len(lv.fanout)} axes (allowed: 0 to 3)")
        check_axes(lv.fanout, f"{at}: fanout", "another axis of this fan-out", HierarchySpecError)
        if lv.hop_energy is not None and not (lv.hop_energy >= 0 and math.isfinite(lv.hop_energy)):
            raise HierarchySpecError(f"{at}: fanout_hop_energy: {lv.hop_energy!r} (allowed: a number >= 0)")
        if lv.word_bits is not None and not (isinstance(lv.word_bits, int) and 1 <= lv.word_bits <= 64):
            raise HierarchySpecError(f"{at}: word_bits: {lv.word_bits!r} (allowed: integer 1 to 64)")


def check_word_room(h: Hierarchy) -> None:
    """Every level holds at least one word of each tensor it keeps (a file that cannot map any layer).

    Not part of ``Hierarchy``'s own checks: an imported Timeloop architecture learns its keep masks from
    the mapping afterwards, and capacity is checked per mapping anyway."""
    bits = dict(zip(TENSORS, h.tensor_bits))
    for i, lv in enumerate(h.levels):
        at = f"{h.name}: levels[{i}] ({lv.name})"
        if lv.partition is not None:
            for t, b in zip(TENSORS, lv.partition):
                if t in lv.keeps and b * 8 < bits[t]:
                    raise HierarchySpecError(f"{at}: size.{t}: {b:g} B cannot hold one {bits[t]}-bit word "
                                             f"(allowed: >= {bits[t] / 8:g} B for a kept tensor)")
        elif lv.size_bytes * 8 < sum(bits[t] for t in lv.keeps):
            need = sum(bits[t] for t in lv.keeps) / 8
            raise HierarchySpecError(f"{at}: size: {lv.size_bytes:g} B cannot hold one word of each tensor it "
                                     f"keeps (allowed: >= {need:g} B, or keep fewer tensors)")


def hierarchy_from_accelerator(acc: Accelerator) -> Hierarchy:
    """The 3-level template as a hierarchy: DRAM, L2 with the PE array below it, L1; same energies."""
    e = acc.energy.vector(acc.l1_bytes, acc.l2_bytes, acc.word_bits)
    _, l1r, l1w, noc, l2r, l2w, dr, dwr = (float(v) for v in e)
    words = acc.word_bits / 8
    levels = (
        StorageLevel("DRAM", bandwidth=acc.dram_bandwidth, read_energy=(dr,) * 3, write_energy=(dwr,) * 3),
        StorageLevel("L2", size_bytes=math.floor(acc.l2_bytes / words) * words, bandwidth=acc.l2_bandwidth,
                     read_energy=(l2r,) * 3, write_energy=(l2w,) * 3, fanout=acc.array, hop_energy=noc),
        StorageLevel("L1", size_bytes=math.floor(acc.l1_bytes / words) * words,
                     partition=(tuple(math.floor(b / words) * words for b in acc.l1_partition)
                                if acc.l1_partition else None),
                     read_energy=(l1r,) * 3, write_energy=(l1w,) * 3),
    )
    return Hierarchy(name=acc.name, levels=levels, word_bits=acc.word_bits, clock_hz=acc.clock_hz,
                     energy_table=acc.energy,
                     description=acc.description or f"{acc.name} (3-level template)", sources=acc.sources)


def level_dict(lv: StorageLevel, word_bits: int) -> dict[str, Any]:
    """The YAML form of one level (see ``hierarchy_yaml``)."""
    from .accelerator import _bytes, _num

    d: dict[str, Any] = {"name": lv.name}
    if set(lv.keeps) != set(TENSORS):
        d["keeps"] = list(lv.keeps)
    if lv.partition is not None:
        d["size"] = {t: _bytes(b) for t, b in zip(TENSORS, lv.partition) if t in lv.keeps}
    elif not math.isinf(lv.size_bytes):
        d["size"] = _bytes(lv.size_bytes)
    b = lv.bandwidth
    if b.shared:
        d["bandwidth"] = _num(b.shared)
    else:
        if not math.isinf(b.read):
            d["read_bandwidth"] = _num(b.read)
        if not math.isinf(b.write):
            d["write_bandwidth"] = _num(b.write)
    if lv.read_energy is not None:
        d["energy"] = {"read": dict(zip(TENSORS, lv.read_energy)), "write": dict(zip(TENSORS, lv.write_energy))}
    else:
        d["energy"] = lv.energy
    if lv.fanout:
        d["fanout"] = [{"size": a.size, "dim": a.dims[0]} if len(a.dims) == 1
                       else {"size": a.size, "dims": list(a.dims)} for a in lv.fanout]
        if lv.hop_energy is not None:
            d["fanout_hop_energy"] = _num(lv.hop_energy)
    if lv.word_bits is not None and lv.word_bits != word_bits:
        d["word_bits"] = lv.word_bits
    return d
