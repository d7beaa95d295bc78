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
    """One convolution (or fully-connected) layer.

    ``k`` and ``c`` are the layer's total output and input channels. ``groups == c == k`` is a depthwise
    convolution; other ``groups > 1`` values are grouped convolutions, costed as ``groups`` independent
    convolutions of ``k/groups`` x ``c/groups`` channels. ``pad_y``/``pad_x`` only matter for deriving the
    output size from an input size; the cost model works on the padded input, whose height is
    ``(y - 1) * stride_y + r`` (SPEC §2).
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
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        where = f"layer {self.name!r}" if self.name else "layer"
        for f in ("k", "c", "y", "x", "r", "s", "stride_y", "stride_x", "n", "groups"):
            object.__setattr__(self, f, _positive_int(f"{where}: {f}", getattr(self, f)))
        for f in ("pad_y", "pad_x"):
            object.__setattr__(self, f, _positive_int(f"{where}: {f}", getattr(self, f), minimum=0))
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
        return k * c * r * s * self.repeats

    @property
    def shape_key(self) -> tuple:
        """Everything the cost of the layer depends on; equal keys cost the same (name excluded)."""
        return (self.n, self.k, self.c, self.y, self.x, self.r, self.s,
                self.stride_y, self.stride_x, self.groups)

    def describe(self) -> str:
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

    def output_hw(self) -> tuple[int, int]:
        return self.y, self.x


def _pair(v) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise LayerSpecError(f"expected an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


@dataclass(frozen=True)
class Network:
    """A named list of layers, in execution order."""

    name: str
    layers: tuple[ConvLayer, ...]
    input_size: tuple[int, int] = (224, 224)

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
