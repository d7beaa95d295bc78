"""Built-in transformer networks: BERT-base, ViT-B/16 and GPT-2 small (prefill and one decode step).

Every ``nn.Linear`` is a ``ConvLayer.gemm`` with M = tokens x batch rows (the layer's bias is folded into it,
as the CNNs' conv biases are), attention's two products per layer are ``ConvLayer.bmm`` with batch = heads x
samples, and ViT's patch embedding is a convolution. What the cost model does not cost is listed in
``Network.uncosted``, one ``UncostedOp`` per occurrence with the elements it produces (op names:
``embedding`` lookups, ``embedding_add``, ``concat``, ``layernorm``, ``scale`` of the scores by 1/sqrt(64),
``causal_mask``, ``softmax``, ``residual_add``, ``gelu``, ``tanh``, ``kv_cache_write``); none of them is a MAC.

Layer names (0-based blocks as in Hugging Face's ``encoder.layer.N`` / ``h.N``; ``layer3.q_proj`` ...):

=============  =========================================================================================
``q_proj``     gemm M = queries x batch, 768 -> 768 (likewise ``k_proj``, ``v_proj``; HF's GPT-2 and
               timm's / torchvision's ViT fuse them into one 768 -> 2304 product of the same MACs)
``attn_qk``    bmm, batch = 12 heads x batch, M = queries, N = keys, K = 64: the scores Q x K^T
``attn_av``    bmm, batch = 12 heads x batch, M = queries, N = 64, K = keys: softmax(scores) x V
``out_proj``   gemm 768 -> 768 (HF: ``attention.output.dense`` / ``attn.c_proj``)
``ffn_up``     gemm 768 -> 3072; ``ffn_down``: gemm 3072 -> 768
``pooler``     BERT: gemm 768 -> 768 on each sample's [CLS] token (M = batch)
``head``       ViT: ``patch_embed`` (conv) first, ``head`` gemm 768 -> 1000 on the [CLS] token (M = batch)
``lm_head``    GPT-2: gemm 768 -> 50257 (tied to ``wte``) on one position per sample (M = batch)
=============  =========================================================================================

In ``gpt2_decode`` the queries are the one new token and the keys the 1024 positions of the KV cache, the
new token's own included (see ``gpt2_decode``): ``attn_qk`` is 12x M1 N1024 K64, ``attn_av`` 12x M1 N64 K1024.

MAC counts at batch 1 (each one a closed form, checked exactly in tests/test_transformer_zoo.py; d = 768,
d_ff = 3072, 12 layers, T tokens): a layer costs 4*T*d^2 + 2*T^2*d + 2*T*d*d_ff MACs.

- ``bert_base`` (T = 128): 12 x 931,135,488 + pooler 589,824 = 11,174,215,680 (11.17 G; the 11.2 G usually
  quoted, i.e. ~22.5 GFLOPs, -0.2 %). ``bert_base_512``: 12 x
  4,026,531,840 + 589,824 = 48,318,971,904 (48.3 G).
- ``vit_b16`` (224 x 224, T = 197): patch_embed 115,605,504 + 12 x 1,453,954,560 + head 768,000 =
  17,563,828,224 (17.56 G: torchvision's ``ViT_B_16_Weights`` lists 17.56; timm's model card and fvcore
  17.6 GMACs, -0.2 %).
- ``gpt2_prefill`` (T = 1024): 12 x 8,858,370,048 + LM head 38,597,376 = 106,339,037,952 (106.3 G).
  Kaplan et al. 2020 (Table 1) count C_forward = 2 N + 2 n_layer n_ctx d FLOPs per token, N = 12 n_layer d^2
  = 84,934,656: in MACs N + n_layer n_ctx d per token, 96,636,764,160 for the 1024 tokens. Their attention
  term is half of the two full T x T products; the other half, n_layer T^2 d = 9,663,676,416, is the
  masked upper triangle HF computes anyway, so gpt2_prefill = Kaplan's count + that half + one LM-head row.
  PaLM's (Chowdhery et al. 2022, App. B; nanoGPT's ``estimate_mfu``) 2 N + 4 n_layer d T FLOPs per token
  counts the full square, as here.
- ``gpt2_decode`` (1 token, 1024 keys): 12 x 8,650,752 + LM head 38,597,376 = 142,406,400 (0.142 G), the
  full-square per-token count N + 2 n_layer n_ctx d + d V exactly.
"""
from __future__ import annotations

from .layers import ConvLayer, LayerSpecError, Network, UncostedOp

#: Hidden width, heads, head width, feed-forward width and layers of BERT-base, ViT-B/16 and GPT-2 small.
D_MODEL, HEADS, HEAD_DIM, D_FF, N_LAYERS = 768, 12, 64, 3072, 12
#: GPT-2's vocabulary (the tied LM head's output width) and position table (the longest context).
GPT2_VOCAB, GPT2_POSITIONS = 50257, 1024
#: BERT's position table (the longest sequence).
BERT_POSITIONS = 512
#: ViT-B/16's patch side; ViT-1000's classes.
PATCH, VIT_CLASSES = 16, 1000


class _Builder:
    """Collects the costed layers and the uncosted ops of one network, in execution order."""

    def __init__(self, batch: int):
        if isinstance(batch, bool) or not hasattr(batch, "__index__") or int(batch) < 1:
            raise LayerSpecError(f"batch: {batch!r} (allowed: an integer >= 1)")
        self.b = int(batch)
        self.layers: list[ConvLayer] = []
        self.uncosted: list[UncostedOp] = []

    def gemm(self, name: str, rows: int, c_in: int, c_out: int) -> None:
        """nn.Linear c_in -> c_out applied to ``rows`` tokens of every sample (M = rows x batch)."""
        self.layers.append(ConvLayer.gemm(rows * self.b, c_out, c_in, name=name))

    def bmm(self, name: str, m: int, n: int, k: int) -> None:
        """One product per head and sample."""
        self.layers.append(ConvLayer.bmm(HEADS * self.b, m, n, k, name=name))

    def op(self, name: str, op: str, elements: int) -> None:
        self.uncosted.append(UncostedOp(name, op, elements))

    def block(self, i: int, queries: int, keys: int, pre_ln: bool, causal: bool = False,
              cache_write: bool = False) -> None:
        """One transformer layer: attention (``queries`` x ``keys`` per head), residual, FFN, residual.

        pre_ln: LN before each sub-block (ViT, GPT-2); else after each residual add (BERT, post-LN).
        cache_write: the new token's K and V are written to the KV cache (decode).
        """
        p, b, d = f"layer{i}", self.b, D_MODEL
        tokens = b * queries * d
        scores = b * HEADS * queries * keys
        if pre_ln:
            self.op(f"{p}.attn_norm", "layernorm", tokens)
        for proj in ("q_proj", "k_proj", "v_proj"):
            self.gemm(f"{p}.{proj}", queries, d, d)
        if cache_write:
            self.op(f"{p}.kv_cache_write", "kv_cache_write", 2 * tokens)
        self.bmm(f"{p}.attn_qk", queries, keys, HEAD_DIM)
        self.op(f"{p}.attn_scale", "scale", scores)
        if causal:
            self.op(f"{p}.causal_mask", "causal_mask", scores)
        self.op(f"{p}.softmax", "softmax", scores)
        self.bmm(f"{p}.attn_av", queries, HEAD_DIM, keys)
        self.gemm(f"{p}.out_proj", queries, d, d)
        self.op(f"{p}.attn_residual", "residual_add", tokens)
        self.op(f"{p}.ffn_norm" if pre_ln else f"{p}.attn_norm", "layernorm", tokens)
        self.gemm(f"{p}.ffn_up", queries, d, D_FF)
        self.op(f"{p}.gelu", "gelu", b * queries * D_FF)
        self.gemm(f"{p}.ffn_down", queries, D_FF, d)
        self.op(f"{p}.ffn_residual", "residual_add", tokens)
        if not pre_ln:
            self.op(f"{p}.ffn_norm", "layernorm", tokens)

    def network(self, name: str, input_size: tuple[int, int], text: str) -> Network:
        return Network(name, tuple(self.layers), input_size, tuple(self.uncosted), text)


def _tokens(what: str, value, limit: int, model: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or not 1 <= int(value) <= limit:
        raise LayerSpecError(f"input_size: {value!r} {what} (allowed: 1 to {limit}, {model}'s position table)")
    return int(value)


def bert_base(input_size: int = 128, batch: int = 1) -> Network:
    """BERT-base (Devlin et al. 2019) as Hugging Face's ``BertModel``: ``input_size`` tokens (<= 512).

    Embeddings (word + token type + position lookups, two adds, LayerNorm), 12 post-LN layers (d = 768,
    12 heads of 64, FFN 3072, GELU) and the pooler (768 x 768 + tanh on the [CLS] token of each sample). No
    task head (the MLM / NSP heads are not part of ``BertModel``). The padding mask HF adds to the scores
    is not listed (an unpadded input needs none). The position lookup yields T x 768 elements, broadcast over
    the batch as HF does.
    """
    return _bert(input_size, batch, "bert_base")


def bert_base_512(input_size: int = BERT_POSITIONS, batch: int = 1) -> Network:
    """BERT-base at its longest sequence, 512 tokens (see ``bert_base``)."""
    return _bert(input_size, batch, "bert_base_512")


def _bert(input_size: int, batch: int, name: str) -> Network:
    t = _tokens("tokens", input_size, BERT_POSITIONS, "BERT")
    g = _Builder(batch)
    b, d = g.b, D_MODEL
    g.op("embeddings.word", "embedding", b * t * d)
    g.op("embeddings.token_type", "embedding", b * t * d)
    g.op("embeddings.add_token_type", "embedding_add", b * t * d)
    g.op("embeddings.position", "embedding", t * d)
    g.op("embeddings.add_position", "embedding_add", b * t * d)
    g.op("embeddings.norm", "layernorm", b * t * d)
    for i in range(N_LAYERS):
        g.block(i, t, t, pre_ln=False)
    g.gemm("pooler", 1, d, d)
    g.op("pooler.tanh", "tanh", b * d)
    return g.network(name, (t, 1), f"{t} tokens")


def vit_b16(input_size: int = 224, batch: int = 1) -> Network:
    """ViT-B/16 (Dosovitskiy et al. 2021) as timm's ``vit_base_patch16_224`` / torchvision's ``vit_b_16``.

    patch_embed: a 16x16 stride-16 convolution 3 -> 768 (224 x 224: 14 x 14 = 196 patches); the [CLS]
    token is concatenated (197 tokens) and the position embedding added; 12 pre-LN layers as BERT's; the
    final LayerNorm (on every token, as both implementations apply it) and the head 768 -> 1000 on the
    [CLS] token. ``input_size`` must be a multiple of 16 (other sizes need an interpolated position table).
    """
    if isinstance(input_size, bool) or not hasattr(input_size, "__index__") or input_size < PATCH \
            or input_size % PATCH:
        raise LayerSpecError(f"input_size: {input_size!r} (allowed: a multiple of {PATCH}, ViT-B/16's patch)")
    g = _Builder(batch)
    b, d = g.b, D_MODEL
    g.layers.append(ConvLayer.conv(3, d, input_size, PATCH, PATCH, 0, n=b, name="patch_embed"))
    t = (input_size // PATCH) ** 2 + 1
    g.op("cls_token", "concat", b * t * d)
    g.op("pos_embed", "embedding_add", b * t * d)
    for i in range(N_LAYERS):
        g.block(i, t, t, pre_ln=True)
    g.op("norm", "layernorm", b * t * d)
    g.gemm("head", 1, d, VIT_CLASSES)
    return g.network("vit_b16", (input_size, input_size), f"{input_size}x{input_size}")


def _gpt2_embeddings(g: _Builder, t: int) -> None:
    b, d = g.b, D_MODEL
    g.op("wte", "embedding", b * t * d)
    g.op("wpe", "embedding", t * d)  # position ids (1, T), broadcast over the batch as HF does
    g.op("embeddings.add_position", "embedding_add", b * t * d)


def gpt2_prefill(input_size: int = GPT2_POSITIONS, batch: int = 1) -> Network:
    """GPT-2 small (Radford et al. 2019), HF's ``GPT2LMHeadModel``, on a prompt of ``input_size`` tokens (<= 1024).

    12 pre-LN layers (d = 768, 12 heads of 64, FFN 3072, GELU), final LayerNorm ``ln_f`` (on every token).
    Causal attention is costed as the full T x T products, which is what HF's implementation computes (the
    scores of later positions are computed, then masked); a kernel that skips the masked blocks does about
    half the attention MACs (Kaplan et al.'s count, see the module docstring).

    LM head (tied to ``wte``, 768 -> 50257): on the last position only, since generation needs only the
    next token's logits (nanoGPT's ``generate`` does so; HF's ``generate`` asks for ``logits_to_keep=1``,
    GPT-2 included since transformers PR #39016). Scoring every position (a training forward, perplexity)
    costs T - 1 more rows: + 39.5 G at 1024 tokens.
    """
    t = _tokens("tokens", input_size, GPT2_POSITIONS, "GPT-2")
    g = _Builder(batch)
    _gpt2_embeddings(g, t)
    for i in range(N_LAYERS):
        g.block(i, t, t, pre_ln=True, causal=True)
    g.op("ln_f", "layernorm", g.b * t * D_MODEL)
    g.gemm("lm_head", 1, D_MODEL, GPT2_VOCAB)
    return g.network("gpt2_prefill", (t, 1), f"{t} tokens")


def gpt2_decode(input_size: int = GPT2_POSITIONS, batch: int = 1) -> Network:
    """One GPT-2 small decode step: a new token with a KV cache of ``input_size`` positions (<= 1024).

    Every gemm has M = 1 (x batch). The cache's ``input_size`` = L positions include the new token's: L - 1
    earlier tokens (read by ``attn_qk`` / ``attn_av`` as their second operand, not recomputed) plus the new
    one, whose K and V ``k_proj`` / ``v_proj`` compute (M = 1) and write into the cache (``kv_cache_write``).
    So the new token, at position L - 1, attends to L keys; at the default L = 1024 it is the last of
    GPT-2's 1024 positions (a 1025th key would need a position GPT-2's table does not have), and
    ``attn_qk`` is M1 N1024 K64, ``attn_av`` M1 N64 K1024 per head. The causal mask is listed because HF
    applies it (here it masks nothing: the last position sees every key). The LM head gives the next
    token's logits.
    """
    keys = _tokens("KV-cache positions", input_size, GPT2_POSITIONS, "GPT-2")
    g = _Builder(batch)
    _gpt2_embeddings(g, 1)
    for i in range(N_LAYERS):
        g.block(i, 1, keys, pre_ln=True, causal=True, cache_write=True)
    g.op("ln_f", "layernorm", g.b * D_MODEL)
    g.gemm("lm_head", 1, D_MODEL, GPT2_VOCAB)
    return g.network("gpt2_decode", (1, keys), f"1 token, KV cache {keys}")


#: Name -> builder, merged into ``nn_space.zoo.NETWORKS``.
TRANSFORMERS = {
    "bert_base": bert_base,
    "bert_base_512": bert_base_512,
    "vit_b16": vit_b16,
    "gpt2_prefill": gpt2_prefill,
    "gpt2_decode": gpt2_decode,
}
