"""OFA subnet spaces: layer shapes against the ofa package and OFA's published net.config files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nn_space.ofa_spaces import (OFAMobileNetV3Space, OFAResNet50Space, SubnetSpecError, get_space,
                                 layers_from_mbv3_net_config)
from nn_space.torch_extract import layers_from_torch

from .ofa_reference import ofa_networks


def _shapes(net):
    return sorted(layer.shape_key for layer in net.layers)


def test_resnet50_config_matches_resnet50_shapes():
    space = OFAResNet50Space()
    net = space.layers(space.resnet50())
    # ResNet-50's 53 convs + FC, with OFA's 3-conv stem in place of the 7x7 conv (ResNet-D): 56 layers
    assert len(net.layers) == 56
    assert net.macs == 4_328_824_832
    convs = [l for l in net.layers if l.name.endswith("conv2")]
    assert [l.k for l in convs] == [64] * 3 + [128] * 4 + [256] * 6 + [512] * 3


def test_resnet50_space_against_ofa_package():
    nets = ofa_networks()
    import torch
    space = OFAResNet50Space()
    supernet = nets.OFAResNets(depth_list=[0, 1, 2], expand_ratio_list=[0.2, 0.25, 0.35],
                               width_mult_list=[0.65, 0.8, 1.0])
    rng = np.random.default_rng(3)
    for subnet in [space.resnet50(), space.largest()] + [space.sample(rng) for _ in range(5)]:
        supernet.set_active_subnet(d=list(subnet.d), e=[v or 0.25 for v in subnet.e], w=list(subnet.w))
        with torch.no_grad():
            theirs = layers_from_torch(supernet.get_active_subnet().eval(),
                                       (1, 3, subnet.resolution, subnet.resolution))
        assert _shapes(theirs) == _shapes(space.layers(subnet)), subnet


def test_mbv3_space_against_ofa_package():
    nets = ofa_networks()
    import torch
    space = OFAMobileNetV3Space()
    supernet = nets.OFAMobileNetV3(width_mult=1.2, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6],
                                   depth_list=[2, 3, 4])
    rng = np.random.default_rng(4)
    for subnet in [space.largest()] + [space.sample(rng) for _ in range(5)]:
        supernet.set_active_subnet(ks=[v or 3 for v in subnet.ks], e=[v or 3 for v in subnet.e], d=list(subnet.d))
        with torch.no_grad():
            theirs = layers_from_torch(supernet.get_active_subnet().eval(),
                                       (1, 3, subnet.resolution, subnet.resolution))
        assert _shapes(theirs) == _shapes(space.layers(subnet)), subnet


def test_mbv3_space_against_published_width_12_subnets(ofa_data):
    """OFA's specialized w1.2 MobileNetV3s list their channels; our (ks, e, d) -> layers must agree."""
    space = OFAMobileNetV3Space()
    checked = 0
    for folder in sorted((ofa_data / "specialized").iterdir()):
        config = json.loads((folder / "net.config").read_text())
        if config.get("name") != "MobileNetV3" or config["first_conv"]["out_channels"] != 24:
            continue
        size = json.loads((folder / "run.config").read_text())["image_size"]
        subnet = space.subnet_from_net_config(config, size)
        subnet = type(subnet)(subnet.ks, subnet.e, subnet.d, 224)  # the space's layers at a legal resolution
        assert _shapes(space.layers(subnet)) == _shapes(layers_from_mbv3_net_config(config, 224)), folder.name
        checked += 1
    assert checked == 10


def test_subnet_validation_names_field_and_value():
    space = get_space("ofa-resnet50")
    good = space.resnet50().to_dict()
    with pytest.raises(SubnetSpecError, match=r"resolution: 230 is outside the ofa-resnet50 space"):
        space.from_dict({**good, "resolution": 230})
    with pytest.raises(SubnetSpecError, match=r"e\[3\]: 0.3 is not allowed"):
        space.from_dict({**good, "e": [0.25, 0.25, 0.25, 0.3] + [0.25] * 14})
    with pytest.raises(SubnetSpecError, match=r"d\[0\] \(input stem\)"):
        space.from_dict({**good, "d": [1, 1, 1, 1, 1]})
    with pytest.raises(SubnetSpecError, match="missing field 'w'"):
        space.from_dict({k: v for k, v in good.items() if k != "w"})
    with pytest.raises(SubnetSpecError, match="ks: expected a list of 20"):
        get_space("ofa-mbv3-w1.2").from_dict({"ks": [3], "e": [3] * 20, "d": [2] * 5, "resolution": 224})
    with pytest.raises(SubnetSpecError, match="unknown 'ofa-vgg'"):
        get_space("ofa-vgg")


@pytest.mark.parametrize("name", ["ofa-resnet50", "ofa-mbv3-w1.2"])
def test_mutation_and_crossover_stay_in_the_space(name):
    space = get_space(name)
    rng = np.random.default_rng(0)
    pop = [space.sample(rng) for _ in range(20)]
    for _ in range(200):
        a, b = pop[rng.integers(20)], pop[rng.integers(20)]
        child = space.mutate(a, 0.3, rng) if rng.random() < 0.5 else space.crossover(a, b, rng)
        assert space.canonical(child) == child
        assert space.from_dict(child.to_dict()) == child  # round-trips through its JSON form
        assert space.layers(child).macs > 0
