"""A plain, slow loop-nest simulator: executes a mapping literally and counts every access.

It is the ground truth the analytical kernel is tested against (SPEC §5), and shares none of its
formulas. It runs the loop nest point by point, keeps the actual set of elements each buffer holds,
and computes the convolution itself, so a mapping that missed or repeated a MAC would be caught.

Buffer behaviour (the conventions the model follows, SPEC §5):
- A buffer refills a tile of weights or outputs when a loop relevant to it, above the buffer, changes its
  index (the controller follows loop indices; it does not compare addresses), and fetches the whole tile.
  An input tile is refetched at every step of a loop above the buffer, by Timeloop v3.0.3's rule
  (``InputWindows``): only the elements it did not hold when the tile moved by the same translation as at
  its previous step (input row = y*stride + r, column = x*stride + s), else the whole tile.
- PEs that need the identical tile at the same step share one L2 read (multicast).
- Each PE's first read of each partial sum is skipped (zero init); a partial sum goes up when its tile is
  replaced and at the end, and comes back from the parent if the parent has received it before.
  Updates from PEs holding the same output tile are reduced in the network (one update per tile).
"""
from __future__ import annotations

import itertools
from typing import Optional

import numpy as np

from mapping.spec import Mapping
from nn_space.layers import (C, DIMS, K, N, R, RELEVANCE_BATCHED, RELEVANCE_DEPTHWISE, S, X, Y,
                             ConvLayer)

from .accelerator import Accelerator

TENSORS = ("W", "I", "O")


def _relevant(tensor: str, relevance: int) -> set[int]:
    """The dims that index ``tensor`` under a layer's relevance code (``ConvLayer.relevance``)."""
    if tensor == "W":
        return {K, C, R, S} | ({N} if relevance == RELEVANCE_BATCHED else set())
    if tensor == "O":
        return {N, K, Y, X}
    return {N, C, Y, X, R, S} | ({K} if relevance == RELEVANCE_DEPTHWISE else set())


def weight_element(relevance: int, n: int, k: int, c: int, r: int, s: int) -> tuple:
    """The weight a MAC at (n, k, c, r, s) reads: its own per n in a batched matrix product."""
    return (n, k, c, r, s) if relevance == RELEVANCE_BATCHED else (k, c, r, s)


def _tile(tensor: str, base, ext, sy: int, sx: int, relevance: int) -> set:
    """The elements of a tile whose loop-index origin is ``base`` and extent ``ext`` (bounding box)."""
    rng = [range(base[d], base[d] + ext[d]) for d in range(7)]
    depthwise = relevance == RELEVANCE_DEPTHWISE
    if tensor == "W":
        if relevance == RELEVANCE_BATCHED:
            return set(itertools.product(rng[N], rng[K], rng[C], rng[R], rng[S]))
        return set(itertools.product(rng[K], rng[C], rng[R], rng[S]))
    if tensor == "O":
        return set(itertools.product(rng[N], rng[K], rng[Y], rng[X]))
    ch = rng[K] if depthwise else rng[C]
    h0 = base[Y] * sy + base[R]
    w0 = base[X] * sx + base[S]
    rows = range(h0, h0 + (ext[Y] - 1) * sy + ext[R])
    cols = range(w0, w0 + (ext[X] - 1) * sx + ext[S])
    return set(itertools.product(rng[N], ch, rows, cols))


class InputWindows:
    """Timeloop v3.0.3's sliding-window rule, step by step, for the input tiles of many buffer instances:
    a step fetches only the elements the tile did not hold when the tile moved by the same translation as
    at its previous step, or when the previous step fetched it whole; otherwise the whole tile."""

    def __init__(self, sy: int, sx: int, depthwise: bool):
        self.sy, self.sx, self.dw = sy, sx, depthwise
        self.state: dict = {}  # key -> (tile origin, translation of its last step or None)

    def fill(self, key, base, new: set, held: set | None) -> int:
        origin = (base[N], base[K] if self.dw else base[C], base[Y] * self.sy + base[R], base[X] * self.sx + base[S])
        old = self.state.get(key)
        if old is None or held is None:  # the first tile
            fill, saved = len(new), None
        else:
            move = tuple(a - b for a, b in zip(origin, old[0]))
            if old[1] is None or move == old[1]:
                fill, saved = len(new - held), move
            else:
                fill, saved = len(new), None
        self.state[key] = (origin, saved)
        return fill


class _Counter:
    def __init__(self):
        self.c = {f"{lvl}_{t}_{a}": 0 for lvl in ("l1", "l2", "dram") for t in TENSORS
                  for a in ("reads", "fills", "updates")}

    def add(self, key: str, n: int) -> None:
        self.c[key] += n


def simulate(layer: ConvLayer, mapping: Mapping, acc: Optional[Accelerator] = None,
             seed: int = 0) -> dict[str, float]:
    """Execute ``mapping`` on ``layer`` literally; returns counts, tiles, MACs (and costs if ``acc``).

    Raises AssertionError if the mapping's MACs do not compute the convolution or read outside a tile.
    """
    bounds = layer.loop_bounds
    rc = layer.relevance
    dw = rc == RELEVANCE_DEPTHWISE
    sy, sx = layer.stride_y, layer.stride_x
    F = mapping.factor_array.tolist()  # rows L1, spatial, L2, DRAM
    full = [F[0][d] * F[1][d] * F[2][d] * F[3][d] for d in range(7)]
    assert all(full[d] >= bounds[d] for d in range(7)), "factors do not cover the layer"
    e1 = [F[0][d] for d in range(7)]
    e2 = [F[0][d] * F[1][d] * F[2][d] for d in range(7)]

    # Operand values on the padded index space; the reference result uses only the real part.
    rng = np.random.default_rng(seed)
    n_, k_, c_, y_, x_, r_, s_ = bounds
    in_h, in_w = (y_ - 1) * sy + r_, (x_ - 1) * sx + s_
    wv = rng.integers(-3, 4, size=((n_,) if rc == RELEVANCE_BATCHED else ()) + (k_, c_, r_, s_))
    iv = rng.integers(-3, 4, size=(n_, k_ if dw else c_, in_h, in_w))
    got = np.zeros((n_, k_, y_, x_), dtype=np.int64)
    ref = np.zeros_like(got)
    for n, k, c, y, x, r, s in itertools.product(*[range(b) for b in bounds]):
        ref[n, k, y, x] += wv[weight_element(rc, n, k, c, r, s)] * iv[n, k if dw else c, y * sy + r, x * sx + s]

    above = ([(3, d, F[3][d]) for d in (DIMS.index(ch) for ch in mapping.dram_order) if F[3][d] > 1]
             + [(2, d, F[2][d]) for d in (DIMS.index(ch) for ch in mapping.l2_order) if F[2][d] > 1])
    n_dram = sum(1 for lv, _, _ in above if lv == 3)
    l1_loops = [(d, F[0][d]) for d in (DIMS.index(ch) for ch in mapping.l1_order) if F[0][d] > 1]
    pes = list(itertools.product(*[range(F[1][d]) for d in range(7)]))
    rel = {t: _relevant(t, rc) for t in TENSORS}

    cnt = _Counter()
    l2_tile: dict[str, tuple] = {}  # tensor -> (identity, set)
    l1_tile: dict[tuple, dict[str, tuple]] = {pe: {} for pe in pes}
    touched = {pe: set() for pe in pes}  # outputs each PE has started (first read skipped)
    valid_l2: set = set()  # outputs L2 has received updates for
    valid_dram: set = set()  # outputs DRAM has received
    max_tile = {f"tile_{lvl}_{t}": 0 for lvl in ("l1", "l2") for t in TENSORS}
    padded_macs = real_macs = pe_sends = 0

    def identity(tensor: str, idx, upto: int) -> tuple:
        return tuple(idx[p] for p in range(upto) if above[p][1] in rel[tensor])

    windows = InputWindows(sy, sx, dw)

    prev = None
    for idx in itertools.product(*[range(b) for _, _, b in above]):
        p = None if prev is None else next(i for i in range(len(idx)) if idx[i] != prev[i])
        prev = idx
        i_d, i_g = [0] * 7, [0] * 7
        for (lv, d, _), v in zip(above, idx):
            (i_d if lv == 3 else i_g)[d] = v
        base2 = [i_d[d] * e2[d] for d in range(7)]

        def base1(pe):
            return [((i_d[d] * F[2][d] + i_g[d]) * F[1][d] + pe[d]) * F[0][d] for d in range(7)]

        # 1. PEs whose output tile changes send their partial sums up (reduced per distinct tile).
        new_o_id = identity("O", idx, len(idx))
        if p is not None and l1_tile[pes[0]]["O"][0] != new_o_id:
            pe_sends += sum(len(l1_tile[pe]["O"][1]) for pe in pes)
            for old in {frozenset(l1_tile[pe]["O"][1]) for pe in pes}:
                cnt.add("l2_O_updates", len(old))
                valid_l2 |= old
        # 2. L2 tiles (only DRAM loops are above L2); inputs at every step of a DRAM loop.
        if p is None or p < n_dram:
            for t in TENSORS:
                ident = identity(t, idx, n_dram)
                if t != "I" and t in l2_tile and l2_tile[t][0] == ident:
                    continue
                new = _tile(t, base2, e2, sy, sx, rc)
                max_tile[f"tile_l2_{t}"] = max(max_tile[f"tile_l2_{t}"], len(new))
                if t == "O":
                    if t in l2_tile:
                        cnt.add("dram_O_updates", len(l2_tile[t][1]))
                        valid_dram |= l2_tile[t][1]
                    back = len(new & valid_dram)
                    cnt.add("l2_O_fills", back)
                    cnt.add("dram_O_reads", back)
                else:
                    if t == "I":
                        fill = windows.fill("l2", base2, new, l2_tile[t][1] if t in l2_tile else None)
                    else:
                        fill = len(new)
                    cnt.add(f"l2_{t}_fills", fill)
                    cnt.add(f"dram_{t}_reads", fill)
                l2_tile[t] = (ident, new)
        # 3. L1 tiles, with multicast of identical tiles from L2.
        for t in TENSORS:  # inputs at every step (each step moves a loop above L1)
            ident = identity(t, idx, len(idx))
            if t != "I" and l1_tile[pes[0]].get(t, (None,))[0] == ident:
                continue
            served: dict[frozenset, int] = {}
            for pe in pes:
                new = _tile(t, base1(pe), e1, sy, sx, rc)
                assert new <= l2_tile[t][1], f"L1 {t} tile is not inside the L2 tile"
                max_tile[f"tile_l1_{t}"] = max(max_tile[f"tile_l1_{t}"], len(new))
                old = l1_tile[pe].get(t)
                if t == "O":
                    fill = len(new & valid_l2)
                elif t == "I":
                    fill = windows.fill(pe, base1(pe), new, old[1] if old is not None else None)
                else:
                    fill = len(new)
                cnt.add(f"l1_{t}_fills", fill)
                served[frozenset(new)] = fill
                l1_tile[pe][t] = (ident, new)
            cnt.add(f"l2_{t}_reads", sum(served.values()))
        # 4. The MACs of every PE.
        for pe in pes:
            b = base1(pe)
            for li in itertools.product(*[range(f) for _, f in l1_loops]):
                pt = list(b)
                for (d, _), v in zip(l1_loops, li):
                    pt[d] += v
                n, k, c, y, x, r, s = pt
                w_el = weight_element(rc, n, k, c, r, s)
                i_el = (n, k if dw else c, y * sy + r, x * sx + s)
                o_el = (n, k, y, x)
                assert w_el in l1_tile[pe]["W"][1] and i_el in l1_tile[pe]["I"][1] \
                    and o_el in l1_tile[pe]["O"][1], "a MAC reads outside its L1 tiles"
                padded_macs += 1
                cnt.add("l1_W_reads", 1)
                cnt.add("l1_I_reads", 1)
                if o_el in touched[pe]:
                    cnt.add("l1_O_reads", 1)
                else:
                    touched[pe].add(o_el)
                cnt.add("l1_O_updates", 1)
                if all(pt[d] < bounds[d] for d in range(7)):
                    real_macs += 1
                    got[n, k, y, x] += wv[w_el] * iv[i_el]
    # Final write-backs.
    pe_sends += sum(len(l1_tile[pe]["O"][1]) for pe in pes)
    for old in {frozenset(l1_tile[pe]["O"][1]) for pe in pes}:
        cnt.add("l2_O_updates", len(old))
    cnt.add("dram_O_updates", len(l2_tile["O"][1]))

    assert np.array_equal(got, ref), "the mapping's MACs do not compute the convolution"
    assert real_macs == int(np.prod(bounds)), "a MAC was skipped or repeated"

    reps = layer.repeats
    result: dict[str, float] = {k: v * reps for k, v in cnt.c.items()}
    result.update(max_tile)
    result.update(pe_sends=pe_sends * reps, macs=real_macs * reps, padded_macs=padded_macs * reps, active_pes=len(pes),
                  compute_cycles=padded_macs // len(pes) * reps)
    if acc is not None:
        result.update(costs_from_counts(result, acc))
    return result


def costs_from_counts(res: dict[str, float], acc: Accelerator) -> dict[str, float]:
    """Energy, cycles and EDP from access counts (SPEC §5), written out plainly."""
    table = acc.energy
    l1r, l1w = table.l1.at(acc.l1_bytes, acc.word_bits)
    l2r, l2w = table.l2.at(acc.l2_bytes, acc.word_bits)
    dr, dwr = table.dram.at(0, acc.word_bits)
    get = res.__getitem__
    reads = {lvl: sum(get(f"{lvl}_{t}_reads") for t in TENSORS) for lvl in ("l1", "l2", "dram")}
    writes = {lvl: sum(get(f"{lvl}_{t}_fills") + get(f"{lvl}_{t}_updates") for t in TENSORS)
              for lvl in ("l1", "l2", "dram")}
    noc = sum(get(f"l1_{t}_fills") for t in TENSORS) + res["pe_sends"]
    energy = {
        "energy_mac": res["padded_macs"] * table.mac,
        "energy_l1": reads["l1"] * l1r + writes["l1"] * l1w,
        "energy_noc": noc * table.noc,
        "energy_l2": reads["l2"] * l2r + writes["l2"] * l2w,
        "energy_dram": reads["dram"] * dr + writes["dram"] * dwr,
    }

    def bw(r: float, w: float, b) -> float:
        return (r + w) / b.shared if b.shared else max(r / b.read, w / b.write)

    l2_cycles = bw(reads["l2"], writes["l2"], acc.l2_bandwidth)
    dram_cycles = bw(reads["dram"], writes["dram"], acc.dram_bandwidth)
    cycles = max(res["compute_cycles"], l2_cycles, dram_cycles)
    total = sum(energy.values())
    return {**energy, "energy": total, "cycles": cycles, "l2_cycles": l2_cycles,
            "dram_cycles": dram_cycles, "edp": total * cycles, "noc_words": noc,
            "utilization": res["macs"] / (acc.num_pes * cycles)}

