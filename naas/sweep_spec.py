"""The sweep file of ``naas sweep``: a base accelerator, parameters overridden by dotted path, grid or random.

A sweep file (YAML)::

    base: eyeriss                  # built-in name, a path to an accelerator YAML, or an inline accelerator
    method: grid                   # grid (every combination) or random (``samples`` distinct combinations)
    samples: 50                    # random only
    seed: 0                        # random sampling and mapping search
    networks: [resnet50]           # default; --networks on the command line wins
    mapping: search                # search (per-layer mapping search, inner_budget evaluations per shape)
    inner_budget: 300              #   or default (the dataflow's fixed default mapping: fast, pessimistic)
    inner_start: best-default      # where each mapping search starts, and its step size (as naas search's)
    inner_sigma0: 0.15
    area: {bytes_per_pe: 256}      # area proxy: #PEs + on-chip bytes / bytes_per_pe (see ``area_proxy``)
    parameters:
      array[0].size: [8, 12, 16]
      l2.size: {from: 32, to: 256, factor: 2, unit: KiB}     # 32, 64, 128, 256 KiB
      l1.size: {from: 256, to: 1024, step: 256, unit: B}     # 256, 512, 768, 1024 B
      l1.partition: [null]                                   # null removes the field (one unified L1)
      dram.bandwidth: [2, 4, 8]

A parameter path walks the accelerator's YAML form (``naas evaluate -a X --format json`` shows it):
``name.name``, ``name[i]`` for list entries; the value replaces what is there (any YAML value, a whole
``array`` list included). Setting ``X.bandwidth`` drops ``X.read_bandwidth``/``X.write_bandwidth`` and vice
versa, since an accelerator file takes one or the other. Every combination is validated as an accelerator
file would be before anything runs; an invalid one is an error naming the combination, unless
``skip_invalid: true``, in which case it is stored as a design with that error and no cost.
"""
from __future__ import annotations

import copy
import difflib
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping as MappingT

import numpy as np

from cost_model.accelerator import (Accelerator, AcceleratorSpecError, accelerator_from_dict,
                                    load_accelerator)
from cost_model.units import finite_number
from cost_model.yaml_files import path_exists, read_yaml_file, shown_key
from nn_space.zoo import get_network

from .config_checks import check_inner_start
from .hardware_search import HardwareSearchConfig as _HW

METHODS = ("grid", "random")
MAPPINGS = ("search", "default")
_TOP_KEYS = {"base", "method", "samples", "seed", "networks", "mapping", "inner_budget", "inner_start",
             "inner_sigma0", "area", "parameters", "skip_invalid"}
_AREA_KEYS = {"bytes_per_pe"}
#: Area proxy default: one PE (16-bit MAC, its control and registers) ~ the area of 256 B of SRAM. An
#: assumption for ranking designs, not a measurement; set ``area.bytes_per_pe`` for your technology.
DEFAULT_BYTES_PER_PE = 256.0
_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")
#: Most values one parameter may take (a range is sized before it is built).
MAX_VALUES = 100_000
_NUMBER_TEXT = re.compile(r"\s*[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?\s*")


class SweepSpecError(ValueError):
    """A sweep file that cannot be run as written; the message names the field and the value."""


@dataclass(frozen=True)
class SweepParameter:
    """One swept field: its dotted path in the accelerator's YAML form and the values it takes."""

    path: str
    values: tuple

    @property
    def steps(self) -> tuple[str | int, ...]:
        return parse_path(self.path)


@dataclass(frozen=True)
class SweepSpec:
    """Everything that determines a sweep's result (stored, resolved, in the run folder)."""

    base: dict  # the base accelerator's YAML form
    parameters: tuple[SweepParameter, ...]
    networks: tuple[str, ...] = ("resnet50",)
    method: str = "grid"
    samples: int | None = None
    seed: int = 0
    mapping: str = "search"
    inner_budget: int = 300
    inner_start: str = _HW.inner_start  # the mapping searches start as naas search's do
    inner_sigma0: float = _HW.inner_sigma0
    bytes_per_pe: float = DEFAULT_BYTES_PER_PE
    skip_invalid: bool = False

    def __post_init__(self) -> None:
        # sweep_from_dict checked the file's values; the command line replaces some of them (--seed, --samples,
        # --inner-budget) after it
        for name, low in (("seed", 0), ("samples", 1), ("inner_budget", 1)):
            value = getattr(self, name)
            if value is None and name == "samples":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise _override_error(f"{name}: {value!r} (allowed: an integer >= {low})", name)

    @property
    def grid_size(self) -> int:
        return math.prod(len(p.values) for p in self.parameters)

    def to_dict(self) -> dict:
        return {"base": self.base, "parameters": {p.path: list(p.values) for p in self.parameters},
                "networks": list(self.networks), "method": self.method, "samples": self.samples,
                "seed": self.seed, "mapping": self.mapping, "inner_budget": self.inner_budget,
                "inner_start": self.inner_start, "inner_sigma0": self.inner_sigma0,
                "area": {"bytes_per_pe": self.bytes_per_pe}, "skip_invalid": self.skip_invalid}

    @classmethod
    def from_dict(cls, d: dict) -> "SweepSpec":
        return sweep_from_dict(d, origin="run store")

    def points(self) -> list[tuple[int, ...]]:
        """The combinations to evaluate, as value indices per parameter, in evaluation order."""
        sizes = [len(p.values) for p in self.parameters]
        if self.method == "grid":
            return list(itertools.product(*(range(n) for n in sizes)))
        return _random_points(sizes, int(self.samples or 0), self.seed)

    def overrides(self, point: tuple[int, ...]) -> dict[str, Any]:
        return {p.path: p.values[i] for p, i in zip(self.parameters, point)}

    def design(self, point: tuple[int, ...], index: int) -> dict:
        """The accelerator dict of one combination (not yet validated)."""
        doc = apply_overrides(self.base, self.overrides(point))
        doc["name"] = f"{self.base['name']}-sweep-{index}"
        doc["description"] = f"{self.base['name']} with {self.describe_point(point)}"
        doc.pop("sources", None)  # the base's citations do not describe the changed fields
        return doc

    def describe_point(self, point: tuple[int, ...]) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.overrides(point).items())


def _random_points(sizes: list[int], samples: int, seed: int) -> list[tuple[int, ...]]:
    """``samples`` distinct combinations drawn uniformly (all of them, in grid order, if there are fewer)."""
    total = math.prod(sizes)
    if samples >= total:
        return list(itertools.product(*(range(n) for n in sizes)))
    rng = np.random.default_rng(seed)
    if total <= 10_000_000:
        flat = rng.choice(total, size=samples, replace=False)
        return [tuple(int(i) for i in np.unravel_index(int(f), sizes)) for f in flat]
    seen: dict[tuple[int, ...], None] = {}
    while len(seen) < samples:
        seen.setdefault(tuple(int(rng.integers(n)) for n in sizes), None)
    return list(seen)


# --- dotted paths ----------------------------------------------------------------------------------
def parse_path(path: str) -> tuple[str | int, ...]:
    """``'array[0].size'`` -> ``('array', 0, 'size')``."""
    if not isinstance(path, str) or not path:
        raise SweepSpecError(f"parameters: {path!r} is not a dotted path such as 'l2.size' or 'array[0].size'")
    steps: list[str | int] = []
    for part in path.split("."):
        m = _PATH_PART.fullmatch(part)
        if not m:
            raise SweepSpecError(f"parameters.{shown_key(path)}: {part!r} is not a field name, optionally indexed "
                                 f"(write e.g. 'l2.size' or 'array[0].size')")
        steps.append(m.group(1))
        steps += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    return tuple(steps)


_BANDWIDTH_FAMILY = {"bandwidth": ("read_bandwidth", "write_bandwidth"),
                     "read_bandwidth": ("bandwidth",), "write_bandwidth": ("bandwidth",)}


def apply_overrides(base: dict, overrides: MappingT[str, Any]) -> dict:
    """A copy of ``base`` with each dotted path set to its value (``None`` removes the field)."""
    doc = copy.deepcopy(base)
    for path, value in overrides.items():
        steps = parse_path(path)
        node: Any = doc
        for k, step in enumerate(steps[:-1]):
            where = _where(steps[:k + 1])
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    have = f"{len(node)} entries" if isinstance(node, list) else "no list"
                    raise SweepSpecError(f"parameters.{path}: {where} does not exist in the base accelerator "
                                         f"({_where(steps[:k])} has {have})")
                node = node[step]
            else:
                if not isinstance(node, dict):
                    raise SweepSpecError(f"parameters.{path}: {_where(steps[:k])} is not a mapping")
                if node.get(step) is None:
                    node[step] = {}
                node = node[step]
        last = steps[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise SweepSpecError(f"parameters.{path}: {_where(steps)} does not exist in the base accelerator")
            node[last] = copy.deepcopy(value)
            continue
        if not isinstance(node, dict):
            raise SweepSpecError(f"parameters.{path}: {_where(steps[:-1])} is not a mapping")
        for sibling in _BANDWIDTH_FAMILY.get(last, ()):
            if value is not None:
                node.pop(sibling, None)
        if value is None:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return doc


def _where(steps) -> str:
    out = ""
    for s in steps:
        out += f"[{s}]" if isinstance(s, int) else (f".{s}" if out else s)
    return out or "the accelerator"


# --- the file --------------------------------------------------------------------------------------
def _range_number(raw: MappingT, key: str, where: str) -> float | int:
    """A range bound or step: a finite number (YAML 1.1 reads ``1e11`` as text: such text is read as a number)."""
    v = raw.get(key)
    if isinstance(v, str) and _NUMBER_TEXT.fullmatch(v):
        try:
            v = float(v.replace("_", ""))
        except ValueError:
            pass
    if finite_number(v) is None:
        raise SweepSpecError(f"{where}.{key}: {v!r} (allowed: a finite number)")
    return v


def _show(v: float | int) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() and abs(v) < 1e16 else repr(v)


def _values(raw: Any, path: str) -> tuple:
    """A parameter's values: a list, or a range ``{from, to, step | factor, unit}`` (inclusive)."""
    where = f"parameters.{path}"
    if isinstance(raw, list):
        if not raw:
            raise SweepSpecError(f"{where}: an empty list (give at least one value)")
        if len(raw) > MAX_VALUES:
            raise SweepSpecError(f"{where}: {len(raw)} values (allowed: at most {MAX_VALUES})")
        return tuple(raw)
    if not isinstance(raw, MappingT):
        raise SweepSpecError(f"{where}: {raw!r} (allowed: a list of values, or {{from, to, step or factor, "
                             f"unit}})")
    allowed = {"from", "to", "step", "factor", "unit"}
    for key in raw:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            raise SweepSpecError(f"{where}.{shown_key(key)}: unknown field (allowed: {', '.join(sorted(allowed))})"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""))
    lo, hi = _range_number(raw, "from", where), _range_number(raw, "to", where)
    if hi < lo:
        raise SweepSpecError(f"{where}: from {lo!r} is above to {hi!r}")
    if ("step" in raw) == ("factor" in raw):
        raise SweepSpecError(f"{where}: give exactly one of step (arithmetic) or factor (geometric)")
    # the count first: a range is built only if it is small enough
    if "step" in raw:
        step = _range_number(raw, "step", where)
        if not step > 0:
            raise SweepSpecError(f"{where}.step: {step!r} (allowed: a number > 0)")
        ratio = (float(hi) - float(lo)) / float(step)
        count = math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) else math.inf
        kind = f"from {_show(lo)} to {_show(hi)} in steps of {_show(step)}"
    else:
        factor = _range_number(raw, "factor", where)
        if not factor > 1 or not lo > 0:
            raise SweepSpecError(f"{where}.factor: {factor!r} from {lo!r} (allowed: factor > 1, from > 0)")
        ratio = math.log(float(hi) / float(lo)) / math.log(float(factor))
        count = math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) else math.inf
        kind = f"from {_show(lo)} to {_show(hi)} by a factor of {_show(factor)}"
    if count > MAX_VALUES:
        shown = f"{count:.3g}" if count >= 1e15 else str(count)
        raise SweepSpecError(f"{where}: {kind} is {shown} values (allowed: at most {MAX_VALUES}; use a larger "
                             f"step or factor)")
    if "step" in raw:
        values = [lo + i * step for i in range(count)]
    else:
        values = []
        v = float(lo)
        while v <= hi * (1 + 1e-9) and len(values) < count + 1:
            values.append(v)
            v *= factor
    values = [int(round(v)) if float(v).is_integer() or abs(v - round(v)) < 1e-9 else v for v in values]
    unit = raw.get("unit")
    if unit is not None:
        if not isinstance(unit, str):
            raise SweepSpecError(f"{where}.unit: {unit!r} (allowed: a unit such as B, KiB, MHz)")
        return tuple(f"{v} {unit}" for v in values)
    return tuple(values)


def _base(raw: Any, origin: str) -> dict:
    if isinstance(raw, MappingT):
        return accelerator_from_dict(dict(raw), origin=f"{origin}: base").to_dict()
    if isinstance(raw, str):
        path = Path(raw)
        if not path.is_absolute() and not path_exists(path) and origin not in ("<dict>", "run store"):
            sibling = Path(origin).parent / raw  # relative to the sweep file
            if path_exists(sibling):
                path = sibling
        try:
            return load_accelerator(path if path_exists(path) else raw).to_dict()
        except AcceleratorSpecError as exc:
            raise SweepSpecError(f"{origin}: base: {exc}") from None
    raise SweepSpecError(f"{origin}: base: {raw!r} (allowed: a built-in accelerator name, a path to an "
                         f"accelerator YAML file, or an accelerator mapping)")


def _int(doc: dict, key: str, default: int | None, origin: str, low: int) -> int | None:
    value = doc.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SweepSpecError(f"{origin}: {key}: {value!r} (allowed: an integer >= {low})")
    return value


def _override_error(message: str, argument: str) -> SweepSpecError:
    err = SweepSpecError(message)
    err.argument = argument  # the command line shows it as --samples / --method
    return err


def sweep_from_dict(doc: Any, origin: str = "<dict>", networks: tuple[str, ...] | None = None, *,
                    method: str | None = None, samples: int | None = None) -> SweepSpec:
    """Read and check a sweep document. ``networks``, ``method`` and ``samples`` (from the command line)
    override the file's; ``samples`` alone makes the sweep random (as ``--samples N`` does)."""
    if not isinstance(doc, MappingT):
        raise SweepSpecError(f"{origin}: {doc!r} is not a mapping (allowed keys: {', '.join(sorted(_TOP_KEYS))})")
    for key in doc:
        if key not in _TOP_KEYS:
            hint = difflib.get_close_matches(str(key), sorted(_TOP_KEYS), n=1)
            raise SweepSpecError(f"{origin}: {shown_key(key)}: unknown field (allowed: {', '.join(sorted(_TOP_KEYS))})"
                                 + (f"; did you mean {hint[0]!r}?" if hint else ""))
    if "base" not in doc:
        raise SweepSpecError(f"{origin}: base: missing (required: the accelerator the parameters modify)")
    base = _base(doc["base"], origin)
    if method is not None and method not in METHODS:
        raise _override_error(f"method: {method!r} (allowed: {', '.join(METHODS)})", "method")
    if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
        raise _override_error(f"samples: {samples!r} (allowed: an integer >= 1)", "samples")
    file_method = doc.get("method", SweepSpec.method)
    if file_method not in METHODS:
        raise SweepSpecError(f"{origin}: method: {file_method!r} (allowed: {', '.join(METHODS)})")
    file_samples = _int(doc, "samples", None, origin, 1)
    method = method or ("random" if samples is not None else file_method)
    samples = samples if samples is not None else file_samples
    if method == "random" and samples is None:
        raise SweepSpecError(f"{origin}: samples: missing (required with method: random; or give --samples N)")
    seed = _int(doc, "seed", SweepSpec.seed, origin, 0)
    mapping = doc.get("mapping", SweepSpec.mapping)
    if mapping not in MAPPINGS:
        raise SweepSpecError(f"{origin}: mapping: {mapping!r} (allowed: {', '.join(MAPPINGS)})")
    inner_budget = _int(doc, "inner_budget", SweepSpec.inner_budget, origin, 1)
    inner_start, inner_sigma0 = doc.get("inner_start", SweepSpec.inner_start), doc.get("inner_sigma0",
                                                                                     SweepSpec.inner_sigma0)
    try:
        check_inner_start(inner_start, inner_sigma0)
    except ValueError as exc:
        raise SweepSpecError(f"{origin}: {exc}") from None
    area = doc.get("area", {}) or {}
    if not isinstance(area, MappingT) or set(area) - _AREA_KEYS:
        raise SweepSpecError(f"{origin}: area: {area!r} (allowed keys: {', '.join(sorted(_AREA_KEYS))})")
    bytes_per_pe = area.get("bytes_per_pe", DEFAULT_BYTES_PER_PE)
    if finite_number(bytes_per_pe) is None or not bytes_per_pe > 0:
        raise SweepSpecError(f"{origin}: area.bytes_per_pe: {bytes_per_pe!r} (allowed: a finite number > 0)")
    skip_invalid = doc.get("skip_invalid", SweepSpec.skip_invalid)
    if not isinstance(skip_invalid, bool):
        raise SweepSpecError(f"{origin}: skip_invalid: {skip_invalid!r} (allowed: true or false)")
    nets = networks if networks is not None else doc.get("networks", list(SweepSpec.networks))
    if isinstance(nets, str):
        nets = [n.strip() for n in nets.split(",") if n.strip()]
    if not isinstance(nets, (list, tuple)) or not nets:
        raise SweepSpecError(f"{origin}: networks: {nets!r} (allowed: a list of built-in network names)")
    for n in nets:
        try:
            get_network(str(n))
        except KeyError as exc:
            raise SweepSpecError(f"{origin}: networks: {exc.args[0]}") from None
    params_doc = doc.get("parameters")
    if not isinstance(params_doc, MappingT) or not params_doc:
        raise SweepSpecError(f"{origin}: parameters: {params_doc!r} (required: a mapping of dotted path -> "
                             f"values, e.g. {{'l2.size': ['64 KiB', '128 KiB']}})")
    parameters = []
    for path, raw in params_doc.items():
        try:
            parse_path(path)
            parameters.append(SweepParameter(str(path), _values(raw, str(path))))
        except SweepSpecError as exc:
            raise SweepSpecError(f"{origin}: {exc}") from None
    spec = SweepSpec(base=base, parameters=tuple(parameters), networks=tuple(str(n) for n in nets),
                     method=method, samples=samples, seed=seed, mapping=mapping, inner_budget=inner_budget,
                     inner_start=inner_start, inner_sigma0=float(inner_sigma0), bytes_per_pe=float(bytes_per_pe), skip_invalid=skip_invalid)
    if spec.method == "grid" and spec.grid_size > 1_000_000:
        raise SweepSpecError(f"{origin}: parameters: the grid has {spec.grid_size} combinations (allowed: at "
                             f"most 1000000; use method: random with samples: N)")
    return spec


def load_sweep(path: str | Path, networks: tuple[str, ...] | None = None, *, method: str | None = None,
               samples: int | None = None) -> SweepSpec:
    """Read a sweep file (YAML); errors name the file and the field. ``networks``, ``method`` and ``samples``
    override the file's (see ``sweep_from_dict``)."""
    doc = read_yaml_file(path, SweepSpecError, "sweep")
    return sweep_from_dict(doc, origin=str(path), networks=networks, method=method, samples=samples)


def validated_designs(spec: SweepSpec) -> Iterator[tuple[tuple[int, ...], dict, Accelerator | None, str | None]]:
    """(point, accelerator dict, accelerator or None, error or None) for every combination, in order.

    Raises ``SweepSpecError`` on the first invalid combination unless the spec skips invalid ones.
    """
    for index, point in enumerate(spec.points(), start=1):
        doc = spec.design(point, index)
        try:
            yield point, doc, accelerator_from_dict(doc, origin=f"design {index}"), None
        except AcceleratorSpecError as exc:
            message = f"{exc} (combination {spec.describe_point(point)})"
            if not spec.skip_invalid:
                raise SweepSpecError(f"parameters: {message}; fix the values or set skip_invalid: true") from None
            yield point, doc, None, message


def area_proxy(acc: Accelerator, bytes_per_pe: float = DEFAULT_BYTES_PER_PE) -> float:
    """Area proxy in PE-equivalents: #PEs + on-chip bytes (L2 + every L1) / ``bytes_per_pe``."""
    return acc.num_pes + acc.onchip_bytes / bytes_per_pe
