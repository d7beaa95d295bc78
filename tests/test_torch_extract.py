"""Layer lists read from torch modules with forward hooks, checked against the zoo's own builders."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

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
