"""Numba kernels of the analytical cost model (SPEC §5): arrays in, result vectors out.

Inputs (validated and converted in plain Python, see ``cost_model.evaluate``):
- ``layer``: int64[11] = N, K, C, Y, X, R, S bounds, stride_y, stride_x, relevance code, repeats. The code
  (``nn_space.layers.RELEVANCE_*``) says which dims index which tensor: 0 a convolution (weights K, C, R, S;
  inputs N, C and the windows Y+R, X+S; outputs N, K, Y, X), 1 depthwise (K indexes the inputs in place of C,
  which is 1), 2 a batched matrix product (N indexes the weights too: ``w_mask``).
- ``hw``: float64[HW_SIZE], see ``Accelerator.hw_vector``.
- ``factors``: int64[4, 7], rows L1, spatial, L2, DRAM; ``orders``: int64[3, 7], rows L1, L2, DRAM,
  each a permutation of dim indices, outermost loop first.

Semantics (Timeloop v3 conventions, SPEC §5). All counts are on the iteration space the factors cover
(ceil padding included) and summed over PEs.
- A tile at a level is refilled when the index of a loop relevant to it, above the level, changes. With the
  non-trivial loops above listed outermost first, fills = (product of bounds down to the innermost relevant
  loop) x tile. Inputs follow Timeloop v3.0.3's sliding-window rule (``cost_model.window``): a step of the
  innermost loop above fetches only the rows / columns the tile did not hold when it moves the tile along
  a window axis (Y or R: rows, X or S: columns; input row = y*stride + r), and so does an outer step whose
  net move repeats that translation; other steps fetch the whole tile.
- Spatial: one L2 read per distinct PE tile (identical tiles are multicast); partial sums of PEs that differ
  only in reduction dims (C, R, S) are reduced in the network: one L2 update per distinct output tile.
- Outputs: first read of each partial sum skipped once per element (L1 reads = MACs - outputs each PE holds;
  parent reads = updates - output size); read-backs from L2 go to every PE of the reduction group.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from cost_model.numba_cache import njit

from .accelerator import (HW_AXIS_OF_DIM, HW_AXIS_SIZE, HW_DRAM_BW, HW_ENERGY, HW_L1_PART,
                          HW_L1_WORDS, HW_L2_BW, HW_L2_WORDS, HW_NUM_PES)
from .stats import (ST_ACTIVE_PES, ST_COMPUTE_CYCLES, ST_COUNTS, ST_CYCLES, ST_DRAM_CYCLES, ST_E_DRAM,
                    ST_E_L1, ST_E_L2, ST_E_MAC, ST_E_NOC, ST_EDP, ST_ENERGY, ST_L2_CYCLES, ST_MACS,
                    ST_NOC_WORDS, ST_PADDED_MACS, ST_STATUS, ST_TILES, ST_UTILIZATION)
from .window import window_loop, window_start
from .status import (BAD_FACTOR, BAD_ORDER, L1_OVERFLOW, L2_OVERFLOW, NOT_COVERED, OVER_COVERED,
                     SPATIAL_TOO_LARGE)

LAYER_SIZE = 11
_N, _K, _C, _Y, _X, _R, _S = range(7)
W_MASK = (1 << _K) | (1 << _C) | (1 << _R) | (1 << _S)
O_MASK = (1 << _N) | (1 << _K) | (1 << _Y) | (1 << _X)
RELEVANCE_DEPTHWISE = 1
RELEVANCE_BATCHED = 2


@njit(cache=True, inline="always")
def w_mask(layer):
    """The dims that index the weights: K, C, R, S, and N for a batched matrix product."""
    return W_MASK | (1 << _N) if layer[9] == RELEVANCE_BATCHED else W_MASK


@njit(cache=True, inline="always")
def _walk(factors, orders, include_l2, mask):
    """Over the non-trivial temporal loops above a level (DRAM, then L2 if asked), outermost first:
    (epochs, dim of the innermost relevant loop, its factor row, non-trivial loops inside it)."""
    epochs = 1
    prod = 1
    jdim = -1
    jrow = -1
    after = 0
    for lv in range(2):
        if lv == 1 and not include_l2:
            break
        frow = 3 if lv == 0 else 2
        orow = 2 if lv == 0 else 1
        for p in range(7):
            d = orders[orow, p]
            b = factors[frow, d]
            if b > 1:
                prod *= b
                if (mask >> d) & 1:
                    epochs = prod
                    jdim = d
                    jrow = frow
                    after = 0
                else:
                    after += 1
    return epochs, jdim, jrow, after


@njit(cache=True, inline="always")
def _fills(factors, orders, include_l2, mask, tile):
    return _walk(factors, orders, include_l2, mask)[0] * tile


@njit(cache=True, inline="always")
def _input_fills(factors, orders, include_l2, n_ext, ch_ext, h, w, sy, sx, dw):
    """Input words filled into one tile instance of a level (an n_ext x ch_ext x h x w bounding box) under
    the sliding-window rule of ``cost_model.window``, over the DRAM (and L2) loops, innermost first."""
    tile = n_ext * ch_ext * h * w
    levels = 2 if include_l2 else 1
    epochs = 1
    for lv in range(levels):
        for d in range(7):
            epochs *= factors[3 - lv, d]
    st = window_start(tile, epochs)
    for lv in range(levels - 1, -1, -1):
        frow = 3 - lv  # factor rows: DRAM 3, L2 2; order rows: DRAM 2, L2 1
        for p in range(6, -1, -1):
            d = orders[2 - lv, p]
            b = factors[frow, d]
            if b > 1:
                step = 1  # extent of the dim inside the loop
                for r in range(frow):
                    step *= factors[r, d]
                st = window_loop(st, d, b, step, n_ext, ch_ext, h, w, tile, sy, sx, dw)
    return st[0]


@njit(cache=True, inline="always")
def _distinct_offsets(a, p, b, q):
    """How many distinct values i*p + j*q take for 0 <= i < a, 0 <= j < b (p, q >= 1)."""
    if a == 1 or b == 1:
        return a * b
    x, y = p, q
    while y:
        x, y = y, x % y
    pp = p // x
    qq = q // x
    return a * b - max(0, a - qq) * max(0, b - pp)


@njit(cache=True, inline="always")
def _bw_cycles(reads, writes, shared, rbw, wbw):
    if shared > 0.0:
        return (reads + writes) / shared
    return max(reads / rbw, writes / wbw)


@njit(cache=True)
def evaluate_into(layer, hw, factors, orders, out):
    """Cost one mapping of one layer; writes the result vector ``out`` (status 0 = valid)."""
    out[:] = 0.0
    # --- well-formedness and coverage -------------------------------------------------------------
    for row in range(3):
        seen = 0
        for p in range(7):
            d = orders[row, p]
            if d < 0 or d > 6:
                out[ST_STATUS] = BAD_ORDER * 16 + row
                return
            seen |= 1 << d
        if seen != 127:
            out[ST_STATUS] = BAD_ORDER * 16 + row
            return
    padded_macs = 1
    pes = 1
    for d in range(7):
        cover = 1
        for r in range(4):
            f = factors[r, d]
            if f < 1:
                out[ST_STATUS] = BAD_FACTOR * 16 + d
                return
            cover *= f
        if cover < layer[d]:
            out[ST_STATUS] = NOT_COVERED * 16 + d
            return
        for r in range(4):
            f = factors[r, d]
            if f > 1 and cover // f >= layer[d]:
                out[ST_STATUS] = OVER_COVERED * 16 + d
                return
        if factors[1, d] > 1 and hw[HW_AXIS_OF_DIM + d] < 0:
            out[ST_STATUS] = SPATIAL_TOO_LARGE * 16 + d
            return
        padded_macs *= cover
        pes *= factors[1, d]
    for axis in range(3):
        used = 1
        for d in range(7):
            if hw[HW_AXIS_OF_DIM + d] == axis:
                used *= factors[1, d]
        if used > hw[HW_AXIS_SIZE + axis]:
            out[ST_STATUS] = SPATIAL_TOO_LARGE * 16 + 8 + axis
            return
    sy = layer[7]
    sx = layer[8]
    dw = layer[9] == RELEVANCE_DEPTHWISE
    wn = layer[9] == RELEVANCE_BATCHED  # N indexes the weights
    wm = w_mask(layer)
    reps = layer[10]

    # --- tile extents: L1 (per PE), array (one L2 iteration), L2, whole (padded) problem ------------
    n1, k1, c1, y1, x1, r1, s1 = (factors[0, 0], factors[0, 1], factors[0, 2], factors[0, 3],
                                  factors[0, 4], factors[0, 5], factors[0, 6])
    fn, fk, fc, fy, fx, fr, fs = (factors[1, 0], factors[1, 1], factors[1, 2], factors[1, 3],
                                  factors[1, 4], factors[1, 5], factors[1, 6])
    n2 = n1 * fn * factors[2, 0]
    k2 = k1 * fk * factors[2, 1]
    c2 = c1 * fc * factors[2, 2]
    y2 = y1 * fy * factors[2, 3]
    x2 = x1 * fx * factors[2, 4]
    r2 = r1 * fr * factors[2, 5]
    s2 = s1 * fs * factors[2, 6]
    nt = n2 * factors[3, 0]
    kt = k2 * factors[3, 1]
    yt = y2 * factors[3, 3]
    xt = x2 * factors[3, 4]

    h1 = (y1 - 1) * sy + r1
    w1 = (x1 - 1) * sx + s1
    h2 = (y2 - 1) * sy + r2
    w2 = (x2 - 1) * sx + s2
    nc1 = n1 * (k1 if dw else c1)
    nc2 = n2 * (k2 if dw else c2)
    tw1 = k1 * c1 * r1 * s1 * (n1 if wn else 1)
    ti1 = nc1 * h1 * w1
    to1 = n1 * k1 * y1 * x1
    tw2 = k2 * c2 * r2 * s2 * (n2 if wn else 1)
    ti2 = nc2 * h2 * w2
    to2 = n2 * k2 * y2 * x2
    size_o = nt * kt * yt * xt
    out[ST_TILES + 0] = tw1
    out[ST_TILES + 1] = ti1
    out[ST_TILES + 2] = to1
    out[ST_TILES + 3] = tw2
    out[ST_TILES + 4] = ti2
    out[ST_TILES + 5] = to2

    # --- capacity ---------------------------------------------------------------------------------
    if hw[HW_L1_PART] > 0.0:
        if tw1 > hw[HW_L1_PART]:
            out[ST_STATUS] = L1_OVERFLOW * 16 + 1
        elif ti1 > hw[HW_L1_PART + 1]:
            out[ST_STATUS] = L1_OVERFLOW * 16 + 2
        elif to1 > hw[HW_L1_PART + 2]:
            out[ST_STATUS] = L1_OVERFLOW * 16 + 3
    elif tw1 + ti1 + to1 > hw[HW_L1_WORDS]:
        out[ST_STATUS] = L1_OVERFLOW * 16
    if out[ST_STATUS] == 0.0 and tw2 + ti2 + to2 > hw[HW_L2_WORDS]:
        out[ST_STATUS] = L2_OVERFLOW * 16
    if out[ST_STATUS] != 0.0:
        return

    # --- temporal reuse ---------------------------------------------------------------------------
    fill_w1 = _fills(factors, orders, True, wm, tw1)  # per PE
    fill_i1 = _input_fills(factors, orders, True, n1, k1 if dw else c1, h1, w1, sy, sx, dw)
    up_o1 = _fills(factors, orders, True, O_MASK, to1)  # words one PE sends up
    fill_w2 = _fills(factors, orders, False, wm, tw2)
    fill_i2 = _input_fills(factors, orders, False, n2, k2 if dw else c2, h2, w2, sy, sx, dw)
    up_o2 = _fills(factors, orders, False, O_MASK, to2)

    # --- spatial reuse ----------------------------------------------------------------------------
    dist_w = fk * fc * fr * fs * (fn if wn else 1)
    dist_o = fn * fk * fy * fx
    group = fc * fr * fs  # PEs reducing into one output tile
    dist_i = (fn * (fk if dw else fc) * _distinct_offsets(fy, y1 * sy, fr, r1)
              * _distinct_offsets(fx, x1 * sx, fs, s1))

    l2_o_up = dist_o * up_o1
    l2_o_rd = l2_o_up - size_o
    dram_o_up = up_o2
    dram_o_rd = dram_o_up - size_o
    c = ST_COUNTS
    # L1: W, I, O x reads, fills, updates
    out[c + 0] = padded_macs
    out[c + 1] = pes * fill_w1
    out[c + 3] = padded_macs
    out[c + 4] = pes * fill_i1
    out[c + 6] = padded_macs - group * size_o
    out[c + 7] = group * l2_o_rd
    out[c + 8] = padded_macs
    # L2
    out[c + 9] = dist_w * fill_w1
    out[c + 10] = fill_w2
    out[c + 12] = dist_i * fill_i1
    out[c + 13] = fill_i2
    out[c + 15] = l2_o_rd
    out[c + 16] = dram_o_rd
    out[c + 17] = l2_o_up
    # DRAM
    out[c + 18] = fill_w2
    out[c + 21] = fill_i2
    out[c + 24] = dram_o_rd
    out[c + 26] = dram_o_up

    # --- energy and cycles ------------------------------------------------------------------------
    e = HW_ENERGY
    l1_rd = out[c + 0] + out[c + 3] + out[c + 6]
    l1_wr = out[c + 1] + out[c + 4] + out[c + 7] + out[c + 8]
    l2_rd = out[c + 9] + out[c + 12] + out[c + 15]
    l2_wr = out[c + 10] + out[c + 13] + out[c + 16] + out[c + 17]
    dram_rd = out[c + 18] + out[c + 21] + out[c + 24]
    dram_wr = out[c + 26]
    noc = out[c + 1] + out[c + 4] + out[c + 7] + pes * up_o1
    e_mac = padded_macs * hw[e]
    e_l1 = l1_rd * hw[e + 1] + l1_wr * hw[e + 2]
    e_noc = noc * hw[e + 3]
    e_l2 = l2_rd * hw[e + 4] + l2_wr * hw[e + 5]
    e_dram = dram_rd * hw[e + 6] + dram_wr * hw[e + 7]
    compute = padded_macs // pes
    l2_cyc = _bw_cycles(l2_rd, l2_wr, hw[HW_L2_BW], hw[HW_L2_BW + 1], hw[HW_L2_BW + 2])
    dram_cyc = _bw_cycles(dram_rd, dram_wr, hw[HW_DRAM_BW], hw[HW_DRAM_BW + 1], hw[HW_DRAM_BW + 2])
    cycles = max(float(compute), max(l2_cyc, dram_cyc))
    macs = 1
    for d in range(7):
        macs *= layer[d]

    # --- grouped convolutions run ``reps`` times -------------------------------------------------
    if reps != 1:
        for i in range(c, c + 27):
            out[i] *= reps
    energy = (e_mac + e_l1 + e_noc + e_l2 + e_dram) * reps
    out[ST_MACS] = macs * reps
    out[ST_PADDED_MACS] = padded_macs * reps
    out[ST_ACTIVE_PES] = pes
    out[ST_CYCLES] = cycles * reps
    out[ST_COMPUTE_CYCLES] = compute * reps
    out[ST_L2_CYCLES] = l2_cyc * reps
    out[ST_DRAM_CYCLES] = dram_cyc * reps
    out[ST_UTILIZATION] = macs / (hw[HW_NUM_PES] * cycles)
    out[ST_E_MAC] = e_mac * reps
    out[ST_E_L1] = e_l1 * reps
    out[ST_E_NOC] = e_noc * reps
    out[ST_E_L2] = e_l2 * reps
    out[ST_E_DRAM] = e_dram * reps
    out[ST_ENERGY] = energy
    out[ST_EDP] = energy * cycles * reps
    out[ST_NOC_WORDS] = noc * reps


@njit(cache=True)
def evaluate_batch(layer, hw, factors, orders, out):
    """Cost B mappings of one layer: factors int64[B, 4, 7], orders int64[B, 3, 7], out float64[B, S]."""
    for b in range(factors.shape[0]):
        evaluate_into(layer, hw, factors[b], orders[b], out[b])


@njit(parallel=True, cache=True)
def evaluate_batch_parallel(layer, hw, factors, orders, out):
    """``evaluate_batch`` with the rows spread over Numba's threads (``numba.get_num_threads()``); every row is
    independent and costed by the same ``evaluate_into``, so the results are bit-identical to the serial
    kernel's. Pays a thread start-up per call: see ``cost_model.evaluate.PARALLEL_MIN_BATCH``."""
    for b in prange(factors.shape[0]):
        evaluate_into(layer, hw, factors[b], orders[b], out[b])


def layer_vector(bounds, stride_y: int, stride_x: int, relevance: int, repeats: int) -> np.ndarray:
    return np.array([*bounds, stride_y, stride_x, int(relevance), repeats], dtype=np.int64)
