"""Timeloop problem and mapping files: import, export, round trips, what naas refuses, and the CLI."""
from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_model.accelerator import load_accelerator
from cost_model.evaluate import evaluate_layer
from mapping.spec import Mapping
from mapping.timeloop_mapping import load_timeloop_mapping, mapping_from_timeloop, mapping_to_timeloop, timeloop_form
from nn_space.layers import ConvLayer
from nn_space.timeloop_problem import (TimeloopFormatError, layer_from_timeloop, load_timeloop_problem,
                                       timeloop_problem)

from .strategies import mappings_for, small_layers

DATA = Path(__file__).parent / "data" / "timeloop"
PROBLEM, MAPPING = DATA / "conv3x3.yaml", DATA / "eyeriss_mapping.yaml"
#: The mapping the Eyeriss-style file spells out over six targets, written as one naas mapping.
NATIVE = Mapping(dram={"Y": 2, "X": 7}, l2={"K": 8, "C": 16, "X": 2}, spatial={"C": 4, "Y": 14, "R": 3},
                 l1={"K": 8, "X": 2, "S": 3}, dram_order="NYRKSCX", l2_order="NYRSKCX", l1_order="NCYRKXS")


def _yaml_round(doc):
    return yaml.safe_load(yaml.safe_dump(doc, sort_keys=False))


def test_problem_file_v03():
    layer = load_timeloop_problem(PROBLEM)
    assert (layer.k, layer.c, layer.y, layer.x, layer.r, layer.s, layer.n) == (64, 64, 28, 28, 3, 3, 1)
    assert layer.stride_y == layer.stride_x == 1 and layer.groups == 1


@pytest.mark.parametrize("layer", [
    ConvLayer.conv(64, 128, 28, 3, stride=2),
    ConvLayer.conv(32, 32, 56, 3, groups=32),          # depthwise: Timeloop G
    ConvLayer.conv(96, 24, 14, 1),
    ConvLayer.fc(1280, 1000),
    ConvLayer(k=8, c=4, y=5, x=7, r=3, s=1, stride_y=2, stride_x=1, n=2),
])
def test_problem_export_reads_back(layer):
    back = layer_from_timeloop(_yaml_round(timeloop_problem(layer)))
    assert back.shape_key == layer.shape_key


def test_eyeriss_style_mapping_file_reads_as_one_naas_mapping():
    layer = load_timeloop_problem(PROBLEM)
    mapping, notes = load_timeloop_mapping(MAPPING, layer)
    assert mapping == NATIVE
    assert any("one (partitioned) naas L1" in n for n in notes)
    assert any("DummyBuffer: a pass-through level" in n for n in notes)
    acc = load_accelerator("eyeriss")
    assert evaluate_layer(layer, acc, mapping).edp == evaluate_layer(layer, acc, NATIVE).edp


def test_timeloop_mapping_file_round_trips():
    layer = load_timeloop_problem(PROBLEM)
    first, _ = load_timeloop_mapping(MAPPING, layer)
    acc = load_accelerator("eyeriss")
    exported = _yaml_round(mapping_to_timeloop(first, layer, [a.dims for a in acc.array]))
    second, notes = mapping_from_timeloop(exported, layer)
    assert second == first and notes == []
    again = _yaml_round(mapping_to_timeloop(second, layer, [a.dims for a in acc.array]))
    assert again == exported
    spatial = next(e for e in exported["mapping"] if e["type"] == "spatial")
    assert spatial["split"] == 3 and spatial["permutation"].startswith("MCR")  # axis 0 = R/C/K first


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_mapping_round_trips_through_timeloop_form(data):
    layer = data.draw(small_layers().filter(lambda lay: lay.groups == 1 or lay.depthwise))
    mapping, parallel = data.draw(mappings_for(layer))
    doc = _yaml_round(mapping_to_timeloop(mapping, layer, [parallel]))
    back, _ = mapping_from_timeloop(doc, layer_from_timeloop(_yaml_round(timeloop_problem(layer))))
    # a matrix product's problem has no X, R, S (nor N without a batch): their places in the orders come back
    # in the one form timeloop_form gives (the same loops); a convolution's mapping comes back as it was
    assert back == timeloop_form(mapping, layer)
    if not layer.is_matmul:
        assert back == mapping


def test_unlisted_factor_is_filled_and_permutation_may_be_partial():
    layer = ConvLayer(k=16, c=8, y=4, x=4, r=1, s=1)
    doc = {"mapping": [
        {"target": "DRAM", "type": "temporal", "factors": "M=2", "permutation": "M"},
        {"target": "GLB", "type": "temporal", "factors": ["C=8", "M=2", "P=4", "Q=4"], "permutation": "QPCM"},
        {"target": "GLB", "type": "spatial", "factors": "M=4 C=1"},
        {"target": "RF", "type": "temporal", "factors": "C=1 P=1 Q=1 N=1 R=1 S=1"},  # M left out: the rest
    ]}
    mapping, notes = mapping_from_timeloop(doc, layer)
    assert mapping.dram[1] == 2 and mapping.l2[1] == 2 and mapping.spatial[1] == 4 and mapping.l1[1] == 1
    assert mapping.l2_order == "NRSKCYX"  # unlisted dims outermost, then QPCM read innermost first
    doc["mapping"][0]["factors"] = "C=1"  # now M's remainder falls to DRAM, the only level not listing it
    doc["mapping"][3]["factors"] += " M=1"
    mapping, notes = mapping_from_timeloop(doc, layer)
    assert mapping.dram[1] == 2 and any("M=2 filled in at DRAM" in n for n in notes)


def _eyeriss_doc():
    return yaml.safe_load(MAPPING.read_text())


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["mapping"][0].update(factors="C=1 K=4"), r"mapping\[0\] \(DRAM\).factors: dim 'K'"),
    (lambda d: d["mapping"][0].update(factors="C=x"), "is not DIM=FACTOR"),
    (lambda d: d["mapping"][8].update(factors="C=1 M=8 R=1 S=1 N=1 P=1 Q=2"),
     "Q=2 here and at weights_spad|Q=2 here and at psum_spad"),
    (lambda d: d["mapping"][4].update(factors="C=1 M=1 R=1 S=1 N=2 P=1 Q=1"),
     "DummyBuffer \\(l2\\) \\(naas keeps every tensor"),
    (lambda d: d["mapping"].append({"target": "shared_glb", "type": "bypass", "bypass": ["Weights"]}),
     "\\(l2\\) \\(naas keeps every tensor at DRAM and L2"),
    (lambda d: d["mapping"].append({"target": "psum_spad", "type": "spatial", "factors": "M=2"}),
     "spatial factors below a l1 target"),
    (lambda d: d["mapping"][1].update(factors="C=4 M=8 R=1 S=1 N=1 P=1 Q=2"),
     "factors of C multiply to 16, below the layer's bound 64"),
    (lambda d: d["mapping"][0].update(type="sequential"), "type: 'sequential'"),
    (lambda d: d["mapping"][0].update(tiling="x"), r"mapping\[0\].tiling: unknown field"),
    (lambda d: [e.update(keep=["Weights"], bypass=["Inputs", "Outputs"]) for e in d["mapping"]
                if e["target"] in ("ifmap_spad", "psum_spad") and e["type"] == "bypass"],
     "no l1 target keeps inputs, outputs"),
])
def test_what_naas_cannot_express_is_refused_by_name(edit, message):
    doc = _eyeriss_doc()
    edit(doc)
    with pytest.raises(TimeloopFormatError, match=message):
        mapping_from_timeloop(doc, load_timeloop_problem(PROBLEM), origin="m.yaml")


def test_problem_errors():
    doc = yaml.safe_load(PROBLEM.read_text())
    bad = copy.deepcopy(doc)
    bad["problem"]["instance"]["Wdilation"] = 2
    with pytest.raises(TimeloopFormatError, match="Wdilation: 2"):
        layer_from_timeloop(bad, "p.yaml")
    bad = copy.deepcopy(doc)
    bad["problem"]["instance"]["M"] = 0
    with pytest.raises(TimeloopFormatError, match="instance.M: 0"):
        layer_from_timeloop(bad, "p.yaml")
    bad = copy.deepcopy(doc)
    bad["problem"]["instance"].update(G=2, C=4)
    with pytest.raises(TimeloopFormatError, match="only as depthwise"):
        layer_from_timeloop(bad, "p.yaml")
    with pytest.raises(TimeloopFormatError, match="'problem:'"):
        layer_from_timeloop({"instance": {}}, "p.yaml")


def test_levels_option_overrides_the_guess():
    layer = load_timeloop_problem(PROBLEM)
    doc = _eyeriss_doc()
    for e in doc["mapping"]:
        e["target"] = {"shared_glb": "Mem2", "DummyBuffer": "Fanout", "DRAM": "Mem3"}.get(e["target"], e["target"])
    mapping, _ = mapping_from_timeloop(doc, layer, levels={"Mem3": "dram", "Mem2": "l2", "Fanout": "l2"})
    assert mapping == NATIVE
    with pytest.raises(TimeloopFormatError, match="levels: Mem2='l3'"):
        mapping_from_timeloop(doc, layer, levels={"Mem2": "l3"})


def test_cli_evaluate_and_export(tmp_path):
    def naas(*args):
        return subprocess.run([sys.executable, "-m", "naas", "timeloop", *args], capture_output=True, text=True)

    r = naas("evaluate", str(PROBLEM), str(MAPPING), "-a", "eyeriss")
    assert r.returncode == 0, r.stderr
    assert "dram  W reads 36864" in r.stdout and "one (partitioned) naas L1" in r.stderr
    r = naas("export", "-a", "eyeriss", "-n", "alexnet", "--mapping", "default", "--out", str(tmp_path))
    assert r.returncode == 0 and "wrote 8 problem/mapping pairs" in r.stdout
    problem = sorted(tmp_path.glob("*.problem.yaml"))[2]
    r = naas("evaluate", str(problem), str(problem).replace(".problem.", ".map."), "-a", "eyeriss")
    assert r.returncode == 0, r.stderr
    r = naas("evaluate", str(PROBLEM), str(MAPPING), "-a", "nvdla-256")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
