"""Layer lists from ONNX models (optional ``onnx`` package), as ZigZag reads its workloads.

Shapes come from ONNX shape inference, so the model needs a fixed input shape (or ``input_shape``).

* Conv nodes become convolutions (grouped and depthwise included); Gemm nodes fully-connected layers
  (N = the rows of the activation).
* MatMul with a constant (an initializer, a Constant node, or anything computed from constants alone)
  2-D operand is a weight product: a rank-2 activation gives a fully-connected layer, as before; a rank > 2
  one (a sequence) a ``gemm`` with M = the product of its leading dims.
* MatMul of two activations (attention's Q x K^T and A x V) is a ``bmm`` with batch = the product of the
  broadcast leading dims; the inner dims must agree and the batch dims broadcast, else an error names the node.
  Two-operand Einsum nodes that are (batched) matrix products are read the same way.
* Nodes without MACs are listed in ``Network.uncosted`` with the elements they produce (from shape inference):
  Softmax, LayerNormalization (and the ReduceMean / Sub / Pow / Sqrt / Div of a decomposed one, op by op),
  Gelu and the Div / Erf / Add / Mul of an Erf-based GELU, other activations, norms and pools, Add of two
  activations (``residual_add`` when their shapes agree), Mul / Div by a one-element tensor (``scale``), Where
  (``mask``) and Gather of a constant table by activation indices (``embedding``). Shape arithmetic (nodes fed
  by constants or Shape alone), non-float results and the bias Add after a MatMul / Gemm / Conv are skipped;
  so is Dropout (identity at inference).
* A dilated Conv, or a product whose shapes disagree, is an error naming the node.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from .layers import ConvLayer, LayerSpecError, Network, UncostedOp
from .torch_extract import describe_input, einsum_layer, matmul_layer  # plain Python: no torch needed


class OnnxImportError(LayerSpecError):
    """An ONNX model naas cannot read (names the file, the node and the attribute)."""


def _onnx():
    try:
        import onnx
    except ImportError as exc:
        raise OnnxImportError("ONNX import needs the optional 'onnx' package (pip install 'naas[onnx]')") from exc
    return onnx


def _attrs(node) -> dict[str, Any]:
    onnx = _onnx()
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _resize_input(dims, input_size: int | None, batch: int | None, where: str) -> None:
    """Give the model's first input ``batch`` (its dim 0) and ``input_size``: height and width of an image
    (N, C, H, W), the tokens of token ids (N, T) or of embeddings (N, T, D); the other dims stay as declared."""
    if batch is not None:
        dims[0].dim_value = int(batch)
    if input_size is not None:
        axes = {4: (2, 3), 3: (1,), 2: (1,)}.get(len(dims))
        if axes is None:
            raise OnnxImportError(f"{where} has {len(dims)} dims: input size {input_size} cannot be placed "
                                  f"(allowed: 2 or 3 dims for tokens, 4 for an image)")
        for a in axes:
            dims[a].dim_value = int(input_size)


def layers_from_onnx(model: Any, name: str | None = None, input_shape: Sequence[int] | None = None,
                     input_size: int | None = None, batch: int | None = None) -> Network:
    """A ``Network`` of the Conv, Gemm and MatMul nodes of an ONNX model (a path or a ``ModelProto``).

    ``input_shape`` fixes the first input's whole shape; or ``input_size`` / ``batch`` set only its image size
    (H = W) or its tokens, and its batch (``_resize_input``)."""
    onnx = _onnx()
    origin = "model"
    if isinstance(model, (str, Path)):
        origin = str(model)
        from cost_model.yaml_files import path_exists

        if not path_exists(model):
            raise OnnxImportError(f"onnx: file {origin!r} does not exist")
        try:
            model = onnx.load(str(model), load_external_data=False)  # shapes only: weights need not be there
        except Exception as exc:  # onnx raises DecodeError and others for a file that is not a model
            raise OnnxImportError(f"{origin}: not an ONNX model ({exc})") from None
    graph = model.graph
    initializers = {t.name: tuple(t.dims) for t in graph.initializer}
    if input_shape is not None:
        inputs = [i for i in graph.input if i.name not in initializers]
        if not inputs:
            raise OnnxImportError(f"{origin}: no graph input to give input_shape {tuple(input_shape)}")
        dims = inputs[0].type.tensor_type.shape.dim
        if len(dims) != len(input_shape):
            raise OnnxImportError(f"{origin}: input_shape {tuple(input_shape)} has {len(input_shape)} dims, the "
                                  f"model's input {inputs[0].name!r} has {len(dims)}")
        for d, v in zip(dims, input_shape):
            d.dim_value = int(v)
    elif input_size is not None or batch is not None:
        inputs = [i for i in graph.input if i.name not in initializers]
        if not inputs:
            raise OnnxImportError(f"{origin}: no graph input to give input size {input_size}, batch {batch}")
        _resize_input(inputs[0].type.tensor_type.shape.dim, input_size, batch,
                      f"{origin}: the model's input {inputs[0].name!r}")
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)  # data_prop: shapes computed by Shape ops
    graph = model.graph
    shapes: dict[str, tuple[int, ...]] = dict(initializers)
    dtypes: dict[str, int] = {t.name: t.data_type for t in graph.initializer}
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        t = vi.type.tensor_type
        dtypes.setdefault(vi.name, t.elem_type)
        if t.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
    # activations: what depends on the graph's inputs (Shape / Size outputs are metadata, not data); the rest is
    # constant (weights, and the shape arithmetic an exporter leaves in the graph)
    active = {i.name for i in graph.input if i.name not in initializers}
    weighted: set[str] = set()  # outputs of products with a constant operand (a bias Add may follow them)
    for node in graph.node:
        ins = [t for t in node.input if t]
        if node.op_type not in ("Shape", "Size") and any(t in active for t in ins):
            if node.op_type in _WEIGHT_NODES and any(t not in active for t in ins):
                weighted.update(node.output)
            active.update(o for o in node.output if o)

    def shape_of(tensor: str, node, what: str) -> tuple[int, ...]:
        s = shapes.get(tensor)
        if s is None or any(v < 1 for v in s):
            raise OnnxImportError(f"{origin}: node {node.name or node.op_type!r}: the shape of its {what} "
                                  f"{tensor!r} is unknown ({s}); give the model a fixed input shape "
                                  f"(input_shape= or input_size=, or --input-size)")
        return s

    def elements(tensor: str) -> int | None:
        s = shapes.get(tensor)
        return math.prod(s) if s is not None and all(v >= 0 for v in s) else None

    def product(where: str, label: str, make, *args) -> ConvLayer:
        try:
            return make(*args, name=label)
        except LayerSpecError as exc:
            text = str(exc)
            prefix = f"layer {label!r}: "
            raise OnnxImportError(f"{where}: {text[len(prefix):] if text.startswith(prefix) else text}") from None

    layers: list[ConvLayer] = []
    uncosted: list[UncostedOp] = []
    for i, node in enumerate(graph.node):
        label = node.name or f"{node.op_type.lower()}_{i}"
        where = f"{origin}: node {label!r} ({node.op_type})"
        if node.op_type == "Conv":
            x = shape_of(node.input[0], node, "input")
            w = shape_of(node.input[1], node, "weight")
            a = _attrs(node)
            if len(w) != 4:
                raise OnnxImportError(f"{where}: a {len(w) - 2}-D convolution (naas models 2-D ones)")
            if any(d != 1 for d in a.get("dilations", [1, 1])):
                raise OnnxImportError(f"{where}: dilations {list(a['dilations'])} (naas models dilation 1 only)")
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                out = shape_of(node.output[0], node, "output")
                pads = [0, 0, 0, 0]
                oy, ox = out[2], out[3]
            else:
                pads = list(a.get("pads", [0, 0, 0, 0]))
                oy = ox = None
            sy, sx = a.get("strides", [1, 1])
            g = int(a.get("group", 1))
            n, c, ih, iw = x
            k, _, r, s = w
            if oy is None:
                oy = (ih + pads[0] + pads[2] - r) // sy + 1
                ox = (iw + pads[1] + pads[3] - s) // sx + 1
            try:
                layers.append(ConvLayer(k=k, c=c, y=oy, x=ox, r=r, s=s, stride_y=sy, stride_x=sx, n=n, groups=g,
                                        pad_y=pads[0], pad_x=pads[1], name=label))
            except LayerSpecError as exc:
                raise OnnxImportError(f"{where}: {exc}") from None
        elif node.op_type == "Gemm":
            a = _attrs(node)
            x = shape_of(node.input[0], node, "input")
            w = shape_of(node.input[1], node, "weight")
            if len(x) != 2 or len(w) != 2:
                raise OnnxImportError(f"{where}: operands of shapes {x} and {w} (allowed: 2-D)")
            rows, k_x = (x[1], x[0]) if a.get("transA", 0) else (x[0], x[1])
            c_in, c_out = (w[1], w[0]) if a.get("transB", 0) else (w[0], w[1])
            if k_x != c_in:
                raise OnnxImportError(f"{where}: inner dims disagree: {x} x {w} (transA={a.get('transA', 0)}, "
                                      f"transB={a.get('transB', 0)})")
            layers.append(product(where, label, lambda c, k, n, name: ConvLayer.fc(c, k, n=n, name=name),
                                  c_in, c_out, rows))
        elif node.op_type == "MatMul":
            xa = shape_of(node.input[0], node, "first input")
            xb = shape_of(node.input[1], node, "second input")
            layers.append(product(where, label, matmul_layer, xa, xb, node.input[0] not in active,
                                  node.input[1] not in active))
        elif node.op_type == "Einsum":
            operands = [t for t in node.input if t]
            if len(operands) == 1:
                continue  # a transpose, trace or sum
            if len(operands) != 2:
                raise OnnxImportError(f"{where}: {len(operands)} operands (naas reads products of 2)")
            eq = _attrs(node).get("equation", b"")
            eq = eq.decode() if isinstance(eq, bytes) else str(eq)
            xa = shape_of(operands[0], node, "first input")
            xb = shape_of(operands[1], node, "second input")
            layers.append(product(where, label, einsum_layer, eq, xa, xb, operands[0] not in active,
                                  operands[1] not in active))
        elif node.op_type in _UNCOSTED_NODES:
            op = _uncosted_op(node, active, weighted, dtypes, elements)
            count = elements(node.output[0]) if op else None
            if count is not None:
                uncosted.append(UncostedOp(label, op, count))
    if not layers:
        raise OnnxImportError(f"{origin}: no Conv, Gemm or MatMul node")
    first_input = next((i for i in graph.input if i.name not in initializers and shapes.get(i.name)), None)
    first = shapes.get(first_input.name) if first_input is not None else None
    floating = first_input is not None and dtypes.get(first_input.name) in _FLOAT_TYPES
    if first is not None and len(first) == 4 and floating:
        size, text = (first[2], first[3]), ""
    elif first is not None and all(v >= 1 for v in first):
        size, text = describe_input(first, floating, layers)
        if not text:
            size = (224, 224)
    else:
        size, text = (224, 224), ""
    return Network(name or (Path(origin).stem if origin != "model" else graph.name or "onnx-model"),
                   tuple(layers), input_size=size, uncosted=tuple(uncosted), input_text=text)


#: ONNX float element types (FLOAT, FLOAT16, DOUBLE, BFLOAT16): uncosted ops are counted on float data only.
_FLOAT_TYPES = {1, 10, 11, 16}
#: ONNX op -> the uncosted op it is (the names the torch import uses).
_UNCOSTED_NODES = {
    "Softmax": "softmax", "LogSoftmax": "log_softmax", "LayerNormalization": "layernorm",
    "RMSNormalization": "rmsnorm", "SimplifiedLayerNormalization": "rmsnorm", "BatchNormalization": "batchnorm",
    "InstanceNormalization": "instancenorm", "GroupNormalization": "groupnorm", "LpNormalization": "normalize",
    "Gelu": "gelu", "Erf": "erf", "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSigmoid": "hardsigmoid",
    "HardSwish": "hardswish", "LeakyRelu": "leaky_relu", "Elu": "elu", "Selu": "selu", "Celu": "celu",
    "Softplus": "softplus", "Mish": "mish", "PRelu": "prelu", "Clip": "clamp", "ReduceMean": "mean", "Pow": "pow",
    "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Exp": "exp", "Log": "log", "Add": "add", "Sub": "sub",
    "Mul": "mul", "Div": "div", "Where": "mask", "MaxPool": "max_pool", "AveragePool": "avg_pool",
    "GlobalAveragePool": "avg_pool", "GlobalMaxPool": "max_pool", "Gather": "embedding",
}
_WEIGHT_NODES = ("MatMul", "Gemm", "Conv", "Einsum")


def _uncosted_op(node, active, weighted, dtypes, elements) -> str | None:
    """The uncosted op a node is, or None to skip it (shape arithmetic, non-float data, a bias add, ...)."""
    inputs = [t for t in node.input if t]
    if not any(t in active for t in inputs) or dtypes.get(node.output[0]) not in _FLOAT_TYPES:
        return None
    op = _UNCOSTED_NODES[node.op_type]
    if node.op_type == "Gather":  # an embedding: a constant table read at activation indices
        return op if inputs[0] not in active and len(inputs) > 1 and inputs[1] in active else None
    if node.op_type in ("Add", "Sub", "Mul", "Div") and len(inputs) == 2:
        a, b = inputs
        if node.op_type == "Add" and any(x not in active and y in weighted for x, y in ((a, b), (b, a))):
            return None  # the bias of the product before it (part of that layer, as in torch's F.linear)
        if node.op_type in ("Mul", "Div") and any(elements(x) == 1 for x in (a, b)):
            return "scale"
        if node.op_type == "Add" and a in active and b in active:
            sa, sb = elements(a), elements(b)
            return "residual_add" if sa is not None and sa == sb == elements(node.output[0]) else op
    return op
