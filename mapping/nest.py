"""A mapping on a general hierarchy (SPEC §10): per storage level, temporal factors and a loop order, and
the spatial factors of the fan-out below it.

The loop nest, outermost first::

    for <levels[0].order> with levels[0].factors          # DRAM
      parallel-for levels[0].spatial                       # the fan-out below DRAM (if any)
        for <levels[1].order> with levels[1].factors
          parallel-for levels[1].spatial
            ...                                            # down to the innermost level, then the MAC
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping as MappingT, Sequence

import numpy as np

from nn_space.layers import DIMS

from .spec import Mapping, MappingSpecError, _factors, _order


@dataclass(frozen=True)
class LevelMapping:
    """One level's loops: temporal factors, their order (outermost first) and the fan-out's factors."""

    factors: tuple[int, ...] = (1,) * 7
    order: str = "NKCYXRS"
    spatial: tuple[int, ...] = (1,) * 7

    def validated(self, where: str) -> "LevelMapping":
        return LevelMapping(_factors(f"{where}.factors", self.factors), _order(f"{where}.order", self.order),
                            _factors(f"{where}.spatial", self.spatial))


@dataclass(frozen=True)
class NestMapping:
    """Loops per storage level, outermost (DRAM) first."""

    levels: tuple[LevelMapping, ...]
    label: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.levels:
            raise MappingSpecError("mapping: no levels")
        object.__setattr__(self, "levels", tuple(lm.validated(f"levels[{i}]")
                                                 for i, lm in enumerate(self.levels)))

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    @cached_property
    def temporal_array(self) -> np.ndarray:
        """int64[L, 7]: temporal factors, level 0 (outermost) first."""
        return np.array([lm.factors for lm in self.levels], dtype=np.int64)

    @cached_property
    def spatial_array(self) -> np.ndarray:
        """int64[L, 7]: spatial factors of the fan-out below each level."""
        return np.array([lm.spatial for lm in self.levels], dtype=np.int64)

    @cached_property
    def order_array(self) -> np.ndarray:
        """int64[L, 7]: each level's order as dim indices, outermost first."""
        return np.array([[DIMS.index(c) for c in lm.order] for lm in self.levels], dtype=np.int64)

    def covered_bounds(self) -> tuple[int, ...]:
        return tuple(int(v) for v in (self.temporal_array * self.spatial_array).prod(axis=0))

    @classmethod
    def from_arrays(cls, tf: np.ndarray, sf: np.ndarray, orders: np.ndarray, label: str = "") -> "NestMapping":
        return cls(tuple(LevelMapping(tuple(int(v) for v in t), "".join(DIMS[int(i)] for i in o),
                                      tuple(int(v) for v in s))
                         for t, s, o in zip(np.asarray(tf), np.asarray(sf), np.asarray(orders))), label)

    @classmethod
    def from_template(cls, m: Mapping) -> "NestMapping":
        """A 3-level template mapping as a nest on DRAM -> L2 (array below) -> L1."""
        return cls((LevelMapping(m.dram, m.dram_order), LevelMapping(m.l2, m.l2_order, m.spatial),
                    LevelMapping(m.l1, m.l1_order)), m.label)

    def to_dict(self, names: Sequence[str] | None = None) -> dict[str, Any]:
        def nz(f):
            return {d: v for d, v in zip(DIMS, f) if v > 1}
        levels = []
        for i, lm in enumerate(self.levels):
            d: dict[str, Any] = {"target": names[i]} if names else {}
            d.update(factors=nz(lm.factors), order=lm.order)
            if any(v > 1 for v in lm.spatial):
                d["spatial"] = nz(lm.spatial)
            levels.append(d)
        return {"levels": levels, **({"label": self.label} if self.label else {})}

    def loop_nest(self, names: Sequence[str] | None = None, dim_names: MappingT[str, str] | None = None) -> str:
        """The loop nest as text, like Timeloop's mapping printout (trivial loops hidden); ``dim_names``
        renames dims in the printout (a matrix product's GEMM names: ``ConvLayer.dim_names``)."""
        show = dim_names or {}
        lines, depth = [], 0
        for i, lm in enumerate(self.levels):
            lines.append(f"{'  ' * depth}{names[i] if names else f'level {i}'}")
            for d in lm.order:
                f = lm.factors[DIMS.index(d)]
                if f > 1:
                    lines.append(f"{'  ' * depth}| for {show.get(d, d)} in [0:{f})")
                    depth += 1
            for d, f in zip(DIMS, lm.spatial):
                if f > 1:
                    lines.append(f"{'  ' * depth}| par-for {show.get(d, d)} in [0:{f})")
                    depth += 1
        lines.append(f"{'  ' * depth}<< MAC >>")
        return "\n".join(lines)


def nest_mapping_from_dict(doc: Any, names: Sequence[str], origin: str = "mapping") -> NestMapping:
    """Read ``{levels: [{target, factors, order, spatial}, ...]}``; targets name levels of ``names``.

    Levels not listed get no loops. Each error names the file, the entry and the value.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("levels"), list):
        raise MappingSpecError(f"{origin}: expected a mapping with a 'levels' list of "
                               f"{{target, factors, order, spatial}} entries")
    out = [LevelMapping() for _ in names]
    seen = set()
    for i, entry in enumerate(doc["levels"]):
        where = f"{origin}: levels[{i}]"
        if not isinstance(entry, dict):
            raise MappingSpecError(f"{where}: {entry!r} is not a mapping")
        extra = set(entry) - {"target", "factors", "order", "spatial"}
        if extra:
            raise MappingSpecError(f"{where}: unknown field {sorted(extra)[0]!r} "
                                   f"(allowed: target, factors, order, spatial)")
        target = entry.get("target")
        if target not in names:
            raise MappingSpecError(f"{where}.target: {target!r} (allowed: {', '.join(names)})")
        if target in seen:
            raise MappingSpecError(f"{where}.target: {target!r} is listed twice")
        seen.add(target)
        lm = LevelMapping(entry.get("factors", {}) or {}, entry.get("order", "NKCYXRS"),
                          entry.get("spatial", {}) or {})
        out[list(names).index(target)] = lm.validated(f"{where}")
    return NestMapping(tuple(out), label=str(doc.get("label", "")))


def template_arrays(factors: np.ndarray, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched 3-level arrays (factors [B, 4, 7] rows L1, spatial, L2, DRAM; orders [B, 3, 7] rows L1, L2,
    DRAM) as nest arrays (tf, sf, orders [B, 3, 7], levels DRAM, L2, L1) for ``hierarchy_from_accelerator``."""
    from .spec import F_DRAM, F_L1, F_L2, F_SPATIAL, O_DRAM, O_L1, O_L2

    factors = np.asarray(factors)
    tf = np.ascontiguousarray(factors[:, [F_DRAM, F_L2, F_L1]], dtype=np.int64)
    sf = np.ones_like(tf)
    sf[:, 1] = factors[:, F_SPATIAL]
    return tf, sf, np.ascontiguousarray(np.asarray(orders)[:, [O_DRAM, O_L2, O_L1]], dtype=np.int64)
