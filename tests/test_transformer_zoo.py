"""Built-in transformers (issue 26): MACs against published figures and closed forms, parameter counts,
layer shapes, the uncosted ops, input checks.

Published figures these tests hold the networks to (MACs, batch 1):

- ViT-B/16 at 224 x 224: 17.56 G (torchvision's ``ViT_B_16_Weights`` lists 17.56 "GFLOPS", counted as
  MACs; timm's ``vit_base_patch16_224`` card and fvcore: 17.6 GMACs). Here: 17,563,828,224 (-0.2 % of 17.6).
- BERT-base at 128 tokens: 11.2 G (the figure usually quoted, ~22.5 GFLOPs). Here: 11,174,215,680 (-0.2 %).
- Parameter counts: BERT-base (HF ``bert-base-uncased`` ``BertModel``) 109,482,240; ViT-B/16 (torchvision
  ``vit_b_16``) 86,567,656; GPT-2 small (HF ``gpt2``) 124,439,808. The costed layers' weights plus the
  embedding tables, biases and LayerNorm parameters must add up to them exactly.

Closed forms (d = 768, d_ff = 3072, 12 layers, 12 heads of 64, T tokens, batch b):

- a layer: b (4 T d^2 + 2 T^2 d + 2 T d d_ff); BERT adds the pooler b d^2, ViT the patch embedding
  b 196 d (3 * 16 * 16) and the head b d 1000, GPT-2 the LM head on one position b d 50257.
- GPT-2 prefill vs Kaplan et al. 2020 (Table 1: C_forward = 2 N + 2 n_layer n_ctx d FLOPs per token, N =
  2 d n_layer (2 d + d_ff) = 84,934,656): T (N + n_layer T d) MACs, plus the masked half of the T x T
  products that HF computes (n_layer T^2 d), plus one LM-head row: 96,636,764,160 + 9,663,676,416 +
  38,597,376 = 106,339,037,952.
- GPT-2 vs PaLM (Chowdhery et al. 2022, App. B) / nanoGPT's ``estimate_mfu``: 2 N' + 4 n_layer d T FLOPs per
  token, N' = 124,439,808 - 1024 x 768 (the position table) = 123,653,376: within 0.2 % (N' also counts the
  biases and LayerNorm gains) with the LM head on every position (prefill) and for the decode step.
"""
from __future__ import annotations

import math

import pytest

from nn_space.layers import LayerSpecError
from nn_space.transformers import TRANSFORMERS
from nn_space.zoo import NETWORKS, get_network

D, D_FF, L, H, HD = 768, 3072, 12, 12, 64
VOCAB = 50257

#: (name, published MACs, source)
PUBLISHED_MACS = [
    ("vit_b16", 17.56e9, "torchvision ViT_B_16_Weights: 17.56"),
    ("vit_b16", 17.6e9, "timm vit_base_patch16_224 / fvcore: 17.6 GMACs"),
    ("bert_base", 11.2e9, "BERT-base, 128 tokens: 11.2 GMACs"),
]
#: The exact MACs at the defaults, batch 1 (module docstring of nn_space.transformers).
EXACT_MACS = {"bert_base": 11_174_215_680, "bert_base_512": 48_318_971_904, "vit_b16": 17_563_828_224,
              "gpt2_prefill": 106_339_037_952, "gpt2_decode": 142_406_400}
PUBLISHED_PARAMS = {"bert_base": 109_482_240, "vit_b16": 86_567_656, "gpt2_prefill": 124_439_808}


def layer_macs(t: int, keys: int | None = None) -> int:
    keys = t if keys is None else keys
    return 4 * t * D * D + 2 * t * keys * D + 2 * t * D * D_FF


@pytest.mark.parametrize("name, published, source", PUBLISHED_MACS)
def test_macs_within_2_percent_of_published(name, published, source):
    macs = get_network(name).macs
    assert abs(macs - published) / published < 0.02, (source, macs)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name, size, expected", [
    ("bert_base", 128, lambda t: L * layer_macs(t) + D * D),
    ("bert_base", 40, lambda t: L * layer_macs(t) + D * D),
    ("bert_base_512", 512, lambda t: L * layer_macs(t) + D * D),
    ("vit_b16", 224, lambda s: (s // 16) ** 2 * D * 3 * 16 * 16 + L * layer_macs((s // 16) ** 2 + 1) + D * 1000),
    ("vit_b16", 384, lambda s: (s // 16) ** 2 * D * 3 * 16 * 16 + L * layer_macs((s // 16) ** 2 + 1) + D * 1000),
    ("gpt2_prefill", 1024, lambda t: L * layer_macs(t) + D * VOCAB),
    ("gpt2_prefill", 100, lambda t: L * layer_macs(t) + D * VOCAB),
    ("gpt2_decode", 1024, lambda keys: L * layer_macs(1, keys) + D * VOCAB),
    ("gpt2_decode", 7, lambda keys: L * layer_macs(1, keys) + D * VOCAB),
])
def test_macs_follow_the_closed_forms(name, size, expected, batch):
    net = get_network(name, input_size=size, batch=batch)
    assert net.macs == batch * expected(size)
    assert net.macs == sum(layer.macs for layer in net.layers)  # the uncosted ops add no MACs


def test_exact_macs_at_the_defaults():
    assert {name: get_network(name).macs for name in TRANSFORMERS} == EXACT_MACS


def test_gpt2_against_kaplan_and_palm():
    t = 1024
    prefill, decode = get_network("gpt2_prefill").macs, get_network("gpt2_decode").macs
    n_kaplan = 2 * D * L * (2 * D + D_FF)
    assert n_kaplan == 84_934_656
    kaplan = t * (n_kaplan + L * t * D)  # C_forward / 2 per token, without the de-embedding
    assert kaplan == 96_636_764_160
    assert prefill == kaplan + L * t * t * D + D * VOCAB  # + the masked half HF computes + one LM-head row
    n_palm = PUBLISHED_PARAMS["gpt2_prefill"] - 1024 * D
    every_position = prefill + (t - 1) * D * VOCAB
    assert math.isclose(every_position, t * (n_palm + 2 * L * D * t), rel_tol=2e-3)
    assert math.isclose(decode, n_palm + 2 * L * D * t, rel_tol=2e-3)
    # Kaplan's per-token count undercounts the last position's step, which reads every key in both products
    assert decode == n_kaplan + L * t * D + D * VOCAB + L * t * D


def _parameters(net, tables: int, tied_head: str | None = None) -> int:
    """Weights and biases of the costed gemm/conv layers, LayerNorm gains and biases, embedding tables."""
    linear = sum(layer.weight_count + layer.k for layer in net.layers
                 if layer.op != "bmm" and layer.name != tied_head)
    norms = 2 * D * net.uncosted_totals()["layernorm"][0]
    return linear + norms + tables


def test_parameter_counts_match_the_published_models():
    assert _parameters(get_network("bert_base"), (30522 + 512 + 2) * D) == PUBLISHED_PARAMS["bert_base"]
    assert _parameters(get_network("vit_b16"), (1 + 197) * D) == PUBLISHED_PARAMS["vit_b16"]  # cls + pos
    for name in ("gpt2_prefill", "gpt2_decode"):  # the LM head is wte, tied
        assert _parameters(get_network(name), (VOCAB + 1024) * D, "lm_head") == PUBLISHED_PARAMS["gpt2_prefill"]


def _by_name(net):
    return {layer.name: layer for layer in net.layers}


@pytest.mark.parametrize("batch", [1, 2])
def test_layer_shapes(batch):
    b = batch
    bert = _by_name(get_network("bert_base", batch=b))
    assert len(bert) == 12 * 8 + 1
    for i in (0, 3, 11):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            assert bert[f"layer{i}.{proj}"].gemm_dims == (1, 128 * b, D, D)
        assert bert[f"layer{i}.attn_qk"].gemm_dims == (H * b, 128, 128, HD)
        assert bert[f"layer{i}.attn_av"].gemm_dims == (H * b, 128, HD, 128)
        assert bert[f"layer{i}.ffn_up"].gemm_dims == (1, 128 * b, D_FF, D)
        assert bert[f"layer{i}.ffn_down"].gemm_dims == (1, 128 * b, D, D_FF)
        assert bert[f"layer{i}.attn_qk"].op == "bmm" and bert[f"layer{i}.q_proj"].op == "gemm"
    assert bert["pooler"].gemm_dims == (1, b, D, D)
    assert "layer12.q_proj" not in bert

    vit = get_network("vit_b16", batch=b)
    patch = vit.layers[0]
    assert patch.name == "patch_embed" and patch.op == "conv"
    assert patch.describe() == "conv K768 C3 14x14 16x16/s16" + (f" N{b}" if b > 1 else "")
    v = _by_name(vit)
    assert v["layer5.q_proj"].gemm_dims == (1, 197 * b, D, D)
    assert v["layer5.attn_qk"].gemm_dims == (H * b, 197, 197, HD)
    assert v["head"].gemm_dims == (1, b, 1000, D) and vit.layers[-1].name == "head"

    pre = _by_name(get_network("gpt2_prefill", batch=b))
    assert pre["layer0.attn_qk"].gemm_dims == (H * b, 1024, 1024, HD)  # the full square, causal or not
    assert pre["lm_head"].gemm_dims == (1, b, VOCAB, D)  # the last position only

    dec = get_network("gpt2_decode", batch=b)
    assert all(layer.y == b for layer in dec.layers if layer.op == "gemm")  # M = 1 token x batch
    d = _by_name(dec)
    assert d["layer7.k_proj"].gemm_dims == d["layer7.v_proj"].gemm_dims == (1, b, D, D)  # the new token's K, V
    assert d["layer7.attn_qk"].gemm_dims == (H * b, 1, 1024, HD)  # 1023 cached keys + the new token's
    assert d["layer7.attn_av"].gemm_dims == (H * b, 1, HD, 1024)


def _totals(name, **kw):
    return get_network(name, **kw).uncosted_totals()


def test_uncosted_ops_bert():
    t, b = 128, 2
    scores = b * H * t * t
    assert _totals("bert_base", batch=b) == {
        "embedding": (3, 2 * b * t * D + t * D), "embedding_add": (2, 2 * b * t * D),
        "layernorm": (25, 25 * b * t * D),  # post-LN: 2 per layer + the embeddings' LN
        "scale": (12, 12 * scores), "softmax": (12, 12 * scores),
        "residual_add": (24, 24 * b * t * D), "gelu": (12, 12 * b * t * D_FF), "tanh": (1, b * D)}
    net = get_network("bert_base")
    names = [u.name for u in net.uncosted]
    assert names[:6] == ["embeddings.word", "embeddings.token_type", "embeddings.add_token_type",
                         "embeddings.position", "embeddings.add_position", "embeddings.norm"]
    # post-LN: each layer's norms follow its residual adds
    assert names[6:13] == ["layer0.attn_scale", "layer0.softmax", "layer0.attn_residual", "layer0.attn_norm",
                           "layer0.gelu", "layer0.ffn_residual", "layer0.ffn_norm"]
    assert names[-1] == "pooler.tanh" and "layer3.softmax" in names


def test_uncosted_ops_vit():
    t = 197
    scores = H * t * t
    assert _totals("vit_b16") == {
        "concat": (1, t * D), "embedding_add": (1, t * D),
        "layernorm": (25, 25 * t * D),  # pre-LN: 2 per layer + the final norm
        "scale": (12, 12 * scores), "softmax": (12, 12 * scores),
        "residual_add": (24, 24 * t * D), "gelu": (12, 12 * t * D_FF)}


def test_uncosted_ops_gpt2():
    t = 1024
    scores = H * t * t
    assert _totals("gpt2_prefill") == {
        "embedding": (2, 2 * t * D), "embedding_add": (1, t * D), "layernorm": (25, 25 * t * D),
        "scale": (12, 12 * scores), "causal_mask": (12, 12 * scores), "softmax": (12, 12 * scores),
        "residual_add": (24, 24 * t * D), "gelu": (12, 12 * t * D_FF)}
    b = 3
    assert _totals("gpt2_decode", batch=b) == {
        "embedding": (2, b * D + D), "embedding_add": (1, b * D), "layernorm": (25, 25 * b * D),
        "kv_cache_write": (12, 12 * 2 * b * D), "scale": (12, 12 * b * H * t), "causal_mask": (12, 12 * b * H * t),
        "softmax": (12, 12 * b * H * t), "residual_add": (24, 24 * b * D), "gelu": (12, 12 * b * D_FF)}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_uncosted_op_names(name):
    net = get_network(name)
    names = [u.name for u in net.uncosted]
    assert len(names) == len(set(names)) and not set(names) & {layer.name for layer in net.layers}
    assert all(u.elements > 0 for u in net.uncosted)
    # everything but the position table (broadcast over the batch) scales with the batch
    one, two = net.uncosted, get_network(name, batch=2).uncosted
    assert [u.name for u in two] == names
    assert all(v.elements == 2 * u.elements for u, v in zip(one, two)
               if u.name not in ("embeddings.position", "wpe"))


def test_input_text():
    assert {name: get_network(name).describe_input() for name in TRANSFORMERS} == {
        "bert_base": "128 tokens", "bert_base_512": "512 tokens", "vit_b16": "224x224",
        "gpt2_prefill": "1024 tokens", "gpt2_decode": "1 token, KV cache 1024"}
    assert get_network("gpt2_decode", input_size=300).describe_input() == "1 token, KV cache 300"
    assert get_network("bert_base_512", input_size=256).macs == get_network("bert_base", input_size=256).macs
    assert set(TRANSFORMERS) <= set(NETWORKS)


@pytest.mark.parametrize("name, size, match", [
    ("gpt2_prefill", 1025, "input_size: 1025 tokens .*1 to 1024, GPT-2"),
    ("gpt2_decode", 1025, "input_size: 1025 KV-cache positions .*1 to 1024"),
    ("bert_base", 513, "input_size: 513 tokens .*1 to 512, BERT"),
    ("bert_base", 0, "input_size: 0"),
    ("vit_b16", 200, "input_size: 200 .*multiple of 16"),
    ("vit_b16", 8, "input_size: 8 .*multiple of 16"),
])
def test_bad_input_sizes_are_clear_errors(name, size, match):
    with pytest.raises(LayerSpecError, match=match):
        get_network(name, input_size=size)


def test_bad_batch():
    with pytest.raises(LayerSpecError, match="batch: 0"):
        get_network("bert_base", batch=0)


def test_a_layer_matches_torch_flop_counter():
    """One layer of each kind counted by torch's FlopCounterMode on nn.MultiheadAttention (the explicit
    product path, ``need_weights=True``) and two nn.Linear: the same MACs as the layer0.* layers here."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    attn = torch.nn.MultiheadAttention(D, H, batch_first=True)
    up, down = torch.nn.Linear(D, D_FF), torch.nn.Linear(D_FF, D)
    for name, size, t, b in (("bert_base", 24, 24, 2), ("vit_b16", 64, 17, 1), ("gpt2_prefill", 9, 9, 1)):
        x = torch.zeros(b, t, D)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1) if name.startswith("gpt2") else None
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y, _ = attn(x, x, x, need_weights=True, attn_mask=mask, average_attn_weights=False)
            down(up(y))
        ours = sum(layer.macs for layer in get_network(name, input_size=size, batch=b).layers
                   if layer.name.startswith("layer0."))
        assert counter.get_total_flops() == 2 * ours, name
