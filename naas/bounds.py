"""Lower bounds on a network's cycles and energy for ANY design within a baseline's resources.

Used to tell how much a search can still gain: no design with at most ``pes`` PEs and the baseline's DRAM
bandwidth and energy table (which a NAAS search keeps, SPEC §6) can beat them in this model, whatever its
array shape, buffers or mappings. Per layer (layers run one after another, as the model costs them):

- cycles >= max(floor(MACs / #PEs), compulsory DRAM words / DRAM bandwidth), with the bandwidth applied as the
  model applies it (shared, or reads and writes separately);
- energy >= MACs x MAC energy + compulsory DRAM reads x read energy + compulsory writes x write energy.

Compulsory DRAM words: every weight and every output once, and at least ``n x C_in x Y' x X'`` inputs (distinct
output positions read distinct input positions; a strided 1x1 layer reads no more than that). On-chip
energies (L1, NoC, L2) are left out of the energy bound, so it is loose where they dominate.
"""
from __future__ import annotations

from dataclasses import dataclass

from cost_model.accelerator import Accelerator
from cost_model.hierarchy import Hierarchy
from nn_space.layers import ConvLayer, Network


@dataclass(frozen=True)
class NetworkBounds:
    """Lower bounds on a network's cycles and energy (energy in the accelerator's energy unit)."""

    cycles: float
    energy: float

    @property
    def edp(self) -> float:
        return self.cycles * self.energy


def compulsory_dram_words(layer: ConvLayer) -> tuple[float, float]:
    """(reads, writes) every mapping of ``layer`` makes at DRAM at least, in words."""
    inputs = layer.n * layer.c * layer.y * layer.x
    outputs = layer.n * layer.k * layer.y * layer.x
    return float(layer.weight_count + inputs), float(outputs)


def layer_bounds(layer: ConvLayer, acc: Accelerator | Hierarchy, pes: int | None = None) -> NetworkBounds:
    """Bounds for one layer on ``pes`` PEs (default: the accelerator's) with its DRAM bandwidth."""
    if isinstance(acc, Hierarchy):
        return _hierarchy_layer_bounds(layer, acc, pes)
    pes = pes or acc.num_pes
    reads, writes = compulsory_dram_words(layer)
    bw = acc.dram_bandwidth
    dram = (reads + writes) / bw.shared if bw.shared > 0 else max(reads / bw.read, writes / bw.write)
    e = acc.energy.vector(acc.l1_bytes, acc.l2_bytes, acc.word_bits)  # DRAM and MAC energies: size-free
    energy = layer.macs * e[0] + reads * e[6] + writes * e[7]
    return NetworkBounds(max(float(layer.macs // pes), dram), energy)


def _hierarchy_layer_bounds(layer: ConvLayer, hier: Hierarchy, pes: int | None) -> NetworkBounds:
    """As ``layer_bounds`` on a hierarchy: its outermost level is the DRAM, words per tensor at its precision."""
    pes = pes or hier.num_macs
    top = hier.levels[0]
    ratio = [b / (top.word_bits or hier.word_bits) for b in hier.tensor_bits]  # level words per tensor word
    reads = (layer.weight_count, layer.n * layer.c * layer.y * layer.x)  # weights, inputs
    writes = layer.n * layer.k * layer.y * layer.x
    r_words, w_words = reads[0] * ratio[0] + reads[1] * ratio[1], writes * ratio[2]
    bw = top.bandwidth
    dram = (r_words + w_words) / bw.shared if bw.shared > 0 else max(r_words / bw.read, w_words / bw.write)
    e_read, e_write = hier.level_energies(0)
    energy = layer.macs * hier.energy_table.mac + reads[0] * e_read[0] + reads[1] * e_read[1] + writes * e_write[2]
    return NetworkBounds(max(float(layer.macs // pes), dram), energy)


def network_bounds(network: Network, acc: Accelerator | Hierarchy, pes: int | None = None) -> NetworkBounds:
    """Bounds for a whole network: the sum of its layers' bounds."""
    cycles = energy = 0.0
    for layer, count in network.unique_layers():
        b = layer_bounds(layer, acc, pes)
        cycles += count * b.cycles
        energy += count * b.energy
    return NetworkBounds(cycles, energy)
