"""Python entry points of the general-hierarchy model: validate, convert, call the kernel, name the results."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mapping.nest import NestMapping
from mapping.spec import MappingSpecError
from nn_space.layers import DIMS, ConvLayer

from .accelerator import TENSORS
from .evaluate import CostView, layer_array, use_parallel
from .hierarchy import Hierarchy
from .nest_kernel import nest_evaluate_batch, nest_evaluate_batch_parallel, nest_evaluate_into, new_workspace
from .nest_layout import (ACTIONS, BAD_FACTOR, BAD_ORDER, CAPACITY, LEVEL_FIELDS, NOT_COVERED, NS,
                          OVER_COVERED, P_TILES, PER, R_STATUS, R_STATUS_DETAIL, R_STATUS_LEVEL, SCALARS,
                          SPATIAL_NO_AXIS, SPATIAL_TOO_LARGE, TENSOR_KEYS, result_size)

DATASPACE_NAMES = {"W": "Weights", "I": "Inputs", "O": "Outputs"}  # Timeloop's data-space names


class InvalidNestMappingError(MappingSpecError):
    """A mapping the hierarchy model refuses to cost, with the reason."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def explain_nest_status(out: np.ndarray, hier: Hierarchy, mapping=None) -> str:
    """A sentence naming the level, the tensor / dim / axis and the sizes involved (with the ``mapping``, a
    too large fan-out also names its dims' factors)."""
    kind, lv, detail = int(out[R_STATUS]), int(out[R_STATUS_LEVEL]), int(out[R_STATUS_DETAIL])
    name = hier.levels[lv].name if 0 <= lv < hier.num_levels else f"level {lv}"
    if kind == 0:
        return "valid"
    if kind == BAD_ORDER:
        return f"loop order of level {name} is not a permutation of {''.join(DIMS)}"
    if kind == BAD_FACTOR:
        return f"a factor of {DIMS[detail]} at level {name} is < 1"
    if kind == NOT_COVERED:
        return f"factors of {DIMS[detail]} multiply to less than the layer's {DIMS[detail]} bound"
    if kind == OVER_COVERED:
        return (f"factors of {DIMS[detail]} pad more than needed: the factor at level {name} can be "
                f"dropped and the rest still cover the bound")
    if kind == SPATIAL_NO_AXIS:
        axes = hier.levels[lv].fanout
        has = ", ".join(a.label for a in axes) if axes else "no fan-out"
        return f"spatial factor on {DIMS[detail]} below level {name}, whose fan-out parallelizes {has}"
    if kind == SPATIAL_TOO_LARGE:
        a = hier.levels[lv].fanout[detail]
        if mapping is not None and 0 <= lv < len(mapping.levels):
            sp = mapping.levels[lv].spatial
            used = [(d, int(sp[DIMS.index(d)])) for d in a.dims]
            listed = " x ".join(f"{d}={f}" for d, f in used if f > 1) or "none > 1"
            return (f"spatial factors on axis {detail} ({a.label}) below level {name}: {listed} = "
                    f"{math.prod(f for _, f in used)}, more than its size {a.size} (allowed: a product <= "
                    f"{a.size})")
        return (f"spatial factors on axis {detail} ({a.label}) below level {name} multiply to more than "
                f"its size {a.size}")
    if kind == CAPACITY:
        tiles = out[NS + lv * PER + P_TILES: NS + lv * PER + P_TILES + 3]
        lvl = hier.levels[lv]
        bits = hier.tensor_bits
        if detail < 3:
            t = TENSORS[detail]
            return (f"level {name} overflows: the {t} tile is {int(tiles[detail])} words "
                    f"({tiles[detail] * bits[detail] / 8:g} B), its {t} capacity {lvl.partition[detail]:g} B")
        need = sum(tiles[i] * bits[i] for i in range(3) if TENSORS[i] in lvl.keeps) / 8
        held = ", ".join(f"{TENSOR_KEYS[i]} {int(tiles[i])}" for i in range(3) if TENSORS[i] in lvl.keeps)
        return f"level {name} overflows: its tiles ({held} words) take {need:g} B, it holds {lvl.size_bytes:g} B"
    return f"unknown status {kind}"


def _check_levels(hier: Hierarchy, levels: int) -> None:
    if levels != hier.num_levels:
        raise MappingSpecError(f"mapping: {levels} levels, {hier.name} has {hier.num_levels} "
                               f"({', '.join(hier.level_names)})")


@dataclass(frozen=True, eq=False)
class NestCost(CostView):
    """The cost of one layer under one mapping on a hierarchy: a view over the kernel's result vector."""

    layer: ConvLayer
    hierarchy: Hierarchy
    mapping: NestMapping
    stats: np.ndarray

    def __getitem__(self, name: str) -> float:
        return float(self.stats[SCALARS.index(name)])

    def level(self, index_or_name: int | str, field: str) -> float:
        i = index_or_name if isinstance(index_or_name, int) else self.hierarchy.level_index(index_or_name)
        return float(self.stats[NS + i * PER + LEVEL_FIELDS.index(field)])

    def energy_breakdown(self) -> dict[str, float]:
        """'mac', each level's accesses, and the network words each level sends ('network from <level>')."""
        out = {"mac": self["energy_mac"]}
        for i, lv in enumerate(self.hierarchy.levels):
            out[lv.name] = self.level(i, "energy")
            if self.level(i, "energy_network"):
                out[f"network from {lv.name}"] = self.level(i, "energy_network")
        return out

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """{level name: {Weights/Inputs/Outputs: {reads, fills, updates}}}, totals over instances."""
        return {lv.name: {DATASPACE_NAMES[t]: {a: int(self.level(i, f"{t}_{a}")) for a in ACTIONS}
                          for t in TENSOR_KEYS}
                for i, lv in enumerate(self.hierarchy.levels)}

    def to_dict(self) -> dict:
        return {"layer": self.layer.name, "shape": self.layer.describe(),
                **{k: self[k] for k in SCALARS if not k.startswith("status")},
                "levels": {lv.name: {f: self.level(i, f) for f in LEVEL_FIELDS}
                           for i, lv in enumerate(self.hierarchy.levels)},
                "mapping": self.mapping.to_dict(self.hierarchy.level_names)}


def nest_stats(layer: ConvLayer, hier: Hierarchy, mapping: NestMapping) -> np.ndarray:
    """The raw result vector (status 0 = valid)."""
    _check_levels(hier, mapping.num_levels)
    out = np.empty(result_size(hier.num_levels), dtype=np.float64)
    nest_evaluate_into(layer_array(layer), hier.hw_array, hier.glob_vector, mapping.temporal_array,
                       mapping.spatial_array, mapping.order_array, out, new_workspace(hier.num_levels))
    return out


def evaluate_nest(layer: ConvLayer, hier: Hierarchy, mapping: NestMapping) -> NestCost:
    """Cost one layer under one mapping; raises ``InvalidNestMappingError`` saying why it is invalid."""
    stats = nest_stats(layer, hier, mapping)
    if stats[R_STATUS] != 0:
        where = f"layer {layer.name!r}" if layer.name else f"layer {layer.describe()}"
        raise InvalidNestMappingError(f"{where} on {hier.name}: {explain_nest_status(stats, hier, mapping)}",
                                      int(stats[R_STATUS]))
    stats.flags.writeable = False
    return NestCost(layer, hier, mapping, stats)


def evaluate_nests(layer: ConvLayer, hier: Hierarchy, tf: np.ndarray, sf: np.ndarray, orders: np.ndarray,
                   out: np.ndarray | None = None, parallel: bool | None = None) -> np.ndarray:
    """Cost B mappings in one kernel call: tf, sf, orders int64[B, L, 7]; returns float64[B, S].

    ``parallel``: spread the rows over Numba's threads; None (the default) does so for large batches only
    (``cost_model.evaluate.use_parallel``). The results are the same, bit for bit, either way.
    """
    arrays = [np.ascontiguousarray(a, dtype=np.int64) for a in (tf, sf, orders)]
    shape = (arrays[0].shape[0], hier.num_levels, 7)
    for label, a in zip(("tf", "sf", "orders"), arrays):
        if a.shape != shape:
            raise ValueError(f"{label}: shape {a.shape} (expected {shape})")
    if out is None:
        out = np.empty((shape[0], result_size(hier.num_levels)), dtype=np.float64)
    kernel = nest_evaluate_batch_parallel if use_parallel(shape[0], parallel) else nest_evaluate_batch
    kernel(layer_array(layer), hier.hw_array, hier.glob_vector, *arrays, out)
    return out
