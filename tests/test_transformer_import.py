"""Transformers read from torch modules and from their ONNX export: exact gemm / bmm shapes, closed-form MACs,
the uncosted ops with their element counts, and one-line errors naming the module or node."""
from __future__ import annotations

import io
import math
import time
import warnings

import pytest

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional

from nn_space.layers import LayerSpecError  # noqa: E402
from nn_space.torch_extract import layers_from_torch  # noqa: E402

B, S, D, H, FFN, VOCAB = 2, 16, 64, 4, 128, 100  # batch, tokens, width, heads, FFN width
HD = D // H
ROWS, SCORES = B * S, B * H * S * S  # gemm rows (tokens x batch), attention scores per layer


class TinyBert(nn.Module):
    """BERT-like: token + position embeddings, LayerNorm, post-LN nn.TransformerEncoderLayers with GELU."""

    def __init__(self, layers=2, norm_first=False, activation="gelu"):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Parameter(torch.randn(1, S, D) * 0.02)
        self.norm = nn.LayerNorm(D)
        layer = nn.TransformerEncoderLayer(D, H, FFN, dropout=0.1, activation=activation, batch_first=True,
                                           norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, ids, src_key_padding_mask=None):
        return self.encoder(self.norm(self.tok(ids) + self.pos), src_key_padding_mask=src_key_padding_mask)


class SdpaAttention(nn.Module):
    """Packed qkv projection, F.scaled_dot_product_attention (causal), output projection, residual."""

    def __init__(self, kv_heads=H, gqa=False):
        super().__init__()
        self.kv_heads, self.gqa = kv_heads, gqa
        self.qkv = nn.Linear(D, D + 2 * kv_heads * HD)
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = self.qkv(x).split([D, self.kv_heads * HD, self.kv_heads * HD], dim=-1)
        q = q.view(b, s, H, HD).transpose(1, 2)
        k, v = (t.view(b, s, self.kv_heads, HD).transpose(1, 2) for t in (k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.gqa)
        return x + self.proj(y.transpose(1, 2).reshape(b, s, D))


class ExplicitAttention(nn.Module):
    """Separate q/k/v projections, q @ k^T / sqrt(d), a masked_fill causal mask, softmax, @ v."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(D, D) for _ in range(4))
        self.register_buffer("causal", torch.ones(S, S).tril().bool())

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = (lin(x).view(b, s, H, HD).transpose(1, 2) for lin in (self.q, self.k, self.v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(HD)
        scores = scores.masked_fill(~self.causal, float("-inf"))
        y = torch.matmul(scores.softmax(dim=-1), v)
        return x + self.o(y.transpose(1, 2).reshape(b, s, D))


class Wrap(nn.Module):
    """Puts a block under the module path 'attn'."""

    def __init__(self, block):
        super().__init__()
        self.attn = block

    def forward(self, x):
        return self.attn(x)


def ids():
    return torch.randint(0, VOCAB, (B, S), generator=torch.Generator().manual_seed(0))


def seq():
    return torch.randn(B, S, D, generator=torch.Generator().manual_seed(0))


def shapes(net):
    return [(lay.name, lay.op, lay.gemm_dims) for lay in net.layers]


def uncosted(net):
    return [(u.name, u.op, u.elements) for u in net.uncosted]


def encoder_layers(prefix):
    return [(f"{prefix}.self_attn.in_proj", "gemm", (1, ROWS, 3 * D, D)),  # packed in_proj: one gemm of 3*d
            (f"{prefix}.self_attn.attn_qk", "bmm", (B * H, S, S, HD)),
            (f"{prefix}.self_attn.attn_av", "bmm", (B * H, S, HD, S)),
            (f"{prefix}.self_attn.out_proj", "gemm", (1, ROWS, D, D)),
            (f"{prefix}.linear1", "gemm", (1, ROWS, FFN, D)),
            (f"{prefix}.linear2", "gemm", (1, ROWS, D, FFN))]


#: MACs of one encoder layer: 4 projections, FFN, and the two attention products.
LAYER_MACS = ROWS * (4 * D * D + 2 * D * FFN) + 2 * B * H * S * S * HD


def test_bert_like_encoder_layers_macs_and_uncosted_ops():
    net = layers_from_torch(TinyBert(), example_inputs=ids(), name="tinybert")
    assert shapes(net) == encoder_layers("encoder.layers.0") + encoder_layers("encoder.layers.1")
    assert net.macs == 2 * LAYER_MACS == 2 * 1_114_112
    per_layer = lambda p: [  # noqa: E731
        (f"{p}.self_attn.attn_scale", "scale", SCORES), (f"{p}.self_attn.softmax", "softmax", SCORES),
        (f"{p}.residual_add", "residual_add", ROWS * D), (f"{p}.norm1.layernorm", "layernorm", ROWS * D),
        (f"{p}.gelu", "gelu", ROWS * FFN),
        (f"{p}.residual_add_1", "residual_add", ROWS * D), (f"{p}.norm2.layernorm", "layernorm", ROWS * D)]
    assert uncosted(net) == [("tok.embedding", "embedding", ROWS * D), ("add", "add", ROWS * D),
                             ("norm.layernorm", "layernorm", ROWS * D),
                             *per_layer("encoder.layers.0"), *per_layer("encoder.layers.1")]
    assert net.input_text == "2x16 tokens" and net.describe_input() == "2x16 tokens"
    assert net.input_size == (S, 1)


def test_pytorch_fast_paths_are_not_taken():
    """Run plainly in eval / no_grad, the encoder takes PyTorch's fused ops (the products are hidden in them);
    under layers_from_torch every product is there."""
    model = TinyBert().eval()
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        model(ids())
    assert "aten::_transformer_encoder_layer_fwd" in {e.name for e in prof.events()}
    net = layers_from_torch(model, example_inputs=ids())
    assert [lay.name.rsplit(".", 1)[-1] for lay in net.layers[:6]] == [
        "in_proj", "attn_qk", "attn_av", "out_proj", "linear1", "linear2"]
    assert model.training is False
    model.train()
    layers_from_torch(model, example_inputs=ids())
    assert model.training is True  # the mode is given back


def test_pre_ln_relu_encoder_with_a_padding_mask():
    mask = torch.zeros(B, S, dtype=torch.bool)
    mask[:, 12:] = True
    net = layers_from_torch(TinyBert(norm_first=True, activation="relu"),
                            example_inputs={"ids": ids(), "src_key_padding_mask": mask})
    assert shapes(net) == encoder_layers("encoder.layers.0") + encoder_layers("encoder.layers.1")
    totals = net.uncosted_totals()
    assert totals["relu"] == (2, 2 * ROWS * FFN) and "gelu" not in totals
    assert [u.elements for u in net.uncosted if u.name.endswith("self_attn.attn_mask")] == [SCORES, SCORES]
    assert "dropout" not in totals  # identity in eval


def test_sdpa_block():
    net = layers_from_torch(Wrap(SdpaAttention()), example_inputs=seq())
    assert shapes(net) == [("attn.qkv", "gemm", (1, ROWS, 3 * D, D)),
                           ("attn.attn_qk", "bmm", (B * H, S, S, HD)), ("attn.attn_av", "bmm", (B * H, S, HD, S)),
                           ("attn.proj", "gemm", (1, ROWS, D, D))]
    assert net.macs == ROWS * 4 * D * D + 2 * B * H * S * S * HD
    assert uncosted(net) == [("attn.attn_scale", "scale", SCORES), ("attn.attn_mask", "causal_mask", SCORES),
                             ("attn.softmax", "softmax", SCORES), ("attn.residual_add", "residual_add", ROWS * D)]


def test_sdpa_grouped_query_attention_and_broadcast_heads():
    net = layers_from_torch(Wrap(SdpaAttention(kv_heads=2, gqa=True)), example_inputs=seq())
    qkv, qk, av, _ = net.layers
    assert qkv.gemm_dims == (1, ROWS, D + 2 * 2 * HD, D)
    assert qk.gemm_dims == (B * H, S, S, HD) and av.gemm_dims == (B * H, S, HD, S)  # every query head

    class Broadcast(nn.Module):  # one key / value head broadcast to all query heads (multi-query)
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v)

    net = layers_from_torch(Broadcast(), example_inputs=(torch.randn(B, H, S, HD), torch.randn(B, 1, 10, HD),
                                                         torch.randn(B, 1, 10, 32)))
    assert shapes(net) == [("attn_qk", "bmm", (B * H, S, 10, HD)), ("attn_av", "bmm", (B * H, S, 32, 10))]
    net = layers_from_torch(Broadcast(), example_inputs=(torch.randn(B, 1, S, HD), torch.randn(B, H, 10, HD),
                                                         torch.randn(B, H, 10, 32)))  # one query head, H keys
    assert shapes(net) == [("attn_qk", "bmm", (B * H, S, 10, HD)), ("attn_av", "bmm", (B * H, S, 32, 10))]


def test_explicit_matmul_softmax_block():
    net = layers_from_torch(Wrap(ExplicitAttention()), example_inputs=seq())
    proj = [(f"attn.{p}", "gemm", (1, ROWS, D, D)) for p in "qkv"]
    assert shapes(net) == [*proj, ("attn.matmul", "bmm", (B * H, S, S, HD)),
                           ("attn.matmul_1", "bmm", (B * H, S, HD, S)), ("attn.o", "gemm", (1, ROWS, D, D))]
    assert net.macs == ROWS * 4 * D * D + 2 * B * H * S * S * HD
    assert uncosted(net) == [("attn.scale", "scale", SCORES), ("attn.mask", "mask", SCORES),
                             ("attn.softmax", "softmax", SCORES), ("attn.residual_add", "residual_add", ROWS * D)]


def test_multihead_attention_projections():
    """nn.MultiheadAttention: packed self-attention is one 3*d gemm; cross-attention (key is value) q + kv;
    distinct kdim / vdim three projections; bias_kv and add_zero_attn add two keys."""
    mha = nn.MultiheadAttention(D, H)
    x, mem = torch.randn(S, B, D), torch.randn(10, B, D)
    net = layers_from_torch(mha, example_inputs=(mem, mem, mem))
    assert shapes(net)[0] == ("in_proj", "gemm", (1, 10 * B, 3 * D, D))
    net = layers_from_torch(mha, example_inputs=(x, mem, mem))
    assert shapes(net) == [("q_proj", "gemm", (1, ROWS, D, D)), ("kv_proj", "gemm", (1, 10 * B, 2 * D, D)),
                           ("attn_qk", "bmm", (B * H, S, 10, HD)), ("attn_av", "bmm", (B * H, S, HD, 10)),
                           ("out_proj", "gemm", (1, ROWS, D, D))]
    assert uncosted(net)[-1] == ("attn_weights_mean", "mean", B * S * 10)  # need_weights=True averages heads
    net = layers_from_torch(nn.MultiheadAttention(D, H, kdim=32, vdim=48),
                            example_inputs=(x, torch.randn(10, B, 32), torch.randn(10, B, 48)))
    assert [d for _, _, d in shapes(net)[:3]] == [(1, ROWS, D, D), (1, 10 * B, D, 32), (1, 10 * B, D, 48)]
    net = layers_from_torch(nn.MultiheadAttention(D, H, add_bias_kv=True, add_zero_attn=True),
                            example_inputs=(x, x, x))
    assert net.layers[1].gemm_dims == (B * H, S, S + 2, HD)


# --- the same models through ONNX -------------------------------------------------------------------------

onnx_models = [("tinybert", TinyBert, ids), ("sdpa", lambda: Wrap(SdpaAttention()), seq),
               ("explicit", lambda: Wrap(ExplicitAttention()), seq)]


@pytest.mark.parametrize("name, build, example", onnx_models, ids=[m[0] for m in onnx_models])
def test_onnx_export_reads_back_the_same_products(name, build, example):
    onnx = pytest.importorskip("onnx")
    from nn_space.onnx_import import layers_from_onnx

    model, x = build().eval(), example()
    ours = layers_from_torch(model, example_inputs=x, name=name)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, opset_version=17, dynamo=False)  # the dynamo one needs onnxscript
    theirs = layers_from_onnx(onnx.load_from_string(buf.getvalue()), name=name)
    assert theirs.macs == ours.macs
    assert [lay.macs for lay in theirs.layers] == [lay.macs for lay in ours.layers]
    bmm = lambda net: [lay.gemm_dims for lay in net.layers if lay.op == "bmm"]  # noqa: E731
    assert bmm(theirs) == bmm(ours) == [(B * H, S, S, HD), (B * H, S, HD, S)] * (2 if name == "tinybert" else 1)
    # out_proj is a Gemm in the export (torch flattens to 2-D first): fc there, gemm here, same MACs
    assert [lay.op for lay in theirs.layers if lay.op != "bmm"] == [
        "conv" if lay.name.endswith("out_proj") else "gemm" for lay in ours.layers if lay.op != "bmm"]
    for op in ("softmax", "layernorm", "residual_add"):
        assert theirs.uncosted_totals().get(op) == ours.uncosted_totals().get(op), op
    assert theirs.input_text == ours.input_text == "2x16 tokens"


def test_onnx_opset_14_decomposed_layer_norm_is_listed_op_by_op():
    onnx = pytest.importorskip("onnx")
    from nn_space.onnx_import import layers_from_onnx

    model, x = TinyBert().eval(), ids()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, opset_version=14, dynamo=False)  # no LayerNormalization before 17
    net = layers_from_onnx(onnx.load_from_string(buf.getvalue()))
    assert net.macs == 2 * LAYER_MACS
    totals = net.uncosted_totals()
    assert "layernorm" not in totals
    # 5 layer norms of 32 x 64: (x - mean) and its square and quotient are 2048 elements each, the mean and the
    # root of the variance 32 each (a ReduceMean for the mean, one for the variance)
    assert {op: totals[op] for op in ("sub", "pow", "sqrt", "div", "mean")} == {
        "sub": (5, 5 * ROWS * D), "pow": (5, 5 * ROWS * D), "sqrt": (5, 5 * ROWS), "div": (5, 5 * ROWS * D),
        "mean": (10, 10 * ROWS)}
    assert totals["softmax"] == (2, 2 * SCORES) and totals["erf"] == (2, 2 * ROWS * FFN)


# --- errors -----------------------------------------------------------------------------------------------

class Call(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _fused_attention(x):
    mha = nn.MultiheadAttention(D, H, batch_first=True)
    return torch._native_multi_head_attention(x, x, x, D, H, mha.in_proj_weight, mha.in_proj_bias,
                                              mha.out_proj.weight, mha.out_proj.bias)


bad_torch = [
    ("short positions", lambda: (TinyBert(), dict(example_inputs=torch.zeros(B, 20, dtype=torch.long))),
     r"^tinybert: the top-level module failed on input \(2, 20\): RuntimeError: The size of tensor a \(20\)"),
    ("wrong width", lambda: (Wrap(SdpaAttention()), dict(example_inputs=torch.randn(B, S, 32))),
     r"^tinybert: module 'attn.qkv' failed on input \(2, 16, 32\): RuntimeError: mat1 and mat2 shapes"),
    ("gqa heads", lambda: (Wrap(SdpaAttention(kv_heads=3, gqa=True)), dict(example_inputs=seq())),
     r"^tinybert: module 'attn' failed on input \(2, 16, 64\): RuntimeError: .*heads"),
    ("example type", lambda: (TinyBert(), dict(example_inputs="some text")),
     r"^example_inputs: str \(allowed: a tensor, a tuple"),
    ("both inputs", lambda: (TinyBert(), dict(input_size=(B, S), example_inputs=ids())),
     r"^input_size and example_inputs: give one"),
    ("bad size", lambda: (TinyBert(), dict(input_size=(B, -3))), r"^input_size: -3 in \(2, -3\)"),
    ("diagonal einsum", lambda: (Wrap(Call(lambda x: torch.einsum("bii,bij->bj", x, x))),
                                 dict(example_inputs=torch.randn(B, 4, 4))),
     r"^layer 'attn.einsum': einsum 'bii,bij->bj': operand 'bii' repeats an index"),
    ("three-operand einsum", lambda: (Wrap(Call(lambda x: torch.einsum("ij,jk,kl->il", x, x, x))),
                                      dict(example_inputs=torch.randn(4, 4))),
     r"^tinybert: module 'attn': einsum 'ij,jk,kl->il' of 3 operands"),
    ("tensordot", lambda: (Wrap(Call(lambda x: torch.tensordot(x, x, dims=([1], [1])))),
                           dict(example_inputs=torch.randn(4, 4))),
     r"^tinybert: module 'attn': tensordot: a tensordot cannot be expressed"),
    ("fused attention", lambda: (Wrap(Call(_fused_attention)), dict(example_inputs=seq())),
     r"^tinybert: module 'attn': _native_multi_head_attention: PyTorch's fused attention fast path"),
    ("lstm", lambda: (Wrap(nn.LSTM(8, 8)), dict(example_inputs=torch.randn(3, B, 8))),
     r"^tinybert: module 'attn': lstm: a recurrent layer \(LSTM\) cannot be expressed"),
]


@pytest.mark.parametrize("case, build, message", bad_torch, ids=[c[0] for c in bad_torch])
def test_bad_torch_input_is_one_line_naming_the_module(case, build, message):
    model, kwargs = build()
    with pytest.raises(LayerSpecError, match=message) as info:
        layers_from_torch(model, name="tinybert", **kwargs)
    err = info.value
    assert "\n" not in str(err) and (err.__cause__ is None and (err.__context__ is None or err.__suppress_context__))


# --- against the zoo's BERT-base --------------------------------------------------------------------------

def _zoo_bert():
    from nn_space.zoo import get_network

    try:
        return get_network("bert_base")
    except KeyError:
        pytest.skip("nn_space.zoo has no bert_base")


def test_torch_bert_base_encoder_matches_the_zoo():
    zoo = _zoo_bert()
    layers = 12
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(768, 12, 3072, activation="gelu", batch_first=True),
                                layers, enable_nested_tensor=False)
    start = time.perf_counter()
    net = layers_from_torch(enc, example_inputs=torch.zeros(1, 128, 768), name="bert_base_encoder")
    assert time.perf_counter() - start < 60
    assert net.input_text == zoo.input_text == "128 tokens"
    for i in range(layers):
        mine = [lay for lay in net.layers if lay.name.startswith(f"layers.{i}.")]
        theirs = [lay for lay in zoo.layers if lay.name.startswith(f"layer{i}.")]
        assert sum(lay.macs for lay in mine) == sum(lay.macs for lay in theirs) == 931_135_488
        assert [lay.gemm_dims for lay in mine if lay.op == "bmm"] == [
            lay.gemm_dims for lay in theirs if lay.op == "bmm"]
        ops = lambda us, p: {op: sum(u.elements for u in us if u.name.startswith(p) and u.op == op)  # noqa: E731
                             for op in ("scale", "softmax", "residual_add", "layernorm", "gelu")}
        assert ops(net.uncosted, f"layers.{i}.") == ops(zoo.uncosted, f"layer{i}.")
    encoder = sum(lay.macs for lay in zoo.layers if lay.name.startswith("layer"))
    assert net.macs == encoder == zoo.macs - sum(lay.macs for lay in zoo.layers if lay.name == "pooler")
