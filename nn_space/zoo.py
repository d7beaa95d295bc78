"""Built-in networks as layer lists (conv and FC layers; pooling and activations carry no MACs here).

Each builder follows the published architecture and torchvision's definition where one exists, so the
MAC totals can be checked against SPEC §7. Sizes are tracked like ``torch.nn.Conv2d`` computes them.
The transformers (BERT-base, ViT-B/16, GPT-2 small: gemm and bmm layers, the uncosted ops listed) are
built in ``nn_space.transformers``.
"""
from __future__ import annotations

from typing import Callable

from .layers import ConvLayer, Network
from .transformers import TRANSFORMERS


class LayerBuilder:
    """Tracks the current feature map (channels, height, width) while layers are appended."""

    def __init__(self, channels: int, size: int | tuple[int, int], batch: int = 1):
        self.c = channels
        self.h, self.w = (size, size) if isinstance(size, int) else size
        self.n = batch
        self.layers: list[ConvLayer] = []

    def conv(self, c_out: int, kernel: int, stride: int = 1, padding: int | None = None,
             groups: int = 1, name: str = "") -> "LayerBuilder":
        layer = ConvLayer.conv(self.c, c_out, (self.h, self.w), kernel, stride, padding, groups,
                               n=self.n, name=name or f"conv{len(self.layers)}")
        self.layers.append(layer)
        self.c, self.h, self.w = c_out, layer.y, layer.x
        return self

    def dw(self, kernel: int, stride: int = 1, name: str = "") -> "LayerBuilder":
        return self.conv(self.c, kernel, stride, groups=self.c, name=name)

    def pool(self, kernel: int, stride: int | None = None, padding: int = 0,
             ceil_mode: bool = False) -> "LayerBuilder":
        stride = stride or kernel
        def out(v: int) -> int:
            span = v + 2 * padding - kernel
            return (-(-span // stride) if ceil_mode else span // stride) + 1
        self.h, self.w = out(self.h), out(self.w)
        return self

    def global_pool(self) -> "LayerBuilder":
        self.h = self.w = 1
        return self

    def fc(self, c_out: int, name: str = "") -> "LayerBuilder":
        c_in = self.c * self.h * self.w
        self.layers.append(ConvLayer.fc(c_in, c_out, n=self.n, name=name or f"fc{len(self.layers)}"))
        self.c, self.h, self.w = c_out, 1, 1
        return self

    def se(self, squeeze: int, name: str) -> None:
        """Squeeze-and-excitation: two FC layers on the pooled vector; the map is unchanged."""
        c = self.c
        self.layers.append(ConvLayer.fc(c, squeeze, n=self.n, name=f"{name}.se_reduce"))
        self.layers.append(ConvLayer.fc(squeeze, c, n=self.n, name=f"{name}.se_expand"))

    def network(self, name: str, input_size: int) -> Network:
        return Network(name, tuple(self.layers), (input_size, input_size))


def alexnet(input_size: int = 224, batch: int = 1) -> Network:
    """AlexNet as in torchvision (the single-tower variant of Krizhevsky et al. 2012)."""
    b = LayerBuilder(3, input_size, batch)
    b.conv(64, 11, 4, 2, name="conv1").pool(3, 2)
    b.conv(192, 5, 1, 2, name="conv2").pool(3, 2)
    b.conv(384, 3, 1, 1, name="conv3").conv(256, 3, 1, 1, name="conv4")
    b.conv(256, 3, 1, 1, name="conv5").pool(3, 2)
    b.h = b.w = 6  # adaptive average pool to 6x6
    b.fc(4096, "fc6").fc(4096, "fc7").fc(1000, "fc8")
    return b.network("alexnet", input_size)


def vgg16(input_size: int = 224, batch: int = 1) -> Network:
    """VGG-16 (configuration D, Simonyan & Zisserman 2015)."""
    b = LayerBuilder(3, input_size, batch)
    cfg = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]]
    for stage, widths in enumerate(cfg, 1):
        for i, w in enumerate(widths, 1):
            b.conv(w, 3, 1, 1, name=f"conv{stage}_{i}")
        b.pool(2, 2)
    b.fc(4096, "fc6").fc(4096, "fc7").fc(1000, "fc8")
    return b.network("vgg16", input_size)


def resnet50(input_size: int = 224, batch: int = 1) -> Network:
    """ResNet-50 as in torchvision (v1.5: stride on the 3x3 conv of each bottleneck)."""
    b = LayerBuilder(3, input_size, batch)
    b.conv(64, 7, 2, 3, name="conv1").pool(3, 2, 1)
    in_c = 64
    for stage, (width, blocks, stride) in enumerate(
            [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], 1):
        for blk in range(blocks):
            s = stride if blk == 0 else 1
            name = f"layer{stage}.{blk}"
            h, w = b.h, b.w
            b.conv(width, 1, 1, 0, name=f"{name}.conv1")
            b.conv(width, 3, s, 1, name=f"{name}.conv2")
            b.conv(width * 4, 1, 1, 0, name=f"{name}.conv3")
            if blk == 0:
                b.layers.append(ConvLayer.conv(in_c, width * 4, (h, w), 1, s, 0, n=batch,
                                               name=f"{name}.downsample"))
            in_c = width * 4
    b.global_pool().fc(1000, "fc")
    return b.network("resnet50", input_size)


def make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def mobilenetv2(input_size: int = 224, batch: int = 1, width: float = 1.0) -> Network:
    """MobileNetV2 (Sandler et al. 2018), as in torchvision."""
    b = LayerBuilder(3, input_size, batch)
    b.conv(make_divisible(32 * width), 3, 2, 1, name="features.0")
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    idx = 1
    for t, c, n, s in settings:
        out_c = make_divisible(c * width)
        for i in range(n):
            name = f"features.{idx}"
            hidden = b.c * t
            if t != 1:
                b.conv(hidden, 1, 1, 0, name=f"{name}.expand")
            b.dw(3, s if i == 0 else 1, name=f"{name}.dw")
            b.conv(out_c, 1, 1, 0, name=f"{name}.project")
            idx += 1
    b.conv(make_divisible(1280 * max(1.0, width)), 1, 1, 0, name="features.18")
    b.global_pool().fc(1000, "classifier")
    return b.network("mobilenetv2", input_size)


def squeezenet(version: str = "1.0", input_size: int = 224, batch: int = 1) -> Network:
    """SqueezeNet 1.0 / 1.1 (Iandola et al. 2016), as in torchvision."""
    b = LayerBuilder(3, input_size, batch)

    def fire(name: str, squeeze: int, expand: int) -> None:
        b.conv(squeeze, 1, 1, 0, name=f"{name}.squeeze")
        c_sq, h, w = b.c, b.h, b.w
        b.conv(expand, 1, 1, 0, name=f"{name}.expand1x1")
        b.layers.append(ConvLayer.conv(c_sq, expand, (h, w), 3, 1, 1, n=batch,
                                       name=f"{name}.expand3x3"))
        b.c = 2 * expand

    if version == "1.0":
        b.conv(96, 7, 2, 0, name="conv1").pool(3, 2, ceil_mode=True)
        fire("fire2", 16, 64); fire("fire3", 16, 64); fire("fire4", 32, 128)
        b.pool(3, 2, ceil_mode=True)
        fire("fire5", 32, 128); fire("fire6", 48, 192); fire("fire7", 48, 192); fire("fire8", 64, 256)
        b.pool(3, 2, ceil_mode=True)
        fire("fire9", 64, 256)
    elif version == "1.1":
        b.conv(64, 3, 2, 0, name="conv1").pool(3, 2, ceil_mode=True)
        fire("fire2", 16, 64); fire("fire3", 16, 64)
        b.pool(3, 2, ceil_mode=True)
        fire("fire4", 32, 128); fire("fire5", 32, 128)
        b.pool(3, 2, ceil_mode=True)
        fire("fire6", 48, 192); fire("fire7", 48, 192); fire("fire8", 64, 256); fire("fire9", 64, 256)
    else:
        raise ValueError(f"squeezenet version: {version!r} (allowed: '1.0', '1.1')")
    b.conv(1000, 1, 1, 0, name="classifier")
    name = "squeezenet" if version == "1.0" else "squeezenet1_1"
    return b.network(name, input_size)


def mnasnet_a1(input_size: int = 224, batch: int = 1) -> Network:
    """MnasNet-A1 (Tan et al., CVPR 2019, Fig. 7), squeeze-excitation at 1/4 of the block input width."""
    b = LayerBuilder(3, input_size, batch)
    b.conv(32, 3, 2, 1, name="stem")
    b.dw(3, 1, name="sepconv.dw").conv(16, 1, 1, 0, name="sepconv.pw")
    # (expansion, kernel, out channels, repeats, first stride, squeeze-excitation)
    stages = [(6, 3, 24, 2, 2, False), (3, 5, 40, 3, 2, True), (6, 3, 80, 4, 2, False),
              (6, 3, 112, 2, 1, True), (6, 5, 160, 3, 2, True), (6, 3, 320, 1, 1, False)]
    for si, (t, k, c, n, s, se) in enumerate(stages, 1):
        for i in range(n):
            name = f"stage{si}.{i}"
            in_c = b.c
            b.conv(in_c * t, 1, 1, 0, name=f"{name}.expand")
            b.dw(k, s if i == 0 else 1, name=f"{name}.dw")
            if se:
                b.se(max(1, in_c // 4), name)
            b.conv(c, 1, 1, 0, name=f"{name}.project")
    b.conv(1280, 1, 1, 0, name="head")
    b.global_pool().fc(1000, "classifier")
    return b.network("mnasnet", input_size)


def unet(input_size: int = 572, batch: int = 1, in_channels: int = 1, classes: int = 2) -> Network:
    """U-Net (Ronneberger et al. 2015): unpadded 3x3 convs, 572x572 input, 2x2 up-convolutions.

    A 2x2 stride-2 transposed convolution from C to K channels on an HxW map does the same MACs and
    touches the same data as a 1x1 convolution from C to 4K channels on the HxW map; it is costed as that.
    """
    b = LayerBuilder(in_channels, input_size, batch)
    skips = []
    widths = [64, 128, 256, 512]
    for i, w in enumerate(widths, 1):
        b.conv(w, 3, 1, 0, name=f"down{i}.conv1").conv(w, 3, 1, 0, name=f"down{i}.conv2")
        skips.append((b.c, b.h, b.w))
        b.pool(2, 2)
    b.conv(1024, 3, 1, 0, name="bottom.conv1").conv(1024, 3, 1, 0, name="bottom.conv2")
    for i, w in enumerate(reversed(widths), 1):
        b.layers.append(ConvLayer.conv(b.c, 4 * w, (b.h, b.w), 1, 1, 0, n=batch, name=f"up{i}.upconv"))
        b.h, b.w = 2 * b.h, 2 * b.w
        skip_c = skips[-i][0]
        b.c = w + skip_c  # concatenation with the cropped skip connection
        b.conv(w, 3, 1, 0, name=f"up{i}.conv1").conv(w, 3, 1, 0, name=f"up{i}.conv2")
    b.conv(classes, 1, 1, 0, name="head")
    return b.network("unet", input_size)


#: Name -> builder. Keys are what ``--network`` accepts.
NETWORKS: dict[str, Callable[..., Network]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet50": resnet50,
    "mobilenetv2": mobilenetv2,
    "squeezenet": lambda input_size=224, batch=1: squeezenet("1.0", input_size, batch),
    "squeezenet1_1": lambda input_size=224, batch=1: squeezenet("1.1", input_size, batch),
    "mnasnet": mnasnet_a1,
    "unet": unet,
    **TRANSFORMERS,  # bert_base, bert_base_512, vit_b16, gpt2_prefill, gpt2_decode
}


def get_network(name: str, input_size: int | None = None, batch: int = 1) -> Network:
    """A built-in network by name (see ``NETWORKS``)."""
    key = name.lower().replace("-", "").replace("_", "") if name else name
    lookup = {k.replace("_", ""): k for k in NETWORKS}
    if key not in lookup:
        raise KeyError(f"network: {name!r} is not built in (allowed: {', '.join(NETWORKS)})")
    builder = NETWORKS[lookup[key]]
    return builder(batch=batch) if input_size is None else builder(input_size=input_size, batch=batch)
