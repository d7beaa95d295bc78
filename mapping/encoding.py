"""Real-vector encodings of mappings (SPEC §6): importance-based (NAAS) and index-based (the baseline).

A genome is a vector in [0, 1]^D, laid out as:

- loop orders at the DRAM and L2 levels over the six dims K, C, Y, X, R, S (N stays outermost; the L1
  order changes no count in this model, so it is not searched):
  * importance encoding: one importance per dim and level; sorting by importance, descending, gives the
    order outermost first (ties: the dim listed first wins, so decoding is deterministic);
  * index encoding: one gene per level, the index of the order among the 720 permutations (lexicographic);
- tiling, for each dim whose bound is > 1 (in N, K, C, Y, X, R, S order): a gene for the spatial factor
  (only dims an array axis parallelizes), then one for L1 and one for L2; DRAM takes what is left.
  Each gene is a ratio that picks, by equal-width bins, one of the factors that leave the least padding
  for the rest of the dim, ``{ceil(rest / t) : t = 1..rest}`` in ascending order (every exact divisor is
  among them). Spatial candidates are capped by what the dim's array axis has left; an axis with several
  dims fills them in the order the accelerator lists them.

``encode`` is the inverse: it returns a genome that decodes to the given mapping (bin centres), for warm
starts; it raises ``MappingSpecError`` for mappings outside the encodable space.
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from nn_space.layers import DIMS, ConvLayer, dim_index

from .decode_kernel import decode_genomes
from .spec import F_DRAM, F_L1, F_L2, F_SPATIAL, O_DRAM, O_L2, Mapping, MappingSpecError

ORDER_DIMS = (1, 2, 3, 4, 5, 6)  # K, C, Y, X, R, S: the dims whose order is searched
PERMUTATIONS = np.array(list(itertools.permutations(range(6))), dtype=np.int64)  # 720 x 6, lexicographic
PERM_INDEX = {tuple(p): i for i, p in enumerate(PERMUTATIONS.tolist())}
ENCODINGS = ("importance", "index")


def ceil_quotients(rest: int) -> list[int]:
    """The distinct ``ceil(rest / t)`` for t = 1..rest, largest first, in O(sqrt(rest)) steps (each value's
    last t found at once)."""
    out, t = [], 1
    while t <= rest:
        f = -(-rest // t)
        out.append(f)
        t = (rest - 1) // (f - 1) + 1 if f > 1 else rest + 1  # the first t with ceil(rest / t) < f
    return out


@lru_cache(maxsize=None)
def padding_minimal_factors(rest: int) -> tuple[int, ...]:
    """``{ceil(rest / t) : t = 1..rest}`` ascending: the factors worth considering for a dim of ``rest``."""
    return tuple(reversed(ceil_quotients(rest)))


def _gene_of(candidates: tuple[int, ...], value: int) -> float:
    return (candidates.index(value) + 0.5) / len(candidates)


class MappingEncoder:
    """Decodes genomes to mappings of one layer on one accelerator, and encodes mappings back."""

    def __init__(self, layer: ConvLayer, acc, encoding: str = "importance"):
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding: {encoding!r} (allowed: {', '.join(ENCODINGS)})")
        self.layer = layer
        self.acc = acc
        self.encoding = encoding
        self.bounds = layer.loop_bounds
        self.axis_of = [acc.axis_of(d) for d in DIMS]
        self.axis_sizes = [a.size for a in acc.array]
        # spatial allocation order: axis by axis, dims in the order the axis lists them
        self.spatial_order = [dim_index(n) for a in acc.array for n in a.dims]
        self.order_genes = 6 if encoding == "importance" else 1
        genes: list[tuple[int, int]] = []  # (dim, factor row) per tiling gene
        for d in range(7):
            if self.bounds[d] == 1:
                continue
            if self.axis_of[d] >= 0:
                genes.append((d, F_SPATIAL))
            genes.append((d, F_L1))
            genes.append((d, F_L2))
        self.tiling_genes = genes
        self.gene_index = {g: 2 * self.order_genes + i for i, g in enumerate(genes)}
        self.size = 2 * self.order_genes + len(genes)
        # arrays for the decoding kernel
        self._bounds = np.array(self.bounds, dtype=np.int64)
        self._axis_of = np.array(self.axis_of, dtype=np.int64)
        self._axis_sizes = np.array(self.axis_sizes + [1] * (3 - len(self.axis_sizes)), dtype=np.int64)
        self._spatial_order = np.array(self.spatial_order, dtype=np.int64)
        self._gi = [np.array([self.gene_index.get((d, row), -1) for d in range(7)], dtype=np.int64)
                    for row in (F_SPATIAL, F_L1, F_L2)]

    # --- decoding ---------------------------------------------------------------------------------
    def decode_batch(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """factors int64[B, 4, 7] and orders int64[B, 3, 7] for genomes float[B, D].

        Genes outside [0, 1] are folded back by reflection at the bounds (so an unbounded optimizer can
        propose any real vector).
        """
        genomes = np.ascontiguousarray(genomes, dtype=np.float64)
        if genomes.ndim != 2 or genomes.shape[1] != self.size:
            raise ValueError(f"genomes: shape {genomes.shape} (expected (B, {self.size}))")
        b = genomes.shape[0]
        factors = np.empty((b, 4, 7), dtype=np.int64)
        orders = np.empty((b, 3, 7), dtype=np.int64)
        decode_genomes(genomes, self.encoding == "importance", self._bounds, self._axis_of, self._axis_sizes,
                       self._spatial_order, self._gi[0], self._gi[1], self._gi[2], PERMUTATIONS, factors,
                       orders)
        return factors, orders

    def decode(self, genome: np.ndarray, label: str = "") -> Mapping:
        f, o = self.decode_batch(np.asarray(genome)[None, :])
        return Mapping.from_arrays(f[0], o[0], label=label)

    # --- encoding ---------------------------------------------------------------------------------
    def encode(self, mapping: Mapping) -> np.ndarray:
        """A genome that decodes to ``mapping`` (its loops of bound 1 may come out in another order)."""
        return self.encode_arrays(mapping.factor_array, mapping.order_array)

    def encode_arrays(self, f: np.ndarray, orders: np.ndarray) -> np.ndarray:
        """``encode`` of a mapping given as factors int64[4, 7] and orders int64[3, 7] (``Mapping``'s arrays)."""
        g = np.full(self.size, 0.5)
        for level, row in ((0, O_DRAM), (1, O_L2)):
            perm = tuple(int(d) - 1 for d in orders[row] if d != 0)  # N (index 0) stays outermost
            if self.encoding == "importance":
                for pos, p in enumerate(perm):
                    g[level * 6 + p] = 1.0 - (pos + 0.5) / 6
            else:
                g[level] = (PERM_INDEX[perm] + 0.5) / 720
        rest = list(self.bounds)
        room = list(self.axis_sizes)
        for d in range(7):
            if self.bounds[d] == 1 and (f[:, d] != 1).any():
                raise MappingSpecError(f"{DIMS[d]} has bound 1 but factors {f[:, d].tolist()}")
            if self.axis_of[d] < 0 and f[F_SPATIAL, d] != 1:
                raise MappingSpecError(f"spatial factor on {DIMS[d]}, which no array axis parallelizes")
        for d in self.spatial_order:
            if rest[d] == 1:
                continue
            a = self.axis_of[d]
            cands = tuple(v for v in padding_minimal_factors(rest[d]) if v <= room[a])
            g[self.gene_index[(d, F_SPATIAL)]] = self._gene(cands, int(f[F_SPATIAL, d]), d, "spatial")
            room[a] //= int(f[F_SPATIAL, d])
            rest[d] = -(-rest[d] // int(f[F_SPATIAL, d]))
        for d in range(7):
            if self.bounds[d] == 1:
                continue
            for row, name in ((F_L1, "l1"), (F_L2, "l2")):
                g[self.gene_index[(d, row)]] = self._gene(padding_minimal_factors(rest[d]), int(f[row, d]),
                                                          d, name)
                rest[d] = -(-rest[d] // int(f[row, d]))
            if rest[d] != f[F_DRAM, d]:
                raise MappingSpecError(f"{DIMS[d]}: DRAM factor {f[F_DRAM, d]} is not the rest {rest[d]}")
        return g

    @staticmethod
    def _gene(cands: tuple[int, ...], value: int, d: int, level: str) -> float:
        if value not in cands:
            raise MappingSpecError(f"{level} factor {value} of {DIMS[d]} is not encodable "
                                   f"(candidates: {list(cands)})")
        return _gene_of(cands, value)

