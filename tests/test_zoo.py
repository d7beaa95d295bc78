"""Model zoo: MAC totals against published figures (SPEC §7), shape dedup, layer validation."""
from __future__ import annotations

import pytest

from nn_space.layers import ConvLayer, LayerSpecError, Network
from nn_space.zoo import NETWORKS, get_network

# SPEC §7 (conv + FC, 224x224 input), in GMACs.
PUBLISHED_GMACS = {
    "alexnet": 0.72, "vgg16": 15.5, "resnet50": 4.1, "mobilenetv2": 0.30,
    "squeezenet": 0.82, "squeezenet1_1": 0.35, "mnasnet": 0.31,
}


# Transformers (issue 26; batch 1, the default input), in GMACs, within 2 %: torchvision's ViT_B_16 (17.56; timm
# and fvcore: 17.6) and BERT-base at 128 tokens (11.2). tests/test_transformer_zoo.py has the closed forms.
PUBLISHED_TRANSFORMER_GMACS = {"vit_b16": 17.56, "bert_base": 11.2}
#: Networks with no single published MAC figure, checked against closed forms instead
#: (test_unet_follows_the_paper_shapes, tests/test_transformer_zoo.py).
CLOSED_FORM_ONLY = {"unet", "bert_base_512", "gpt2_prefill", "gpt2_decode"}


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_total_macs_match_published(name):
    macs = get_network(name).macs / 1e9
    assert abs(macs - PUBLISHED_GMACS[name]) / PUBLISHED_GMACS[name] < 0.05, macs


@pytest.mark.parametrize("name", sorted(PUBLISHED_TRANSFORMER_GMACS))
def test_transformer_macs_match_published(name):
    macs = get_network(name).macs / 1e9
    assert abs(macs - PUBLISHED_TRANSFORMER_GMACS[name]) / PUBLISHED_TRANSFORMER_GMACS[name] < 0.02, macs


def test_every_network_has_a_mac_check():
    checked = set(PUBLISHED_GMACS) | set(PUBLISHED_TRANSFORMER_GMACS) | CLOSED_FORM_ONLY
    assert set(NETWORKS) == checked, set(NETWORKS) ^ checked


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_network_is_named_and_scales_with_batch(name):
    net = get_network(name)
    assert net.name == name and net.describe_input()
    names = [layer.name for layer in net.layers]
    assert all(names) and len(set(names)) == len(names)  # names are shown in the tables
    assert not {u.name for u in net.uncosted} & set(names)
    assert net.macs == sum(layer.macs for layer in net.layers) > 0  # uncosted ops carry no MACs
    assert get_network(name, batch=2).macs == 2 * net.macs


def test_unet_follows_the_paper_shapes():
    net = get_network("unet")
    assert net.layers[0].describe() == "conv K64 C1 570x570 3x3"
    assert (net.layers[-2].y, net.layers[-2].x) == (388, 388)  # 572 in, 388 out (Ronneberger 2015)
    assert net.layers[-1].k == 2


def test_identical_shapes_are_one():
    net = get_network("resnet50")
    unique = net.unique_layers()
    assert len(unique) < len(net.layers)
    assert sum(count for _, count in unique) == len(net.layers)
    # layer3 has six identical bottlenecks after the first: each of its three convs is one shape.
    keys = [layer.shape_key for layer in net.layers if layer.name.startswith("layer3.") and
            not layer.name.startswith("layer3.0")]
    assert len(set(keys)) == 3
    # names do not split shapes
    a = ConvLayer(k=8, c=4, y=7, x=7, r=3, s=3, name="a")
    b = ConvLayer(k=8, c=4, y=7, x=7, r=3, s=3, name="b")
    assert a == b and a.shape_key == b.shape_key
    assert Network("t", (a, b)).unique_layers() == [(a, 2)]


def test_depthwise_and_grouped_macs():
    dw = ConvLayer.conv(32, 32, 112, 3, 1, groups=32)
    assert dw.depthwise and dw.loop_bounds == (1, 32, 1, 112, 112, 3, 3)
    assert dw.macs == 32 * 112 * 112 * 9
    g = ConvLayer.conv(64, 128, 28, 3, 1, groups=4)
    assert not g.depthwise and g.repeats == 4 and g.macs == 64 * 128 * 28 * 28 * 9 // 4
    fc = ConvLayer.fc(2048, 1000)
    assert fc.macs == 2048 * 1000 and fc.describe().startswith("fc")


def test_input_rows_include_padding():
    layer = ConvLayer.conv(3, 64, 224, 7, 2, 3)
    assert (layer.y, layer.x) == (112, 112)
    assert layer.input_height == (112 - 1) * 2 + 7  # padded input (SPEC §2)


@pytest.mark.parametrize("kwargs, field", [
    (dict(k=0, c=3, y=7, x=7), "k: 0"),
    (dict(k=8, c=3, y=-1, x=7), "y: -1"),
    (dict(k=8, c=3, y=7, x=7, stride_y=0), "stride_y: 0"),
    (dict(k=8, c=6, y=7, x=7, groups=4), "groups: 4"),
    (dict(k=8, c=3, y=7, x=7.5), "x: 7.5"),
])
def test_bad_layers_name_field_and_value(kwargs, field):
    with pytest.raises(LayerSpecError, match=field.replace(".", r"\.")):
        ConvLayer(**kwargs)


def test_too_small_input_is_a_clear_error():
    with pytest.raises(LayerSpecError, match="smaller than kernel"):
        get_network("vgg16", input_size=8)


def test_unknown_network_lists_the_choices():
    with pytest.raises(KeyError, match="resnet50"):
        get_network("resnet51")
    assert set(NETWORKS) >= {"vgg16", "resnet50", "unet", "mobilenetv2", "squeezenet", "mnasnet", "alexnet"}
    assert set(NETWORKS) >= {"bert_base", "bert_base_512", "vit_b16", "gpt2_prefill", "gpt2_decode"}
    with pytest.raises(KeyError, match="gpt2_decode"):
        get_network("gpt3")
    assert get_network("GPT2-decode").name == get_network("gpt2decode").name == "gpt2_decode"
