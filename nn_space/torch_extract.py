"""Layer lists from any ``torch.nn.Module`` by running it once (torch is optional).

The model runs once, in eval mode and without gradients, on zeros of ``input_size`` or on the caller's
``example_inputs``. Two things watch it:

* forward hooks on ``Conv2d`` / ``ConvTranspose2d`` (as before), and on every module a pre-/post-hook that
  keeps the path of the module running, for names;
* a ``torch.overrides.TorchFunctionMode``, which sees every torch function the forward calls, with the real
  tensors: ``F.linear``, ``matmul`` / ``@`` / ``mm`` / ``bmm`` / ``baddbmm`` / ``addmm`` / two-operand
  ``einsum``, ``F.scaled_dot_product_attention``, ``F.multi_head_attention_forward`` (decomposed from its
  arguments into its projections and the two attention products), and the operations that carry no MACs
  (softmax, norms, activations, adds, scalings, pooling, ...), which go to ``Network.uncosted``.

Why a function mode rather than ``torch.fx``: ``fx.symbolic_trace`` fails on PyTorch's own
``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer`` and ``nn.TransformerEncoder`` (data-dependent control
flow on masks), and it would need a shape-propagation pass on top; the mode runs the model eagerly, so any
Python control flow works and every shape is the real one. A function mode also turns PyTorch's fused
inference fast paths off (``torch._native_multi_head_attention``, ``torch._transformer_encoder_layer_fwd``:
both check ``has_torch_function``, as they do for attached hooks), so the products are never hidden in one op;
if a model calls such a fused op (or an RNN kernel) itself, the import refuses it naming the module.

Products whose operand is a parameter or buffer (or a view of one: ``W.t()``) are layers with a weight: a 1-D
or 2-D activation gives ``ConvLayer.fc`` (N = rows, as before, so CNN results do not change), a sequence (more
than 2 dims) gives ``ConvLayer.gemm`` with M = the product of its leading dims. Products of two activations are
``ConvLayer.bmm`` with batch = the product of the broadcast batch dims. Names are the module path plus the op
(``encoder.layers.0.self_attn.attn_qk``); an ``nn.Linear`` keeps its module path as its name.
"""
from __future__ import annotations

import inspect
import math
from typing import Any, Sequence

from .layers import ConvLayer, LayerSpecError, Network, UncostedOp

#: What ``layers_from_torch`` feeds a model when given neither ``input_size`` nor ``example_inputs``.
DEFAULT_INPUT_SIZE = (1, 3, 224, 224)


def _require_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError("reading a torch model needs torch: pip install 'naas[torch]'") from exc
    return torch


# --- products, in plain Python (shared with onnx_import) --------------------------------------------------

def broadcast_dims(*shapes: Sequence[int], what: str = "shapes") -> tuple[int, ...]:
    """NumPy broadcasting of batch shapes; ``LayerSpecError`` when they do not broadcast."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise LayerSpecError(f"{what} {' and '.join(str(tuple(s)) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def weight_product(rows: int, n: int, k: int, activation_rank: int, name: str) -> ConvLayer:
    """``rows`` rows of an activation times a weight matrix W[k, n]: fc (N = rows) when the activation has at
    most 2 dims, gemm (M = rows: tokens times batch) when it is a sequence."""
    if activation_rank <= 2:
        return ConvLayer.fc(k, n, n=rows, name=name)
    return ConvLayer.gemm(rows, n, k, name=name)


def matmul_layer(a_shape: Sequence[int], b_shape: Sequence[int], a_const: bool, b_const: bool,
                 name: str) -> ConvLayer:
    """The layer of ``A @ B`` (``torch.matmul`` / ONNX MatMul semantics: 1-D operands promoted, batch dims
    broadcast). A 2-D constant operand (a weight) gives fc/gemm; anything else a bmm."""
    sa, sb = tuple(int(d) for d in a_shape), tuple(int(d) for d in b_shape)
    where = f"layer {name!r}"
    if not sa or not sb:
        raise LayerSpecError(f"{where}: a product with a 0-d operand ({sa} x {sb})")
    pa = (1, *sa) if len(sa) == 1 else sa
    pb = (*sb, 1) if len(sb) == 1 else sb
    (m, k), (k2, n) = pa[-2:], pb[-2:]
    if k != k2:
        raise LayerSpecError(f"{where}: inner dims disagree: {sa} x {sb} ({k} != {k2})")
    batch = broadcast_dims(pa[:-2], pb[:-2], what=f"{where}: batch dims of")
    if b_const and len(pb) == 2:  # X[..., k] @ W[k, n]: every row of X, batch dims included, meets W
        return weight_product(math.prod(pa[:-1]), n, k, len(sa), name)
    if a_const and not b_const and len(pa) == 2:  # W[m, k] @ X[..., k, n] = (X^T W^T)^T
        return weight_product(math.prod(batch) * n, m, k, len(sb), name)
    return ConvLayer.bmm(math.prod(batch), m, n, k, name=name)


def einsum_layer(equation: str, a_shape: Sequence[int], b_shape: Sequence[int], a_const: bool, b_const: bool,
                 name: str) -> ConvLayer:
    """The layer of a two-operand ``einsum`` that is a (batched) matrix product: every index is a batch index
    (both operands and the output), a row (first operand and output), a column (second and output) or a
    reduction (both operands, not the output). Diagonals and sums over one operand alone are refused."""
    where = f"layer {name!r}: einsum {equation!r}"
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != 2:
        raise LayerSpecError(f"{where}: {len(specs)} operands (naas reads products of 2)")
    shapes = (tuple(int(d) for d in a_shape), tuple(int(d) for d in b_shape))
    ell_rank = 0
    fresh = iter(chr(0x100 + i) for i in range(64))  # labels for the dims an ellipsis stands for
    ell_labels = [next(fresh) for _ in range(max(len(s) for s in shapes))]
    labelled = []
    for spec, shape in zip(specs, shapes):
        if "..." in spec:
            rank = len(shape) - (len(spec) - 3)
            if rank < 0:
                raise LayerSpecError(f"{where}: operand {spec!r} does not fit shape {shape}")
            ell_rank = max(ell_rank, rank)
            spec = spec.replace("...", "".join(ell_labels[len(ell_labels) - rank:]))
        if any(not c.isalpha() for c in spec):
            raise LayerSpecError(f"{where}: operand {spec!r} (allowed: letters and one '...')")
        if len(spec) != len(shape):
            raise LayerSpecError(f"{where}: operand {spec!r} has {len(spec)} indices, its tensor {len(shape)} dims")
        if len(set(spec)) != len(spec):
            raise LayerSpecError(f"{where}: operand {spec!r} repeats an index (a diagonal; not a product)")
        labelled.append(spec)
    a, b = labelled
    ell = "".join(ell_labels[len(ell_labels) - ell_rank:]) if ell_rank else ""
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {c: (a + b).count(c) for c in a + b}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    size: dict[str, int] = {}
    for spec, shape in zip(labelled, shapes):
        for c, d in zip(spec, shape):
            if c in size and d != size[c] and 1 not in (d, size[c]):
                raise LayerSpecError(f"{where}: index {c!r} is {size[c]} in one operand and {d} in the other")
            size[c] = max(size.get(c, 1), d)
    if set(out) - set(a + b) or len(set(out)) != len(out):
        raise LayerSpecError(f"{where}: output {out!r} does not match the operands")
    batch = m = n = k = 1
    batch_dims = False
    for c in set(a + b):
        in_a, in_b, in_out = c in a, c in b, c in out
        if in_a and in_b and in_out:
            batch *= size[c]
            batch_dims = True
        elif in_a and in_out:
            m *= size[c]
        elif in_b and in_out:
            n *= size[c]
        elif in_a and in_b:
            k *= size[c]
        else:
            raise LayerSpecError(f"{where}: index {c!r} is summed over one operand only (not a product)")
    if b_const and not batch_dims:
        return weight_product(m, n, k, len(a), name)
    if a_const and not b_const and not batch_dims:
        return weight_product(n, m, k, len(b), name)
    return ConvLayer.bmm(batch, m, n, k, name=name)


# --- what the function mode records -----------------------------------------------------------------------

#: torch function names (``__name__``, in-place ``_`` and dunders stripped) -> the uncosted op they are.
_UNCOSTED = {
    **{f: f.replace("_", "") for f in ("layer_norm", "rms_norm", "group_norm", "batch_norm", "instance_norm")},
    **{f: f for f in ("softmax", "log_softmax", "softmin", "local_response_norm", "normalize", "relu", "relu6",
                      "gelu", "silu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "hardtanh", "leaky_relu", "elu", "selu",
                      "celu", "softplus", "mish", "glu", "prelu", "rrelu", "threshold", "logsigmoid", "softsign",
                      "tanhshrink", "erf", "exp", "log", "pow", "sqrt", "rsqrt", "reciprocal", "square", "mean",
                      "var", "std", "embedding", "add", "sub", "mul", "div")},
    "_softmax": "softmax", "_log_softmax": "log_softmax", "true_divide": "div", "divide": "div",
    "multiply": "mul", "subtract": "sub", "rsub": "sub", "masked_fill": "mask", "where": "mask",
    **{f"{kind}_pool{d}d": kind + "_pool" for kind in ("max", "avg", "lp") for d in (1, 2, 3)},
    **{f"adaptive_{kind}_pool{d}d": kind + "_pool" for kind in ("max", "avg") for d in (1, 2, 3)},
    **{f"{f}": "dropout" for f in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                   "feature_alpha_dropout", "feature_dropout")},
}
_DUNDERS = {"radd": "add", "iadd": "add", "isub": "sub", "rsub": "sub", "rmul": "mul", "imul": "mul",
            "truediv": "div", "rtruediv": "div", "itruediv": "div", "rdiv": "div", "idiv": "div", "rpow": "pow",
            "ipow": "pow", "matmul": "matmul", "rmatmul": "rmatmul", "imatmul": "matmul"}
_PRODUCTS = {"linear", "matmul", "rmatmul", "mm", "bmm", "mv", "dot", "vdot", "addmm", "addmv", "baddbmm",
             "einsum", "scaled_dot_product_attention", "multi_head_attention_forward"}
#: Ops with MACs that the import cannot express: refused, naming the module.
_REFUSED = {
    "_native_multi_head_attention": "PyTorch's fused attention fast path (it hides the q/k/v and attention products)",
    "_transformer_encoder_layer_fwd": "PyTorch's fused encoder-layer fast path (it hides every product)",
    "_transformer_decoder_only_layer_fwd": "PyTorch's fused decoder-layer fast path (it hides every product)",
    "tensordot": "a tensordot", "addbmm": "a sum of batched products (addbmm)", "chain_matmul": "a chain_matmul",
    "multi_dot": "a linalg.multi_dot", "bilinear": "a bilinear layer", "inner": "an inner product of N-D tensors",
    "lstm": "a recurrent layer (LSTM)", "gru": "a recurrent layer (GRU)", "rnn_tanh": "a recurrent layer (RNN)",
    "rnn_relu": "a recurrent layer (RNN)",
}
_SDPA_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")


def _op_key(func) -> str:
    name = getattr(func, "__name__", "") or ""
    if name.startswith("__") and name.endswith("__"):
        base = name[2:-2]
        return _DUNDERS.get(base, base)
    if name.endswith("_") and not name.startswith("_") and (name[:-1] in _UNCOSTED or name[:-1] in _PRODUCTS):
        return name[:-1]  # in-place: relu_, add_, masked_fill_, baddbmm_
    return name


class _Recorder:
    """Layers and uncosted ops seen while the model runs, and the module path that is running."""

    def __init__(self, torch, model, model_name: str):
        self.torch = torch
        self.model_name = model_name
        self.layers: list[ConvLayer] = []
        self.uncosted: list[UncostedOp] = []
        self.stack: list[tuple[str, Any]] = []
        self.used: dict[str, int] = {}
        self.param_names = {id(p): n for n, p in model.named_parameters()}
        consts = [*model.parameters(), *model.buffers()]
        self.const_ptrs = {self._ptr(t) for t in consts} - {None, 0}

    # -- helpers --
    @staticmethod
    def _ptr(t):
        try:
            return t.untyped_storage().data_ptr()
        except Exception:  # sparse, meta or otherwise storage-less tensors
            return None

    def is_tensor(self, x) -> bool:
        return isinstance(x, self.torch.Tensor)

    def is_const(self, t) -> bool:
        """A parameter or buffer of the model, or a view of one (``W.t()``): a weight operand."""
        return self.is_tensor(t) and (isinstance(t, self.torch.nn.Parameter) or self._ptr(t) in self.const_ptrs)

    def is_activation(self, t) -> bool:
        return self.is_tensor(t) and not self.is_const(t)

    @property
    def path(self) -> str:
        return self.stack[-1][0] if self.stack else ""

    def where(self) -> str:
        return f"module {self.path!r}" if self.path else "the top-level module"

    def unique(self, op: str) -> str:
        name = f"{self.path}.{op}" if self.path else op
        seen = self.used.get(name, 0)
        self.used[name] = seen + 1
        return name if not seen else f"{name}_{seen}"

    def add_layer(self, layer: ConvLayer) -> None:
        self.layers.append(layer)

    def note(self, what: str, op: str, elements: int) -> None:
        self.uncosted.append(UncostedOp(self.unique(what), op, int(elements)))

    def refuse(self, message: str):
        raise LayerSpecError(f"{self.model_name}: {self.where()}: {message}")

    def check_dense(self, *tensors) -> None:
        for t in tensors:
            if self.is_tensor(t) and (t.is_nested or t.layout != self.torch.strided):
                self.refuse(f"a {'nested' if t.is_nested else str(t.layout)} tensor of shape "
                            f"{self._shape(t)} (naas reads dense tensors)")

    @staticmethod
    def _shape(t) -> tuple[int, ...]:
        try:
            return tuple(int(d) for d in t.shape)
        except Exception:
            return ()

    # -- dispatch --
    def record(self, key: str, func, args, kwargs, out) -> None:
        if key in _PRODUCTS:
            getattr(self, "_" + key)(func, args, kwargs, out)
        else:
            self._uncosted(key, args, kwargs, out)

    def _linear(self, func, args, kwargs, out):
        x = args[0] if args else kwargs.get("input")
        w = args[1] if len(args) > 1 else kwargs.get("weight")
        self.check_dense(x, w)
        if w.dim() != 2:
            self.refuse(f"linear with a {w.dim()}-D weight of shape {self._shape(w)} (allowed: 2-D)")
        top = self.stack[-1][1] if self.stack else None
        if isinstance(top, self.torch.nn.Linear) and top.weight is w:
            name = self.path or "linear"  # an nn.Linear: its module path, as before
            self.used[name] = self.used.get(name, 0) + 1
        elif id(w) in self.param_names:  # F.linear on a parameter: the parameter's path (self_attn.in_proj)
            pname = self.param_names[id(w)]
            for suffix in (".weight", "_weight"):
                if pname.endswith(suffix):
                    pname = pname[: -len(suffix)]
                    break
            name = pname
        else:
            name = self.unique("linear")
        out_f, in_f = self._shape(w)
        self.add_layer(matmul_layer(self._shape(x), (in_f, out_f), self.is_const(x), self.is_const(w), name))

    def _product(self, op, a, b):
        self.check_dense(a, b)
        self.add_layer(matmul_layer(self._shape(a), self._shape(b), self.is_const(a), self.is_const(b),
                                    self.unique(op)))

    def _matmul(self, func, args, kwargs, out):
        a = args[0] if args else kwargs.get("input")
        b = args[1] if len(args) > 1 else kwargs.get("other")
        self._product("matmul", a, b)

    def _rmatmul(self, func, args, kwargs, out):  # Tensor.__rmatmul__(self, other) = other @ self
        self._product("matmul", args[1], args[0])

    def _mm(self, func, args, kwargs, out):
        self._product(func.__name__.strip("_"), args[0], args[1] if len(args) > 1 else
                      kwargs.get("mat2", kwargs.get("vec", kwargs.get("other", kwargs.get("tensor")))))

    _bmm = _mv = _dot = _vdot = _mm

    def _addmm(self, func, args, kwargs, out):  # input + m1 @ m2 (baddbmm / addmm / addmv)
        bias = args[0] if args else kwargs.get("input")
        op = func.__name__.strip("_")  # addmm_ (in place) too
        names = {"addmm": ("mat1", "mat2"), "addmv": ("mat", "vec"), "baddbmm": ("batch1", "batch2")}[op]
        a = args[1] if len(args) > 1 else kwargs.get(names[0])
        b = args[2] if len(args) > 2 else kwargs.get(names[1])
        self._product(op, a, b)
        if self.is_activation(bias) and bias.numel() > 1:  # an added activation (a mask), not a bias
            self.note("add", "add", out.numel())

    _addmv = _baddbmm = _addmm

    def _einsum(self, func, args, kwargs, out):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        if not isinstance(equation, str):
            self.refuse("einsum in sublist format (naas reads an equation string)")
        tensors = [t for t in operands if self.is_tensor(t)]
        if len(tensors) == 1:
            return  # a transpose, trace or sum: no products
        if len(tensors) != 2:
            self.refuse(f"einsum {equation!r} of {len(tensors)} operands (naas reads products of 2)")
        a, b = tensors
        self.check_dense(a, b)
        self.add_layer(einsum_layer(equation, self._shape(a), self._shape(b), self.is_const(a), self.is_const(b),
                                    self.unique("einsum")))

    def attention(self, batch: int, L: int, S: int, e: int, ev: int, masked: str, dropout: float) -> None:
        """Scaled dot-product attention: ``batch`` products Q x K^T (L x S, reduction e), softmax, A x V
        (``masked``: "mask", "causal" or "" for none). The op names are the zoo's (nn_space.transformers)."""
        self.add_layer(ConvLayer.bmm(batch, L, S, e, name=self.unique("attn_qk")))
        scores = batch * L * S
        self.note("attn_scale", "scale", scores)
        if masked:
            self.note("attn_mask", "causal_mask" if masked == "causal" else "mask", scores)
        self.note("softmax", "softmax", scores)
        if dropout:
            self.note("attn_dropout", "dropout", scores)
        self.add_layer(ConvLayer.bmm(batch, L, ev, S, name=self.unique("attn_av")))

    def _scaled_dot_product_attention(self, func, args, kwargs, out):
        a = dict(zip(_SDPA_ARGS, args), **kwargs)
        q, k, v = a["query"], a["key"], a["value"]
        self.check_dense(q, k, v)
        sq, sk, sv = self._shape(q), self._shape(k), self._shape(v)
        if min(len(sq), len(sk), len(sv)) < 2:
            self.refuse(f"scaled_dot_product_attention of shapes {sq}, {sk}, {sv} (allowed: at least 2-D)")
        qb, kb, vb = sq[:-2], sk[:-2], sv[:-2]
        if a.get("enable_gqa") and qb and kb and vb and qb[-1] != kb[-1]:
            heads, kv_heads = qb[-1], kb[-1]
            if heads % kv_heads or vb[-1] != kv_heads:
                self.refuse(f"grouped-query attention with {heads} query heads and {kb[-1]} key / {vb[-1]} value "
                            f"heads (allowed: key and value heads that divide the query heads)")
            kb, vb = (*kb[:-1], heads), (*vb[:-1], heads)  # each group of query heads reads its shared k / v
        try:
            batch = math.prod(broadcast_dims(qb, kb, vb, what="batch dims of query, key and value"))
        except LayerSpecError as exc:
            self.refuse(str(exc))
        if sk[-1] != sq[-1] or sv[-2] != sk[-2]:
            self.refuse(f"scaled_dot_product_attention of query {sq}, key {sk}, value {sv}: the head widths or "
                        f"key / value lengths disagree")
        masked = "mask" if a.get("attn_mask") is not None else "causal" if a.get("is_causal") else ""
        self.attention(batch, sq[-2], sk[-2], sq[-1], sv[-1], masked, float(a.get("dropout_p") or 0.0))

    def _multi_head_attention_forward(self, func, args, kwargs, out):
        """``F.multi_head_attention_forward`` (what ``nn.MultiheadAttention`` calls), decomposed from its
        arguments as torch computes it: the packed in-projection is one gemm of 3*E when query, key and value
        are one tensor (self-attention), q + kv (2*E) when key is value, else q, k and v; then attention per
        head and sample; then out_proj."""
        bound = inspect.signature(func).bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        q, k, v = a["query"], a["key"], a["value"]
        self.check_dense(q, k, v)
        E, H = int(a["embed_dim_to_check"]), int(a["num_heads"])
        batched = q.dim() == 3
        L, N = (q.shape[0], q.shape[1]) if batched else (q.shape[0], 1)
        S = k.shape[0]
        if E % H:
            self.refuse(f"multi-head attention with embed_dim {E} and {H} heads (allowed: heads dividing embed_dim)")

        def proj(what, rows, n_out, k_in):
            self.add_layer(ConvLayer.gemm(rows, n_out, k_in, name=self.unique(what)))

        if not a["use_separate_proj_weight"]:
            if k is v and q is k:
                proj("in_proj", L * N, 3 * E, E)
            elif k is v:
                proj("q_proj", L * N, E, E)
                proj("kv_proj", S * N, 2 * E, E)
            else:
                proj("q_proj", L * N, E, E)
                proj("k_proj", S * N, E, E)
                proj("v_proj", S * N, E, E)
        else:
            proj("q_proj", L * N, E, E)
            proj("k_proj", S * N, E, k.shape[-1])
            proj("v_proj", S * N, E, v.shape[-1])
        static_k = a["static_k"]
        src = static_k.shape[1] if static_k is not None else S + (a["bias_k"] is not None)
        src += bool(a["add_zero_attn"])
        masked = ("mask" if a["attn_mask"] is not None or a["key_padding_mask"] is not None
                  else "causal" if a["is_causal"] else "")
        dropout = float(a["dropout_p"]) if a["training"] else 0.0
        self.attention(N * H, L, src, E // H, E // H, masked, dropout)
        if a["need_weights"] and a["average_attn_weights"]:
            self.note("attn_weights_mean", "mean", N * L * src)
        proj("out_proj", L * N, E, E)

    def _uncosted(self, key, args, kwargs, out):
        op = _UNCOSTED[key]
        result = out[0] if isinstance(out, (tuple, list)) and out else out
        if not self.is_tensor(result) or not (result.is_floating_point() or result.is_complex()):
            return  # index, mask and shape arithmetic
        tensors = [x for x in (*args, *kwargs.values()) if self.is_tensor(x)]
        if not any(self.is_activation(t) for t in tensors):
            return  # arithmetic on parameters alone (constant)
        if op == "dropout":
            p = args[1] if len(args) > 1 else kwargs.get("p", 0.5)
            training = args[2] if len(args) > 2 else kwargs.get("training", kwargs.get("train", True))
            if not training or not p:
                return  # identity (eval)
        elif op in ("add", "sub", "mul", "div") and len(args) >= 2:
            x, y = args[0], args[1]
            if op in ("mul", "div") and any(not self.is_tensor(t) or t.numel() == 1 for t in (x, y)):
                op = "scale"
            elif (op == "add" and self.is_activation(x) and self.is_activation(y)
                  and tuple(x.shape) == tuple(y.shape)):
                op = "residual_add"
        self.note(op, op, result.numel())


def _inputs(torch, input_size, example_inputs):
    """(positional args, keyword args, first tensor) to run the model with."""
    if example_inputs is None:
        size = tuple(DEFAULT_INPUT_SIZE if input_size is None else input_size)
        for v in size:
            if isinstance(v, bool) or not hasattr(v, "__index__") or int(v) < 1:
                raise LayerSpecError(f"input_size: {v!r} in {size!r} is not a dimension (allowed: integers >= 1)")
        x = torch.zeros(*(int(v) for v in size))
        return (x,), {}, x
    if input_size is not None:
        raise LayerSpecError("input_size and example_inputs: give one (example_inputs are real tensors to run)")
    if isinstance(example_inputs, torch.Tensor):
        args, kwargs = (example_inputs,), {}
    elif isinstance(example_inputs, dict):
        args, kwargs = (), dict(example_inputs)
    elif isinstance(example_inputs, (tuple, list)):
        args, kwargs = tuple(example_inputs), {}
    else:
        raise LayerSpecError(f"example_inputs: {type(example_inputs).__name__} (allowed: a tensor, a tuple of "
                             f"positional arguments or a dict of keyword arguments)")
    first = next((t for t in (*args, *kwargs.values()) if isinstance(t, torch.Tensor)), None)
    return args, kwargs, first


def describe_input(shape: Sequence[int] | None, floating: bool, layers: Sequence[ConvLayer]
                   ) -> tuple[tuple[int, int], str]:
    """(Network.input_size, Network.input_text) of a model whose first input has ``shape``: an image's
    H x W, or a sequence's tokens (integer token ids (..., seq), or a (batch, seq, d) / (seq, batch, d) float
    input to a model with matrix products; the sequence axis is the one the first bmm's rows match)."""
    if shape is None:
        return (224, 224), ""
    shape = tuple(int(d) for d in shape)
    tokens = batch = None
    if shape and not floating:  # token ids (..., seq)
        tokens, batch = shape[-1], math.prod(shape[:-1])
    elif len(shape) == 3 and any(lay.is_matmul for lay in layers):
        qk = next((lay for lay in layers if lay.op == "bmm"), None)
        tokens = qk.y if qk is not None and qk.y in shape[:2] else shape[1]
        batch = math.prod(shape) // max(1, tokens * shape[-1])
    if not tokens:
        return ((shape[-2], shape[-1]) if len(shape) >= 2 else (1, shape[0] if shape else 1)), ""
    return (tokens, 1), f"{tokens} tokens" if batch == 1 else f"{batch}x{tokens} tokens"


def layers_from_torch(model, input_size: Sequence[int] | None = None, name: str = "model",
                      example_inputs: Any = None) -> Network:
    """Run ``model`` once and record its layers (module docstring).

    ``input_size``: the shape of a zeros input (default ``DEFAULT_INPUT_SIZE``, (N, C, H, W)), or
    ``example_inputs``: real example tensors (a tensor, a tuple of positional arguments or a dict of keyword
    arguments), e.g. integer token ids. Conv2d (any groups; depthwise when groups == in == out channels) and
    ConvTranspose2d with kernel == stride and no padding (costed as the equivalent 1x1 conv) are recorded;
    dilated convolutions and other transposed convolutions raise ``LayerSpecError``, as do a model that fails
    on its input (naming the module) and the products the import cannot express.
    """
    torch = _require_torch()
    nn = torch.nn
    from torch.overrides import TorchFunctionMode

    call_args, call_kwargs, first = _inputs(torch, input_size, example_inputs)
    rec = _Recorder(torch, model, name)
    layers = rec.layers
    names = {m: n for n, m in model.named_modules()}

    def conv_hook(module, inputs, output):
        x = inputs[0]
        label = names.get(module, type(module).__name__)
        if any(d != 1 for d in module.dilation):
            raise LayerSpecError(f"layer {label!r}: dilation {tuple(module.dilation)} is not supported")
        n, c_in, h, w = x.shape
        _, k, oy, ox = output.shape
        r, s = module.kernel_size
        sy, sx = module.stride
        pad = module.padding if not isinstance(module.padding, str) else (
            ((oy - 1) * sy + r - h) // 2, ((ox - 1) * sx + s - w) // 2)
        layers.append(ConvLayer(k=k, c=c_in, y=oy, x=ox, r=r, s=s, stride_y=sy, stride_x=sx, n=n,
                                groups=module.groups, pad_y=int(pad[0]), pad_x=int(pad[1]), name=label))

    def tconv_hook(module, inputs, output):
        label = names.get(module, type(module).__name__)
        if (tuple(module.kernel_size) != tuple(module.stride) or any(module.padding)
                or any(module.output_padding) or module.groups != 1):
            raise LayerSpecError(f"layer {label!r}: only ConvTranspose2d with kernel == stride, no padding "
                                 f"and groups=1 is supported (got kernel {tuple(module.kernel_size)}, "
                                 f"stride {tuple(module.stride)})")
        n, c_in, h, w = inputs[0].shape
        r, s = module.kernel_size
        layers.append(ConvLayer(k=module.out_channels * r * s, c=c_in, y=h, x=w, n=n, name=label))

    class Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            key = _op_key(func)
            if key in _REFUSED:
                rec.refuse(f"{getattr(func, '__name__', key)}: {_REFUSED[key]} cannot be expressed")
            out = func(*args, **kwargs)  # torch validates the call first; inside it, this mode is off
            if key in _PRODUCTS or key in _UNCOSTED:
                rec.record(key, func, args, kwargs, out)
            return out

    def enter(path):
        def hook(module, args):
            rec.stack.append((path, module))
        return hook

    def leave(module, args, output):
        # pop down to this module's own entry (entries left by an inner module whose exception the model
        # caught go too); after an uncaught exception nothing pops, so rec.where() names the failing module
        while rec.stack:
            if rec.stack.pop()[1] is module:
                break

    hooks = []
    for path, module in model.named_modules():
        hooks.append(module.register_forward_pre_hook(enter(path)))
        hooks.append(module.register_forward_hook(leave))
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.ConvTranspose2d):
            hooks.append(module.register_forward_hook(tconv_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), Watch():
            model(*call_args, **call_kwargs)
    except LayerSpecError:
        raise
    except Exception as exc:  # the model does not run on this input: say where, in one line
        shapes = ", ".join(str(tuple(t.shape)) for t in (*call_args, *call_kwargs.values())
                           if isinstance(t, torch.Tensor))
        detail = " ".join(str(exc).split())
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        raise LayerSpecError(f"{name}: {rec.where()} failed on input {shapes or 'of no tensors'}: "
                             f"{type(exc).__name__}: {detail}") from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    size, text = describe_input(None if first is None else tuple(first.shape),
                                first is not None and (first.is_floating_point() or first.is_complex()), layers)
    return Network(name, tuple(layers), size, uncosted=tuple(rec.uncosted), input_text=text)
