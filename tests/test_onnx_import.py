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
    (helper.make_node("MatMul", ["x", "w"], ["y"], name="proj"), [_init("w", (16, 8))],
     "node 'proj' \\(MatMul\\): inner dims disagree: \\(1, 3, 32, 32\\) x \\(16, 8\\)"),
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


def _graph(nodes, inputs, inits=(), input_types=None):
    types = input_types or {}
    ins = [helper.make_tensor_value_info(n, types.get(n, TensorProto.FLOAT), list(shape)) for n, shape in inputs]
    out = helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", ins, [out], initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def test_attention_graph_gemm_bmm_and_uncosted_ops():
    """x (2, 16, 64): a projection (rank-3 MatMul with a 2-D weight: gemm) and its bias Add (skipped), heads
    by Reshape / Transpose, Q x K^T and A x V (MatMuls of two activations: bmm), a scale, softmax, a residual
    Add and LayerNormalization (uncosted, with their elements), and a rank-2 MatMul (fc, as before)."""
    mk = helper.make_node
    nodes = [
        mk("MatMul", ["x", "wq"], ["q"], name="q_proj"), mk("Add", ["q", "bq"], ["qb"], name="q_bias"),
        mk("Reshape", ["qb", "heads"], ["q4"]), mk("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        mk("Transpose", ["qh"], ["kt"], perm=[0, 1, 3, 2]),
        mk("MatMul", ["qh", "kt"], ["scores"], name="attn_qk"), mk("Mul", ["scores", "scale"], ["ss"], name="scale"),
        mk("Softmax", ["ss"], ["p"], name="softmax", axis=-1), mk("MatMul", ["p", "qh"], ["ctx"], name="attn_av"),
        mk("Transpose", ["ctx"], ["ct"], perm=[0, 2, 1, 3]), mk("Reshape", ["ct", "merge"], ["y"]),
        mk("Add", ["x", "y"], ["res"], name="residual"),
        mk("LayerNormalization", ["res", "gamma", "beta"], ["ln"], name="norm", axis=-1),
        mk("Reshape", ["ln", "flat"], ["rows"]), mk("MatMul", ["rows", "wo"], ["out"], name="head"),
    ]
    inits = [_init("wq", (64, 64)), _init("bq", (64,)), _const("heads", [2, 16, 4, 16]),
             _init("scale", ()), _const("merge", [2, 16, 64]), _init("gamma", (64,)), _init("beta", (64,)),
             _const("flat", [32, 64]), _init("wo", (64, 10))]
    net = layers_from_onnx(_graph(nodes, [("x", (2, 16, 64))], inits))
    assert [(lay.name, lay.op, lay.gemm_dims) for lay in net.layers] == [
        ("q_proj", "gemm", (1, 32, 64, 64)), ("attn_qk", "bmm", (8, 16, 16, 16)),
        ("attn_av", "bmm", (8, 16, 16, 16)), ("head", "conv", (32, 1, 10, 64))]
    assert net.layers[-1].shape_key == ConvLayer.fc(64, 10, n=32).shape_key
    assert [(u.name, u.op, u.elements) for u in net.uncosted] == [
        ("scale", "scale", 2048), ("softmax", "softmax", 2048), ("residual", "residual_add", 2048),
        ("norm", "layernorm", 2048)]
    assert net.macs == 32 * 64 * 64 + 2 * 8 * 16 * 16 * 16 + 32 * 64 * 10


def test_broadcast_bmm_and_weight_on_the_left():
    mk = helper.make_node
    nodes = [mk("MatMul", ["a", "b"], ["ab"], name="bcast"), mk("MatMul", ["w", "ab"], ["wab"], name="left")]
    net = layers_from_onnx(_graph(nodes, [("a", (2, 4, 16, 8)), ("b", (4, 8, 5))], [_init("w", (3, 16))]))
    bcast, left = net.layers
    assert bcast.gemm_dims == (8, 16, 5, 8)  # batch dims (2, 4) and (4,) broadcast to 8 products
    assert (left.op, left.gemm_dims) == ("gemm", (1, 8 * 5, 3, 16))  # W (3, 16) x each of the 8 (16, 5) inputs


@pytest.mark.parametrize("nodes, inputs, inits, message", [
    ([helper.make_node("MatMul", ["a", "b"], ["y"], name="qk")], [("a", (2, 3, 4, 5)), ("b", (2, 4, 5, 6))], [],
     "node 'qk' \\(MatMul\\): batch dims of \\(2, 3\\) and \\(2, 4\\) do not broadcast"),
    ([helper.make_node("MatMul", ["a", "b"], ["y"], name="qk")], [("a", (2, 4, 5)), ("b", (2, 4, 5))], [],
     "node 'qk' \\(MatMul\\): inner dims disagree: \\(2, 4, 5\\) x \\(2, 4, 5\\) \\(5 != 4\\)"),
    ([helper.make_node("MatMul", ["a", "b"], ["y"], name="qk")], [("a", ("n", 4, 5)), ("b", (2, 5, 4))], [],
     "node 'qk': the shape of its first input 'a' is unknown"),
    ([helper.make_node("Einsum", ["a", "b"], ["y"], name="ein", equation="bii,bij->bj")],
     [("a", (2, 4, 4)), ("b", (2, 4, 4))], [], "node 'ein' \\(Einsum\\): einsum 'bii,bij->bj': operand 'bii' repeats"),
    ([helper.make_node("Gemm", ["a", "w"], ["y"], name="fc", transB=1)], [("a", (2, 8))], [_init("w", (4, 6))],
     "node 'fc' \\(Gemm\\): inner dims disagree"),
])
def test_bad_products_are_one_line_errors_naming_the_node(nodes, inputs, inits, message):
    with pytest.raises(OnnxImportError, match=message) as info:
        layers_from_onnx(_graph(nodes, inputs, inits))
    assert "\n" not in str(info.value) and info.value.__cause__ is None


def test_einsum_node_and_token_ids():
    mk = helper.make_node
    nodes = [mk("Gather", ["table", "ids"], ["emb"], name="embed"),
             mk("Einsum", ["emb", "w"], ["y"], name="proj", equation="bsd,de->bse"),
             mk("Einsum", ["y", "y"], ["s"], name="scores", equation="bqd,bkd->bqk")]
    net = layers_from_onnx(_graph(nodes, [("ids", (2, 16))], [_init("table", (100, 64)), _init("w", (64, 32))],
                                  input_types={"ids": TensorProto.INT64}))
    assert [(lay.op, lay.gemm_dims) for lay in net.layers] == [("gemm", (1, 32, 32, 64)), ("bmm", (2, 16, 16, 32))]
    assert [(u.op, u.elements) for u in net.uncosted] == [("embedding", 2 * 16 * 64)]
    assert net.input_text == "2x16 tokens"
