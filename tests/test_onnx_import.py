"""Layer lists from ONNX models: Conv (grouped, depthwise, strided), Gemm, MatMul; what is refused."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nn_space.layers import ConvLayer
from nn_space.onnx_import import OnnxImportError, layers_from_onnx
from nn_space.zoo import get_network

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _init(name, shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def _model(nodes, inits, input_shape=(1, 3, 32, 32), batch_param=False):
    dims = ["batch", *input_shape[1:]] if batch_param else list(input_shape)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "tiny", [x], [y], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def tiny_model(**kw):
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["a"], name="stem", strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "w2"], ["c"], name="dw", group=16, pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["c", "w3"], ["d"], name="pw"),
        helper.make_node("GlobalAveragePool", ["d"], ["e"]),
        helper.make_node("Flatten", ["e"], ["f"]),
        helper.make_node("Gemm", ["f", "w4"], ["g"], name="fc", transB=1),
        helper.make_node("MatMul", ["g", "w5"], ["h"], name="proj"),
    ]
    inits = [_init("w1", (16, 3, 3, 3)), _init("w2", (16, 1, 3, 3)), _init("w3", (24, 16, 1, 1)),
             _init("w4", (10, 24)), _init("w5", (10, 7))]
    return _model(nodes, inits, **kw)


def test_conv_gemm_matmul_layers():
    net = layers_from_onnx(tiny_model())
    assert [lay.name for lay in net.layers] == ["stem", "dw", "pw", "fc", "proj"]
    stem, dw, pw, fc, proj = net.layers
    assert stem.shape_key == ConvLayer.conv(3, 16, 32, 3, stride=2).shape_key
    assert dw.depthwise and dw.shape_key == ConvLayer.conv(16, 16, 16, 3, groups=16).shape_key
    assert pw.shape_key == ConvLayer.conv(16, 24, 16, 1).shape_key
    assert fc.shape_key == ConvLayer.fc(24, 10).shape_key and proj.shape_key == ConvLayer.fc(10, 7).shape_key
    assert net.input_size == (32, 32)


def test_symbolic_batch_needs_an_input_shape(tmp_path):
    model = tiny_model(batch_param=True)
    with pytest.raises(OnnxImportError, match="give the model a fixed input shape"):
        layers_from_onnx(model)
    net = layers_from_onnx(model, input_shape=(4, 3, 32, 32))
    assert net.layers[0].n == 4 and net.layers[-1].n == 4


@pytest.mark.parametrize("node, inits, message", [
    (helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[2, 2]), [_init("w", (4, 3, 3, 3))],
     "node 'dil' \\(Conv\\): dilations \\[2, 2\\]"),
    (helper.make_node("MatMul", ["x", "x"], ["y"], name="attn"), [], "node 'attn' \\(MatMul\\): a product of two"),
    (helper.make_node("Relu", ["x"], ["y"]), [], "no Conv, Gemm or MatMul node"),
])
def test_refused_nodes_are_named(node, inits, message):
    with pytest.raises(OnnxImportError, match=message):
        layers_from_onnx(_model([node], inits))


def test_not_a_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(OnnxImportError, match="bad.onnx: not an ONNX model"):
        layers_from_onnx(bad)


def test_zigzag_mobilenetv2_equals_the_zoo():
    zigzag = pytest.importorskip("zigzag")
    path = Path(zigzag.__file__).parent / "inputs" / "workload" / "mobilenetv2.onnx"
    net = layers_from_onnx(path)
    assert [lay.shape_key for lay in net.layers] == [lay.shape_key for lay in get_network("mobilenetv2").layers]


def test_cli_evaluates_an_onnx_file(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_model(), str(path))
    r = subprocess.run([sys.executable, "-m", "naas", "evaluate", "-n", str(path), "--mapping", "default"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "tiny: 5 layers" in r.stdout
