"""Importance and index encodings of mappings on a general hierarchy (SPEC §6 generalized to any level list).

A genome is a vector in [0, 1]^D:
- loop orders: six importances per level (K, C, Y, X, R, S; N stays outermost); sorting by importance,
  descending, gives the level's order, outermost first (ties: the dim listed first wins). With
  ``encoding="index"`` (the ablation baseline) one gene per level instead: the index of the level's order
  among the 720 permutations (lexicographic, as ``mapping.encoding``), turned into importances before the
  same decoder runs, so both encodings span the same mappings;
- tiling, per dim whose bound is > 1, from the MAC outwards: the spatial factor of each fan-out that
  parallelizes the dim and the temporal factor of each level but the outermost, which takes what is left.
  Each gene picks, by equal-width bins, one of the factors that leave the least padding for the rest of the
  dim, ``{ceil(rest / t)}`` ascending (``exact``: the exact divisors of the rest, no padding); a spatial
  gene's candidates are capped by what its fan-out axis has left (axes shared by several dims fill in dim
  order N, K, C, Y, X, R, S).

Capacity repair (``repair=True``, the default): after decoding, each level from the MAC outwards whose tiles
overflow it (the kernel's tile sizes: ``cost_model.nest_kernel``) hands temporal factors to its parent one
prime factor at a time — the outermost loop the overflowing tensor depends on, at the level itself first,
then at the levels below it (a bypassing spad's loops grow the tiles of the spads above it) — until the
tiles fit; coverage and padding are unchanged (the product of each dim's factors stays the same). A
genome then decodes to a mapping that fits wherever that is possible by moving loops outwards, as LOMA's and
Timeloop's mappers only ever produce fitting mappings; without it most random genomes overflow the small
per-PE levels of a register hierarchy (Eyeriss's spads: ~95% of a search's samples).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from cost_model.numba_cache import njit

from nn_space.layers import ConvLayer

from cost_model.evaluate import layer_array
from cost_model.nest_layout import H_CAP, H_KEEP, H_PART, H_PARTED

from .encoding import ENCODINGS, PERM_INDEX, PERMUTATIONS, ceil_quotients
from .spec import MappingSpecError

ORDER_DIMS = np.array([1, 2, 3, 4, 5, 6], dtype=np.int64)  # K, C, Y, X, R, S
#: Largest loop bound the search's candidate tables cover (the tables take ~ 2 sqrt(bound) factors for every
#: rest up to the bound: 270 MB at 2^16; vgg16's largest bound is 25088).
MAX_SEARCH_BOUND = 1 << 16


@lru_cache(maxsize=8)
def candidate_table(max_bound: int, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """(cand int64[max_bound + 1, W], count int64[max_bound + 1]): the ascending candidates for each rest."""
    if exact:  # the divisors of every rest at once (a sieve: O(max_bound log max_bound))
        rows: list[list[int]] = [[] for _ in range(max_bound + 1)]
        for f in range(1, max_bound + 1):
            for multiple in range(f, max_bound + 1, f):
                rows[multiple].append(f)
        rows[0] = [1]
    else:
        rows = [[1]] + [ceil_quotients(rest)[::-1] for rest in range(1, max_bound + 1)]
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


_RELEVANT = np.array([[0, 1, 1, 0, 0, 1, 1],   # weights: K, C, R, S
                      [1, 0, 1, 1, 1, 1, 1],   # inputs: N, C, Y, X, R, S (K instead of C when depthwise)
                      [1, 1, 0, 1, 1, 0, 0]],  # outputs: N, K, Y, X
                     dtype=np.int64)


@njit(cache=True, error_model="numpy")
def _repair(tf, sf, orders, keep, parted, part_bits, cap_bits, bits, sy, sx, relevance):
    """Move temporal factors outwards (one prime at a time) until every level from the MAC up holds its tiles."""
    nl = tf.shape[1]
    dw = relevance == 1  # K indexes the inputs (depthwise)
    wn = relevance == 2  # N indexes the weights (a batched matrix product)
    e = np.empty(7, dtype=np.int64)
    tiles = np.empty(3)
    over = np.empty(3, dtype=np.bool_)
    for b in range(tf.shape[0]):
        for lv in range(nl - 1, 0, -1):
            for d in range(7):  # the level's extent: its loops, its fan-out and everything below
                e[d] = 1
                for j in range(lv, nl):
                    e[d] *= tf[b, j, d] * sf[b, j, d]
            for _ in range(512):
                tiles[0] = e[1] * e[2] * e[5] * e[6] * (e[0] if wn else 1)
                tiles[1] = e[0] * (e[1] if dw else e[2]) * ((e[3] - 1) * sy + e[5]) * ((e[4] - 1) * sx + e[6])
                tiles[2] = e[0] * e[1] * e[3] * e[4]
                any_over = False
                if parted[lv]:
                    for t in range(3):
                        over[t] = keep[lv, t] and tiles[t] * bits[t] > part_bits[lv, t]
                        any_over = any_over or over[t]
                else:
                    need = 0.0
                    for t in range(3):
                        if keep[lv, t]:
                            need += tiles[t] * bits[t]
                    any_over = need > cap_bits[lv]
                    for t in range(3):
                        over[t] = any_over and keep[lv, t]
                if not any_over:
                    break
                # the level's own outermost relevant loop first, then the levels below it (outermost first)
                pick, src = -1, -1
                for j in range(lv, nl):
                    for p in range(7):
                        d = orders[b, j, p]
                        if tf[b, j, d] > 1:
                            for t in range(3):
                                rel = _RELEVANT[t, d] != 0
                                if t == 1 and dw and (d == 1 or d == 2):
                                    rel = d == 1
                                if t == 0 and wn and d == 0:
                                    rel = True
                                if over[t] and rel:
                                    pick, src = d, j
                                    break
                        if pick >= 0:
                            break
                    if pick >= 0:
                        break
                if pick < 0:
                    break
                f = tf[b, src, pick]
                q = 2
                while f % q != 0:
                    q += 1
                tf[b, src, pick] = f // q
                tf[b, lv - 1, pick] *= q
                e[pick] //= q


class NestEncoder:
    """Decodes genomes to mappings of one layer on one hierarchy."""

    def __init__(self, layer: ConvLayer, hier, exact: bool = False, encoding: str = "importance",
                 repair: bool = True):
        if encoding not in ENCODINGS:
            raise ValueError(f"encoding: {encoding!r} (allowed: {', '.join(ENCODINGS)})")
        self.layer, self.hier, self.exact, self.encoding, self.repair = layer, hier, exact, encoding, repair
        nl = hier.num_levels
        self.bounds = np.array(layer.loop_bounds, dtype=np.int64)
        if self.bounds.max() > MAX_SEARCH_BOUND:
            d = int(self.bounds.argmax())
            raise MappingSpecError(f"layer {layer.name or layer.describe()!r} on {hier.name}: loop bound "
                                   f"{'NKCYXRS'[d]}={int(self.bounds[d])} is more than the hierarchy mapping "
                                   f"search takes (allowed: at most {MAX_SEARCH_BOUND}; the default mapping "
                                   f"costs it)")
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
        self.order_genes = (6 if encoding == "importance" else 1) * nl
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
        if self.encoding == "index":
            genomes = np.concatenate([self._index_importances(genomes[:, :nl]), genomes[:, nl:]], axis=1)
        tf = np.empty((b, nl, 7), dtype=np.int64)
        sf = np.empty((b, nl, 7), dtype=np.int64)
        orders = np.empty((b, nl, 7), dtype=np.int64)
        _decode(genomes, self.bounds, *self._gene, self._axis_size, nl, self.exact, self._cand, self._count,
                tf, sf, orders)
        if self.repair:
            hw = self.hier.hw_array
            v = layer_array(self.layer)  # strides and relevance code as the kernel takes them
            _repair(tf, sf, orders, hw[:, H_KEEP:H_KEEP + 3] != 0, hw[:, H_PARTED] != 0,
                    np.ascontiguousarray(hw[:, H_PART:H_PART + 3]), np.ascontiguousarray(hw[:, H_CAP]),
                    np.array(self.hier.tensor_bits, dtype=np.float64), int(v[7]), int(v[8]), int(v[9]))
        return tf, sf, orders

    @staticmethod
    def _index_importances(index_genes: np.ndarray) -> np.ndarray:
        """[B, L] permutation-index genes -> [B, 6 L] importances giving the same orders."""
        k = np.clip((index_genes * len(PERMUTATIONS)).astype(np.int64), 0, len(PERMUTATIONS) - 1)
        perms = PERMUTATIONS[k]  # [B, L, 6]: position p holds the dim (0 = K ... 5 = S)
        imp = np.empty(perms.shape)
        rank_value = 1.0 - (np.arange(6) + 0.5) / 6
        np.put_along_axis(imp, perms, np.broadcast_to(rank_value, perms.shape), axis=2)
        return imp.reshape(len(index_genes), -1)

    def encode(self, mapping) -> np.ndarray:
        """A genome that decodes to ``mapping`` where its factors are candidates of the decoding chain, else
        to the nearest candidates (log scale): a warm start, not an exact inverse. N must be outermost."""
        g = np.empty(self.size)
        for lv, order in enumerate(mapping.order_array):
            if self.encoding == "index":
                g[lv] = (PERM_INDEX[tuple(int(d) - 1 for d in order[1:])] + 0.5) / len(PERMUTATIONS)
                continue
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

