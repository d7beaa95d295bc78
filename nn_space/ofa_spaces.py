"""Once-for-All subnet spaces (Cai et al., ICLR 2020) as layer lists, without torch (SPEC §7).

Two spaces, each following the ``ofa`` package's supernet definitions layer by layer:

- ``ofa-mbv3-w1.2``: OFA MobileNetV3, width 1.2; 5 stages of 2-4 blocks, kernel {3,5,7} and expand ratio
  {3,4,6} per block; subnets are written as OFA writes them: ``ks`` and ``e`` (20 slots, 4 per stage),
  ``d`` (5 depths) and a resolution.
- ``ofa-resnet50``: OFA ResNet-50 (ResNet-D style: a 3-conv stem whose middle conv can be skipped,
  avg-pool + 1x1 downsample); ``d`` = [stem 0|2, then 0-2 extra blocks on each of the base depths 2,2,4,2],
  ``e`` (18 slots: 4, 4, 6, 4) in {0.2, 0.25, 0.35}, ``w`` (6 width-multiplier indices into
  {0.65, 0.8, 1.0}: stem convs 1-2, stem conv 3, 4 stages) and a resolution.

Values in the slots of blocks beyond a stage's depth are ignored (they are zeroed by ``canonical``), as in OFA.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .layers import ConvLayer, LayerSpecError, Network
from .zoo import LayerBuilder, make_divisible


class SubnetSpecError(LayerSpecError):
    """A subnet description outside its space (names the field and the value)."""


def _tuple_of(field: str, value: Any, length: int, allowed: Sequence, inactive_ok: bool = False) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise SubnetSpecError(f"{field}: expected a list of {length} values, got {value!r}")
    out = []
    for i, v in enumerate(value):
        if inactive_ok and v == 0:
            out.append(0)
            continue
        match = [a for a in allowed if a == v]
        if not match:
            raise SubnetSpecError(f"{field}[{i}]: {v!r} is not allowed (allowed: "
                                  f"{', '.join(str(a) for a in allowed)})")
        out.append(match[0])
    return tuple(out)


# --- OFA MobileNetV3 --------------------------------------------------------------------------------

@dataclass(frozen=True)
class MobileNetV3Subnet:
    """One OFA MobileNetV3 subnet: per-slot kernel sizes and expand ratios, per-stage depths, resolution."""

    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    resolution: int

    def to_dict(self) -> dict:
        return {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "resolution": self.resolution}


@dataclass(frozen=True)
class ResNet50Subnet:
    """One OFA ResNet-50 subnet: depths (stem + 4 stages), per-slot expand ratios, width indices, resolution."""

    d: tuple[int, ...]
    e: tuple[float, ...]
    w: tuple[int, ...]
    resolution: int

    def to_dict(self) -> dict:
        return {"d": list(self.d), "e": list(self.e), "w": list(self.w), "resolution": self.resolution}


class SubnetSpace:
    """What every OFA space offers: validation, canonical form, sampling, mutation, crossover, layers."""

    name: str
    resolutions: tuple[int, ...]

    def from_dict(self, d: dict):
        raise NotImplementedError

    def canonical(self, subnet):
        raise NotImplementedError

    def layers(self, subnet, batch: int = 1) -> Network:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, resolutions: Sequence[int] | None = None):
        raise NotImplementedError

    def mutate(self, subnet, prob: float, rng: np.random.Generator, resolutions: Sequence[int] | None = None):
        raise NotImplementedError

    def crossover(self, a, b, rng: np.random.Generator):
        """Each gene from either parent with equal probability (OFA's evolution finder)."""
        fields = {}
        for f in a.to_dict():
            va, vb = a.to_dict()[f], b.to_dict()[f]
            if isinstance(va, list):
                fields[f] = [x if rng.random() < 0.5 else y for x, y in zip(va, vb)]
            else:
                fields[f] = va if rng.random() < 0.5 else vb
        return self.from_dict(fields)

    def _resolution(self, value: Any) -> int:
        if isinstance(value, (list, tuple)) and len(value) == 1:  # OFA's tutorial writes r as [224]
            value = value[0]
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise SubnetSpecError(f"resolution: {value!r} is not an integer")
        if int(value) not in self.resolutions:
            raise SubnetSpecError(f"resolution: {value} is outside the {self.name} space (allowed: "
                                  f"{self.resolutions[0]}-{self.resolutions[-1]} in steps of "
                                  f"{self.resolutions[1] - self.resolutions[0]})")
        return int(value)

    @staticmethod
    def _get(d: dict, *names: str):
        for n in names:
            if n in d:
                return d[n]
        raise SubnetSpecError(f"subnet: missing field {names[0]!r} (have: {', '.join(map(str, d)) or 'none'})")


class OFAMobileNetV3Space(SubnetSpace):
    """OFA MobileNetV3 (``ofa_mbv3_d234_e346_k357_w1.2``), layer shapes as the ``ofa`` package builds them."""

    KS = (3, 5, 7)
    EXPAND = (3, 4, 6)
    DEPTH = (2, 3, 4)
    N_STAGE = 5
    BASE_WIDTHS = (16, 16, 24, 40, 80, 112, 160, 960, 1280)  # first conv, first block, 5 stages, final, mix
    STRIDES = (2, 2, 2, 1, 2)
    SE = (False, True, False, True, True)

    def __init__(self, width_mult: float = 1.2):
        self.width_mult = width_mult
        self.name = "ofa-mbv3-w1.2" if width_mult == 1.2 else f"ofa-mbv3-w{width_mult:g}"
        self.resolutions = tuple(range(128, 225, 4))
        self.widths = [make_divisible(w * width_mult) for w in self.BASE_WIDTHS]

    @property
    def slots(self) -> int:
        return self.N_STAGE * max(self.DEPTH)

    def from_dict(self, d: dict) -> MobileNetV3Subnet:
        return MobileNetV3Subnet(
            ks=_tuple_of("ks", self._get(d, "ks"), self.slots, self.KS, inactive_ok=True),
            e=_tuple_of("e", self._get(d, "e"), self.slots, self.EXPAND, inactive_ok=True),
            d=_tuple_of("d", self._get(d, "d"), self.N_STAGE, self.DEPTH),
            resolution=self._resolution(self._get(d, "resolution", "image_size", "r")))

    def canonical(self, s: MobileNetV3Subnet) -> MobileNetV3Subnet:
        ks, e = list(s.ks), list(s.e)
        for stage, depth in enumerate(s.d):
            for j in range(max(self.DEPTH)):
                i = stage * max(self.DEPTH) + j
                if j >= depth:
                    ks[i] = e[i] = 0
                elif ks[i] == 0 or e[i] == 0:
                    raise SubnetSpecError(f"ks/e[{i}]: block {j} of stage {stage} is active but has no "
                                          f"kernel size or expand ratio")
        return MobileNetV3Subnet(tuple(ks), tuple(e), s.d, s.resolution)

    def active_blocks(self, s: MobileNetV3Subnet) -> list[tuple[int, int, int]]:
        """(stage, slot, block-in-stage) of each active block."""
        return [(stage, stage * max(self.DEPTH) + j, j)
                for stage in range(self.N_STAGE) for j in range(s.d[stage])]

    def layers(self, s: MobileNetV3Subnet, batch: int = 1) -> Network:
        s = self.canonical(s)
        w = self.widths
        b = LayerBuilder(3, s.resolution, batch)
        b.conv(w[0], 3, 2, name="first_conv")
        # first block: MBConv with expand ratio 1 (depthwise 3x3, then 1x1 projection), no SE
        b.dw(3, 1, name="blocks.0.depth_conv").conv(w[1], 1, 1, 0, name="blocks.0.point_linear")
        index = 1
        for stage, slot, j in self.active_blocks(s):
            name = f"blocks.{index}"
            c_in = b.c
            mid = make_divisible(round(c_in * s.e[slot]))
            b.conv(mid, 1, 1, 0, name=f"{name}.inverted_bottleneck")
            b.dw(s.ks[slot], self.STRIDES[stage] if j == 0 else 1, name=f"{name}.depth_conv")
            if self.SE[stage]:
                b.se(make_divisible(mid // 4), name)
            b.conv(w[2 + stage], 1, 1, 0, name=f"{name}.point_linear")
            index += 1
        b.conv(w[7], 1, 1, 0, name="final_expand_layer").global_pool()
        b.conv(w[8], 1, 1, 0, name="feature_mix_layer")
        b.fc(1000, "classifier")
        return b.network(f"{self.name}-subnet", s.resolution)

    def sample(self, rng, resolutions=None) -> MobileNetV3Subnet:
        res = tuple(resolutions or self.resolutions)
        return self.canonical(MobileNetV3Subnet(
            ks=tuple(int(v) for v in rng.choice(self.KS, self.slots)),
            e=tuple(int(v) for v in rng.choice(self.EXPAND, self.slots)),
            d=tuple(int(v) for v in rng.choice(self.DEPTH, self.N_STAGE)),
            resolution=int(rng.choice(res))))

    def mutate(self, s: MobileNetV3Subnet, prob: float, rng, resolutions=None) -> MobileNetV3Subnet:
        """OFA's mutation: each slot's (kernel, expand) and each depth redrawn with ``prob``; resolution too."""
        filled = self._filled(s, rng)
        ks, e, d = list(filled.ks), list(filled.e), list(filled.d)
        for i in range(self.slots):
            if rng.random() < prob:
                ks[i], e[i] = int(rng.choice(self.KS)), int(rng.choice(self.EXPAND))
        for i in range(self.N_STAGE):
            if rng.random() < prob:
                d[i] = int(rng.choice(self.DEPTH))
        r = int(rng.choice(tuple(resolutions or self.resolutions))) if rng.random() < prob else s.resolution
        return self.canonical(MobileNetV3Subnet(tuple(ks), tuple(e), tuple(d), r))

    def _filled(self, s: MobileNetV3Subnet, rng) -> MobileNetV3Subnet:
        """Inactive slots given random values, so a depth increase activates a real block."""
        ks = tuple(v if v else int(rng.choice(self.KS)) for v in s.ks)
        e = tuple(v if v else int(rng.choice(self.EXPAND)) for v in s.e)
        return MobileNetV3Subnet(ks, e, s.d, s.resolution)

    def crossover(self, a, b, rng):
        return self.canonical(super().crossover(self._filled(a, rng), self._filled(b, rng), rng))

    def largest(self, resolution: int = 224) -> MobileNetV3Subnet:
        return MobileNetV3Subnet((7,) * self.slots, (6,) * self.slots, (4,) * self.N_STAGE, resolution)

    def subnet_from_net_config(self, net_config: dict, image_size: int) -> MobileNetV3Subnet:
        """The (ks, e, d) of a specialized OFA MobileNetV3 from its published ``net.config`` JSON."""
        blocks = net_config["blocks"][1:]
        stages: list[list[dict]] = []
        prev_out = None
        for blk in blocks:
            conv = blk["mobile_inverted_conv"]
            if conv["stride"] > 1 or conv["out_channels"] != prev_out:
                stages.append([])
            stages[-1].append(conv)
            prev_out = conv["out_channels"]
        if len(stages) != self.N_STAGE:
            raise SubnetSpecError(f"net.config: {len(stages)} stages found (expected {self.N_STAGE})")
        ks, e = [0] * self.slots, [0] * self.slots
        for stage, convs in enumerate(stages):
            for j, conv in enumerate(convs):
                ks[stage * 4 + j], e[stage * 4 + j] = conv["kernel_size"], conv["expand_ratio"]
        return MobileNetV3Subnet(tuple(ks), tuple(e), tuple(len(s) for s in stages), int(image_size))


def layers_from_mbv3_net_config(net_config: dict, image_size: int, batch: int = 1) -> Network:
    """Layers of a MobileNetV3 written as an OFA ``net.config`` (explicit channels; any width)."""
    b = LayerBuilder(3, image_size, batch)
    fc = net_config["first_conv"]
    b.conv(fc["out_channels"], fc["kernel_size"], fc["stride"], name="first_conv")
    for i, blk in enumerate(net_config["blocks"]):
        conv = blk["mobile_inverted_conv"]
        name = f"blocks.{i}"
        mid = conv.get("mid_channels") or make_divisible(round(conv["in_channels"] * conv["expand_ratio"]))
        if conv["expand_ratio"] != 1:
            b.conv(mid, 1, 1, 0, name=f"{name}.inverted_bottleneck")
        else:
            mid = conv["in_channels"]
        b.dw(conv["kernel_size"], conv["stride"], name=f"{name}.depth_conv")
        if conv.get("use_se"):
            b.se(make_divisible(mid // 4), name)
        b.conv(conv["out_channels"], 1, 1, 0, name=f"{name}.point_linear")
    b.conv(net_config["final_expand_layer"]["out_channels"], 1, 1, 0, name="final_expand_layer").global_pool()
    b.conv(net_config["feature_mix_layer"]["out_channels"], 1, 1, 0, name="feature_mix_layer")
    b.fc(net_config["classifier"]["out_features"], "classifier")
    return b.network("ofa-net-config", image_size)


# --- OFA ResNet-50 ----------------------------------------------------------------------------------

class OFAResNet50Space(SubnetSpace):
    """OFA ResNet-50 (``ofa_resnet50``: depth {0,1,2}, expand {0.2,0.25,0.35}, width {0.65,0.8,1.0})."""

    BASE_DEPTH = (2, 2, 4, 2)
    DEPTH = (0, 1, 2)
    STEM_DEPTH = (0, 2)
    EXPAND = (0.2, 0.25, 0.35)
    WIDTH_MULT = (0.65, 0.8, 1.0)
    STAGE_WIDTH = (256, 512, 1024, 2048)
    STRIDES = (1, 2, 2, 2)

    def __init__(self):
        self.name = "ofa-resnet50"
        self.resolutions = tuple(range(128, 257, 16))
        self.stem = [make_divisible(64 * m) for m in self.WIDTH_MULT]
        self.stem_mid = [make_divisible(c // 2) for c in self.stem]
        self.stage_widths = [[make_divisible(w * m) for m in self.WIDTH_MULT] for w in self.STAGE_WIDTH]

    @property
    def slots(self) -> int:
        return sum(self.BASE_DEPTH) + len(self.BASE_DEPTH) * max(self.DEPTH)

    def stage_slots(self, stage: int) -> range:
        start = sum(b + max(self.DEPTH) for b in self.BASE_DEPTH[:stage])
        return range(start, start + self.BASE_DEPTH[stage] + max(self.DEPTH))

    def from_dict(self, d: dict) -> ResNet50Subnet:
        depth = self._get(d, "d")
        if not isinstance(depth, (list, tuple)) or len(depth) != 5:
            raise SubnetSpecError(f"d: expected a list of 5 values (stem, 4 stages), got {depth!r}")
        _tuple_of("d[0] (input stem)", depth[:1], 1, self.STEM_DEPTH)
        _tuple_of("d[1:] (stages)", depth[1:], 4, self.DEPTH)
        return ResNet50Subnet(
            d=tuple(int(v) for v in depth),
            e=_tuple_of("e", self._get(d, "e"), self.slots, self.EXPAND, inactive_ok=True),
            w=_tuple_of("w", self._get(d, "w"), 6, range(len(self.WIDTH_MULT))),
            resolution=self._resolution(self._get(d, "resolution", "image_size", "r")))

    def canonical(self, s: ResNet50Subnet) -> ResNet50Subnet:
        e = list(s.e)
        for stage, base in enumerate(self.BASE_DEPTH):
            depth = base + s.d[stage + 1]
            for j, i in enumerate(self.stage_slots(stage)):
                if j >= depth:
                    e[i] = 0
                elif not e[i]:
                    raise SubnetSpecError(f"e[{i}]: block {j} of stage {stage} is active but has no expand ratio")
        return ResNet50Subnet(s.d, tuple(e), s.w, s.resolution)

    def layers(self, s: ResNet50Subnet, batch: int = 1) -> Network:
        s = self.canonical(s)
        b = LayerBuilder(3, s.resolution, batch)
        b.conv(self.stem_mid[s.w[0]], 3, 2, name="input_stem.0")
        if s.d[0] == max(self.STEM_DEPTH):  # the skippable residual conv of the stem
            b.conv(self.stem_mid[s.w[0]], 3, 1, name="input_stem.1")
        b.conv(self.stem[s.w[1]], 3, 1, name="input_stem.2")
        b.pool(3, 2, 1)
        index = 0
        for stage, base in enumerate(self.BASE_DEPTH):
            out = self.stage_widths[stage][s.w[2 + stage]]
            for j, slot in enumerate(list(self.stage_slots(stage))[:base + s.d[stage + 1]]):
                name = f"blocks.{index}"
                stride = self.STRIDES[stage] if j == 0 else 1
                c_in, h, w_ = b.c, b.h, b.w
                mid = make_divisible(round(out * s.e[slot]))
                b.conv(mid, 1, 1, 0, name=f"{name}.conv1")
                b.conv(mid, 3, stride, 1, name=f"{name}.conv2")
                b.conv(out, 1, 1, 0, name=f"{name}.conv3")
                if j == 0:  # avg-pool (kernel = stride, ceil mode) then a 1x1 conv
                    ph, pw = -(-h // stride), -(-w_ // stride)
                    b.layers.append(ConvLayer.conv(c_in, out, (ph, pw), 1, 1, 0, n=batch,
                                                   name=f"{name}.downsample"))
                index += 1
        b.global_pool().fc(1000, "classifier")
        return b.network(f"{self.name}-subnet", s.resolution)

    def sample(self, rng, resolutions=None) -> ResNet50Subnet:
        res = tuple(resolutions or self.resolutions)
        return self.canonical(ResNet50Subnet(
            d=(int(rng.choice(self.STEM_DEPTH)),) + tuple(int(v) for v in rng.choice(self.DEPTH, 4)),
            e=tuple(float(v) for v in rng.choice(self.EXPAND, self.slots)),
            w=tuple(int(v) for v in rng.integers(0, len(self.WIDTH_MULT), 6)),
            resolution=int(rng.choice(res))))

    def _filled(self, s: ResNet50Subnet, rng) -> ResNet50Subnet:
        return ResNet50Subnet(s.d, tuple(v if v else float(rng.choice(self.EXPAND)) for v in s.e), s.w,
                              s.resolution)

    def mutate(self, s: ResNet50Subnet, prob: float, rng, resolutions=None) -> ResNet50Subnet:
        """OFA's ResNet mutation: stem, each depth, each width index, each expand ratio with ``prob``."""
        s = self._filled(s, rng)
        d, w, e = list(s.d), list(s.w), list(s.e)
        if rng.random() < prob:
            d[0] = int(rng.choice(self.STEM_DEPTH))
        for i in range(1, 5):
            if rng.random() < prob:
                d[i] = int(rng.choice(self.DEPTH))
        for i in range(6):
            if rng.random() < prob:
                w[i] = int(rng.integers(0, len(self.WIDTH_MULT)))
        for i in range(self.slots):
            if rng.random() < prob:
                e[i] = float(rng.choice(self.EXPAND))
        r = int(rng.choice(tuple(resolutions or self.resolutions))) if rng.random() < prob else s.resolution
        return self.canonical(ResNet50Subnet(tuple(d), tuple(e), tuple(w), r))

    def crossover(self, a, b, rng):
        return self.canonical(super().crossover(self._filled(a, rng), self._filled(b, rng), rng))

    def resnet50(self, resolution: int = 224) -> ResNet50Subnet:
        """ResNet-50's configuration in this space: 3-4-6-3 blocks, expand 0.25, width 1.0, full stem."""
        d = (2,) + tuple(target - base for target, base in zip((3, 4, 6, 3), self.BASE_DEPTH))
        return self.canonical(ResNet50Subnet(d, (0.25,) * self.slots, (2,) * 6, resolution))

    def largest(self, resolution: int = 256) -> ResNet50Subnet:
        return ResNet50Subnet((2, 2, 2, 2, 2), (0.35,) * self.slots, (2,) * 6, resolution)


SPACES = {"ofa-resnet50": OFAResNet50Space, "ofa-mbv3-w1.2": OFAMobileNetV3Space}


def get_space(name: str) -> SubnetSpace:
    """A subnet space by name (``ofa-resnet50``, ``ofa-mbv3-w1.2``)."""
    if name not in SPACES:
        raise SubnetSpecError(f"space: unknown {name!r} (allowed: {', '.join(SPACES)})")
    return SPACES[name]()
