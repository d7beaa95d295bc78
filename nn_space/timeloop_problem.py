"""Timeloop problem files (v0.3 and v0.4 YAML forms) to and from ``ConvLayer``.

Timeloop's CNN layer has dims C, M, R, S, N, P, Q (+ G for grouped layers) with ``W = Wstride*P + Wdilation*R``
and ``H = Hstride*Q + Hdilation*S``. naas names them: M -> K, P -> Y', Q -> X' (R pairs with P, S with Q,
so Wstride -> stride_y and Hstride -> stride_x). A depthwise layer is Timeloop's grouped layer with ``G``
groups of one channel (C = M = 1): naas's K carries the G channels. Dilation other than 1 and grouped layers
with more than one channel per group cannot be expressed in naas and are refused by name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping as MappingT

import yaml

from .layers import ConvLayer, LayerSpecError

#: Timeloop dim -> naas dim (for ordinary layers; depthwise layers map G -> K).
TIMELOOP_TO_NAAS = {"N": "N", "M": "K", "C": "C", "P": "Y", "Q": "X", "R": "R", "S": "S"}
NAAS_TO_TIMELOOP = {v: k for k, v in TIMELOOP_TO_NAAS.items()}
CNN_DIMS = ("C", "M", "R", "S", "N", "P", "Q")
_COEFFICIENTS = ("Wstride", "Hstride", "Wdilation", "Hdilation")


class TimeloopFormatError(LayerSpecError):
    """A Timeloop file naas cannot read or cannot express (names the file, the field and the value)."""


def read_yaml(path: str | Path, what: str) -> Any:
    """A YAML document, or a ``TimeloopFormatError`` naming the file (and line) that is not readable."""
    path = Path(path)
    if not path.exists():
        raise TimeloopFormatError(f"{what}: file {str(path)!r} does not exist")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TimeloopFormatError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None


def is_depthwise_dims(instance: MappingT[str, int]) -> bool:
    return int(instance.get("G", 1)) > 1 and int(instance.get("C", 1)) == 1 and int(instance.get("M", 1)) == 1


def layer_from_timeloop(doc: Any, origin: str = "<problem>", name: str = "") -> ConvLayer:
    """A ``ConvLayer`` from a Timeloop problem document (``{problem: {shape, instance}}``)."""
    if not isinstance(doc, MappingT) or "problem" not in doc:
        raise TimeloopFormatError(f"{origin}: problem: missing (a Timeloop problem file has a top-level "
                                  f"'problem:' with 'instance:')")
    problem = doc["problem"]
    if not isinstance(problem, MappingT) or not isinstance(problem.get("instance"), MappingT):
        raise TimeloopFormatError(f"{origin}: problem.instance: missing or not a mapping of dim -> bound")
    instance = dict(problem["instance"])
    shape = problem.get("shape", {})
    dims = list(shape.get("dimensions", [])) if isinstance(shape, MappingT) else []
    known = set(CNN_DIMS) | {"G"}
    for d in dims:
        if d not in known:
            raise TimeloopFormatError(f"{origin}: problem.shape.dimensions: {d!r} is not a CNN-layer dim "
                                      f"(naas reads {', '.join(sorted(known))})")
    for key, value in instance.items():
        if key not in known and key not in _COEFFICIENTS and key not in ("densities",):
            raise TimeloopFormatError(f"{origin}: problem.instance.{key}: unknown field (allowed: "
                                      f"{', '.join([*CNN_DIMS, 'G', *_COEFFICIENTS])})")
        if key in known or key in _COEFFICIENTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TimeloopFormatError(f"{origin}: problem.instance.{key}: {value!r} (allowed: integer >= 1)")
    if "densities" in instance:
        raise TimeloopFormatError(f"{origin}: problem.instance.densities: sparsity is not modelled by naas")
    for key in ("Wdilation", "Hdilation"):
        if instance.get(key, 1) != 1:
            raise TimeloopFormatError(f"{origin}: problem.instance.{key}: {instance[key]} (naas models "
                                      f"dilation 1 only)")
    b = {d: int(instance.get(d, 1)) for d in (*CNN_DIMS, "G")}
    name = name or str(shape.get("name", "") if isinstance(shape, MappingT) else "") or "timeloop-layer"
    common = dict(y=b["P"], x=b["Q"], r=b["R"], s=b["S"], n=b["N"], stride_y=int(instance.get("Wstride", 1)),
                  stride_x=int(instance.get("Hstride", 1)), name=name)
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
