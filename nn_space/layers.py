"""Convolution-layer workloads: the loop bounds the cost model iterates over (SPEC §2)."""
from __future__ import annotations

from dataclasses import dataclass, field

#: Loop dimensions, in the order every array in the project uses. Y/X are the output rows/columns
#: (Timeloop's P/Q), R/S the kernel rows/columns.
DIMS: tuple[str, ...] = ("N", "K", "C", "Y", "X", "R", "S")
N, K, C, Y, X, R, S = range(7)
DIM_INDEX = {d: i for i, d in enumerate(DIMS)}
#: Aliases accepted wherever a user names a dimension (Timeloop's names and the SPEC's primes).
DIM_ALIASES = {"M": "K", "P": "Y", "Q": "X", "Y'": "Y", "X'": "X"}
#: Largest loop bound, stride, group count or padding of a layer (2^24, as Timeloop problem files allow).
MAX_BOUND = 1 << 24
#: Most MACs, and most input / output / weight elements, of one layer (2^48, ~2.8e14: resnet50's largest
#: layer at batch 1000 has ~1e11): the cost model counts in 64-bit integers, padded mappings included.
MAX_ELEMENTS = 1 << 48


#: What a layer computes: a convolution (or a fully-connected layer: a 1x1 conv on a 1x1 map), a matrix
#: product with a weight operand (``gemm``: nn.Linear on a sequence) or a batch of products of two activations
#: (``bmm``: attention's Q x K^T and A x V per head and sample).
OPS = ("conv", "gemm", "bmm")
#: A matrix product's loop dims in GEMM terms (batch, M, N, K), for printouts: naas dim -> GEMM name.
MATMUL_DIM_NAMES = {"N": "B", "Y": "M", "K": "N", "C": "K"}
#: The layer vector's relevance code (``cost_model.kernel``): which loop dims index which tensor.
RELEVANCE_CONV, RELEVANCE_DEPTHWISE, RELEVANCE_BATCHED = 0, 1, 2


class LayerSpecError(ValueError):
    """A layer description that cannot describe a convolution (names the field and value)."""


def dim_index(name: str) -> int:
    """Index of a loop dimension given by name ('K', 'Y', Timeloop's 'M'/'P'/'Q', ...)."""
    key = DIM_ALIASES.get(name.upper(), name.upper()) if isinstance(name, str) else None
    if key not in DIM_INDEX:
        raise LayerSpecError(f"unknown loop dimension {name!r} (allowed: {', '.join(DIMS)} or M, P, Q)")
    return DIM_INDEX[key]


def _positive_int(field_name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        hasattr(value, "__index__")
    ):
        raise LayerSpecError(f"{field_name}: {value!r} is not an integer (allowed: >= {minimum})")
    value = int(value)
    if value < minimum:
        raise LayerSpecError(f"{field_name}: {value} is out of range (allowed: >= {minimum})")
    if value > MAX_BOUND:
        raise LayerSpecError(f"{field_name}: {value} is out of range (allowed: {minimum} to {MAX_BOUND})")
    return value


@dataclass(frozen=True)
class ConvLayer:
    """One convolution, fully-connected layer or matrix product.

    ``k`` and ``c`` are the layer's total output and input channels. ``groups == c == k`` is a depthwise
    convolution; other ``groups > 1`` values are grouped convolutions, costed as ``groups`` independent
    convolutions of ``k/groups`` x ``c/groups`` channels. ``pad_y``/``pad_x`` only matter for deriving the
    output size from an input size; the cost model works on the padded input, whose height is
    ``(y - 1) * stride_y + r`` (SPEC §2).

    Matrix products (``op`` "gemm" or "bmm", built by ``ConvLayer.gemm`` / ``ConvLayer.bmm``) are
    ``Z[M, N] = A[M, K] x B[K, N]`` laid on the same loop dims: M on Y (rows of A and Z), the product's N
    on K (columns of B and Z), its reduction K on C, and X = R = S = 1; the weight tensor is B, the input
    A, the output Z. A "bmm" is ``n`` independent products whose B operands differ (attention's heads times
    the batch): there N indexes B too, so every tensor is indexed by it (docs/transformers.md).
    """

    k: int
    c: int
    y: int
    x: int
    r: int = 1
    s: int = 1
    stride_y: int = 1
    stride_x: int = 1
    n: int = 1
    groups: int = 1
    pad_y: int = 0
    pad_x: int = 0
    op: str = "conv"
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        where = f"layer {self.name!r}" if self.name else "layer"
        for f in ("k", "c", "y", "x", "r", "s", "stride_y", "stride_x", "n", "groups"):
            object.__setattr__(self, f, _positive_int(f"{where}: {f}", getattr(self, f)))
        for f in ("pad_y", "pad_x"):
            object.__setattr__(self, f, _positive_int(f"{where}: {f}", getattr(self, f), minimum=0))
        if self.op not in OPS:
            raise LayerSpecError(f"{where}: op: {self.op!r} (allowed: {', '.join(OPS)})")
        if self.op != "conv":
            odd = {f: getattr(self, f) for f, want in (("x", 1), ("r", 1), ("s", 1), ("stride_y", 1),
                                                      ("stride_x", 1), ("groups", 1), ("pad_y", 0), ("pad_x", 0))
                   if getattr(self, f) != want}
            if odd:
                raise LayerSpecError(f"{where}: a {self.op} has no {', '.join(f'{f}={v}' for f, v in odd.items())} "
                                     f"(allowed: x = r = s = strides = groups = 1, no padding)")
        if self.c % self.groups or self.k % self.groups:
            raise LayerSpecError(
                f"{where}: groups: {self.groups} does not divide c={self.c} and k={self.k}"
            )
        sizes = {"MACs": self.macs, "weights": self.weight_count, "outputs": self.n * self.k * self.y * self.x,
                 "inputs": self.n * self.c * self.input_height * self.input_width}
        for what, count in sizes.items():
            if count > MAX_ELEMENTS:
                raise LayerSpecError(f"{where}: {self.describe()} has {count:.4g} {what} (allowed: at most "
                                     f"2^48 = {MAX_ELEMENTS:.4g} per layer)")

    # --- derived shape -------------------------------------------------------------------------
    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.c == self.k

    @property
    def is_matmul(self) -> bool:
        """A matrix product (gemm or bmm) rather than a convolution."""
        return self.op != "conv"

    @property
    def relevance(self) -> int:
        """The kernel's relevance code: RELEVANCE_DEPTHWISE (K indexes the inputs), RELEVANCE_BATCHED (N indexes
        the weights: a bmm) or RELEVANCE_CONV."""
        if self.depthwise:
            return RELEVANCE_DEPTHWISE
        return RELEVANCE_BATCHED if self.op == "bmm" and self.n > 1 else RELEVANCE_CONV

    @property
    def dim_names(self) -> dict[str, str]:
        """How printouts name the loop dims: GEMM names for a matrix product, else the dims themselves."""
        return dict(MATMUL_DIM_NAMES) if self.is_matmul else {}

    @property
    def gemm_dims(self) -> tuple[int, int, int, int]:
        """(batch, M, N, K) of a matrix product, in GEMM terms (batch: independent products)."""
        return self.n, self.y, self.k, self.c

    @property
    def repeats(self) -> int:
        """How many independent convolutions the cost model runs for this layer (grouped conv)."""
        return 1 if (self.groups == 1 or self.depthwise) else self.groups

    @property
    def loop_bounds(self) -> tuple[int, ...]:
        """Bounds of the loops N, K, C, Y, X, R, S of one costed convolution.

        Depthwise: K carries the channels and C is 1 (each output channel reads its own input channel).
        Grouped: the bounds of one group.
        """
        if self.depthwise:
            return (self.n, self.k, 1, self.y, self.x, self.r, self.s)
        g = self.groups
        return (self.n, self.k // g, self.c // g, self.y, self.x, self.r, self.s)

    @property
    def input_height(self) -> int:
        return (self.y - 1) * self.stride_y + self.r

    @property
    def input_width(self) -> int:
        return (self.x - 1) * self.stride_x + self.s

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer (grouped convs divided by groups, SPEC §2)."""
        prod = 1
        for b in self.loop_bounds:
            prod *= b
        return prod * self.repeats

    @property
    def weight_count(self) -> int:
        n, k, c, y, x, r, s = self.loop_bounds
        return k * c * r * s * self.repeats * (n if self.relevance == RELEVANCE_BATCHED else 1)

    @property
    def shape_key(self) -> tuple:
        """Everything the cost of the layer depends on; equal keys cost the same (name excluded)."""
        return (self.n, self.k, self.c, self.y, self.x, self.r, self.s,
                self.stride_y, self.stride_x, self.groups, self.relevance)

    def describe(self) -> str:
        if self.is_matmul:
            b, m, n, k = self.gemm_dims
            return f"{self.op} " + (f"{b}x " if b > 1 else "") + f"M{m} N{n} K{k}"
        kind = "dw" if self.depthwise else (f"g{self.groups}" if self.groups > 1 else "conv")
        if self.r == self.s == 1 and self.y == self.x == 1:
            kind = "fc" if self.groups == 1 else kind
        stride = "" if self.stride_y == self.stride_x == 1 else (
            f"/s{self.stride_y}" if self.stride_y == self.stride_x else f"/s{self.stride_y}x{self.stride_x}")
        return (f"{kind} K{self.k} C{self.c} {self.y}x{self.x} {self.r}x{self.s}{stride}"
                + (f" N{self.n}" if self.n > 1 else ""))

    # --- constructors --------------------------------------------------------------------------
    @classmethod
    def conv(cls, c_in: int, c_out: int, in_hw: int | tuple[int, int], kernel: int | tuple[int, int],
             stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | None = None,
             groups: int = 1, n: int = 1, name: str = "") -> "ConvLayer":
        """A conv from an input size, like ``torch.nn.Conv2d`` (padding defaults to kernel//2)."""
        ih, iw = _pair(in_hw)
        r, s = _pair(kernel)
        sy, sx = _pair(stride)
        py, px = _pair(padding) if padding is not None else (r // 2, s // 2)
        oy = (ih + 2 * py - r) // sy + 1
        ox = (iw + 2 * px - s) // sx + 1
        if oy < 1 or ox < 1:
            raise LayerSpecError(
                f"layer {name!r}: input {ih}x{iw} is smaller than kernel {r}x{s} with padding {py},{px}"
            )
        return cls(k=c_out, c=c_in, y=oy, x=ox, r=r, s=s, stride_y=sy, stride_x=sx, n=n,
                   groups=groups, pad_y=py, pad_x=px, name=name)

    @classmethod
    def fc(cls, c_in: int, c_out: int, n: int = 1, name: str = "") -> "ConvLayer":
        """A fully-connected layer: a 1x1 conv on a 1x1 map."""
        return cls(k=c_out, c=c_in, y=1, x=1, n=n, name=name)

    @classmethod
    def gemm(cls, m: int, n: int, k: int, name: str = "") -> "ConvLayer":
        """``Z[m, n] = A[m, k] x W[k, n]`` with a weight W (nn.Linear on m rows: tokens times batch)."""
        return cls(k=n, c=k, y=m, x=1, op="gemm", name=name)

    @classmethod
    def bmm(cls, batch: int, m: int, n: int, k: int, name: str = "") -> "ConvLayer":
        """``batch`` independent products ``Z[b] = A[b] x B[b]`` of two activations (attention: batch = heads
        x samples; Q x K^T has m = queries, n = keys, k = head width)."""
        return cls(k=n, c=k, y=m, x=1, n=batch, op="bmm", name=name)

    def output_hw(self) -> tuple[int, int]:
        return self.y, self.x


def _pair(v) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise LayerSpecError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


@dataclass(frozen=True)
class UncostedOp:
    """An operation of a network that the cost model does not cost (softmax, layer norm, GELU, residual add,
    ...), with the elements it produces, so a user sees what a network's figures leave out."""

    name: str
    op: str
    elements: int

    def __post_init__(self) -> None:
        e = self.elements
        if isinstance(e, bool) or not hasattr(e, "__index__") or int(e) < 0:
            raise LayerSpecError(f"uncosted op {self.name!r}: elements: {e!r} (allowed: an integer >= 0)")
        object.__setattr__(self, "elements", int(e))


def uncosted_totals(ops) -> dict[str, tuple[int, int]]:
    """{op: (count, elements)} of uncosted operations, in first-seen order."""
    out: dict[str, list[int]] = {}
    for u in ops:
        entry = out.setdefault(u.op, [0, 0])
        entry[0] += 1
        entry[1] += u.elements
    return {op: (c, e) for op, (c, e) in out.items()}


@dataclass(frozen=True)
class Network:
    """A named list of layers, in execution order, and the operations it has that are not costed."""

    name: str
    layers: tuple[ConvLayer, ...]
    input_size: tuple[int, int] = (224, 224)
    uncosted: tuple[UncostedOp, ...] = ()
    #: What the input is when it is not an input_size image (a token model: "128 tokens").
    input_text: str = ""

    def describe_input(self) -> str:
        return self.input_text or f"{self.input_size[0]}x{self.input_size[1]}"

    def uncosted_totals(self) -> dict[str, tuple[int, int]]:
        return uncosted_totals(self.uncosted)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def unique_layers(self) -> list[tuple[ConvLayer, int]]:
        """Distinct layer shapes with their multiplicity, first occurrence first."""
        seen: dict[tuple, list] = {}
        for layer in self.layers:
            entry = seen.setdefault(layer.shape_key, [layer, 0])
            entry[1] += 1
        return [(layer, count) for layer, count in seen.values()]
