"""A layer's mapping (SPEC §4): temporal factors and loop orders per memory level, spatial factors.

The loop nest a mapping stands for, outermost first::

    for <dram_order> with dram factors        # each iteration: a new L2 tile
      for <l2_order> with l2 factors          # each iteration: a new tile for the PE array
        parallel-for spatial factors          # across PEs (only on the array's parallel dims)
          for <l1_order> with l1 factors      # inside a PE: one MAC per iteration
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping as MappingT, Sequence

import numpy as np

from nn_space.layers import DIMS, LayerSpecError, dim_index

# Rows of ``Mapping.factor_array`` (innermost level first) and of ``Mapping.order_array``.
F_L1, F_SPATIAL, F_L2, F_DRAM = range(4)
O_L1, O_L2, O_DRAM = range(3)
TEMPORAL_LEVELS = ("dram", "l2", "l1")


class MappingSpecError(ValueError):
    """A mapping that is not well formed or not valid for its layer and accelerator."""


def _factors(field: str, values: Sequence[int] | dict) -> tuple[int, ...]:
    if isinstance(values, dict):
        out = [1] * len(DIMS)
        for name, v in values.items():
            try:
                out[dim_index(name)] = v
            except LayerSpecError as exc:
                raise MappingSpecError(f"{field}: {exc}") from None
        values = out
    values = tuple(values)
    if len(values) != len(DIMS):
        raise MappingSpecError(f"{field}: {len(values)} factors (expected {len(DIMS)}: {', '.join(DIMS)})")
    for d, v in zip(DIMS, values):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise MappingSpecError(f"{field}.{d}: {v!r} (allowed: integer >= 1)")
    return tuple(int(v) for v in values)


def _order(field: str, order: str | Sequence[str]) -> str:
    names = list(order) if isinstance(order, str) else list(order)
    try:
        canon = "".join(DIMS[dim_index(n)] for n in names)
    except LayerSpecError as exc:
        raise MappingSpecError(f"{field}: {exc}") from None
    if sorted(canon) != sorted(DIMS):
        raise MappingSpecError(
            f"{field}: {''.join(names)!r} is not a permutation of {''.join(DIMS)} (outermost first)")
    return canon


@dataclass(frozen=True)
class Mapping:
    """Factors per level (tuples over N, K, C, Y, X, R, S) and loop orders (outermost first)."""

    dram: tuple[int, ...]
    l2: tuple[int, ...]
    spatial: tuple[int, ...]
    l1: tuple[int, ...]
    dram_order: str = "NKCYXRS"
    l2_order: str = "NKCYXRS"
    l1_order: str = "NKCYXRS"
    label: str = field(default="", compare=False)  # where the mapping came from; not part of its identity

    def __post_init__(self) -> None:
        for level in ("dram", "l2", "spatial", "l1"):
            object.__setattr__(self, level, _factors(level, getattr(self, level)))
        for level in TEMPORAL_LEVELS:
            name = f"{level}_order"
            object.__setattr__(self, name, _order(name, getattr(self, name)))

    @cached_property
    def factor_array(self) -> np.ndarray:
        """int64[4, 7]: rows L1, spatial, L2, DRAM (see F_*)."""
        return np.array([self.l1, self.spatial, self.l2, self.dram], dtype=np.int64)

    @cached_property
    def order_array(self) -> np.ndarray:
        """int64[3, 7]: rows L1, L2, DRAM (see O_*), each a permutation of dim indices, outermost first."""
        return np.array([[DIMS.index(c) for c in o] for o in (self.l1_order, self.l2_order,
                                                               self.dram_order)], dtype=np.int64)

    def covered_bounds(self) -> tuple[int, ...]:
        """Per dim, the product of the factors of all levels (>= the layer's bound; more = padding)."""
        return tuple(int(v) for v in self.factor_array.prod(axis=0))

    @classmethod
    def from_arrays(cls, factors: np.ndarray, orders: np.ndarray, label: str = "") -> "Mapping":
        f = [tuple(int(v) for v in row) for row in np.asarray(factors)]
        o = ["".join(DIMS[int(i)] for i in row) for row in np.asarray(orders)]
        return cls(dram=f[F_DRAM], l2=f[F_L2], spatial=f[F_SPATIAL], l1=f[F_L1],
                   dram_order=o[O_DRAM], l2_order=o[O_L2], l1_order=o[O_L1], label=label)

    def to_dict(self) -> dict:
        def nz(f):
            return {d: v for d, v in zip(DIMS, f) if v > 1}
        return {"dram": {"factors": nz(self.dram), "order": self.dram_order},
                "l2": {"factors": nz(self.l2), "order": self.l2_order},
                "spatial": {"factors": nz(self.spatial)},
                "l1": {"factors": nz(self.l1), "order": self.l1_order},
                **({"label": self.label} if self.label else {})}

    def loop_nest(self, parallel_dims: Sequence[str] = (), dim_names: MappingT[str, str] | None = None) -> str:
        """The mapping printed as a loop nest, like Timeloop's mapping output (trivial loops hidden);
        ``dim_names`` renames dims in the printout (a matrix product's GEMM names: ``ConvLayer.dim_names``)."""
        show = dim_names or {}
        lines, depth = [], 0
        for level, factors, order in (("DRAM", self.dram, self.dram_order),
                                      ("L2", self.l2, self.l2_order)):
            lines.append(f"{'  ' * depth}{level}")
            for d in order:
                f = factors[DIMS.index(d)]
                if f > 1:
                    lines.append(f"{'  ' * depth}| for {show.get(d, d)} in [0:{f})")
                    depth += 1
        par = [(d, self.spatial[DIMS.index(d)]) for d in DIMS if self.spatial[DIMS.index(d)] > 1]
        for d, f in par:
            axis = f" (array dim {list(parallel_dims).index(d)})" if d in parallel_dims else ""
            lines.append(f"{'  ' * depth}| par-for {show.get(d, d)} in [0:{f}){axis}")
            depth += 1
        lines.append(f"{'  ' * depth}L1 (per PE)")
        for d in self.l1_order:
            f = self.l1[DIMS.index(d)]
            if f > 1:
                lines.append(f"{'  ' * depth}| for {show.get(d, d)} in [0:{f})")
                depth += 1
        lines.append(f"{'  ' * depth}<< MAC >>")
        return "\n".join(lines)
