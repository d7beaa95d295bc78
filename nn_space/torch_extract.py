"""Layer lists from any ``torch.nn.Module`` by running it once with forward hooks (torch is optional)."""
from __future__ import annotations

import math
from typing import Sequence

from .layers import ConvLayer, LayerSpecError, Network


def _require_torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ImportError("reading a torch model needs torch: pip install 'naas[torch]'") from exc
    return torch


def layers_from_torch(model, input_size: Sequence[int] = (1, 3, 224, 224), name: str = "model") -> Network:
    """Run ``model`` once on zeros of ``input_size`` (N, C, H, W) and record every conv and linear layer.

    Conv2d (any groups; depthwise when groups == in == out channels), Linear (leading dims fold into N),
    and ConvTranspose2d with kernel == stride and no padding (costed as the equivalent 1x1 conv) are
    recorded; dilated convolutions and other transposed convolutions raise ``LayerSpecError``.
    """
    torch = _require_torch()
    nn = torch.nn
    layers: list[ConvLayer] = []
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

    def linear_hook(module, inputs, output):
        x = inputs[0]
        n = math.prod(x.shape[:-1]) if x.dim() > 1 else 1
        layers.append(ConvLayer.fc(module.in_features, module.out_features, n=n,
                                   name=names.get(module, "linear")))

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

    hooks = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, nn.Linear):
            hooks.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, nn.ConvTranspose2d):
            hooks.append(module.register_forward_hook(tconv_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(*input_size))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return Network(name, tuple(layers), (int(input_size[-2]), int(input_size[-1])))
