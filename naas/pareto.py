"""Pareto fronts of evaluated designs (all objectives as columns of a DataFrame)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def non_dominated(values: np.ndarray) -> np.ndarray:
    """Mask of rows no other row dominates (every column minimized; of equal rows only the first counts).

    Rows with a NaN are never on the front.
    """
    values = np.asarray(values, dtype=float)
    mask = np.zeros(len(values), dtype=bool)
    ok = np.flatnonzero(~np.isnan(values).any(axis=1))
    order = ok[np.lexsort(values[ok].T[::-1])]  # by the first column, then the next, ...
    kept: list[int] = []
    for i in order:
        if kept:
            front = values[kept]
            if (front <= values[i]).all(axis=1).any():  # dominated by, or equal to, a kept row
                continue
        kept.append(int(i))
    mask[kept] = True
    return mask


def pareto_front(points: pd.DataFrame, minimize: Sequence[str] = (), maximize: Sequence[str] = ()) -> pd.DataFrame:
    """The non-dominated rows of ``points``, sorted by the first objective."""
    cols = [points[c].to_numpy(dtype=float) for c in minimize] + [-points[c].to_numpy(dtype=float)
                                                                  for c in maximize]
    mask = non_dominated(np.column_stack(cols)) if len(points) else np.zeros(0, dtype=bool)
    first = (list(minimize) + list(maximize))[0]
    return points[mask].sort_values(first, ascending=first in minimize, kind="stable")
