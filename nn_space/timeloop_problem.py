"""Timeloop problem files (v0.3 and v0.4 YAML forms) to and from ``ConvLayer``.

Timeloop's CNN layer has dims C, M, R, S, N, P, Q (+ G for grouped layers) with ``W = Wstride*P + Wdilation*R``
and ``H = Hstride*Q + Hdilation*S``. naas names them: M -> K, P -> Y', Q -> X' (R pairs with P, S with Q).
The stride of P (naas's ``stride_y``) and of Q (``stride_x``) are the coefficients that multiply them in the
problem's ``Inputs`` projection (Wstride and Hstride in Timeloop's CNN layer, whatever the names), valued by
the instance, else by the coefficient's default. A depthwise layer is Timeloop's grouped layer with ``G``
groups of one channel (C = M = 1): naas's K carries the G channels. Dilation other than 1 and grouped layers
with more than one channel per group cannot be expressed in naas and are refused by name.

Matrix products (``ConvLayer.gemm`` / ``ConvLayer.bmm``, naas op "gemm" / "bmm") are written with a matmul
shape instead, its dims named as Timeloop's matmul examples (problem-shapes/gemm-ABZ.yaml): ``M`` (naas Y, the
rows of A and Z), ``N`` (naas K, the columns of B and Z), ``K`` (naas C, the reduction) and, for a bmm (or a
gemm with a batch), a batch dim ``B`` (naas N). Its data spaces keep the names the rest of the export uses
(mapping keep/bypass directives, naas's counts): ``Inputs`` = A[B, M, K], ``Weights`` = B[B, K, N] (a bmm's
second operand; a gemm's weights have no B), ``Outputs`` = Z[B, M, N], read-write. Reading takes any names
for the three data spaces (Timeloop's A, B, Z too): each is recognized by the dims it projects on.
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
#: Timeloop matmul dim -> naas dim ("B": the batch of a bmm, or of a gemm with n > 1).
MATMUL_TO_NAAS = {"B": "N", "M": "Y", "N": "K", "K": "C"}
MATMUL_DIMS = ("M", "N", "K")
#: Timeloop dims a conv shape has and a matmul shape has not (their presence makes a shape a CNN layer).
_CONV_ONLY = ("C", "P", "Q", "R", "S")
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


def has_batch_dim(layer: ConvLayer) -> bool:
    """A matrix product written with a batch dim B: every bmm (B indexes its second operand too) and a gemm
    with n > 1."""
    return layer.is_matmul and (layer.op == "bmm" or layer.n > 1)


def problem_dims(layer: ConvLayer) -> tuple[tuple[str, ...], dict[str, str | None]]:
    """(the Timeloop dims of the layer's problem, in the shape's order; Timeloop dim -> naas dim, None for a
    dim that is always 1). CNN layers: C M R S N P Q (depthwise: G first, carrying naas's K; M is 1);
    matrix products: [B] M N K (naas N, Y, K, C). The naas dims a matmul problem has not (X, R, S, and N
    without a batch) are 1 and have no Timeloop name."""
    if layer.is_matmul:
        dims = (("B",) if has_batch_dim(layer) else ()) + MATMUL_DIMS
        return dims, {d: MATMUL_TO_NAAS[d] for d in dims}
    if layer.depthwise:
        return ("G", *CNN_DIMS), {"G": "K", **TIMELOOP_TO_NAAS, "M": None}
    return CNN_DIMS, dict(TIMELOOP_TO_NAAS)


def absent_dims(layer: ConvLayer) -> str:
    """The naas dims the layer's Timeloop problem has no name for (a matrix product's X, R, S, and N without a
    batch; none for a CNN layer), in N K C Y X R S order: read back from a Timeloop mapping, they are the
    outermost loops of every order."""
    named = set(problem_dims(layer)[1].values())
    return "".join(d for d in ("N", "K", "C", "Y", "X", "R", "S") if d not in named)


def timeloop_order(order: str, layer: ConvLayer) -> str:
    """A loop order (outermost first) as it reads back from a Timeloop mapping: ``absent_dims`` first."""
    absent = absent_dims(layer)
    return absent + "".join(d for d in order if d not in absent)


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
                                  f"dims, {', '.join(sorted(known))}, or of matmul dims, M N K and a batch)")
    if isinstance(dims, list) and "K" in dims and not any(d in dims for d in _CONV_ONLY):
        return _matmul_from_timeloop(shape, instance, origin, name)
    for d in dims:
        if not isinstance(d, str) or d not in known:
            raise TimeloopFormatError(f"{origin}: problem.shape.dimensions: {d!r} is not a CNN-layer dim "
                                      f"(naas reads {', '.join(sorted(known))}, or a matmul shape: M, N, K and "
                                      f"at most one batch dim, without C, P, Q, R, S)")
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


def _matmul_from_timeloop(shape: MappingT, instance: dict, origin: str, name: str) -> ConvLayer:
    """A gemm / bmm ``ConvLayer`` from a matmul shape (dims M, N, K and at most one batch dim, whatever its
    name; data spaces recognized by their projections, whatever their names)."""
    at = f"{origin}: problem.shape"
    dims = list(shape["dimensions"])
    for d in dims:
        if not isinstance(d, str) or not d.strip():
            raise TimeloopFormatError(f"{at}.dimensions: {d!r} (allowed: dim names, M N K and a batch)")
    if len(set(dims)) != len(dims):
        raise TimeloopFormatError(f"{at}.dimensions: {dims!r} names a dim twice")
    missing = [d for d in MATMUL_DIMS if d not in dims]
    extra = [d for d in dims if d not in MATMUL_DIMS]
    if missing or len(extra) > 1:
        raise TimeloopFormatError(f"{at}.dimensions: {dims!r} (naas reads a matmul shape as M, N, K and at most "
                                  f"one batch dim, e.g. [B, M, N, K])")
    batch = extra[0] if extra else None
    if shape.get("coefficients"):
        raise TimeloopFormatError(f"{at}.coefficients: {shape['coefficients']!r} (a matmul shape has no "
                                  f"coefficients; naas reads its projections as plain dims)")
    found = _spaces(shape)
    if found is None:
        raise TimeloopFormatError(f"{at}.data_spaces: missing (a matmul shape needs its three data spaces: "
                                  f"A[M, K], B[K, N], Z[M, N] read-write)")
    key, spaces = found
    where = f"{at}.{key}"
    if not isinstance(spaces, list) or len(spaces) != 3:
        raise TimeloopFormatError(f"{where}: {spaces!r} (allowed: three data spaces, A[M, K], B[K, N] and Z[M, N] "
                                  f"read-write, with the batch dim on A and Z, and on B for a bmm)")
    roles: dict[str, tuple[str, frozenset]] = {}
    for i, sp in enumerate(spaces):
        if not isinstance(sp, MappingT) or "projection" not in sp:
            raise TimeloopFormatError(f"{where}[{i}]: {sp!r} (allowed: {{name, projection, read_write}})")
        label = f"{where}[{i}] ({sp.get('name', '?')})"
        proj = sp["projection"]
        if not isinstance(proj, list):
            raise TimeloopFormatError(f"{label}.projection: {proj!r} (allowed: a list of [[dim]] terms)")
        on = []
        for j, expr in enumerate(proj):
            terms = _terms(expr, set(dims))
            if terms is None or len(terms) != 1 or terms[0][1] != 1:
                raise TimeloopFormatError(f"{label}.projection[{j}]: {expr!r} (a matmul data space projects on "
                                          f"plain dims, [[M]], [[K]], ...)")
            if terms[0][0] in on:
                raise TimeloopFormatError(f"{label}.projection: {terms[0][0]} twice")
            on.append(terms[0][0])
        rw = bool(sp.get("read_write", sp.get("read-write", False)))
        core = frozenset(on) - {batch}
        role = {frozenset("MK"): "inputs", frozenset("KN"): "weights", frozenset("MN"): "outputs"}.get(core)
        if role is None or (role == "outputs") != rw or role in roles:
            raise TimeloopFormatError(
                f"{label}.projection: {on!r}{' read-write' if rw else ''} (naas reads a matmul shape's data "
                f"spaces as A[M, K], B[K, N], Z[M, N] read-write, each once, the batch dim on A and Z, and on B "
                f"for a bmm)")
        if batch is not None and role != "weights" and batch not in on:
            raise TimeloopFormatError(f"{label}.projection: {on!r} lacks the batch dim {batch} (naas reads a batch "
                                      f"dim on A and Z)")
        roles[role] = (str(sp.get("name", role)), frozenset(on))
    allowed = dims
    for k, value in instance.items():
        if k == "densities":
            raise TimeloopFormatError(f"{origin}: problem.instance.densities: sparsity is not modelled by naas")
        if k not in allowed:
            raise TimeloopFormatError(f"{origin}: problem.instance.{shown_key(k)}: unknown field (allowed: "
                                      f"{', '.join(allowed)}, the shape's dims)")
        if not _bounded_int(value):
            raise TimeloopFormatError(f"{origin}: problem.instance.{k}: {value!r} (allowed: integer 1 to "
                                      f"{MAX_BOUND})")
    b = {d: int(instance.get(d, 1)) for d in dims}
    name = name or str(shape.get("name", "")) or "timeloop-layer"
    if batch is not None and batch in roles["weights"][1]:
        return ConvLayer.bmm(b[batch], b["M"], b["N"], b["K"], name=name)
    layer = ConvLayer.gemm(b["M"], b["N"], b["K"], name=name)
    if batch is not None and b[batch] > 1:  # a batch the weights do not depend on (as a conv's N)
        layer = ConvLayer(k=layer.k, c=layer.c, y=layer.y, x=1, n=b[batch], op="gemm", name=name)
    return layer


def load_timeloop_problem(path: str | Path) -> ConvLayer:
    """A ``ConvLayer`` from a Timeloop problem file."""
    return layer_from_timeloop(read_yaml(path, "problem"), origin=str(path), name=Path(path).stem)


def timeloop_instance(layer: ConvLayer) -> dict[str, int]:
    """The Timeloop ``instance`` of a layer (grouped non-depthwise layers are refused); a matrix product's
    is its matmul dims ([B,] M, N, K)."""
    if layer.is_matmul:
        dims, naas = problem_dims(layer)
        bounds = dict(zip(("N", "K", "C", "Y", "X", "R", "S"), layer.loop_bounds))
        return {d: bounds[naas[d]] for d in dims}
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


def matmul_shape(layer: ConvLayer, v04: bool = True) -> dict:
    """The matmul shape of a gemm / bmm layer (module docstring): Timeloop v0.4's keys (``data_spaces``,
    ``read_write``), or timeloop-model v3.0.3's (``data-spaces``, ``read-write``) with ``v04=False``."""
    dims, _ = problem_dims(layer)
    batched = "B" in dims

    def proj(*names: str) -> list:  # fresh lists: no YAML anchors in the written file
        return [[[d]] for d in names if d != "B" or batched]

    key, rw = ("data_spaces", "read_write") if v04 else ("data-spaces", "read-write")
    return {
        "name": ("Batched_GEMM" if batched else "GEMM") if v04 else ("Batched-GEMM" if batched else "GEMM"),
        "dimensions": list(dims),
        key: [
            {"name": "Weights", "projection": proj("B", "K", "N") if layer.op == "bmm" else proj("K", "N")},
            {"name": "Inputs", "projection": proj("B", "M", "K")},
            {"name": "Outputs", "projection": proj("B", "M", "N"), rw: True},
        ],
    }


def timeloop_problem(layer: ConvLayer) -> dict:
    """A Timeloop v0.4 problem document for the layer (CNN_Layer, Grouped_CNN_Layer for depthwise, a matmul
    shape for a gemm / bmm)."""
    inst = timeloop_instance(layer)
    if layer.is_matmul:
        return {"problem": {"version": 0.4, "shape": matmul_shape(layer), "instance": inst}}
    return {"problem": {"version": 0.4, "shape": _shape("G" in inst), "instance": inst}}
