"""Validity codes the kernels return, and their human-readable reasons."""
from __future__ import annotations

from nn_space.layers import DIMS

VALID = 0
L1_OVERFLOW = 1  # detail: 0 = shared L1, 1..3 = partition of weights/inputs/outputs
L2_OVERFLOW = 2
NOT_COVERED = 3  # detail: dim index
SPATIAL_TOO_LARGE = 4  # detail: dim index (no axis parallelizes it) or 8 + array axis (overfull)
BAD_FACTOR = 5  # detail: dim index
BAD_ORDER = 6  # detail: level row
OVER_COVERED = 7  # detail: dim index

_TENSOR_NAMES = ("weights", "inputs", "outputs")


def encode(kind: int, detail: int = 0) -> int:
    return kind * 16 + detail


def reason(code: int, stats=None, limits=None) -> str:
    """A sentence saying why a mapping is invalid (``stats``: the result vector, for tile sizes)."""
    from .stats import STAT_INDEX

    kind, detail = divmod(int(code), 16)
    if kind == VALID:
        return "valid"

    sizes = {}
    if stats is not None:
        for level in ("l1", "l2"):
            sizes[level] = [int(stats[STAT_INDEX[f"tile_{level}_{t}"]]) for t in "WIO"]

    def tiles(level: str) -> str:
        if level not in sizes:
            return ""
        w, i, o = sizes[level]
        return f" (tiles: weights {w}, inputs {i}, outputs {o} words)"

    def held(key: str, index: int | None = None) -> str:
        if not limits:
            return " is too small"
        cap = limits[key] if index is None else limits[key][index]
        return f" holds {cap}"

    if kind == L1_OVERFLOW:
        if detail == 0:
            total = f" take {sum(sizes['l1'])} words" if sizes else " do not fit"
            return f"L1 overflow: the per-PE tiles{total}, the L1{held('l1_words')}" + tiles("l1")
        t = _TENSOR_NAMES[detail - 1]
        size = f" is {sizes['l1'][detail - 1]} words" if sizes else " does not fit"
        return f"L1 overflow: the {t} tile{size}, its L1 partition{held('l1_part', detail - 1)}" + tiles("l1")
    if kind == L2_OVERFLOW:
        total = f" take {sum(sizes['l2'])} words" if sizes else " do not fit"
        return f"L2 overflow: the array's tiles{total}, the global buffer{held('l2_words')}" + tiles("l2")
    if kind == NOT_COVERED:
        return f"factors of {DIMS[detail]} multiply to less than the layer's {DIMS[detail]} bound"
    if kind == SPATIAL_TOO_LARGE:
        if detail >= 8:
            return f"spatial factors on array axis {detail - 8} multiply to more than the axis size"
        return f"spatial factor on {DIMS[detail]}, which no array axis parallelizes"
    if kind == BAD_FACTOR:
        return f"a factor of {DIMS[detail]} is < 1"
    if kind == OVER_COVERED:
        return (f"factors of {DIMS[detail]} pad more than needed: one level's factor can be dropped "
                f"and the rest still cover the bound")
    if kind == BAD_ORDER:
        return f"loop order of level row {detail} is not a permutation of {''.join(DIMS)}"
    return f"unknown status {code}"
