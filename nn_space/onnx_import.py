"""Layer lists from ONNX models (optional ``onnx`` package), as ZigZag reads its workloads.

Conv nodes become convolutions (grouped and depthwise included); Gemm, and MatMul with a constant 2-D
weight, become fully-connected layers (N = the rows of the activation). Shapes come from ONNX shape
inference, so the model needs a fixed input shape (or ``input_shape``). Other nodes (activations, pooling,
adds, ...) carry no MACs in naas's model and are skipped; a MatMul of two activations (attention) and a
dilated Conv cannot be expressed and are errors naming the node.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

from .layers import ConvLayer, LayerSpecError, Network


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


def layers_from_onnx(model: Any, name: str | None = None, input_shape: Sequence[int] | None = None) -> Network:
    """A ``Network`` of the Conv, Gemm and MatMul nodes of an ONNX model (a path or a ``ModelProto``)."""
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
    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    shapes: dict[str, tuple[int, ...]] = dict(initializers)
    for vi in [*graph.input, *graph.value_info, *graph.output]:
        t = vi.type.tensor_type
        if t.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)

    def shape_of(tensor: str, node, what: str) -> tuple[int, ...]:
        s = shapes.get(tensor)
        if s is None or any(v < 1 for v in s):
            raise OnnxImportError(f"{origin}: node {node.name or node.op_type!r}: the shape of its {what} "
                                  f"{tensor!r} is unknown ({s}); give the model a fixed input shape "
                                  f"(input_shape=..., or --input-shape)")
        return s

    layers: list[ConvLayer] = []
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
            rows = x[1] if a.get("transA", 0) else x[0]
            c_in, c_out = (w[1], w[0]) if a.get("transB", 0) else (w[0], w[1])
            layers.append(ConvLayer.fc(c_in, c_out, n=rows, name=label))
        elif node.op_type == "MatMul":
            if node.input[1] not in initializers:
                raise OnnxImportError(f"{where}: a product of two activations (naas models layers with weights; "
                                      f"remove or replace this node)")
            x = shape_of(node.input[0], node, "input")
            w = initializers[node.input[1]]
            if len(w) != 2:
                raise OnnxImportError(f"{where}: a {len(w)}-D weight (naas reads 2-D MatMul weights)")
            layers.append(ConvLayer.fc(w[0], w[1], n=math.prod(x[:-1]) if len(x) > 1 else 1, name=label))
    if not layers:
        raise OnnxImportError(f"{origin}: no Conv, Gemm or MatMul node")
    first = next((s for s in (shapes.get(i.name) for i in graph.input if i.name not in initializers) if s), None)
    size = (first[2], first[3]) if first and len(first) == 4 else (224, 224)
    return Network(name or (Path(origin).stem if origin != "model" else graph.name or "onnx-model"),
                   tuple(layers), input_size=size)
