"""The 3-level kernel over mappings of many (layer, accelerator) problems in one call."""
from __future__ import annotations

from cost_model.numba_cache import njit

from .kernel import evaluate_into


@njit(cache=True)
def evaluate_rows(layers, hws, owner, factors, orders, out):
    """Row b: the mapping (factors[b], orders[b]) of problem ``owner[b]`` (layer vector ``layers[owner[b]]``,
    hardware vector ``hws[owner[b]]``) costed into out[b]."""
    for b in range(owner.shape[0]):
        p = owner[b]
        evaluate_into(layers[p], hws[p], factors[b], orders[b], out[b])
