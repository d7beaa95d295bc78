"""Layer lists read from torch modules with forward hooks, checked against the zoo's own builders."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional

from nn_space.layers import LayerSpecError  # noqa: E402
from nn_space.torch_extract import layers_from_torch  # noqa: E402
from nn_space.zoo import get_network  # noqa: E402


def torch_alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d(6), nn.Flatten(),
        nn.Linear(9216, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))


class Fire(nn.Module):
    def __init__(self, c_in, squeeze, expand):
        super().__init__()
        self.squeeze = nn.Conv2d(c_in, squeeze, 1)
        self.e1 = nn.Conv2d(squeeze, expand, 1)
        self.e3 = nn.Conv2d(squeeze, expand, 3, padding=1)

    def forward(self, x):
        x = torch.relu(self.squeeze(x))
        return torch.cat([self.e1(x), self.e3(x)], 1)


def torch_squeezenet1_1():
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64), Fire(128, 16, 64), pool(),
        Fire(128, 32, 128), Fire(256, 32, 128), pool(), Fire(256, 48, 192), Fire(384, 48, 192),
        Fire(384, 64, 256), Fire(512, 64, 256), nn.Conv2d(512, 1000, 1), nn.AdaptiveAvgPool2d(1))


@pytest.mark.parametrize("builder, name", [(torch_alexnet, "alexnet"), (torch_squeezenet1_1, "squeezenet1_1")])
def test_torch_model_matches_zoo(builder, name):
    extracted = layers_from_torch(builder(), (1, 3, 224, 224), name)
    zoo = get_network(name)
    assert [lay.shape_key for lay in extracted.layers] == [lay.shape_key for lay in zoo.layers]
    assert extracted.macs == zoo.macs


def test_depthwise_grouped_linear_transpose_and_batch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, 2, padding="same" if False else 1)
            self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
            self.grouped = nn.Conv2d(16, 32, 3, 1, 1, groups=4)
            self.up = nn.ConvTranspose2d(32, 8, 2, 2)
            self.same = nn.Conv2d(8, 8, 5, padding="same")
            self.head = nn.Linear(8, 10)

        def forward(self, x):
            x = self.up(self.grouped(self.dw(self.stem(x))))
            x = self.same(x)
            return self.head(x.mean(dim=(2, 3)))

    net = layers_from_torch(Net(), (2, 3, 32, 32))
    stem, dw, grouped, up, same, head = net.layers
    assert (stem.n, stem.k, stem.c, stem.y, stem.stride_y) == (2, 16, 3, 16, 2)
    assert dw.depthwise and dw.name == "dw"
    assert grouped.groups == 4 and grouped.repeats == 4
    assert (up.k, up.c, up.y, up.r) == (32, 32, 16, 1)  # 2x2/2 transposed conv = 1x1 conv to 4x channels
    assert up.macs == 32 * 8 * 4 * 16 * 16 * 2
    assert (same.y, same.pad_y) == (32, 2)
    assert (head.k, head.c, head.n) == (10, 8, 2)


def test_unsupported_layers_are_named():
    with pytest.raises(LayerSpecError, match="layer '0': dilation"):
        layers_from_torch(nn.Sequential(nn.Conv2d(3, 8, 3, dilation=2)), (1, 3, 16, 16))
    with pytest.raises(LayerSpecError, match="layer '0': only ConvTranspose2d with kernel == stride"):
        layers_from_torch(nn.Sequential(nn.ConvTranspose2d(3, 8, 3, 2)), (1, 3, 16, 16))


def test_default_input_and_cnn_uncosted_ops():
    """The default input is still zeros of (1, 3, 224, 224); a CNN's layers are as before, and what it does
    besides (ReLUs, pools) is listed as uncosted with the elements it produces."""
    net = layers_from_torch(torch_alexnet(), name="alexnet")
    assert [lay.shape_key for lay in net.layers] == [lay.shape_key for lay in get_network("alexnet").layers]
    assert [lay.op for lay in net.layers] == ["conv"] * 8 and net.layers[-1].name == "19"
    assert net.input_size == (224, 224) and net.input_text == ""
    assert net.uncosted_totals() == {"relu": (7, 64 * 55 * 55 + 192 * 27 * 27 + 384 * 13 * 13 + 2 * 256 * 13 * 13
                                              + 2 * 4096),
                                     "max_pool": (3, 64 * 27 * 27 + 192 * 13 * 13 + 256 * 6 * 6),
                                     "avg_pool": (1, 256 * 6 * 6)}


@pytest.mark.parametrize("shape, op, dims", [
    ((8,), "conv", (1, 1, 10, 8)),          # a vector: fc, N = 1
    ((3, 8), "conv", (3, 1, 10, 8)),        # rows: fc, N = rows (as before)
    ((2, 5, 8), "gemm", (1, 10, 10, 8)),    # a sequence: gemm, M = tokens x batch
    ((2, 3, 5, 8), "gemm", (1, 30, 10, 8)),
])
def test_linear_is_fc_on_rows_and_gemm_on_sequences(shape, op, dims):
    net = layers_from_torch(nn.Sequential(nn.Linear(8, 10)), example_inputs=torch.randn(*shape))
    (layer,) = net.layers
    assert (layer.name, layer.op, layer.gemm_dims, layer.macs) == ("0", op, dims, math.prod(shape) * 10)


class Products(nn.Module):
    """Each product torch offers, with a parameter operand (a weight: fc / gemm) or two activations (bmm)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 6))
        self.wl = nn.Parameter(torch.randn(3, 8))
        self.head_w = nn.Parameter(torch.randn(2, 8, 4))
        self.bias = nn.Parameter(torch.zeros(6))

    def forward(self, x):                                    # x: (2, 5, 8)
        a = x @ self.w                                       # gemm M10 N6 K8
        b = torch.matmul(self.wl, x.transpose(1, 2))         # W (3, 8) @ (2, 8, 5): gemm M10 N3 K8
        c = F.linear(x, self.w.t())                          # a view of a parameter is a weight: gemm M10 N6 K8
        s = torch.bmm(x, x.transpose(1, 2))                  # bmm 2x M5 N5 K8
        s = torch.baddbmm(s, x, x.transpose(1, 2))           # bmm 2x M5 N5 K8, and the add of s (uncosted)
        d = torch.addmm(self.bias, x[0], self.w)             # 2-D rows: fc N5, the bias is part of it
        e = torch.einsum("bsd,de->bse", x, self.w)           # gemm M10 N6 K8
        f = torch.einsum("bsd,hde->bhse", x, self.head_w)    # h, e are both columns: gemm M10 N8 K8
        h = torch.einsum("bshd,hde->bshe", x.view(2, 5, 2, 4), self.head_w[:, :4])  # per head: bmm 2x M10 N4 K4
        g = x.unsqueeze(1) @ x.unsqueeze(0).transpose(-1, -2)  # (2, 1, 5, 8) @ (1, 2, 8, 5): bmm 4x M5 N5 K8
        r = x + x.mean(dim=1, keepdim=True)                  # an add of two activations, broadcast: not residual
        return a, b, c, s, d, e, f, h, g, r


def test_matmul_family_with_weights_and_activations():
    net = layers_from_torch(nn.Sequential(Products()), example_inputs=torch.randn(2, 5, 8))
    assert [(lay.name, lay.op, lay.gemm_dims) for lay in net.layers] == [
        ("0.matmul", "gemm", (1, 10, 6, 8)), ("0.matmul_1", "gemm", (1, 10, 3, 8)), ("0.linear", "gemm", (1, 10, 6, 8)),
        ("0.bmm", "bmm", (2, 5, 5, 8)), ("0.baddbmm", "bmm", (2, 5, 5, 8)), ("0.addmm", "conv", (5, 1, 6, 8)),
        ("0.einsum", "gemm", (1, 10, 6, 8)), ("0.einsum_1", "gemm", (1, 10, 8, 8)),
        ("0.einsum_2", "bmm", (2, 10, 4, 4)), ("0.matmul_2", "bmm", (4, 5, 5, 8))]
    assert [(u.name, u.op, u.elements) for u in net.uncosted] == [("0.add", "add", 2 * 5 * 5), ("0.mean", "mean", 16),
                                                                  ("0.add_1", "add", 2 * 5 * 8)]


def test_linear_names_and_uncosted_names_carry_the_module_path():
    model = nn.Sequential(nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8)), nn.LayerNorm(8))
    net = layers_from_torch(model, example_inputs=torch.randn(2, 4, 8))
    assert [lay.name for lay in net.layers] == ["0.0", "0.2"]
    assert [(u.name, u.op, u.elements) for u in net.uncosted] == [("0.1.gelu", "gelu", 64),
                                                                  ("1.layernorm", "layernorm", 64)]
    assert net.input_text == "2x4 tokens"
