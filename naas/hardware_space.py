"""The NAAS hardware search space (SPEC §3, §6): sizing and connectivity under a baseline's resource caps.

A genome (genes in [0, 1]) decodes to an ``Accelerator`` that never exceeds the baseline's #PEs or total
on-chip memory (L2 + #PEs x L1), and uses the baseline's bandwidths, word width, clock and energy table:

- ``sizing``: the baseline's array axes and the loop dims each parallelizes are kept; genes set each axis
  size (steps of 2) and the per-PE L1 and the L2 (steps of 16 B), all on log scales: axis i takes a size
  between 2 and what the PE cap leaves for it and the later axes (gene 1 on the last axis uses every PE
  left); L1 then takes a share of the on-chip cap, and L2 a share of what L1 leaves.
- ``connectivity`` and ``full``: also the number of axes (1 to 3) and which loop dims each parallelizes:
  one importance per dim (K, C, Y', X', R, S); the most important dim goes to axis 0, the next to axis 1,
  ... (ties: the dim listed first). With ``axis_dims`` > 1 (the default is 3), a gene per axis adds up to
  ``axis_dims - 1`` further dims to it, taken from the unused dims in importance order, axis 0 first: an
  axis then parallelizes several dims whose spatial factors share its size, as Eyeriss's rows take filter
  rows and replicate over channels and filters (R/C/K). ``axis_dims=1`` is the paper's space (one dim per
  axis). ``full`` differs from ``connectivity`` only in the mapping strategy the outer search pairs it with
  (searched vs the dataflow's default), not in the hardware space.

``encoding="index"`` is the ablation baseline of SPEC §6 for connectivity: the six importances are replaced by
one gene, the index of the dims' order among the 720 permutations (lexicographic, as the mapping encoder's);
the order then assigns dims to axes exactly as the importance order does, so both encodings span the same
designs.

Not searched, on purpose: bandwidth (in this model more bandwidth never costs energy, so the search would
always take the cap; it is fixed at the baseline's) and L1 partitions (searched designs have one unified
L1 per PE). Axis sizes are even; the paper's "#PEs by 8" step is not enforced separately. The model charges
nothing for an axis that parallelizes several dims (its NoC energy is not modelled), so such axes are never
worse in ``full`` mode; they only enlarge the mapping space the inner search must cover.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cost_model.accelerator import Accelerator, ArrayDim, builtin_accelerators, load_accelerator
from mapping.encoding import ENCODINGS, PERM_INDEX, PERMUTATIONS
from nn_space.layers import DIMS, dim_index

MODES = ("sizing", "connectivity", "full")
#: How a search's generation 0 is made: the baseline alone, or the baseline and its resources arranged as
#: each built-in accelerator's connectivity at a few L1 sizes (see ``HardwareSpace.start_genomes``).
WARM_STARTS = ("baseline", "dataflows")
#: L1 genes of the ``dataflows`` starts besides the baseline's own L1 (log scale: 0.5 is the geometric middle
#: between the smallest L1 and the largest the caps allow, 0.25 a quarter of the way up).
START_L1_GENES = (0.5, 0.25)
PARALLEL_CHOICES = ("K", "C", "Y", "X", "R", "S")
ARRAY_STEP = 2
BUFFER_STEP = 16


@dataclass(frozen=True)
class ResourceCaps:
    """What a searched design may not exceed (SPEC §6)."""

    pes: int
    onchip_bytes: float

    @classmethod
    def of(cls, acc: Accelerator) -> "ResourceCaps":
        return cls(acc.num_pes, acc.onchip_bytes)


def _log_pick(lo: int, hi: int, step: int, gene: float) -> int:
    """A multiple of ``step`` in [lo, hi], placed on a log scale by ``gene`` (lo, hi multiples of step)."""
    if hi <= lo:
        return lo
    value = math.exp(math.log(lo) + min(max(gene, 0.0), 1.0) * (math.log(hi) - math.log(lo)))
    return int(min(hi, max(lo, step * round(value / step))))


def _log_gene(lo: int, hi: int, value: int) -> float:
    return 0.5 if hi <= lo else (math.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))


def _snap(value: float, lo: int, hi: int, step: int) -> int:
    """The multiple of ``step`` in [lo, hi] nearest to ``value``, rounding down (caps are upper bounds)."""
    return int(min(max(lo, step * math.floor(value / step)), max(lo, hi)))


def check_space_options(mode: str, axis_dims: int, encoding: str) -> None:
    """ValueError naming the option unless a hardware space can take it."""
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} (allowed: {', '.join(MODES)})")
    if axis_dims not in (1, 2, 3):
        raise ValueError(f"axis_dims: {axis_dims!r} (allowed: 1, 2, 3 loop dims per array axis)")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding: {encoding!r} (allowed: {', '.join(ENCODINGS)})")


def axis_hi(budget: int, later_axes: int) -> int:
    """Largest even size an axis may take, leaving at least 2 PEs for each later axis."""
    hi = budget // ARRAY_STEP ** later_axes
    return hi - hi % ARRAY_STEP


def even_axis_sizes(pes: int, axes: int) -> list[int]:
    """Axis sizes splitting ``pes`` as evenly as the steps allow."""
    sizes, budget = [], pes
    for i in range(axes):
        hi = axis_hi(budget, axes - 1 - i)
        sizes.append(_snap(budget ** (1.0 / (axes - i)), ARRAY_STEP, hi, ARRAY_STEP))
        budget //= sizes[-1]
    return sizes


def assign_dims(order_genes: np.ndarray, encoding: str, axes: int, extra_genes: np.ndarray,
                axis_dims: int) -> list[tuple[str, ...]]:
    """The loop dims of ``axes`` array axes: the most important dim to axis 0, the next to axis 1, ...; then
    each axis's extra gene adds up to ``axis_dims - 1`` of the unused dims, in importance order, axis 0 first."""
    if encoding == "importance":
        perm = np.argsort(-np.asarray(order_genes), kind="stable")
    else:
        perm = PERMUTATIONS[min(len(PERMUTATIONS) - 1, int(order_genes[0] * len(PERMUTATIONS)))]
    order = [PARALLEL_CHOICES[i] for i in perm]
    dims = [[d] for d in order[:axes]]
    spare = order[axes:]
    for i in range(axes):
        extra = min(axis_dims - 1, int(min(max(extra_genes[i], 0.0), 1.0) * axis_dims))
        dims[i] += spare[:extra]
        spare = spare[extra:]
    return [tuple(a) for a in dims]


def dims_genes(axes_dims: list[tuple[str, ...]], encoding: str, axis_dims: int) -> tuple[np.ndarray, np.ndarray]:
    """(order genes, extra genes per axis) that ``assign_dims`` decodes to ``axes_dims`` (each axis keeps its
    first ``axis_dims`` dims); ValueError if a dim is on two axes."""
    axes = [[PARALLEL_CHOICES.index(DIMS[dim_index(d)]) for d in a[:axis_dims]] for a in axes_dims]
    chosen = [a[0] for a in axes] + [i for a in axes for i in a[1:]]
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"a loop dim is on two array axes: {['/'.join(a) for a in axes_dims]}")
    rest = [i for i in range(6) if i not in chosen]
    if encoding == "importance":
        order = np.zeros(6)
        for rank, i in enumerate(chosen + rest):
            order[i] = 1.0 - (rank + 0.5) / 6
    else:
        order = np.array([(PERM_INDEX[tuple(chosen + rest)] + 0.5) / len(PERMUTATIONS)])
    extra = np.array([(len(a) - 1 + 0.5) / axis_dims for a in axes])
    return order, extra


class HardwareSpace:
    """Decodes genomes to accelerators under a baseline's caps, and encodes accelerators back."""

    # genome layout: [axes count, order genes (6 importances, or 1 index), 3 axis sizes, L1, L2]
    #                 + [3 extra-dim counts] if axis_dims > 1;  sizing mode: [baseline's axis sizes, L1, L2]

    def __init__(self, baseline: Accelerator, mode: str = "full", caps: ResourceCaps | None = None,
                 axis_dims: int = 3, encoding: str = "importance"):
        check_space_options(mode, axis_dims, encoding)
        self.baseline = baseline
        self.mode = mode
        self.axis_dims = axis_dims
        self.encoding = encoding
        # sizing mode keeps the baseline's axes: no connectivity genes, one size gene per baseline axis
        # (dead genes would only slow CMA-ES down: a larger default population, slower adaptation)
        connectivity = mode != "sizing"
        self.order_genes = (6 if encoding == "importance" else 1) if connectivity else 0
        self.G_AXES, self.G_IMPORTANCE = (0, 1) if connectivity else (None, None)
        self.G_SIZES = 1 + self.order_genes if connectivity else 0
        self.G_L1 = self.G_SIZES + (3 if connectivity else len(baseline.array))
        self.G_L2 = self.G_L1 + 1
        self.G_EXTRA = self.G_L2 + 1
        self._extra_genes = axis_dims > 1 and connectivity
        self.caps = caps or ResourceCaps.of(baseline)
        self.word_bytes = baseline.word_bits / 8
        self.l1_min = BUFFER_STEP * math.ceil(3 * self.word_bytes / BUFFER_STEP)
        self.l2_min = self.l1_min
        if self.caps.pes < ARRAY_STEP:
            raise ValueError(f"caps.pes: {self.caps.pes} (allowed: >= {ARRAY_STEP})")

    @property
    def size(self) -> int:
        return self.G_EXTRA + (3 if self._extra_genes else 0)

    _axis_hi = staticmethod(axis_hi)

    def _l1_hi(self, pes: int) -> int:
        return max(self.l1_min, int((self.caps.onchip_bytes - self.l2_min) // pes) // BUFFER_STEP * BUFFER_STEP)

    def _l2_hi(self, pes: int, l1: int) -> int:
        return max(self.l2_min, int(self.caps.onchip_bytes - pes * l1) // BUFFER_STEP * BUFFER_STEP)

    # --- connectivity -----------------------------------------------------------------------------
    def _axes_dims(self, g: np.ndarray) -> list[tuple[str, ...]]:
        if self.mode == "sizing":
            return [a.dims for a in self.baseline.array]
        max_axes = 1
        while max_axes < 3 and ARRAY_STEP ** (max_axes + 1) <= self.caps.pes:
            max_axes += 1
        n = 1 + min(max_axes - 1, int(min(max(g[self.G_AXES], 0.0), 1.0) * max_axes))
        extra = g[self.G_EXTRA:self.G_EXTRA + n] if self._extra_genes else np.zeros(n)
        return assign_dims(g[self.G_IMPORTANCE:self.G_IMPORTANCE + self.order_genes], self.encoding, n, extra,
                           self.axis_dims)

    # --- decoding ---------------------------------------------------------------------------------
    def decode(self, genome: np.ndarray, name: str | None = None) -> Accelerator:
        g = np.clip(np.asarray(genome, dtype=float), 0.0, 1.0)
        if g.shape != (self.size,):
            raise ValueError(f"genome: shape {g.shape} (expected ({self.size},))")
        axes = self._axes_dims(g)
        budget = self.caps.pes
        sizes = []
        for i in range(len(axes)):
            s = _log_pick(ARRAY_STEP, self._axis_hi(budget, len(axes) - 1 - i), ARRAY_STEP,
                          g[self.G_SIZES + i])
            sizes.append(s)
            budget //= s
        pes = math.prod(sizes)
        l1 = _log_pick(self.l1_min, self._l1_hi(pes), BUFFER_STEP, g[self.G_L1])
        l2 = _log_pick(self.l2_min, self._l2_hi(pes, l1), BUFFER_STEP, g[self.G_L2])
        array = tuple(ArrayDim(s, d[0] if len(d) == 1 else d) for s, d in zip(sizes, axes))
        return replace(self.baseline, name=name or f"{self.baseline.name}-searched", array=array,
                       l1_bytes=float(l1), l2_bytes=float(l2), l1_partition=None,
                       description=f"searched ({self.mode}) under {self.baseline.name}'s resources",
                       sources=(("caps", f"#PEs <= {self.caps.pes}, on-chip <= {self.caps.onchip_bytes:g} B "
                                         f"({self.baseline.name})"),))

    def fits(self, acc: Accelerator) -> bool:
        """Whether ``acc`` respects the caps (every decoded design does)."""
        return acc.num_pes <= self.caps.pes and acc.onchip_bytes <= self.caps.onchip_bytes + 1e-9

    # --- encoding ---------------------------------------------------------------------------------
    def encode(self, acc: Accelerator) -> np.ndarray:
        """The genome of the design in this space nearest to ``acc``, for warm starts.

        Snapping: axis sizes and buffers round down to their steps within the caps; in connectivity modes
        an axis keeps its first ``axis_dims`` loop dims (in the order it lists them); in sizing mode the baseline's dims are kept whatever ``acc`` has.
        ``decode(encode(acc))`` equals ``acc`` when it is already in the space.
        """
        g = np.full(self.size, 0.5)
        max_axes = len(self._axes_dims(np.ones(self.size))) if self.mode != "sizing" else 3
        array = list(acc.array)[:max_axes]
        if self.mode == "sizing":
            array = [ArrayDim(a.size, b.dim) for a, b in zip(acc.array, self.baseline.array)]
        else:
            g[self.G_AXES] = (len(array) - 0.5) / max_axes
            order, extra = dims_genes([a.dims for a in array], self.encoding, self.axis_dims)
            g[self.G_IMPORTANCE:self.G_IMPORTANCE + self.order_genes] = order
            if self._extra_genes:
                g[self.G_EXTRA:self.G_EXTRA + 3] = np.concatenate([extra, np.full(3 - len(extra),
                                                                                  0.5 / self.axis_dims)])
        budget = self.caps.pes
        pes = 1
        for i, a in enumerate(array):
            hi = self._axis_hi(budget, len(array) - 1 - i)
            size = _snap(a.size, ARRAY_STEP, hi, ARRAY_STEP)
            g[self.G_SIZES + i] = _log_gene(ARRAY_STEP, hi, size)
            budget //= size
            pes *= size
        l1_hi = self._l1_hi(pes)
        l1 = _snap(acc.l1_bytes, self.l1_min, l1_hi, BUFFER_STEP)
        g[self.G_L1] = _log_gene(self.l1_min, l1_hi, l1)
        l2_hi = self._l2_hi(pes, l1)
        l2 = _snap(acc.l2_bytes, self.l2_min, l2_hi, BUFFER_STEP)
        g[self.G_L2] = _log_gene(self.l2_min, l2_hi, l2)
        return g

    def start_genomes(self, warm_start: str = "baseline") -> list[np.ndarray]:
        """Generation 0 of a search: the baseline's genome first, then (``dataflows``) distinct other starts.

        The other starts keep the baseline's #PEs (its axis sizes when the axis count matches, else an even
        split) and give every byte of on-chip memory L1 leaves to L2; they combine each connectivity among
        the baseline's and the built-in accelerators' (connectivity modes only) with the baseline's L1 and
        the ``START_L1_GENES``. The outer CMA-ES then starts from the best of them.
        """
        if warm_start not in WARM_STARTS:
            raise ValueError(f"warm_start: {warm_start!r} (allowed: {', '.join(WARM_STARTS)})")
        first = self.encode(self.baseline_in_space())
        if warm_start == "baseline":
            return [first]
        connectivities = [tuple(a.dims for a in self.baseline.array)]
        if self.mode != "sizing":
            for name in builtin_accelerators():
                dims = tuple(a.dims for a in load_accelerator(name).array)
                if dims not in connectivities:
                    connectivities.append(dims)
        genomes, seen = [first], {self._design_key(first)}
        for dims in connectivities:
            sizes = ([a.size for a in self.baseline.array] if len(dims) == len(self.baseline.array)
                     else self._even_sizes(len(dims)))
            array = tuple(ArrayDim(s, d if len(d) > 1 else d[0]) for s, d in zip(sizes, dims))
            g = self.encode(replace(self.baseline, array=array, l1_partition=None))
            for l1_gene in (g[self.G_L1],) + START_L1_GENES:
                candidate = g.copy()
                candidate[self.G_L1], candidate[self.G_L2] = l1_gene, 1.0
                key = self._design_key(candidate)
                if key not in seen:
                    seen.add(key)
                    genomes.append(candidate)
        return genomes

    def _even_sizes(self, axes: int) -> list[int]:
        return even_axis_sizes(self.caps.pes, axes)

    def _design_key(self, genome: np.ndarray) -> str:
        d = self.decode(genome).to_dict()
        d.pop("name", None)
        return repr(d)

    def baseline_in_space(self) -> Accelerator:
        """The design of this space nearest to the baseline (see ``encode``), for warm starts."""
        return self.decode(self.encode(self.baseline), name=f"{self.baseline.name}-in-space")
