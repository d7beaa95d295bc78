"""A plain, slow loop-nest simulator for general hierarchies: the ground truth of ``nest_kernel``.

It shares no formula with the kernel. It steps through every temporal iteration of the mapping, keeps the
actual set of elements each instance of each level holds, runs every MAC of every MAC unit and computes
the convolution itself (a mapping that skipped or repeated a MAC fails), and counts each access as it
happens, following the conventions of SPEC §10 literally:
- an instance refills a tile of weights or outputs it keeps when a loop relevant to that tensor, above the
  level, changes its index, and fetches the whole tile; an input tile is refetched at every step of a loop
  above the level (Timeloop v3.0.3's rule): only the elements it did not hold when the tile moved by the
  same translation as at the previous step (or the previous step fetched it whole), else all of it;
- a tile is fetched from the nearest ancestor that keeps the tensor; the ancestor serves two instances
  with one read (multicast) when, at every fan-out between them and it (bypassed levels' too), their
  positions select the identical tile of the level below that fan-out;
- outputs: a tile goes up when it is replaced and at the end; instances whose positions select identical
  output tiles at every fan-out between are merged (spatial reduction); a tile coming back down carries
  the elements the ancestor has received before (first reads are free); every MAC reads its operands from
  the innermost level that keeps them and sends its partial sum there, under the same rules.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from mapping.nest import NestMapping
from nn_space.layers import C, K, N, R, S, X, Y, ConvLayer

from .accelerator import TENSORS
from .hierarchy import Hierarchy
from .loopnest_sim import InputWindows, _relevant, weight_element
from .loopnest_sim import _tile as _tile_set

T3 = ("W", "I", "O")


def _tile(t: str, base, ext, sy: int, sx: int, relevance: int) -> frozenset:
    """The elements of a tile (bounding box for inputs), as the 3-level simulator defines them."""
    return frozenset(_tile_set(t, base, ext, sy, sx, relevance))


def simulate_nest(layer: ConvLayer, hier: Hierarchy, mapping: NestMapping, seed: int = 0) -> dict:
    """Execute ``mapping`` literally; returns {level name: {W_reads, ..., tile_O}}, cycles, energy, ...

    Raises AssertionError if the MACs do not compute the convolution or touch data outside a tile.
    """
    L = hier.num_levels
    bounds = layer.loop_bounds
    rc, sy, sx = layer.relevance, layer.stride_y, layer.stride_x
    dw = layer.depthwise
    TF = mapping.temporal_array.tolist()
    SF = mapping.spatial_array.tolist()
    keeps = [[t_long in lv.keeps for t_long in TENSORS] for lv in hier.levels]
    ext = [[1] * 7 for _ in range(L + 1)]
    for lv in range(L - 1, -1, -1):
        ext[lv] = [ext[lv + 1][d] * TF[lv][d] * SF[lv][d] for d in range(7)]
    assert all(ext[0][d] >= bounds[d] for d in range(7)), "factors do not cover the layer"

    loops = []  # (level, dim, bound, step), outermost first
    first = []  # first[l]: number of temporal loops above level l
    for lv in range(L):
        first.append(len(loops))
        for ch in mapping.levels[lv].order:
            d = "NKCYXRS".index(ch)
            if TF[lv][d] > 1:
                loops.append((lv, d, TF[lv][d], SF[lv][d] * ext[lv + 1][d]))
    first.append(len(loops))
    positions = [list(itertools.product(*[range(SF[j][d]) for d in range(7)])) for j in range(L)]
    instances = [list(itertools.product(*positions[:lv])) for lv in range(L + 1)]  # per level, and MACs
    rel = {t: _relevant(t, rc) for t in T3}

    def keeper_above(lv: int, ti: int) -> int:
        return max(j for j in range(lv) if keeps[j][ti])

    def base_of(lv: int, inst, idx) -> list[int]:
        b = [0] * 7
        for k in range(first[lv]):
            _, d, _, step = loops[k]
            b[d] += idx[k] * step
        for j, pos in enumerate(inst):
            for d in range(7):
                b[d] += pos[d] * ext[j + 1][d]
        return b

    def ident(lv: int, t: str, idx) -> tuple:
        return tuple(idx[k] for k in range(first[lv]) if loops[k][1] in rel[t])

    counts = [{f"{t}_{a}": 0 for t in T3 for a in ("reads", "fills", "updates")} for _ in range(L)]
    net = [0.0] * L  # network energy charged to the fan-outs below each level
    tile_max = [{t: 0 for t in T3} for _ in range(L)]
    hop = [(hier.energy_table.noc if lv.hop_energy is None else lv.hop_energy) if lv.fanout else 0.0
           for lv in hier.levels]

    def hops(a: int, c: int) -> float:
        return sum(hop[j] for j in range(a, c))

    held: list[dict] = [dict() for _ in range(L)]  # level -> {(inst, t): (ident, set)}
    windows = InputWindows(sy, sx, dw)
    valid: list[dict] = [dict() for _ in range(L)]  # level -> {inst: outputs received}
    whole = {t: _tile(t, [0] * 7, ext[0], sy, sx, rc) for t in T3}
    for t in T3:
        held[0][((), t)] = ((), whole[t])

    def selects(t: str, a: int, c: int, inst) -> tuple:
        """What the positions of ``inst`` at the fan-outs between levels a and c select: per fan-out j, the
        tile of the level below it that the position picks (relative to the fan-out's own origin)."""
        return tuple(_tile(t, [inst[j][d] * ext[j + 1][d] for d in range(7)], ext[j + 1], sy, sx, rc)
                     for j in range(a, c))

    def send_up(c: int, inst, old: frozenset, groups: dict) -> None:
        """Child instance ``inst`` of level ``c`` (L = a MAC) sends partial sums ``old`` to its keeper."""
        a = keeper_above(c, 2)
        key = (inst[:a], selects("O", a, c, inst), old)
        groups.setdefault((a, key), old)
        net[a] += len(old) * hops(a, c)

    def commit(groups: dict) -> None:
        for (a, key), old in groups.items():
            counts[a]["O_updates"] += len(old)
            valid[a].setdefault(key[0], set()).update(old)

    wv = np.random.default_rng(seed).integers(-3, 4, size=((bounds[N],) if rc == 2 else ())
                                              + (bounds[K], bounds[C], bounds[R], bounds[S]))
    in_h, in_w = (bounds[Y] - 1) * sy + bounds[R], (bounds[X] - 1) * sx + bounds[S]
    iv = np.random.default_rng(seed + 1).integers(-3, 4, size=(bounds[N], bounds[K] if dw else bounds[C],
                                                               in_h, in_w))
    got = np.zeros((bounds[N], bounds[K], bounds[Y], bounds[X]), dtype=np.int64)
    ref = np.zeros_like(got)
    for n, k, c, y, x, r, s in itertools.product(*[range(b) for b in bounds]):
        ref[n, k, y, x] += wv[weight_element(rc, n, k, c, r, s)] * iv[n, k if dw else c, y * sy + r, x * sx + s]

    steps = padded = real = 0
    prev = None
    for idx in itertools.product(*[range(b) for _, _, b, _ in loops]):
        p = None if prev is None else next(i for i in range(len(idx)) if idx[i] != prev[i])
        prev = idx
        steps += 1
        # 1. levels whose output tile changes send it up, innermost first
        if p is not None:
            for c in range(L - 1, 0, -1):
                if not keeps[c][2] or ident(c, "O", idx) == held[c][(instances[c][0], "O")][0]:
                    continue
                groups: dict = {}
                for inst in instances[c]:
                    send_up(c, inst, held[c][(inst, "O")][1], groups)
                commit(groups)
        # 2. tiles that change are filled from the nearest keeping ancestor, outermost first
        for c in range(1, L):
            for ti, t in enumerate(T3):
                if not keeps[c][ti]:
                    continue
                now = ident(c, t, idx)
                if p is not None and (p >= first[c] or (t != "I" and now == held[c][(instances[c][0], t)][0])):
                    continue  # inputs: every step of a loop above the level moves (or keeps) the tile
                a = keeper_above(c, ti)
                served: dict = {}
                for inst in instances[c]:
                    b = base_of(c, inst, idx)
                    new = _tile(t, b, ext[c], sy, sx, rc)
                    tile_max[c][t] = max(tile_max[c][t], len(new))
                    assert new <= held[a][(inst[:a], t)][1], f"level {c} {t} tile is not inside its keeper's"
                    if t == "O":
                        fill = len(new & valid[a].get(inst[:a], set()))
                    elif t == "I":
                        previous = held[c].get((inst, t))
                        fill = windows.fill((c, inst), b, new, previous[1] if previous else None)
                    else:
                        fill = len(new)
                    counts[c][f"{t}_fills"] += fill
                    net[a] += fill * hops(a, c)
                    served[(inst[:a], selects(t, a, c, inst), new)] = fill
                    held[c][(inst, t)] = (now, new)
                counts[a][f"{t}_reads"] += sum(served.values())
        # 3. every MAC unit: read operands, read back the partial sum, send the update
        reads: dict = {}
        groups = {}
        backs: dict = {}
        for inst in instances[L]:
            pt = base_of(L, inst, idx)
            n, k, c, y, x, r, s = pt
            el = {"W": weight_element(rc, n, k, c, r, s), "I": (n, k if dw else c, y * sy + r, x * sx + s),
                  "O": (n, k, y, x)}
            for ti, t in enumerate(T3):
                a = keeper_above(L, ti)
                assert el[t] in held[a][(inst[:a], t)][1], f"a MAC reads {t} outside its keeper's tile"
                key = (inst[:a], selects(t, a, L, inst), el[t])
                if t != "O":
                    reads[(a, t, key)] = 1
                    net[a] += hops(a, L)
                elif el[t] in valid[a].get(inst[:a], set()):
                    backs[(a, key)] = 1
                    net[a] += hops(a, L)
            send_up(L, inst, frozenset([el["O"]]), groups)
            padded += 1
            if all(pt[d] < bounds[d] for d in range(7)):
                real += 1
                got[n, k, y, x] += wv[el["W"]] * iv[el["I"]]
        for (a, t, _) in reads:
            counts[a][f"{t}_reads"] += 1
        for (a, _) in backs:
            counts[a]["O_reads"] += 1
        commit(groups)
    # final write-backs, innermost first
    for c in range(L - 1, 0, -1):
        if keeps[c][2]:
            groups = {}
            for inst in instances[c]:
                send_up(c, inst, held[c][(inst, "O")][1], groups)
            commit(groups)

    assert np.array_equal(got, ref), "the mapping's MACs do not compute the convolution"
    assert real == math.prod(bounds), "a MAC was skipped or repeated"

    reps = layer.repeats
    res: dict = {"macs": real * reps, "padded_macs": padded * reps, "compute_cycles": steps * reps,
                 "active_macs": len(instances[L])}
    bits = hier.tensor_bits
    energy = padded * hier.energy_table.mac
    cycles = float(steps)
    for lv in range(L):
        e_read, e_write = hier.level_energies(lv)
        level_bits = hier.levels[lv].word_bits or hier.word_bits
        cnt = counts[lv]
        rd = sum(cnt[f"{t}_reads"] * bits[i] / level_bits for i, t in enumerate(T3))
        wr = sum((cnt[f"{t}_fills"] + cnt[f"{t}_updates"]) * bits[i] / level_bits for i, t in enumerate(T3))
        en = sum(cnt[f"{t}_reads"] * e_read[i] + (cnt[f"{t}_fills"] + cnt[f"{t}_updates"]) * e_write[i]
                 for i, t in enumerate(T3))
        bw = hier.levels[lv].bandwidth
        n_inst = len(instances[lv])
        cyc = (rd + wr) / n_inst / bw.shared if bw.shared else max(rd / n_inst / bw.read, wr / n_inst / bw.write)
        cycles = max(cycles, cyc)
        energy += en + net[lv]
        entry = {k: v * reps for k, v in cnt.items()}
        entry.update({f"tile_{t}": tile_max[lv][t] if keeps[lv][i] else 0 for i, t in enumerate(T3)})
        if lv == 0:
            entry.update({f"tile_{t}": len(whole[t]) for t in T3})
        entry.update(cycles=cyc * reps, energy=en * reps, energy_network=net[lv] * reps, instances=n_inst)
        res[hier.levels[lv].name] = entry
    res.update(cycles=cycles * reps, energy=energy * reps, edp=energy * reps * cycles * reps,
               utilization=real / (hier.num_macs * cycles))
    return res
