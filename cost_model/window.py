"""Input fills under Timeloop v3.0.3's sliding-window rule, in closed form (shared by both kernels).

The rule (Timeloop's ``SaveAndSubtractIfSameStride``, with temporal extrapolation off): walking the
non-trivial temporal loops above a level step by step, each step moves the level's input tile (a bounding
box over batch, channel, rows, columns) by a translation; the step fetches only the elements the tile did
not hold when its translation equals the previous step's (or follows a reset), else the whole tile, and
resets. Each loop dim moves the tile along one axis: N batch, C (K for depthwise) channels, Y' rows by
step * stride, R rows by step, X' / S columns likewise (step = the dim's extent inside the loop); K (C for
depthwise) does not move it.

Closed form (loops innermost first; E = the product of their bounds): the innermost loop's steps always
take the delta ``dl`` = tile - overlap of two tiles one innermost step apart; when loop j advances (its
inner loops wrapping), the tile moves by ``T_j - sum over inner loops k of (b_k - 1) T_k``, and that step
takes the delta if this equals the innermost step's translation, else the whole tile. It reduces to
``(epochs / b) (tile + (b - 1) delta)`` for the usual case (the first tile of each sweep whole), and
differs where an outer step continues the innermost loop's stride (e.g. S innermost, then X' whose step
equals the S sweep) or moves the tile by nothing. Measured equal to timeloop-model v3.0.3 on 5,030 cases.

``window_loop`` folds one loop into the running state; callers start from ``window_start`` and visit the
loops innermost first; ``state[0]`` is then the fills of one tile instance.
"""
from __future__ import annotations

from cost_model.numba_cache import njit

_N, _K, _C, _Y, _X, _R, _S = range(7)


@njit(cache=True, inline="always")
def window_start(tile, epochs):
    """(fills, outer iterations, wrap per axis x4, innermost axis, its shift, its delta, started)."""
    return (tile, epochs, 0, 0, 0, 0, -1, 0, 0, 0)


@njit(cache=True, inline="always")
def _axis(d, dw):
    if d == _N:
        return 0
    if d == _C:
        return 1
    if d == _K:
        return 1 if dw else -1
    if d == _Y or d == _R:
        return 2
    return 3


@njit(cache=True, inline="always")
def window_loop(state, d, b, step, box_n, box_ch, h, w, tile, sy, sx, dw):
    """Fold the loop over dim ``d`` (bound ``b``, ``step`` of ``d`` inside it) into ``state``."""
    per, outer, w0, w1, w2, w3, ta, tv, dl, started = state
    a = _axis(d, dw)
    v = 0
    if a >= 0:
        v = step * sy if d == _Y else (step * sx if d == _X else step)
    outer = outer // b
    if started == 0:  # the innermost loop
        if a < 0:
            dl = 0
        else:
            ext = box_n if a == 0 else (box_ch if a == 1 else (h if a == 2 else w))
            dl = tile - (tile // ext) * max(0, ext - v)
        per = tile + outer * (b - 1) * dl
        ta = a
        tv = v
    else:
        same = ((v if a == 0 else 0) - w0 == (tv if ta == 0 else 0)
                and (v if a == 1 else 0) - w1 == (tv if ta == 1 else 0)
                and (v if a == 2 else 0) - w2 == (tv if ta == 2 else 0)
                and (v if a == 3 else 0) - w3 == (tv if ta == 3 else 0))
        per += outer * (b - 1) * (dl if same else tile)
    if a == 0:
        w0 += (b - 1) * v
    elif a == 1:
        w1 += (b - 1) * v
    elif a == 2:
        w2 += (b - 1) * v
    elif a == 3:
        w3 += (b - 1) * v
    return (per, outer, w0, w1, w2, w3, ta, tv, dl, 1)
