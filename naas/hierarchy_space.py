"""The NAAS hardware space on a general storage hierarchy (SPEC §6, §10): a baseline's levels, sized and
connected under its #MACs and total on-chip bytes.

The baseline fixes the structure: which levels exist, what each keeps, their energy classes, bandwidths and
where the fan-outs sit (a NVDLA- or EdgeTPU-like hierarchy has two: one below the buffer, one below the
accumulators). A genome (genes in [0, 1]) decodes to a ``Hierarchy`` of that structure:

- fan-outs: in ``sizing`` mode every axis keeps its loop dims and a gene sets its size; in ``connectivity`` and
  ``full`` modes each fan-out also takes 1 to 3 axes, and which loop dims each axis parallelizes comes from
  one importance per dim (K, C, Y', X', R, S) over all axes, outermost fan-out first, as ``HardwareSpace``
  assigns them (``assign_dims``; ``axis_dims`` dims per axis at most). Sizes: steps of 2 on a log scale, the
  axes in order sharing the MAC cap (each later axis keeps at least 2).
- storage: every on-chip level that keeps a tensor gets a size, or one size per tensor where it is split
  (per-tensor partitions, Eyeriss-style spads); in ``connectivity`` / ``full`` a unified level below a
  fan-out that keeps several tensors may also be split (one gene decides). Sizes are shares of the on-chip
  cap on a log scale, innermost level first, each leaving the smallest size to every level still to come;
  steps of 16 B, or of one word for a level (or partition) the baseline makes smaller than 64 B (registers,
  small spads), so a register is sized in words.

Energies stay the baseline's classes priced at the new sizes (or its per-word figures where it gives them);
bandwidths, precision, clock and energy table are the baseline's. Not searched: keep masks (bypass), the
number of levels, bandwidths (more never costs energy in this model), and which level a fan-out sits below.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cost_model.accelerator import TENSORS, ArrayDim
from cost_model.hierarchy import Hierarchy

from .hardware_space import (ARRAY_STEP, BUFFER_STEP, WARM_STARTS, ResourceCaps, _log_gene, _log_pick, _snap,
                             assign_dims, axis_hi, check_space_options, dims_genes, even_axis_sizes)

#: A level (or partition) the baseline makes smaller than this is sized in words, not in BUFFER_STEP bytes.
WORD_STEP_BELOW = 4 * BUFFER_STEP
MAX_AXES_PER_FANOUT = 3


@dataclass(frozen=True)
class _Buffer:
    """One sized quantity: a level's shared size (``tensor`` None) or one tensor's partition of it."""

    level: int
    tensor: str | None
    step: int
    lo: int


class HierarchySpace:
    """Decodes genomes to hierarchies of the baseline's structure under its caps, and encodes them back."""

    def __init__(self, baseline: Hierarchy, mode: str = "full", caps: ResourceCaps | None = None,
                 axis_dims: int = 3, encoding: str = "importance"):
        check_space_options(mode, axis_dims, encoding)
        self.baseline, self.mode, self.axis_dims, self.encoding = baseline, mode, axis_dims, encoding
        self.caps = caps or ResourceCaps(baseline.num_macs, baseline.onchip_bytes)
        self.fanouts = [i for i, lv in enumerate(baseline.levels) if lv.fanout]
        self.connectivity = mode != "sizing" and bool(self.fanouts)
        nf = len(self.fanouts)
        if self.fanouts and self.caps.pes < ARRAY_STEP ** nf:
            raise ValueError(f"caps.pes: {self.caps.pes} (allowed: >= {ARRAY_STEP ** nf}: 2 per fan-out)")
        g = 0
        if self.connectivity:
            self.G_AXES, g = g, g + nf
            self.order_genes = 6 if encoding == "importance" else 1
            self.G_ORDER, g = g, g + self.order_genes
            self.G_SIZES, g = g, g + MAX_AXES_PER_FANOUT * nf
            self._extra = axis_dims > 1
            self.G_EXTRA, g = g, g + (MAX_AXES_PER_FANOUT * nf if self._extra else 0)
        else:
            self.order_genes, self._extra = 0, False
            self.G_SIZES, g = g, g + sum(len(baseline.levels[f].fanout) for f in self.fanouts)
        bits = dict(zip(TENSORS, baseline.tensor_bits))
        # storage genes per on-chip level: [split] + [shared size] + [one per kept tensor], as applicable
        self._levels: list[tuple[int, int | None, int | None, dict[str, int]]] = []
        first_fanout = self.fanouts[0] if self.fanouts else len(baseline.levels)
        self._buffers: dict[tuple[int, str | None], _Buffer] = {}
        for i, lv in enumerate(baseline.levels[1:], start=1):
            if not lv.keeps or math.isinf(lv.size_bytes):
                continue
            split_gene = shared_gene = None
            tensor_genes: dict[str, int] = {}
            if lv.partition is None:
                shared_gene, g = g, g + 1
                need = sum(bits[t] for t in lv.keeps) / 8
                self._buffers[(i, None)] = self._buffer(i, None, lv.size_bytes, need, max(bits[t] for t in lv.keeps))
                if self.connectivity and i > first_fanout and len(lv.keeps) > 1:
                    split_gene, g = g, g + 1
            for t in lv.keeps:
                if lv.partition is not None or split_gene is not None:
                    tensor_genes[t], g = g, g + 1
                    size = lv.partition[TENSORS.index(t)] if lv.partition else lv.size_bytes / len(lv.keeps)
                    self._buffers[(i, t)] = self._buffer(i, t, size, bits[t] / 8, bits[t])
            self._levels.append((i, split_gene, shared_gene, tensor_genes))
        self.size = g

    @staticmethod
    def _buffer(level: int, tensor: str | None, baseline_bytes: float, need_bytes: float, word_bits: int) -> _Buffer:
        step = BUFFER_STEP if baseline_bytes >= WORD_STEP_BELOW else max(1, math.ceil(word_bits / 8))
        return _Buffer(level, tensor, step, step * math.ceil(need_bytes / step))

    # --- fan-outs -----------------------------------------------------------------------------
    def _axis_counts(self, g: np.ndarray) -> list[int]:
        counts = []
        for k in range(len(self.fanouts)):
            counts.append(1 + min(MAX_AXES_PER_FANOUT - 1,
                                  int(min(max(g[self.G_AXES + k], 0.0), 1.0) * MAX_AXES_PER_FANOUT)))
        # at most as many axes as the MAC cap gives 2 PEs each, and as there are dims: trim the last fan-outs
        limit = min(6, int(math.log2(self.caps.pes)))
        for k in range(len(counts) - 1, -1, -1):
            while sum(counts) > limit and counts[k] > 1:
                counts[k] -= 1
        return counts

    def _fanouts(self, g: np.ndarray) -> list[list[ArrayDim]]:
        """Per fan-out level (baseline order), its decoded axes."""
        if self.connectivity:
            counts = self._axis_counts(g)
            slots = [k * MAX_AXES_PER_FANOUT + a for k, n in enumerate(counts) for a in range(n)]
            extra = g[[self.G_EXTRA + s for s in slots]] if self._extra else np.zeros(len(slots))
            dims = assign_dims(g[self.G_ORDER:self.G_ORDER + self.order_genes], self.encoding, len(slots),
                               extra, self.axis_dims)
            size_genes = g[[self.G_SIZES + s for s in slots]]
        else:
            counts = [len(self.baseline.levels[f].fanout) for f in self.fanouts]
            dims = [a.dims for f in self.fanouts for a in self.baseline.levels[f].fanout]
            size_genes = g[self.G_SIZES:self.G_SIZES + len(dims)]
        budget, sizes = self.caps.pes, []
        for j, gene in enumerate(size_genes):
            s = _log_pick(ARRAY_STEP, self._axis_hi(budget, len(dims) - 1 - j), ARRAY_STEP, gene)
            sizes.append(s)
            budget //= s
        axes = [ArrayDim(s, d[0] if len(d) == 1 else tuple(d)) for s, d in zip(sizes, dims)]
        out, j = [], 0
        for n in counts:
            out.append(axes[j:j + n])
            j += n
        return out

    _axis_hi = staticmethod(axis_hi)

    # --- storage ------------------------------------------------------------------------------
    def _order(self, split: dict[int, bool]) -> list[_Buffer]:
        """The buffers sized by a genome, innermost level first (per tensor in W, I, O order)."""
        out = []
        for i, split_gene, shared_gene, tensor_genes in reversed(self._levels):
            parted = self.baseline.levels[i].partition is not None or split.get(i, False)
            if parted:
                out += [self._buffers[(i, t)] for t in TENSORS if t in tensor_genes]
            else:
                out.append(self._buffers[(i, None)])
        return out

    def _gene_of(self, b: _Buffer) -> int:
        for i, _, shared_gene, tensor_genes in self._levels:
            if i == b.level:
                return shared_gene if b.tensor is None else tensor_genes[b.tensor]
        raise KeyError(b)

    def _allocate(self, buffers: list[_Buffer], instances: list[int], pick) -> dict[tuple[int, str | None], int]:
        """Size the buffers in order: ``pick(buffer, lo, hi)`` chooses each size in [lo, hi], hi being what the
        on-chip cap leaves once the earlier ones are sized and every later one keeps its smallest size."""
        left = self.caps.onchip_bytes
        reserve = [0.0] * (len(buffers) + 1)
        for k in range(len(buffers) - 1, -1, -1):
            reserve[k] = reserve[k + 1] + buffers[k].lo * instances[buffers[k].level]
        sizes = {}
        for k, b in enumerate(buffers):
            inst = instances[b.level]
            hi = int((left - reserve[k + 1]) // inst // b.step * b.step)
            sizes[(b.level, b.tensor)] = size = pick(b, b.lo, max(b.lo, hi))
            left -= size * inst
        return sizes

    # --- decoding -----------------------------------------------------------------------------
    def decode(self, genome: np.ndarray, name: str | None = None) -> Hierarchy:
        g = np.clip(np.asarray(genome, dtype=float), 0.0, 1.0)
        if g.shape != (self.size,):
            raise ValueError(f"genome: shape {g.shape} (expected ({self.size},))")
        fanouts = dict(zip(self.fanouts, self._fanouts(g)))
        split = {i: g[s] >= 0.5 for i, s, _, _ in self._levels if s is not None}
        instances = self._instances(fanouts)
        buffers = self._order(split)
        sizes = self._allocate(buffers, instances, lambda b, lo, hi: _log_pick(lo, hi, b.step, g[self._gene_of(b)]))
        return self._build(fanouts, split, sizes, name)

    def _instances(self, fanouts: dict[int, list[ArrayDim]]) -> list[int]:
        out, n = [], 1
        for i in range(self.baseline.num_levels):
            out.append(n)
            n *= math.prod(a.size for a in fanouts.get(i, ()))
        return out

    def _build(self, fanouts, split, sizes, name) -> Hierarchy:
        levels = []
        for i, lv in enumerate(self.baseline.levels):
            new = replace(lv, fanout=tuple(fanouts.get(i, lv.fanout)))
            if (i, None) in sizes and not split.get(i, False):
                new = replace(new, size_bytes=float(sizes[(i, None)]))
            elif any((i, t) in sizes for t in TENSORS):
                part = tuple(float(sizes.get((i, t), 0)) for t in TENSORS)
                new = replace(new, partition=part, size_bytes=float(sum(part)))
            levels.append(new)
        b = self.baseline
        return replace(b, name=name or f"{b.name}-searched", levels=tuple(levels),
                       description=f"searched ({self.mode}) under {b.name}'s resources",
                       sources=(("caps", f"#MACs <= {self.caps.pes}, on-chip <= {self.caps.onchip_bytes:g} B "
                                         f"({b.name})"),))

    def fits(self, hier: Hierarchy) -> bool:
        """Whether ``hier`` respects the caps (every decoded design does)."""
        return hier.num_macs <= self.caps.pes and hier.onchip_bytes <= self.caps.onchip_bytes + 1e-9

    # --- encoding -----------------------------------------------------------------------------
    def encode(self, hier: Hierarchy) -> np.ndarray:
        """The genome of the design in this space nearest to ``hier`` (same structure as the baseline).

        Axis sizes and buffers round down to their steps within the caps; ``decode(encode(h))`` equals ``h``
        when ``h`` is already in the space."""
        if hier.num_levels != self.baseline.num_levels or any(
                bool(a.fanout) != bool(b.fanout) for a, b in zip(hier.levels, self.baseline.levels)):
            raise ValueError(f"{hier.name}: not the structure of {self.baseline.name} (levels and fan-out positions)")
        g = np.full(self.size, 0.5)
        axes = [list(hier.levels[f].fanout) for f in self.fanouts]
        if self.connectivity:
            axes = [a[:MAX_AXES_PER_FANOUT] for a in axes]
            for k, a in enumerate(axes):
                g[self.G_AXES + k] = (len(a) - 0.5) / MAX_AXES_PER_FANOUT
            counts = self._axis_counts(g)
            axes = [a[:n] for a, n in zip(axes, counts)]
            flat = [ax for a in axes for ax in a]
            order, extra = dims_genes([ax.dims for ax in flat], self.encoding, self.axis_dims)
            g[self.G_ORDER:self.G_ORDER + self.order_genes] = order
            slots = [k * MAX_AXES_PER_FANOUT + j for k, a in enumerate(axes) for j in range(len(a))]
            if self._extra:
                g[[self.G_EXTRA + s for s in slots]] = extra
        else:
            flat = [ArrayDim(a.size, b.dims if len(b.dims) > 1 else b.dims[0])
                    for f in self.fanouts for a, b in zip(hier.levels[f].fanout, self.baseline.levels[f].fanout)]
            slots = list(range(len(flat)))
        budget = self.caps.pes
        for j, (s, ax) in enumerate(zip(slots, flat)):
            hi = self._axis_hi(budget, len(flat) - 1 - j)
            size = _snap(ax.size, ARRAY_STEP, hi, ARRAY_STEP)
            g[self.G_SIZES + s] = _log_gene(ARRAY_STEP, hi, size)
            budget //= size
        fanouts = dict(zip(self.fanouts, self._fanouts(g)))
        split = {}
        for i, s, _, _ in self._levels:
            if s is not None:
                split[i] = hier.levels[i].partition is not None
                g[s] = 0.75 if split[i] else 0.25
        instances = self._instances(fanouts)
        buffers = self._order(split)

        def snap(b: _Buffer, lo: int, hi: int) -> int:
            lv = hier.levels[b.level]
            size = _snap(lv.capacity_bytes(b.tensor) if b.tensor else lv.size_bytes, lo, hi, b.step)
            g[self._gene_of(b)] = _log_gene(lo, hi, size)
            return size

        self._allocate(buffers, instances, snap)
        return g

    def start_genomes(self, warm_start: str = "baseline") -> list[np.ndarray]:
        """Generation 0: the baseline as this space expresses it first; with ``dataflows`` (connectivity
        modes) also the baseline's storage with each built-in accelerator's array connectivity, its axes dealt
        to the fan-outs in order (one each, the rest to the first), the baseline's axis sizes where the counts
        match, else an even split of the MAC cap. Duplicates are dropped."""
        if warm_start not in WARM_STARTS:
            raise ValueError(f"warm_start: {warm_start!r} (allowed: {', '.join(WARM_STARTS)})")
        first = self.encode(self.baseline_in_space())
        if warm_start == "baseline" or not self.connectivity:
            return [first]
        from cost_model.accelerator import builtin_accelerators, load_accelerator

        base_axes = [a for f in self.fanouts for a in self.baseline.levels[f].fanout]
        genomes, seen = [first], {repr(self.decode(first).levels)}
        nf = len(self.fanouts)
        for name in builtin_accelerators():
            dims = [a.dims for a in load_accelerator(name).array]
            if len(dims) < nf or len(dims) - nf + 1 > MAX_AXES_PER_FANOUT:
                continue
            sizes = ([a.size for a in base_axes] if len(dims) == len(base_axes)
                     else even_axis_sizes(self.caps.pes, len(dims)))
            axes = [ArrayDim(s, d if len(d) > 1 else d[0]) for s, d in zip(sizes, dims)]
            counts = [len(dims) - nf + 1] + [1] * (nf - 1)
            levels, j = list(self.baseline.levels), 0
            for f, n in zip(self.fanouts, counts):
                levels[f] = replace(levels[f], fanout=tuple(axes[j:j + n]))
                j += n
            try:
                g = self.encode(replace(self.baseline, levels=tuple(levels)))
            except ValueError:  # a dim on two axes of different fan-outs cannot be expressed
                continue
            key = repr(self.decode(g).levels)
            if key not in seen:
                seen.add(key)
                genomes.append(g)
        return genomes

    def baseline_in_space(self) -> Hierarchy:
        """The design of this space nearest to the baseline, for warm starts."""
        return self.decode(self.encode(self.baseline), name=f"{self.baseline.name}-in-space")
