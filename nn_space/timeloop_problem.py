"""Timeloop problem files (v0.3 and v0.4 YAML forms) to and from ``ConvLayer``.

Timeloop's CNN layer has dims C, M, R, S, N, P, Q (+ G for grouped layers) with ``W = Wstride*P + Wdilation*R``
and ``H = Hstride*Q + Hdilation*S``. naas names them: M -> K, P -> Y', Q -> X' (R pairs with P, S with Q).
The stride of P (naas's ``stride_y``) and of Q (``stride_x``) are the coefficients that multiply them in the
problem's ``Inputs`` projection (Wstride and Hstride in Timeloop's CNN layer, whatever the names), valued by
the instance, else by the coefficient's default. A depthwise layer is Timeloop's grouped layer with ``G``
groups of one channel (C = M = 1): naas's K carries the G channels. Dilation other than 1 and grouped layers
with more than one channel per group cannot be expressed in naas and are refused by name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping as MappingT

from cost_model.yaml_files import shown_key

from .layers import MAX_BOUND, ConvLayer, LayerSpecError

#: Timeloop dim -> naas dim (for ordinary layers; depthwise layers map G -> K).
TIMELOOP_TO_NAAS = {"N": "N", "M": "K", "C": "C", "P": "Y", "Q": "X", "R": "R", "S": "S"}
NAAS_TO_TIMELOOP = {v: k for k, v in TIMELOOP_TO_NAAS.items()}
CNN_DIMS = ("C", "M", "R", "S", "N", "P", "Q")
_COEFFICIENTS = ("Wstride", "Hstride", "Wdilation", "Hdilation")


class TimeloopFormatError(LayerSpecError):
    """A Timeloop file naas cannot read or cannot express (names the file, the field and the value)."""


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML document, or a ``TimeloopFormatError`` naming the file (and line) that is not readable (the
    project's one reader, ``cost_model.yaml_files.read_yaml_file``)."""
    from cost_model.yaml_files import read_yaml_file

    return read_yaml_file(path, TimeloopFormatError, f"Timeloop {what}")


def is_depthwise_dims(instance: MappingT[str, int]) -> bool:
    return int(instance.get("G", 1)) > 1 and int(instance.get("C", 1)) == 1 and int(instance.get("M", 1)) == 1


def _bounded_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= MAX_BOUND


def _coefficients(shape: Any, instance: MappingT, origin: str) -> dict[str, tuple[int, str]]:
    """{coefficient: (value, where it was set)}: the shape's declared defaults, then the instance's values."""
    values: dict[str, tuple[int, str]] = {c: (1, "default") for c in _COEFFICIENTS}
    raw = shape.get("coefficients", []) if isinstance(shape, MappingT) else []
    where = f"{origin}: problem.shape.coefficients"
    if raw is None:
        raw = []
    if isinstance(raw, MappingT):  # {name: default}
        raw = [{"name": k, "default": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise TimeloopFormatError(f"{where}: {raw!r} (allowed: a list of {{name, default}})")
    for i, entry in enumerate(raw):
        if not isinstance(entry, MappingT) or not isinstance(entry.get("name"), str):
            raise TimeloopFormatError(f"{where}[{i}]: {entry!r} (allowed: {{name: NAME, default: N}})")
        name, default = entry["name"], entry.get("default", 1)
        if not _bounded_int(default):
            raise TimeloopFormatError(f"{where}.{name}: default {default!r} (allowed: integer 1 to {MAX_BOUND})")
        values[name] = (default, f"problem.shape.coefficients.{name}")
    for key, value in instance.items():
        if key in values:
            values[key] = (value, f"problem.instance.{key}")
    return values


def _spaces(shape: Any) -> Any:
    if not isinstance(shape, MappingT):
        return None
    for key in ("data_spaces", "data-spaces"):
        if key in shape:
            return key, shape[key]
    return None


def _terms(expr: Any, dims: set[str]) -> list[tuple[str, Any]] | None:
    """A projection expression ``[[R, Wdilation], [P, Wstride]]`` as [(dim, coefficient or 1)], None if not one."""
    if not isinstance(expr, list):
        return None
    out = []
    for term in expr:
        if isinstance(term, str):
            term = [term]
        if not isinstance(term, list) or not 1 <= len(term) <= 2:
            return None
        dim = [t for t in term if isinstance(t, str) and t in dims]
        other = [t for t in term if not (isinstance(t, str) and t in dims)]
        if len(dim) != 1:
            return None
        out.append((dim[0], other[0] if other else 1))
    return out


def _strides(shape: Any, coef: dict[str, tuple[int, str]], origin: str) -> dict[str, tuple[tuple[int, str], ...]]:
    """{output dim (P, Q): ((stride, where), (dilation, where))}, read from the Inputs data space's projection
    (``R*Wdilation + P*Wstride``); without a projection, Timeloop's CNN layer (P with Wstride, Q with Hstride)."""
    standard = {"P": ("Wstride", "Wdilation"), "Q": ("Hstride", "Hdilation")}
    found = _spaces(shape)
    if found is None:
        return {o: (coef[s], coef[d]) for o, (s, d) in standard.items()}
    key, spaces = found
    where = f"{origin}: problem.shape.{key}"
    if not isinstance(spaces, list):
        raise TimeloopFormatError(f"{where}: {spaces!r} (allowed: a list of {{name, projection}})")
    dims = set(CNN_DIMS) | {"G"}
    inputs = [s for s in spaces if isinstance(s, MappingT) and str(s.get("name", "")).lower() in ("inputs", "input")]
    if not inputs:  # another name: the one data space with a sum over P or Q
        inputs = [s for s in spaces if isinstance(s, MappingT) and isinstance(s.get("projection"), list)
                  and any(len(t) > 1 and {d for d, _ in t} & {"P", "Q"}
                          for t in (_terms(e, dims) or [] for e in s["projection"]))]
    if len(inputs) != 1:
        names = [s.get("name") for s in spaces if isinstance(s, MappingT)]
        raise TimeloopFormatError(f"{where}: data spaces {names!r} (naas reads Timeloop's CNN layer: one 'Inputs' "
                                  f"data space projected on R*Wdilation + P*Wstride and S*Hdilation + Q*Hstride)")
    proj = inputs[0].get("projection")
    at = f"{where}.Inputs.projection"
    if not isinstance(proj, list):
        raise TimeloopFormatError(f"{at}: {proj!r} (allowed: a list of sums of [dim] or [dim, coefficient] terms)")

    def value(c: Any, expr_at: str) -> tuple[int, str]:
        if isinstance(c, int) and not isinstance(c, bool) and c >= 1:
            return c, expr_at
        if isinstance(c, str) and c in coef:
            return coef[c]
        raise TimeloopFormatError(f"{expr_at}: coefficient {c!r} (allowed: a coefficient declared in "
                                  f"problem.shape.coefficients, or an integer >= 1)")

    out: dict[str, tuple[tuple[int, str], ...]] = {}
    for i, expr in enumerate(proj):
        terms = _terms(expr, dims)
        if terms is None:
            raise TimeloopFormatError(f"{at}[{i}]: {expr!r} (allowed: a sum of [dim] or [dim, coefficient] terms "
                                      f"over {', '.join(sorted(dims))})")
        for o, k in (("P", "R"), ("Q", "S")):
            if k in [d for d, _ in terms] and o not in [d for d, _ in terms]:
                raise TimeloopFormatError(f"{at}[{i}]: {expr!r}: {k} without {o} (naas reads {o} with {k}: "
                                          f"{k}*dilation + {o}*stride, as Timeloop's CNN layer)")
            if o not in [d for d, _ in terms]:
                continue
            others = [(d, c) for d, c in terms if d != o]
            if o in out or len(others) > 1 or (others and others[0][0] != k):
                raise TimeloopFormatError(
                    f"{at}[{i}]: {expr!r}: {o} summed with {' + '.join(d for d, _ in others) or 'nothing'} "
                    f"(naas reads {o} with {k}: {k}*dilation + {o}*stride, as Timeloop's CNN layer)")
            stride = value(dict(terms)[o], f"{at}[{i}]")
            dilation = value(others[0][1], f"{at}[{i}]") if others else (1, f"{at}[{i}]")
            out[o] = (stride, dilation)
    for o in ("P", "Q"):
        out.setdefault(o, ((1, at), (1, at)))
    return out


def layer_from_timeloop(doc: Any, origin: str = "<problem>", name: str = "") -> ConvLayer:
    """A ``ConvLayer`` from a Timeloop problem document (``{problem: {shape, instance}}``).

    Strides and dilations come from the shape's ``Inputs`` projection (``R*Wdilation + P*Wstride``: the
    stride of P, naas's Y', is whichever coefficient multiplies P), valued by the instance, else the
    coefficient's default; without a shape, Timeloop's CNN layer's projection is assumed."""
    if not isinstance(doc, MappingT) or "problem" not in doc:
        raise TimeloopFormatError(f"{origin}: problem: missing (a Timeloop problem file has a top-level "
                                  f"'problem:' with 'instance:')")
    problem = doc["problem"]
    if not isinstance(problem, MappingT) or not isinstance(problem.get("instance"), MappingT):
        raise TimeloopFormatError(f"{origin}: problem.instance: missing or not a mapping of dim -> bound")
    instance = dict(problem["instance"])
    shape = problem.get("shape", {})
    dims = shape.get("dimensions", []) if isinstance(shape, MappingT) else []
    known = set(CNN_DIMS) | {"G"}
    if not isinstance(dims, (list, str)):
        raise TimeloopFormatError(f"{origin}: problem.shape.dimensions: {dims!r} (allowed: a list of CNN-layer "
                                  f"dims, {', '.join(sorted(known))})")
    for d in dims:
        if not isinstance(d, str) or d not in known:
            raise TimeloopFormatError(f"{origin}: problem.shape.dimensions: {d!r} is not a CNN-layer dim "
                                      f"(naas reads {', '.join(sorted(known))})")
    coef = _coefficients(shape, instance, origin)
    for key, value in instance.items():
        if key not in known and key not in coef and key not in ("densities",):
            raise TimeloopFormatError(f"{origin}: problem.instance.{shown_key(key)}: unknown field (allowed: "
                                      f"{', '.join([*CNN_DIMS, 'G', *coef])})")
        if key in known or key in coef:
            if not _bounded_int(value):
                raise TimeloopFormatError(f"{origin}: problem.instance.{key}: {value!r} (allowed: integer 1 to "
                                          f"{MAX_BOUND})")
    if "densities" in instance:
        raise TimeloopFormatError(f"{origin}: problem.instance.densities: sparsity is not modelled by naas")
    strides = _strides(shape, coef, origin)
    for o, k in (("P", "R"), ("Q", "S")):
        (dil, where) = strides[o][1]
        if dil != 1:
            raise TimeloopFormatError(f"{origin}: {where}: {dil} (the dilation of {k}; naas models dilation 1 "
                                      f"only)")
    b = {d: int(instance.get(d, 1)) for d in (*CNN_DIMS, "G")}
    name = name or str(shape.get("name", "") if isinstance(shape, MappingT) else "") or "timeloop-layer"
    common = dict(y=b["P"], x=b["Q"], r=b["R"], s=b["S"], n=b["N"], stride_y=strides["P"][0][0],
                  stride_x=strides["Q"][0][0], name=name)
    if b["G"] > 1:
        if not is_depthwise_dims(b):
            raise TimeloopFormatError(f"{origin}: problem.instance: G={b['G']} with C={b['C']}, M={b['M']} per "
                                      f"group (naas reads grouped layers only as depthwise: C = M = 1)")
        return ConvLayer(k=b["G"], c=b["G"], groups=b["G"], **common)
    return ConvLayer(k=b["M"], c=b["C"], **common)


def load_timeloop_problem(path: str | Path) -> ConvLayer:
    """A ``ConvLayer`` from a Timeloop problem file."""
    return layer_from_timeloop(read_yaml(path, "problem"), origin=str(path), name=Path(path).stem)


def timeloop_instance(layer: ConvLayer) -> dict[str, int]:
    """The Timeloop ``instance`` of a layer (grouped non-depthwise layers are refused)."""
    if layer.groups > 1 and not layer.depthwise:
        raise TimeloopFormatError(f"layer {layer.name or layer.describe()!r}: groups={layer.groups} (Timeloop "
                                  f"export covers ordinary and depthwise layers)")
    n, k, c, y, x, r, s = layer.loop_bounds
    inst = {"C": c, "M": 1 if layer.depthwise else k, "R": r, "S": s, "N": n, "P": y, "Q": x}
    if layer.depthwise:
        inst = {"G": k, **inst}
    inst.update(Wstride=layer.stride_y, Hstride=layer.stride_x, Wdilation=1, Hdilation=1)
    return inst


def _shape(grouped: bool) -> dict:
    """Timeloop's CNN-layer shape (its ``cnn-layer.yaml``), with a G dim on every tensor when grouped."""
    g = [[["G"]]] if grouped else []
    return {
        "name": "Grouped_CNN_Layer" if grouped else "CNN_Layer",
        "dimensions": (["G"] if grouped else []) + list(CNN_DIMS),
        "coefficients": [{"name": c, "default": 1} for c in _COEFFICIENTS],
        "data_spaces": [
            {"name": "Weights", "projection": g + [[["C"]], [["M"]], [["R"]], [["S"]]]},
            {"name": "Inputs", "projection": g + [[["N"]], [["C"]], [["R", "Wdilation"], ["P", "Wstride"]],
                                                  [["S", "Hdilation"], ["Q", "Hstride"]]]},
            {"name": "Outputs", "projection": g + [[["N"]], [["M"]], [["Q"]], [["P"]]], "read_write": True},
        ],
    }


def timeloop_problem(layer: ConvLayer) -> dict:
    """A Timeloop v0.4 problem document for the layer (CNN_Layer, or Grouped_CNN_Layer for depthwise)."""
    inst = timeloop_instance(layer)
    return {"problem": {"version": 0.4, "shape": _shape("G" in inst), "instance": inst}}
