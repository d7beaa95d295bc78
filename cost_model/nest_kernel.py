"""Numba kernel of the general storage-hierarchy model (SPEC §10): arrays in, one result vector out.

Array layouts: ``cost_model.nest_layout``. ``layer`` is the int64[11] vector of ``cost_model.kernel``.

The loop nest, outermost first: level 0's temporal loops (in its order), the fan-out below level 0, level
1's temporal loops, its fan-out, ..., level L-1's temporal loops, its fan-out, the MAC. Level l holds, per
tensor it keeps, the tile spanned by its own temporal loops and everything below them; its instances are
the positions of the fan-outs above it. The MAC is a virtual level L that receives one word of each
operand per MAC and sends one partial-sum update per MAC (no reuse inside the MAC).

For each tensor, every keeping level (and the MAC) is filled from the nearest keeping ancestor:
- fills per child instance follow the delta rule over the temporal loops above the child: for weights and
  outputs the product of the non-trivial loop bounds down to the innermost relevant one, times the tile;
  for inputs Timeloop v3.0.3's sliding-window rule (``cost_model.window``: a step fetches only the new
  elements when the tile moves by the same translation as at the previous step, else the whole tile);
- the ancestor reads each distinct delta once: multicast is decided fan-out by fan-out between the ancestor
  and the child (bypassed levels' fan-outs included, as Timeloop v3.0.3 cascades it), the distinct tiles
  of each fan-out multiplying (identical tiles are multicast; Y x R and X x S positions of one fan-out
  with equal window origins share one read);
- outputs: children send their partial sums up whenever their tile changes and at the end; every fan-out
  between reduces positions that differ only in C, R, S (one update per distinct tile); the ancestor's
  reads are its updates minus one per (instance, element) it ever holds (first-read elision), and each
  read-back goes to every child of the reduction group (each counts a fill).
Cycles: compute = product of all temporal factors; each level is slowed by its per-instance bandwidth
(reads and writes separately, or together with a shared bandwidth); total = the worst. Energy: per level
and tensor, reads x read energy + (fills + updates) x write energy; words crossing a fan-out x its hop
energy (fills delivered and partial sums sent up); MACs x MAC energy.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from cost_model.numba_cache import njit

from .kernel import O_MASK, RELEVANCE_BATCHED, RELEVANCE_DEPTHWISE, _distinct_offsets, w_mask
from .window import window_loop, window_start
from .nest_layout import (BAD_FACTOR, BAD_ORDER, CAPACITY, G_MAC_ENERGY, G_MAC_UNITS, H_AXIS_OF_DIM,
                          H_AXIS_SIZE, H_BITS, H_BW, H_CAP, H_E_READ, H_E_WRITE, H_HOP, H_KEEP, H_PART,
                          H_PARTED, H_WORD_RATIO, NOT_COVERED, NS, OVER_COVERED, P_COUNTS, P_CYCLES,
                          P_ENERGY, P_ENERGY_NET, P_INSTANCES, P_TILES, PER, R_ACTIVE, R_COMPUTE,
                          R_CYCLES, R_E_MAC, R_EDP, R_ENERGY, R_MACS, R_PADDED_MACS, R_STATUS,
                          R_STATUS_DETAIL, R_STATUS_LEVEL, R_UTIL, SPATIAL_NO_AXIS, SPATIAL_TOO_LARGE)

_N, _K, _C, _Y, _X, _R, _S = range(7)


@njit(cache=True, inline="always", error_model="numpy")
def _fail(out, kind, level, detail):
    out[R_STATUS] = kind
    out[R_STATUS_LEVEL] = level
    out[R_STATUS_DETAIL] = detail


@njit(cache=True, error_model="numpy")
def _check(layer, hw, tf, sf, orders, out):
    """Well-formedness, coverage and fan-out limits; returns False (status written) when refused."""
    nl = tf.shape[0]
    for lv in range(nl):
        seen = 0
        for p in range(7):
            d = orders[lv, p]
            if d < 0 or d > 6:
                _fail(out, BAD_ORDER, lv, 0)
                return False
            seen |= 1 << d
        if seen != 127:
            _fail(out, BAD_ORDER, lv, 0)
            return False
    for d in range(7):
        cover = 1
        for lv in range(nl):
            if tf[lv, d] < 1 or sf[lv, d] < 1:
                _fail(out, BAD_FACTOR, lv, d)
                return False
            cover *= tf[lv, d] * sf[lv, d]
        if cover < layer[d]:
            _fail(out, NOT_COVERED, 0, d)
            return False
        for lv in range(nl):
            if (tf[lv, d] > 1 and cover // tf[lv, d] >= layer[d]) or \
                    (sf[lv, d] > 1 and cover // sf[lv, d] >= layer[d]):
                _fail(out, OVER_COVERED, lv, d)
                return False
    for lv in range(nl):
        for d in range(7):
            if sf[lv, d] > 1 and hw[lv, H_AXIS_OF_DIM + d] < 0:
                _fail(out, SPATIAL_NO_AXIS, lv, d)
                return False
        for axis in range(3):
            used = 1
            for d in range(7):
                if hw[lv, H_AXIS_OF_DIM + d] == axis:
                    used *= sf[lv, d]
            if used > hw[lv, H_AXIS_SIZE + axis]:
                _fail(out, SPATIAL_TOO_LARGE, lv, axis)
                return False
    return True


@njit(cache=True, inline="always", error_model="numpy")
def _spread(sf, a, t, dw, wn, bx, by, br, bs, sy, sx):
    """Distinct tiles of tensor t among the positions of the fan-out below level a (child extents b*)."""
    if t == 0:
        return sf[a, _K] * sf[a, _C] * sf[a, _R] * sf[a, _S] * (sf[a, _N] if wn else 1)
    if t == 2:
        return sf[a, _N] * sf[a, _K] * sf[a, _Y] * sf[a, _X]
    ch = sf[a, _C] * (sf[a, _K] if dw else 1)
    return (sf[a, _N] * ch * _distinct_offsets(sf[a, _Y], by * sy, sf[a, _R], br)
            * _distinct_offsets(sf[a, _X], bx * sx, sf[a, _S], bs))


WORK_ROWS = 4


def new_workspace(levels: int) -> np.ndarray:
    """Scratch arrays for one evaluation (allocated once per batch, not per mapping)."""
    return np.zeros((WORK_ROWS, levels + 1, 7), dtype=np.int64)


@njit(cache=True, error_model="numpy")
def nest_evaluate_into(layer, hw, glob, tf, sf, orders, out, work):
    """Cost one mapping of one layer on a hierarchy; writes ``out`` (status 0 = valid).

    ``work``: int64[WORK_ROWS, L + 1, 7] scratch (``new_workspace``), overwritten.
    """
    out[:] = 0.0
    if not _check(layer, hw, tf, sf, orders, out):
        return
    nl = tf.shape[0]
    sy = layer[7]
    sx = layer[8]
    dw = layer[9] == RELEVANCE_DEPTHWISE
    wn = layer[9] == RELEVANCE_BATCHED  # N indexes the weights
    wm = w_mask(layer)
    reps = layer[10]

    # --- extents: ext[l] = tile of level l (its temporal loops, its fan-out and all below); ext[nl] = 1
    ext = work[0]
    inst = work[1, :, 0]  # instances of each level (inst[nl]: MAC units in use)
    red = work[1, :, 1]  # positions of each fan-out that differ only in C, R, S
    lvprod = work[1, :, 2]  # product of the temporal factors of the levels above each level
    tiles = work[2]
    ep = work[3]  # per level, W and O: fills epochs, the product down to the innermost relevant loop
    for d in range(7):
        ext[nl, d] = 1
    inst[0] = 1
    lvprod[0] = 1
    for lv in range(nl - 1, -1, -1):
        for d in range(7):
            ext[lv, d] = ext[lv + 1, d] * tf[lv, d] * sf[lv, d]
        red[lv] = sf[lv, _C] * sf[lv, _R] * sf[lv, _S]
    for lv in range(nl):
        p = 1
        q = 1
        for d in range(7):
            p *= sf[lv, d]
            q *= tf[lv, d]
        inst[lv + 1] = inst[lv] * p
        lvprod[lv + 1] = lvprod[lv] * q
    compute = lvprod[nl]
    padded_macs = compute * inst[nl]

    # --- tiles and capacity (innermost level first) -----------------------------------------------
    for lv in range(nl):
        e = ext[lv]
        tiles[lv, 0] = e[_K] * e[_C] * e[_R] * e[_S] * (e[_N] if wn else 1)
        tiles[lv, 1] = e[_N] * (e[_K] if dw else e[_C]) * ((e[_Y] - 1) * sy + e[_R]) * ((e[_X] - 1) * sx + e[_S])
        tiles[lv, 2] = e[_N] * e[_K] * e[_Y] * e[_X]
        for t in range(3):
            if hw[lv, H_KEEP + t] != 0.0:
                out[NS + lv * PER + P_TILES + t] = tiles[lv, t]
    for lv in range(nl - 1, -1, -1):
        if hw[lv, H_PARTED] != 0.0:
            for t in range(3):
                if hw[lv, H_KEEP + t] != 0.0 and tiles[lv, t] * hw[lv, H_BITS + t] > hw[lv, H_PART + t]:
                    _fail(out, CAPACITY, lv, t)
                    return
        else:
            need = 0.0
            for t in range(3):
                if hw[lv, H_KEEP + t] != 0.0:
                    need += tiles[lv, t] * hw[lv, H_BITS + t]
            if need > hw[lv, H_CAP]:
                _fail(out, CAPACITY, lv, 3)
                return

    # --- one walk over the temporal loops: the fills epochs of weights and outputs each level sees ------
    prod = 1
    ep[0, 0] = 1  # row 0 is the running state (level 0 has no loops above it)
    ep[0, 2] = 1
    for lv in range(nl):
        for p in range(7):
            d = orders[lv, p]
            if tf[lv, d] > 1:
                prod *= tf[lv, d]
                if (wm >> d) & 1:
                    ep[0, 0] = prod
                if (O_MASK >> d) & 1:
                    ep[0, 2] = prod
        ep[lv + 1, 0] = ep[0, 0]
        ep[lv + 1, 2] = ep[0, 2]

    size_o = ext[0, _N] * ext[0, _K] * ext[0, _Y] * ext[0, _X]
    base = NS
    # --- per tensor: each keeping level (and the MAC) filled from its nearest keeping ancestor -------
    for t in range(3):
        a = 0
        share = 1  # instances of the ancestor that touch each output element
        for c in range(1, nl + 1):
            if c < nl and hw[c, H_KEEP + t] == 0.0:
                continue
            hop = 0.0
            dist = 1  # distinct deltas per ancestor instance: multicast cascades through bypassed fan-outs
            group = 1  # children that one read-back reaches (the reduction positions of those fan-outs)
            for j in range(a, c):
                hop += hw[j, H_HOP]
                dist *= _spread(sf, j, t, dw, wn, ext[j + 1, _X], ext[j + 1, _Y], ext[j + 1, _R], ext[j + 1, _S],
                                sy, sx)
                group *= red[j]
            if t < 2:
                if c == nl:
                    per = compute
                elif t == 1:
                    e = ext[c]
                    box_ch = e[_K] if dw else e[_C]
                    h = (e[_Y] - 1) * sy + e[_R]
                    w = (e[_X] - 1) * sx + e[_S]
                    tile = e[_N] * box_ch * h * w
                    st = window_start(tile, lvprod[c])
                    for lv in range(c - 1, -1, -1):  # the loops above, innermost first
                        for p in range(6, -1, -1):
                            d = orders[lv, p]
                            b = tf[lv, d]
                            if b > 1:
                                st = window_loop(st, d, b, sf[lv, d] * ext[lv + 1, d], e[_N], box_ch, h, w,
                                                 tile, sy, sx, dw)
                    per = st[0]
                else:
                    per = ep[c, 0] * tiles[c, 0]
                delivered = inst[c] * per
                if c < nl:
                    out[base + c * PER + P_COUNTS + t * 3 + 1] = delivered
                out[base + a * PER + P_COUNTS + t * 3] += inst[a] * dist * per
                out[base + a * PER + P_ENERGY_NET] += delivered * hop
            else:
                up = compute if c == nl else ep[c, 2] * tiles[c, 2]
                updates = inst[a] * dist * up
                backs = updates - share * size_o  # first reads free once per element and ancestor instance
                out[base + a * PER + P_COUNTS + 6 + 2] += updates
                out[base + a * PER + P_COUNTS + 6] += backs
                if c < nl:
                    out[base + c * PER + P_COUNTS + 6 + 1] = backs * group
                out[base + a * PER + P_ENERGY_NET] += (backs * group + inst[c] * up) * hop
                share *= group
            a = c

    # --- energy and cycles per level ----------------------------------------------------------------
    cycles = float(compute)
    energy = padded_macs * glob[G_MAC_ENERGY]
    for lv in range(nl):
        o = base + lv * PER
        rd = 0.0
        wr = 0.0
        en = 0.0
        for t in range(3):
            r = out[o + P_COUNTS + t * 3]
            w = out[o + P_COUNTS + t * 3 + 1] + out[o + P_COUNTS + t * 3 + 2]
            en += r * hw[lv, H_E_READ + t] + w * hw[lv, H_E_WRITE + t]
            rd += r * hw[lv, H_WORD_RATIO + t]
            wr += w * hw[lv, H_WORD_RATIO + t]
        n = float(inst[lv])
        if hw[lv, H_BW] > 0.0:
            cyc = (rd + wr) / n / hw[lv, H_BW]
        else:
            cyc = max(rd / n / hw[lv, H_BW + 1], wr / n / hw[lv, H_BW + 2])
        cycles = max(cycles, cyc)
        energy += en + out[o + P_ENERGY_NET]
        out[o + P_CYCLES] = cyc * reps
        out[o + P_ENERGY] = en * reps
        out[o + P_ENERGY_NET] *= reps
        out[o + P_INSTANCES] = inst[lv]
        if reps != 1:
            for i in range(9):
                out[o + P_COUNTS + i] *= reps
    macs = 1
    for d in range(7):
        macs *= layer[d]
    out[R_MACS] = macs * reps
    out[R_PADDED_MACS] = padded_macs * reps
    out[R_ACTIVE] = inst[nl]
    out[R_CYCLES] = cycles * reps
    out[R_COMPUTE] = compute * reps
    out[R_UTIL] = macs / (glob[G_MAC_UNITS] * cycles)
    out[R_E_MAC] = padded_macs * glob[G_MAC_ENERGY] * reps
    out[R_ENERGY] = energy * reps
    out[R_EDP] = energy * reps * cycles * reps


@njit(cache=True, error_model="numpy")
def nest_evaluate_batch(layer, hw, glob, tf, sf, orders, out):
    """Cost B mappings: tf, sf, orders int64[B, L, 7]; out float64[B, result_size(L)]."""
    work = np.zeros((WORK_ROWS, tf.shape[1] + 1, 7), dtype=np.int64)
    for b in range(tf.shape[0]):
        nest_evaluate_into(layer, hw, glob, tf[b], sf[b], orders[b], out[b], work)


PARALLEL_BLOCK = 64  # rows per parallel iteration: each block allocates its own workspace (~2 ns a row)


@njit(parallel=True, cache=True, error_model="numpy")
def nest_evaluate_batch_parallel(layer, hw, glob, tf, sf, orders, out):
    """``nest_evaluate_batch`` with blocks of ``PARALLEL_BLOCK`` rows spread over Numba's threads, each block
    with its own workspace; the same ``nest_evaluate_into`` costs every row, so the results are bit-identical
    to the serial kernel's. Pays a thread start-up per call: see ``cost_model.evaluate.PARALLEL_MIN_BATCH``."""
    n = tf.shape[0]
    blocks = (n + PARALLEL_BLOCK - 1) // PARALLEL_BLOCK
    for blk in prange(blocks):
        work = np.zeros((WORK_ROWS, tf.shape[1] + 1, 7), dtype=np.int64)
        for b in range(blk * PARALLEL_BLOCK, min(n, (blk + 1) * PARALLEL_BLOCK)):
            nest_evaluate_into(layer, hw, glob, tf[b], sf[b], orders[b], out[b], work)
