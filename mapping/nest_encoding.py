"""Importance encoding of mappings on a general hierarchy (SPEC §6 generalized to any level list).

A genome is a vector in [0, 1]^D:
- loop orders: six importances per level (K, C, Y, X, R, S; N stays outermost); sorting by importance,
  descending, gives the level's order, outermost first (ties: the dim listed first wins);
- tiling, per dim whose bound is > 1, from the MAC outwards: the spatial factor of each fan-out that
  parallelizes the dim and the temporal factor of each level but the outermost, which takes what is left.
  Each gene picks, by equal-width bins, one of the factors that leave the least padding for the rest of the
  dim, ``{ceil(rest / t)}`` ascending (``exact``: the exact divisors of the rest, no padding); a spatial
  gene's candidates are capped by what its fan-out axis has left (axes shared by several dims fill in dim
  order N, K, C, Y, X, R, S).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from nn_space.layers import ConvLayer

ORDER_DIMS = np.array([1, 2, 3, 4, 5, 6], dtype=np.int64)  # K, C, Y, X, R, S


@lru_cache(maxsize=8)
def candidate_table(max_bound: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """(cand int64[max_bound + 1, W], count int64[max_bound + 1]): the ascending candidates for each rest."""
    rows = []
    for rest in range(max_bound + 1):
        if rest == 0:
            rows.append([1])
        elif exact:
            rows.append([f for f in range(1, rest + 1) if rest % f == 0])
        else:
            rows.append(sorted({-(-rest // t) for t in range(1, rest + 1)}))
    width = max(len(r) for r in rows)
    cand = np.ones((max_bound + 1, width), dtype=np.int64)
    count = np.zeros(max_bound + 1, dtype=np.int64)
    for i, r in enumerate(rows):
        cand[i, :len(r)] = r
        count[i] = len(r)
    cand.flags.writeable = False
    count.flags.writeable = False
    return cand, count


@njit(cache=True, error_model="numpy")
def _decode(genomes, bounds, gene_dim, gene_kind, gene_level, gene_axis, axis_size, nl, exact, cand, count,
            tf, sf, orders):
    """Genomes [B, D] -> tf, sf, orders [B, L, 7] (see the module docstring for the layout)."""
    n_order = 6 * nl
    room = np.empty_like(axis_size)
    imp = np.empty(6)
    for b in range(genomes.shape[0]):
        g = genomes[b]
        for lv in range(nl):
            for j in range(6):
                imp[j] = g[lv * 6 + j]
            orders[b, lv, 0] = 0
            for p in range(6):  # selection sort, descending, first listed wins ties
                best = -1
                for j in range(6):
                    if imp[j] >= 0.0 and (best < 0 or imp[j] > imp[best]):
                        best = j
                orders[b, lv, p + 1] = best + 1
                imp[best] = -1.0
            for d in range(7):
                tf[b, lv, d] = 1
                sf[b, lv, d] = 1
        room[:, :] = axis_size
        rest_d = bounds.copy()
        for i in range(gene_dim.shape[0]):
            d = gene_dim[i]
            rest = rest_d[d]
            lim = count[rest]
            if gene_kind[i] == 1:  # spatial: candidates up to what the axis has left
                cap = room[gene_level[i], gene_axis[i]]
                lim = 0
                while lim < count[rest] and cand[rest, lim] <= cap:
                    lim += 1
            x = g[n_order + i]
            k = int(x * lim)
            if k >= lim:
                k = lim - 1
            if k < 0:
                k = 0
            f = cand[rest, k]
            if gene_kind[i] == 1:
                sf[b, gene_level[i], d] = f
                room[gene_level[i], gene_axis[i]] //= f
            else:
                tf[b, gene_level[i], d] = f
            rest_d[d] = rest // f if exact else (rest + f - 1) // f
        for d in range(7):
            tf[b, 0, d] = rest_d[d]


class NestEncoder:
    """Decodes genomes to mappings of one layer on one hierarchy."""

    def __init__(self, layer: ConvLayer, hier, exact: bool = False):
        self.layer, self.hier, self.exact = layer, hier, exact
        nl = hier.num_levels
        self.bounds = np.array(layer.loop_bounds, dtype=np.int64)
        genes = []  # (dim, kind 0 temporal / 1 spatial, level, axis)
        for d in range(7):
            if self.bounds[d] == 1:
                continue
            for lv in range(nl - 1, -1, -1):
                ax = hier.levels[lv].axis_of("NKCYXRS"[d])
                if ax >= 0:
                    genes.append((d, 1, lv, ax))
                if lv > 0:
                    genes.append((d, 0, lv, -1))
        self.genes = genes
        self.order_genes = 6 * nl
        self.size = self.order_genes + len(genes)
        cols = list(zip(*genes)) if genes else [(), (), (), ()]
        self._gene = [np.array(c, dtype=np.int64) for c in cols]
        self._axis_size = np.ones((nl, 3), dtype=np.int64)
        for lv, level in enumerate(hier.levels):
            for a, axis in enumerate(level.fanout):
                self._axis_size[lv, a] = axis.size
        self._cand, self._count = candidate_table(int(self.bounds.max()), exact)

    def decode_batch(self, genomes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        genomes = np.ascontiguousarray(genomes, dtype=np.float64)
        if genomes.ndim != 2 or genomes.shape[1] != self.size:
            raise ValueError(f"genomes: shape {genomes.shape} (expected (B, {self.size}))")
        b, nl = genomes.shape[0], self.hier.num_levels
        tf = np.empty((b, nl, 7), dtype=np.int64)
        sf = np.empty((b, nl, 7), dtype=np.int64)
        orders = np.empty((b, nl, 7), dtype=np.int64)
        _decode(genomes, self.bounds, *self._gene, self._axis_size, nl, self.exact, self._cand, self._count,
                tf, sf, orders)
        return tf, sf, orders

    def encode(self, mapping) -> np.ndarray:
        """A genome that decodes to ``mapping`` where its factors are candidates of the decoding chain, else
        to the nearest candidates (log scale): a warm start, not an exact inverse. N must be outermost."""
        g = np.empty(self.size)
        for lv, order in enumerate(mapping.order_array):
            for p, d in enumerate(order[1:]):
                g[lv * 6 + int(d) - 1] = 1.0 - (p + 0.5) / 6
        room = self._axis_size.copy()
        rest_d = self.bounds.copy()
        tf, sf = mapping.temporal_array, mapping.spatial_array
        for i, (d, kind, lv, ax) in enumerate(self.genes):
            rest = int(rest_d[d])
            cands = [int(c) for c in self._cand[rest, :self._count[rest]]]
            if kind == 1:
                cands = [c for c in cands if c <= room[lv, ax]]
            want = int((sf if kind == 1 else tf)[lv, d])
            k = int(np.argmin([abs(np.log(c) - np.log(want)) for c in cands]))
            g[self.order_genes + i] = (k + 0.5) / len(cands)
            if kind == 1:
                room[lv, ax] //= cands[k]
            rest_d[d] = rest // cands[k] if self.exact else -(-rest // cands[k])
        return g

