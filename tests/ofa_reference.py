"""The PyPI ``ofa`` package as a reference, when installed (it imports torchvision only for data loading)."""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

import pytest


def _stub_torchvision() -> None:
    """ofa.utils imports torchvision's transforms for its data loaders; the networks never use them."""
    try:
        importlib.import_module("torchvision.transforms")
        return
    except Exception:
        pass
    tv = types.ModuleType("torchvision")
    tr = types.ModuleType("torchvision.transforms")
    fn = types.ModuleType("torchvision.transforms.functional")
    ds = types.ModuleType("torchvision.datasets")
    tr.RandomResizedCrop = type("RandomResizedCrop", (), {})
    tr.functional, tv.transforms, tv.datasets = fn, tr, ds
    sys.modules.update({"torchvision": tv, "torchvision.transforms": tr,
                        "torchvision.transforms.functional": fn, "torchvision.datasets": ds})


def ofa_networks():
    """``ofa.imagenet_classification.elastic_nn.networks``, or skip the test."""
    pytest.importorskip("torch")
    if importlib.util.find_spec("ofa") is None:
        pytest.skip("the optional PyPI package 'ofa' is not installed")
    _stub_torchvision()
    return importlib.import_module("ofa.imagenet_classification.elastic_nn.networks")


def ofa_file_module(relative: str, name: str):
    """A module of the ofa package loaded from its file (skipping package __init__s that need extras)."""
    ofa_networks()
    import ofa
    spec = importlib.util.spec_from_file_location(name, Path(ofa.__file__).parent / relative)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
