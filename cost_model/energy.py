"""Per-access energy tables (SPEC §5) and the size scaling of SRAM energy.

Each table gives, for every component, the energy of one access of one word, at a reference size;
an SRAM access costs ``energy * (size / ref_bytes) ** exponent`` (CACTI-like square-root growth unless
the source says otherwise). Entries with ``per_bits`` are quoted per that many bits and scaled to the
accelerator's word width.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class EnergyEntry:
    """Energy of one read and one write of a component, in the table's unit."""

    read: float
    write: float
    ref_bytes: float = 0.0  # size the figure was quoted at; 0 = independent of size
    exponent: float = 0.0  # growth with size: energy ∝ (size / ref_bytes) ** exponent
    per_bits: int = 0  # 0 = per word; else the figure is per this many bits

    def at(self, size_bytes: float, word_bits: int) -> tuple[float, float]:
        """(read, write) energy of one word access for a memory of ``size_bytes``."""
        scale = 1.0
        if self.ref_bytes and self.exponent and size_bytes > 0:
            scale = (size_bytes / self.ref_bytes) ** self.exponent
        if self.per_bits:
            scale *= word_bits / self.per_bits
        return self.read * scale, self.write * scale


@dataclass(frozen=True)
class EnergyTable:
    """Energies of a MAC, an L1 access, a NoC word transfer, an L2 access and a DRAM access."""

    name: str
    unit: str
    mac: float
    l1: EnergyEntry
    noc: float
    l2: EnergyEntry
    dram: EnergyEntry
    source: str
    overrides: tuple[tuple[str, float], ...] = ()  # (key, value) replaced by ``with_overrides``, in order

    @property
    def base_name(self) -> str:
        """The built-in table this one derives from (its name without ``+overrides``)."""
        return self.name.removesuffix("+overrides")

    def vector(self, l1_bytes: float, l2_bytes: float, word_bits: int) -> np.ndarray:
        """[mac, l1 read, l1 write, noc, l2 read, l2 write, dram read, dram write] for the kernel."""
        l1r, l1w = self.l1.at(l1_bytes, word_bits)
        l2r, l2w = self.l2.at(l2_bytes, word_bits)
        dr, dw = self.dram.at(0, word_bits)
        return np.array([self.mac, l1r, l1w, self.noc, l2r, l2w, dr, dw], dtype=np.float64)

    def with_overrides(self, **values: float) -> "EnergyTable":
        """A copy with some flat per-access energies replaced (keys: mac, noc, l1, l2, dram)."""
        fields = {}
        for key, value in values.items():
            if key in ("mac", "noc"):
                fields[key] = float(value)
            elif key in ("l1", "l2", "dram"):
                fields[key] = replace(getattr(self, key), read=float(value), write=float(value))
            else:
                raise KeyError(key)
        merged = {**dict(self.overrides), **{k: float(v) for k, v in values.items()}}
        return replace(self, name=f"{self.base_name}+overrides", overrides=tuple(merged.items()), **fields)


# Timeloop's Eyeriss-like 65 nm example (Accelergy tables): 8-bit MAC 0.208 pJ; scratchpads from
# 0.20 pJ (12-word, 24 B ifmap spad) to 1.98 pJ (224-word, 448 B weight spad), fitted here as a power law
# through both points (exponent ln(1.98/0.20)/ln(448/24) = 0.783); 128 KB GLB 18.2 pJ read / 14.1 pJ write;
# DRAM 512 pJ per 64 bits. NoC word transfer: 2x a MAC, the Eyeriss ratio (Chen et al., JSSC 2017).
TIMELOOP_EYERISS_65NM = EnergyTable(
    name="timeloop-eyeriss-65nm", unit="pJ", mac=0.208,
    l1=EnergyEntry(1.98, 1.98, ref_bytes=448, exponent=0.783),
    noc=2 * 0.208,
    l2=EnergyEntry(18.2, 14.1, ref_bytes=128 * 1024, exponent=0.5),
    dram=EnergyEntry(512.0, 512.0, per_bits=64),
    source="Timeloop/Accelergy Eyeriss-like 65 nm example (timeloop-accelergy-exercises)",
)

# Eyeriss normalized energies (Chen et al., "Eyeriss", JSSC 2017 / ISCA 2016 Fig. 1), units of one MAC:
# RF (0.5 KB) 1x, PE-to-PE 2x, global buffer (>100 KB) 6x, DRAM 200x.
EYERISS_NORMALIZED = EnergyTable(
    name="eyeriss-normalized", unit="MAC",
    mac=1.0,
    l1=EnergyEntry(1.0, 1.0, ref_bytes=512, exponent=0.5),
    noc=2.0,
    l2=EnergyEntry(6.0, 6.0, ref_bytes=100 * 1024, exponent=0.5),
    dram=EnergyEntry(200.0, 200.0),
    source="Chen et al., Eyeriss, JSSC 2017 (normalized energy cost)",
)

# MAESTRO's default energy model, the one NAAS used (Kwon et al., MICRO 2019), units of one MAC:
# L1 1.68, L2 18.61, no DRAM and no NoC energy; fixed per access (no size scaling).
MAESTRO = EnergyTable(
    name="maestro", unit="MAC",
    mac=1.0, l1=EnergyEntry(1.68, 1.68), noc=0.0, l2=EnergyEntry(18.61, 18.61),
    dram=EnergyEntry(0.0, 0.0),
    source="MAESTRO (Kwon et al., MICRO 2019) default energy model; DRAM and NoC not modelled",
)

# Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm: 8-bit multiply 0.2 pJ + add 0.03 pJ;
# SRAM 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ per 64-bit access (sqrt growth fits all three);
# DRAM 1.3-2.6 nJ per 64 bits (midpoint 1.95 nJ used). NoC: 2x a MAC (Eyeriss ratio).
HOROWITZ_45NM = EnergyTable(
    name="horowitz-45nm", unit="pJ", mac=0.23,
    l1=EnergyEntry(10.0, 10.0, ref_bytes=8 * 1024, exponent=0.5, per_bits=64),
    noc=0.46,
    l2=EnergyEntry(20.0, 20.0, ref_bytes=32 * 1024, exponent=0.5, per_bits=64),
    dram=EnergyEntry(1950.0, 1950.0, per_bits=64),
    source="Horowitz, ISSCC 2014 (45 nm)",
)

ENERGY_TABLES: dict[str, EnergyTable] = {
    t.name: t for t in (TIMELOOP_EYERISS_65NM, EYERISS_NORMALIZED, MAESTRO, HOROWITZ_45NM)
}
DEFAULT_ENERGY_TABLE = TIMELOOP_EYERISS_65NM.name


def get_energy_table(name: str) -> EnergyTable:
    if name not in ENERGY_TABLES:
        raise KeyError(f"energy table: {name!r} is not known (allowed: {', '.join(ENERGY_TABLES)})")
    return ENERGY_TABLES[name]
