"""The cost model's Python entry points: validate, convert, call the kernels, wrap the results."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numba
import numpy as np

from mapping.spec import Mapping, MappingSpecError
from nn_space.layers import DIM_ALIASES, DIMS, ConvLayer, Network, uncosted_totals

from .accelerator import Accelerator
from .kernel import evaluate_batch, evaluate_batch_parallel, evaluate_into, layer_vector
from .stats import ACTIONS, LEVELS, NUM_STATS, STAT_INDEX, TENSOR_KEYS
from .status import SPATIAL_TOO_LARGE, reason


class InvalidMappingError(MappingSpecError):
    """A mapping the model refuses to cost (overflowing buffer, uncovered dim, ...), with the reason."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@lru_cache(maxsize=4096)
def layer_array(layer: ConvLayer) -> np.ndarray:
    """The int64 vector the kernels take for a layer (cached: layers are immutable)."""
    v = layer_vector(layer.loop_bounds, layer.stride_y, layer.stride_x, layer.relevance, layer.repeats)
    v.flags.writeable = False
    return v


def _limits(acc: Accelerator) -> dict:
    part = [int(b * 8 // acc.word_bits) for b in acc.l1_partition] if acc.l1_partition else None
    return {"l1_words": acc.l1_words, "l2_words": acc.l2_words, "l1_part": part}


def explain_status(stats: np.ndarray, acc: Accelerator, mapping: Mapping | None = None) -> str:
    """Why a mapping is invalid; with the ``mapping``, a too large spatial fan-out names its dims and factors."""
    code = int(stats[STAT_INDEX["status"]])
    kind, detail = divmod(code, 16)
    if mapping is not None and kind == SPATIAL_TOO_LARGE:
        return _spatial_reason(detail, acc, mapping)
    return reason(code, stats, _limits(acc))


_TIMELOOP_NAME = {v: k for k, v in DIM_ALIASES.items() if len(k) == 1}  # K -> M, Y -> P, X -> Q


def _spatial_reason(detail: int, acc: Accelerator, mapping: Mapping) -> str:
    timeloop = mapping.label.startswith("Timeloop")  # read from a Timeloop file: its dim names too

    def _dim_factor(d: str, f: int) -> str:
        alias = _TIMELOOP_NAME.get(d) if timeloop else None
        return f"{d}={f}" + (f" (Timeloop {alias})" if alias else "")

    axes = ", ".join(f"{a.size} ({a.label})" for a in acc.array)
    if detail >= 8 and detail - 8 < len(acc.array):
        i = detail - 8
        a = acc.array[i]
        used = [(d, mapping.spatial[DIMS.index(d)]) for d in a.dims]
        prod = int(np.prod([f for _, f in used]))
        listed = " x ".join(_dim_factor(d, f) for d, f in used if f > 1) or "none > 1"
        return (f"spatial factors on array axis {i} ({a.label}): {listed} = {prod}, more than the axis size "
                f"{a.size} (allowed: a product <= {a.size})")
    if detail < len(DIMS):
        d = DIMS[detail]
        return (f"spatial factor {_dim_factor(d, mapping.spatial[detail])}, but no array axis parallelizes {d} "
                f"(the array's axes: {axes}; allowed: spatial {d}=1)")
    return reason(detail + 16 * SPATIAL_TOO_LARGE)


class CostView:
    """Named access to a kernel result vector: ``cost['edp']`` and the usual properties."""

    def __getitem__(self, name: str) -> float:
        raise NotImplementedError

    @property
    def energy(self) -> float:
        return self["energy"]

    @property
    def cycles(self) -> float:
        return self["cycles"]

    @property
    def edp(self) -> float:
        return self["edp"]

    @property
    def utilization(self) -> float:
        return self["utilization"]

    @property
    def macs(self) -> int:
        return int(self["macs"])


@dataclass(frozen=True, eq=False)
class LayerCost(CostView):
    """The cost of one layer under one mapping: a view over the kernel's result vector."""

    layer: ConvLayer
    mapping: Mapping
    stats: np.ndarray
    energy_unit: str

    def __getitem__(self, name: str) -> float:
        return float(self.stats[STAT_INDEX[name]])

    @property
    def valid(self) -> bool:
        return self.stats[0] == 0

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        """{level: {tensor: {reads, fills, updates}}} summed over PEs (level: l1, l2, dram)."""
        return {lvl: {t: {a: int(self[f"{lvl}_{t}_{a}"]) for a in ACTIONS} for t in TENSOR_KEYS}
                for lvl in LEVELS}

    def energy_breakdown(self) -> dict[str, float]:
        return {k: self[f"energy_{k}"] for k in ("mac", "l1", "noc", "l2", "dram")}

    def to_dict(self) -> dict:
        return {"layer": self.layer.name, "shape": self.layer.describe(),
                **{name: (int(v) if float(v).is_integer() else float(v))
                   for name, v in zip(STAT_INDEX, self.stats)},
                "energy_unit": self.energy_unit, "mapping": self.mapping.to_dict()}


def evaluate_stats(layer: ConvLayer, acc: Accelerator, mapping: Mapping,
                   out: np.ndarray | None = None) -> np.ndarray:
    """The raw result vector (status 0 = valid); the fastest single-call path."""
    if out is None:
        out = np.empty(NUM_STATS, dtype=np.float64)
    evaluate_into(layer_array(layer), acc.hw_vector, mapping.factor_array, mapping.order_array, out)
    return out


def evaluate_layer(layer: ConvLayer, acc: Accelerator, mapping: Mapping) -> LayerCost:
    """Cost one layer under one mapping; raises ``InvalidMappingError`` saying why it is invalid."""
    stats = evaluate_stats(layer, acc, mapping)
    if stats[0] != 0:
        where = f"layer {layer.name!r}" if layer.name else f"layer {layer.describe()}"
        raise InvalidMappingError(f"{where} on {acc.name}: {explain_status(stats, acc, mapping)}", int(stats[0]))
    stats.flags.writeable = False
    return LayerCost(layer, mapping, stats, acc.energy.unit)


#: Smallest batch the parallel kernels get by default (``parallel=None``). A parallel call pays a thread
#: start-up of a few microseconds, so below some size the serial kernel is faster. Measured on the 2-core
#: development machine (numba 0.68, omp threading layer, 2 threads vs serial, median of 7 x 50 calls
#: alternated; random mappings of ResNet-50 layer 5, 15% valid on eyeriss, 3% on eyeriss-hier): with both
#: cores free the 3-level kernel breaks even at ~32 rows (32: 1.05x, 64: 1.3x, 128: 1.7x, 256: 1.7-1.9x) and
#: the hierarchy kernel at ~64 (64: 1.0x, 128: 1.3-1.7x, 256: 1.5-1.8x; it hands out blocks of 64 rows);
#: with the other core busy (shared machine) both break even at ~100-128 rows (256: 1.2-1.3x). 256 keeps a
#: margin and keeps the mapping searches' populations (10-60 rows, a few hundred after IPOP restarts at
#: large budgets) on the serial kernel.
PARALLEL_MIN_BATCH = 256

_forked = False  # set in a child forked from this process: GNU OpenMP's thread pool does not survive fork


def _after_fork() -> None:
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def use_parallel(batch: int, parallel: bool | None = None) -> bool:
    """Whether a kernel call on ``batch`` rows takes the parallel kernel: ``parallel`` if given, else only
    when the batch has at least ``PARALLEL_MIN_BATCH`` rows and Numba has more than one thread
    (``numba.get_num_threads()``; worker processes run with NUMBA_NUM_THREADS=1, see
    ``naas.executor.THREAD_LIMITS``, so they stay on the serial kernel) and this is not a forked child."""
    if parallel is not None:
        return bool(parallel)
    if batch < PARALLEL_MIN_BATCH or _forked or numba.config.NUMBA_NUM_THREADS < 2:
        return False  # checked first: get_num_threads() starts the threading layer
    return numba.get_num_threads() > 1


def evaluate_mappings(layer: ConvLayer, acc: Accelerator, factors: np.ndarray, orders: np.ndarray,
                      out: np.ndarray | None = None, parallel: bool | None = None) -> np.ndarray:
    """Cost many mappings of one layer in one kernel call.

    ``factors`` int64[B, 4, 7] (rows L1, spatial, L2, DRAM), ``orders`` int64[B, 3, 7] (rows L1, L2, DRAM).
    Returns float64[B, NUM_STATS]; rows with status != 0 are invalid (EDP 0: filter on status).
    ``parallel``: spread the rows over Numba's threads (``numba.get_num_threads()``); None (the default)
    does so for batches of at least ``PARALLEL_MIN_BATCH`` rows when there is more than one thread (see
    ``use_parallel``). The results are the same, bit for bit, either way.
    """
    factors = np.ascontiguousarray(factors, dtype=np.int64)
    orders = np.ascontiguousarray(orders, dtype=np.int64)
    if factors.ndim != 3 or factors.shape[1:] != (4, 7):
        raise ValueError(f"factors: shape {factors.shape} (expected (B, 4, 7))")
    if orders.shape != (factors.shape[0], 3, 7):
        raise ValueError(f"orders: shape {orders.shape} (expected ({factors.shape[0]}, 3, 7))")
    if out is None:
        out = np.empty((factors.shape[0], NUM_STATS), dtype=np.float64)
    kernel = evaluate_batch_parallel if use_parallel(factors.shape[0], parallel) else evaluate_batch
    kernel(layer_array(layer), acc.hw_vector, factors, orders, out)
    return out


class NetworkTotals:
    """Totals of per-layer costs in execution order (SPEC §5: EDP = ΣE x Σlatency); the class using it
    names its hardware through ``_hardware`` (name, energy unit, clock, MAC units)."""

    layers: tuple
    network: str
    mapping_source: str
    uncosted: tuple  # the network's UncostedOps (operations the model does not cost)

    def _hardware(self) -> tuple[str, str, float, int]:
        raise NotImplementedError

    @property
    def energy(self) -> float:
        return sum(lc.energy for lc in self.layers)

    @property
    def cycles(self) -> float:
        return sum(lc.cycles for lc in self.layers)

    @property
    def edp(self) -> float:
        return self.energy * self.cycles

    @property
    def macs(self) -> int:
        return sum(lc.macs for lc in self.layers)

    @property
    def latency_s(self) -> float:
        return self.cycles / self._hardware()[2]

    @property
    def utilization(self) -> float:
        return self.macs / (self._hardware()[3] * self.cycles)

    def energy_breakdown(self) -> dict[str, float]:
        total: dict[str, float] = {}
        for lc in self.layers:
            for k, v in lc.energy_breakdown().items():
                total[k] = total.get(k, 0.0) + v
        return total

    def totals(self) -> dict:
        name, unit, _, _ = self._hardware()
        return {"network": self.network, "accelerator": name,
                "mapping": self.mapping_source, "layers": len(self.layers),
                "unique_shapes": len({lc.layer.shape_key for lc in self.layers}),
                "macs": self.macs, "energy": self.energy, "energy_unit": unit,
                "cycles": self.cycles, "latency_s": self.latency_s, "edp": self.edp,
                "utilization": self.utilization,
                **{f"energy_{k}": v for k, v in self.energy_breakdown().items()},
                "uncosted": {op: {"count": c, "elements": e} for op, (c, e) in uncosted_totals(self.uncosted).items()}}


@dataclass(frozen=True, eq=False)
class NetworkCost(NetworkTotals):
    """Per-layer costs of a network on the 3-level template, and the totals."""

    network: str
    accelerator: Accelerator
    layers: tuple[LayerCost, ...]
    mapping_source: str
    uncosted: tuple = ()

    def _hardware(self) -> tuple[str, str, float, int]:
        a = self.accelerator
        return a.name, a.energy.unit, a.clock_hz, a.num_pes

    def to_frame(self):
        """One row per layer (pandas DataFrame)."""
        import pandas as pd

        rows = []
        for lc in self.layers:
            d = lc.to_dict()
            d.pop("mapping")
            rows.append(d)
        return pd.DataFrame(rows)


Mapper = Callable[[ConvLayer, Accelerator], Mapping]


class NetworkEvaluationError(MappingSpecError):
    """Some layers could not be mapped; ``partial`` holds the costs of all the others."""

    def __init__(self, errors: list[str], partial: NetworkCost):
        super().__init__("; ".join(errors))
        self.errors = errors
        self.partial = partial


def evaluate_network(network: Network, acc: Accelerator, mapper: Mapper,
                     mapping_source: str = "") -> NetworkCost:
    """Cost every layer of a network, mapping and costing each distinct layer shape once.

    A layer that cannot be mapped does not stop the others: ``NetworkEvaluationError`` is raised at the
    end with every reason and the partial result.
    """
    by_shape: dict[tuple, LayerCost | str] = {}
    layers, errors = [], []
    for layer in network.layers:
        cached = by_shape.get(layer.shape_key)
        if cached is None:
            try:
                cached = evaluate_layer(layer, acc, mapper(layer, acc))
            except MappingSpecError as exc:
                cached = str(exc)
                errors.append(cached)
            by_shape[layer.shape_key] = cached
        if isinstance(cached, LayerCost):
            layers.append(LayerCost(layer, cached.mapping, cached.stats, cached.energy_unit))
    cost = NetworkCost(network.name, acc, tuple(layers), mapping_source, network.uncosted)
    if errors:
        raise NetworkEvaluationError(errors, cost)
    return cost

