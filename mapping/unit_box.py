"""cma's [0, 1] box-constraint transformation applied to a whole population in one numpy pass.

``cma.CMAEvolutionStrategy(..., {"bounds": [0, 1]})`` maps each sampled genotype into the box with
``BoxConstraintsLinQuadTransformation`` one sample at a time, which was the largest single cost of a
per-layer mapping search (about a third of its time). ``UnitBox`` does the same elementwise arithmetic on
the population matrix, so the phenotypes are bit-identical, and ``es_options`` gives an unbounded
``CMAEvolutionStrategy`` the settings the bounded one derives from the bounds (start point mapped into the
transformation's domain, ``maxstd`` = range / 3), so the search visits the same points in the same order.
"""
from __future__ import annotations

import numpy as np
from cma.boundary_handler import BoundTransform
from cost_model.numba_cache import njit


class UnitBox:
    """Phenotype = cma's ``BoundTransform([0, 1])`` of each genotype row, computed for all rows at once."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._handler = BoundTransform([0.0, 1.0])
        tf = self._handler.bounds_tf
        tf.initialize(dimension)
        self._lb, self._ub, self._al, self._au = tf._lb, tf._ub, tf._al, tf._au

    def start(self, x0: np.ndarray) -> np.ndarray:
        """The genotype cma starts from for the phenotype ``x0`` (its inverse transformation)."""
        return np.array(self._handler.inverse(np.array(x0, dtype=float, copy=True)), dtype=float)

    def es_options(self, maxstd_boundrange: float = 1 / 3) -> dict:
        """Options an unbounded strategy needs to match cma's bounded one (its maxstd from the range)."""
        rng = (self._handler.get_bounds("upper", self.dimension)
               - self._handler.get_bounds("lower", self.dimension))
        return {"maxstd": rng * maxstd_boundrange}

    def __call__(self, genotypes: np.ndarray) -> np.ndarray:
        """Phenotypes in [0, 1] of genotype rows float[B, D] (a new array)."""
        y = np.array(genotypes, dtype=np.float64, copy=True, order="C")
        if y.ndim != 2 or y.shape[1] != self.dimension:
            raise ValueError(f"genotypes: shape {y.shape} (expected (B, {self.dimension}))")
        _linquad_rows(y, self._lb, self._ub, self._al, self._au)
        return y


@njit(cache=True)
def _linquad_rows(y, lb, ub, al, au):
    """In place: the steps, in the same order and with the same operations, of cma's
    BoxConstraintsLinQuadTransformation.__call__, element by element (values in [lb + al, ub - au]
    pass every step unchanged)."""
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            v, lo, hi, a, b = y[i, j], lb[j], ub[j], al[j], au[j]
            if lo + a <= v <= hi - b:
                continue
            if v < lo - 2 * a - (hi - lo) / 2.0 or v > hi + 2 * b + (hi - lo) / 2.0:
                r = 2 * (hi - lo + a + b)  # period
                s = lo - 2 * a - (hi - lo) / 2.0  # start
                v -= r * ((v - s) // r)
            if v > hi + b:
                v -= 2 * (v - hi - b)
            if v < lo - a:
                v += 2 * (lo - a - v)
            if v < lo + a:
                d = v - (lo - a)
                v = lo + d * d / 4 / a
            if v > hi - b:
                d = v - (hi + b)
                v = hi - d * d / 4 / b
            y[i, j] = v
