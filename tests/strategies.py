"""Hypothesis strategies: small layers, accelerators and valid mappings for model-vs-simulator tests."""
from __future__ import annotations

import math

from hypothesis import strategies as st

from cost_model.accelerator import Accelerator, ArrayDim, Bandwidth
from cost_model.energy import get_energy_table
from mapping.spec import Mapping
from nn_space.layers import DIMS, ConvLayer


@st.composite
def small_layers(draw, max_macs: int = 1500) -> ConvLayer:
    kind = draw(st.sampled_from(["conv", "conv", "conv", "depthwise", "grouped", "pointwise", "gemm", "bmm"]))
    if kind == "gemm":  # small enough for any max_macs used here (<= 60 MACs)
        return ConvLayer.gemm(draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3)))
    if kind == "bmm":  # <= 72 MACs
        return ConvLayer.bmm(draw(st.integers(2, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3)),
                             draw(st.integers(1, 2)))
    r = 1 if kind == "pointwise" else draw(st.integers(1, 3))
    s = 1 if kind == "pointwise" else draw(st.integers(1, 3))
    sy = draw(st.integers(1, 3))
    sx = draw(st.integers(1, 2))
    n = draw(st.sampled_from([1, 1, 2]))
    y = draw(st.integers(1, 5))
    x = draw(st.integers(1, 4))
    if kind == "depthwise":
        ch = draw(st.integers(2, 4))
        layer = ConvLayer(k=ch, c=ch, y=y, x=x, r=r, s=s, stride_y=sy, stride_x=sx, n=n, groups=ch)
    elif kind == "grouped":
        layer = ConvLayer(k=2 * draw(st.integers(1, 2)), c=2 * draw(st.integers(1, 2)), y=y, x=x, r=r,
                          s=s, stride_y=sy, stride_x=sx, n=n, groups=2)
    else:
        layer = ConvLayer(k=draw(st.integers(1, 4)), c=draw(st.integers(1, 3)), y=y, x=x, r=r, s=s,
                          stride_y=sy, stride_x=sx, n=n)
    if math.prod(layer.loop_bounds) > max_macs:
        layer = ConvLayer(k=layer.k, c=layer.c, y=min(y, 2), x=min(x, 2), r=r, s=s, stride_y=sy,
                          stride_x=sx, n=1, groups=layer.groups)
    return layer


@st.composite
def split_factors(draw, bound: int, levels: tuple[int, ...]) -> list[int]:
    """Factors for the given level rows whose product covers ``bound`` (ceil padding allowed)."""
    out = [1, 1, 1, 1]
    remaining = bound
    order = draw(st.permutations(list(levels)))
    for i, lvl in enumerate(order):
        if i == len(order) - 1:
            f = remaining
        else:
            f = draw(st.integers(1, remaining))
        out[lvl] = f
        remaining = -(-remaining // f)
    return out


@st.composite
def mappings_for(draw, layer: ConvLayer, max_parallel: int = 3) -> tuple[Mapping, tuple[str, ...]]:
    """A mapping of ``layer`` and the loop dims its spatial factors use (at most ``max_parallel``)."""
    bounds = layer.loop_bounds
    parallel = draw(st.lists(st.sampled_from(DIMS), min_size=0, max_size=max_parallel, unique=True))
    rows = []
    for d, b in zip(DIMS, bounds):
        levels = (0, 1, 2, 3) if d in parallel else (0, 2, 3)
        rows.append(draw(split_factors(b, levels)))
    factors = [tuple(rows[d][lvl] for d in range(7)) for lvl in range(4)]
    orders = [draw(st.permutations(list(DIMS))) for _ in range(3)]
    m = Mapping(l1=factors[0], spatial=factors[1], l2=factors[2], dram=factors[3],
                l1_order="".join(orders[0]), l2_order="".join(orders[1]), dram_order="".join(orders[2]))
    return m, tuple(parallel)


def roomy_accelerator(parallel: tuple[str, ...], mapping: Mapping, energy: str = "timeloop-eyeriss-65nm",
                      bandwidths=((0.0, 3.0, 2.0), (2.5, 0, 0)), one_axis: bool = False) -> Accelerator:
    """An accelerator whose array fits the mapping's spatial factors and whose buffers hold any tile.

    ``one_axis`` puts every parallel dim on a single array axis (their factors multiply).
    """
    if one_axis and parallel:
        size = math.prod(mapping.spatial[DIMS.index(d)] for d in parallel)
        array = (ArrayDim(size, tuple(parallel)),)
    else:
        array = tuple(ArrayDim(max(1, mapping.spatial[DIMS.index(d)]) + 1, d) for d in parallel) \
            or (ArrayDim(2, "K"),)
    (l2s, l2r, l2w), (ds, dr, dw) = bandwidths
    return Accelerator(name="test", array=array, l1_bytes=1 << 20, l2_bytes=1 << 24,
                       l2_bandwidth=Bandwidth(l2s, l2r or math.inf, l2w or math.inf),
                       dram_bandwidth=Bandwidth(ds, dr or math.inf, dw or math.inf),
                       energy=get_energy_table(energy))
