"""Hypothesis strategies for random storage hierarchies and mappings on them (general-model tests)."""
from __future__ import annotations

import math

from hypothesis import strategies as st

from cost_model.accelerator import TENSORS, ArrayDim, Bandwidth
from cost_model.hierarchy import Hierarchy, StorageLevel
from mapping.nest import LevelMapping, NestMapping
from nn_space.layers import DIMS, ConvLayer

from .strategies import small_layers


@st.composite
def _split(draw, bound: int, slots: int, first: tuple[int, ...] = ()) -> list[int]:
    """Factors over ``slots`` places whose product covers ``bound`` (ceil padding allowed); the places in
    ``first`` are, half of the time, given their factors before the others (so fan-outs get used)."""
    out = [1] * slots
    remaining = bound
    order = draw(st.permutations(list(range(slots))))
    if first and draw(st.booleans()):
        order = [i for i in order if i in first] + [i for i in order if i not in first]
    used = order[:draw(st.integers(1, slots))]
    for i, slot in enumerate(used):
        f = remaining if i == len(used) - 1 else draw(st.integers(1, remaining))
        out[slot] = f
        remaining = -(-remaining // f)
    return out


@st.composite
def hierarchies_and_mappings(draw, max_macs: int = 700, capacity: str = "unlimited"):
    """(layer, hierarchy, mapping): 2-6 levels, random keep masks, 0-2 fan-outs, random orders.

    ``capacity``: 'unlimited', or 'tight' (each level sized to the mapping's tiles, so it must pass),
    or 'random' (per-tensor or shared capacities that may be too small).
    """
    layer: ConvLayer = draw(small_layers(max_macs=max_macs))
    nl = draw(st.integers(2, 6))
    keeps = [TENSORS] + [tuple(t for t in TENSORS if draw(st.booleans())) for _ in range(nl - 1)]
    fan_levels = draw(st.lists(st.integers(0, nl - 1), min_size=0, max_size=2, unique=True))
    fanouts: dict[int, list[list[str]]] = {}
    for lv in fan_levels:
        dims = draw(st.lists(st.sampled_from(DIMS), min_size=1, max_size=3, unique=True))
        n_axes = draw(st.integers(1, min(2, len(dims))))
        fanouts[lv] = [dims[i::n_axes] for i in range(n_axes)]
    # slots of each dim: temporal at every level, spatial at every fan-out that parallelizes it
    tf = [[1] * 7 for _ in range(nl)]
    sf = [[1] * 7 for _ in range(nl)]
    for d, bound in enumerate(layer.loop_bounds):
        places = [("t", lv) for lv in range(nl)] + [("s", lv) for lv, axes in fanouts.items()
                                                    if any(DIMS[d] in a for a in axes)]
        spatial = tuple(i for i, (kind, _) in enumerate(places) if kind == "s")
        for (kind, lv), f in zip(places, draw(_split(bound, len(places), spatial))):
            (tf if kind == "t" else sf)[lv][d] = f
    orders = ["".join(draw(st.permutations(list(DIMS)))) for _ in range(nl)]
    mapping = NestMapping(tuple(LevelMapping(tuple(tf[lv]), orders[lv], tuple(sf[lv])) for lv in range(nl)))

    precision = draw(st.sampled_from([None, None, (8, 8, 16), (16, 8, 24)]))
    levels = []
    for lv in range(nl):
        axes = tuple(ArrayDim(math.prod(sf[lv][DIMS.index(d)] for d in dims) + draw(st.integers(0, 1)),
                              tuple(dims)) for dims in fanouts.get(lv, []))
        bw = draw(st.sampled_from([Bandwidth(), Bandwidth(shared=2.5), Bandwidth(read=3.0, write=1.5),
                                   Bandwidth(read=0.75)]))
        energy = draw(st.sampled_from(["dram", "sram", "spad", "explicit"]))
        explicit = energy == "explicit"
        re = tuple(draw(st.sampled_from([0.5, 1.25, 3.0])) for _ in range(3)) if explicit else None
        we = tuple(draw(st.sampled_from([0.75, 2.0])) for _ in range(3)) if explicit else None
        levels.append(dict(name=f"L{lv}", keeps=keeps[lv], bandwidth=bw,
                           energy="sram" if explicit else energy, read_energy=re, write_energy=we,
                           fanout=axes, hop_energy=draw(st.sampled_from([None, 0.0, 0.7])) if axes else None,
                           word_bits=draw(st.sampled_from([None, 8, 32]))))
    hier = Hierarchy(name="random", levels=tuple(StorageLevel(**kw) for kw in levels), word_bits=16,
                     precision=precision)
    if capacity != "unlimited":
        hier = _with_capacities(draw, layer, hier, mapping, capacity)
    return layer, hier, mapping


def _with_capacities(draw, layer, hier, mapping, mode):
    from dataclasses import replace

    from cost_model.nest_evaluate import nest_stats
    from cost_model.nest_layout import NS, P_TILES, PER

    roomy = nest_stats(layer, hier, mapping)
    bits = hier.tensor_bits
    word = [b / 8 for b in bits]  # a level holds at least one word of each tensor it keeps
    levels = list(hier.levels)
    for lv in range(1, hier.num_levels):
        tiles = [roomy[NS + lv * PER + P_TILES + i] * bits[i] / 8 for i in range(3)]
        slack = 0 if mode == "tight" else draw(st.sampled_from([-1, 0, 2]))
        kept = [i for i in range(3) if TENSORS[i] in levels[lv].keeps]
        if draw(st.booleans()):
            part = tuple(max(word[i], tiles[i] + slack) if i in kept else 0.0 for i in range(3))
            levels[lv] = replace(levels[lv], partition=part, size_bytes=max(1.0, sum(part)))
        else:
            levels[lv] = replace(levels[lv], size_bytes=max(sum(word[i] for i in kept) or 1.0,
                                                            sum(tiles[i] for i in kept) + slack))
    return replace(hier, levels=tuple(levels))
