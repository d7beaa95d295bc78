"""Timeloop v0.4 ``nodes`` architectures (cost_model.timeloop_arch.v04_to_v03) read like their v0.3 trees.

tests/data/timeloop_arch_v04/arch.yaml is tests/data/timeloop_arch/arch.yaml written by hand in the v0.4 form.
timeloop-model v3.0.3 cannot read v0.4 itself (it aborts with std::bad_alloc), so the check is equality with
the v0.3 file, whose numbers test_timeloop_evaluate pins to timeloop-model v3.0.3's.
"""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from cost_model.timeloop_arch import (KEEP_ATTR, TaggedNode, import_timeloop_arch, is_timeloop_v04,
                                      v04_to_v03)
from cost_model.timeloop_evaluate import TimeloopFileError, _Loader, evaluate_timeloop_files

DATA = Path(__file__).parent / "data"
V03 = {k: DATA / "timeloop_arch" / f"{k}.yaml" for k in ("arch", "problem", "mapping", "ert")}
V04_ARCH = DATA / "timeloop_arch_v04" / "arch.yaml"
V04_TEXT = V04_ARCH.read_text()

# timeloop-model v3.0.3 on the v0.3 file (as in test_timeloop_evaluate.TIMELOOP_DEEP): (reads, fills, updates)
TIMELOOP_DEEP = {
    "DRAM": {"Weights": (288, 0, 0), "Inputs": (144, 0, 0), "Outputs": (0, 0, 128)},
    "GlobalBuffer": {"Weights": (288, 288, 0), "Inputs": (384, 144, 0), "Outputs": (0, 0, 128)},
    "ClusterBuffer": {"Inputs": (1536, 768, 0), "Outputs": (0, 0, 128)},
    "PESpad": {"Weights": (4608, 288, 0), "Inputs": (4608, 3072, 0), "Outputs": (0, 0, 128)},
    "Reg": {"Weights": (4608, 4608, 0), "Inputs": (4608, 4608, 0), "Outputs": (4480, 0, 4608)},
}


def _load(text: str):
    return yaml.load(text, Loader=_Loader)


def _triples(levels):
    return {lv: {ds: (c["reads"], c["fills"], c["updates"]) for ds, c in per.items()} for lv, per in levels.items()}


def _eval(arch, mapping=V03["mapping"]):
    return evaluate_timeloop_files(arch, V03["problem"], mapping, V03["ert"])


def _write(tmp_path, text, name="arch.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _edit(old: str, new: str, text: str = V04_TEXT) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# --- the hand-written v0.4 file equals the v0.3 one -------------------------------------------------------
def test_v04_file_equals_v03_file():
    res4, notes4 = _eval(V04_ARCH)
    res3, _ = _eval(V03["arch"])
    assert res4 == res3
    assert _triples(res4["levels"]) == TIMELOOP_DEEP
    assert res4["cycles"] == 1152 and res4["macs"] == 4608
    assert res4["energy_pJ"] == pytest.approx(138818.24, rel=1e-12)
    assert any("v0.4" in n for n in notes4)


def test_conversion_structure():
    doc = _load(V04_TEXT)
    assert is_timeloop_v04(doc) and not is_timeloop_v04(yaml.safe_load(V03["arch"].read_text()))
    assert isinstance(doc["architecture"]["nodes"][0], TaggedNode)
    assert doc["architecture"]["nodes"][0].tag == "Container"
    v3 = v04_to_v03(doc)
    root = v3["architecture"]["subtree"][0]
    assert v3["architecture"]["version"] == 0.3 and root["name"] == "system"
    assert [c["name"] for c in root["local"]] == ["DRAM", "GlobalBuffer"]
    cluster = root["subtree"][0]
    assert cluster["name"] == "Cluster[0..1]" and [c["name"] for c in cluster["local"]] == ["ClusterBuffer"]
    pe = cluster["subtree"][0]
    assert pe["name"] == "PE[0..1]" and [c["name"] for c in pe["local"]] == ["PESpad", "Reg", "MAC"]
    assert "subtree" not in pe
    cb = cluster["local"][0]["attributes"]
    assert cb == {"word-bits": 8, "width": 8, "depth": 1024, KEEP_ATTR: ["Inputs", "Outputs"],
                  "meshX": 2, "meshY": 1}
    assert pe["local"][0]["attributes"]["meshX"] == 4  # global widths, as Timeloop's v0.3 trees carry
    assert root["local"][0]["attributes"] == {"word-bits": 8, "width": 8}  # datawidth from the container
    assert yaml.safe_load(yaml.safe_dump(v3)) == v3  # plain data


def test_import_v04_equals_v03():
    ert = yaml.safe_load(V03["ert"].read_text())
    mapping = yaml.safe_load(V03["mapping"].read_text())
    h3 = import_timeloop_arch(yaml.safe_load(V03["arch"].read_text()), ert, mapping)
    h4 = import_timeloop_arch(_load(V04_TEXT), ert, mapping)
    assert h4.levels == h3.levels and h4.word_bits == h3.word_bits and h4.name == h3.name == "system"
    assert h4.energy_table.mac == h3.energy_table.mac == 1.0
    assert "v0.4" in h4.description
    # without a mapping the dataspace constraint gives ClusterBuffer's keeps; the v0.3 file keeps everything
    h4n = import_timeloop_arch(_load(V04_TEXT), ert)
    assert h4n.levels[2].keeps == ("inputs", "outputs")
    assert all(lv.keeps == ("weights", "inputs", "outputs") for i, lv in enumerate(h4n.levels) if i != 2)
    # a bypass dict names it: the dict wins over the constraint
    h4b = import_timeloop_arch(_load(V04_TEXT), ert, {"ClusterBuffer": ["Weights", "Inputs", "Outputs"]})
    assert h4b.levels[2].keeps == ("weights", "inputs", "outputs")


# --- other spellings of the same architecture read alike -------------------------------------------------
PE_PART = """  - !Container
    name: PE
    spatial: {meshX: 2}

  - !Component
    name: PESpad"""


@pytest.mark.parametrize("variant", ["hierarchical", "component_spatial", "aliases", "meshY"])
def test_variants_read_alike(tmp_path, variant):
    if variant == "hierarchical":  # the PE part as a nested !Hierarchical list (the fan-out ends with it)
        head, tail = V04_TEXT.split(PE_PART)
        nested = "\n".join("    " + ln if ln.strip() else ln for ln in (PE_PART + tail).splitlines())
        text = head + "  - !Hierarchical\n    nodes:\n" + nested + "\n"
    elif variant == "component_spatial":  # the PE fan-out on the component itself
        text = _edit(PE_PART, "  - !Component\n    name: PESpad\n    spatial: {meshX: 2}")
    elif variant == "aliases":  # datawidth on each component, other size / width keys, a !Nothing, numeric strings
        text = V04_TEXT.replace("attributes: {datawidth: 8}", "attributes: {technology: 45nm}")
        text = text.replace("width: 8}", "width: 8, datawidth: 8}")
        text = _edit("{depth: 8192, width: 8, datawidth: 8}", "{entries: '8192', memory_width: 8, datawidth: 8}",
                     text)
        text = _edit("{depth: 1024, width: 8, datawidth: 8}", "{memory_depth: 1024, block_size: 1, datawidth: 8}",
                     text)
        text = _edit("  - !Container\n    name: chip\n", "  - !Container\n    name: chip\n\n  - !Nothing\n",
                     text)
        text = _edit("{depth: 3, width: 8, datawidth: 8}", "{depth: 3, width: 8, datawidth: 8, cluster_size: 1, "
                                                            "multiple_buffering: 1}", text)
    else:  # the cluster fan-out on Y: the mapping's spatial directives then name Y dims (split 0)
        text = _edit("name: Cluster\n    spatial: {meshX: 2}", "name: Cluster\n    spatial: {meshY: 2}")
    if variant != "meshY":
        res, _ = _eval(_write(tmp_path, text))
        assert _triples(res["levels"]) == TIMELOOP_DEEP
        assert res == _eval(V04_ARCH)[0]
    else:
        mapping = yaml.safe_load(V03["mapping"].read_text())
        for d in mapping["mapping"]:
            if d["target"] == "GlobalBuffer" and d["type"] == "spatial":
                d["split"] = 0
        res, _ = _eval(_write(tmp_path, text), _write(tmp_path, yaml.safe_dump(mapping), "mapping.yaml"))
        assert _triples(res["levels"]) == TIMELOOP_DEEP


def test_untagged_nodes_inferred():
    """Plain dicts (no tags): nodes -> !Hierarchical, class -> !Component, else !Container."""
    plain = yaml.safe_load(V04_TEXT.replace("!Container", "").replace("!Component", ""))
    assert v04_to_v03(plain) == v04_to_v03(_load(V04_TEXT))


def test_two_containers_make_one_2d_fanout():
    text = """architecture:
  version: '0.4'
  nodes:
  - !Container {name: system, attributes: {datawidth: 16}}
  - !Component {name: DRAM, class: DRAM, attributes: {width: 16}}
  - !Component {name: glb, class: smartbuffer_SRAM, attributes: {depth: 16384, width: 16, read_bandwidth: 16,
                                                                  write_bandwidth: 16}}
  - !Container {name: PE_column, spatial: {meshX: 14}}
  - !Container {name: PE, spatial: {meshY: 12}}
  - !Component {name: spad, class: storage, subclass: smartbuffer_RF, attributes: {depth: 12, width: 16}}
  - !Component {name: mac, class: intmac, attributes: {multiplier_width: 8, adder_width: 16}}
"""
    v3 = v04_to_v03(_load(text))
    root = v3["architecture"]["subtree"][0]
    sub = root["subtree"][0]
    assert sub["name"] == "PE[0..167]"
    spad = sub["local"][0]
    assert spad["subclass"] == "smartbuffer_RF"
    assert (spad["attributes"]["meshX"], spad["attributes"]["meshY"]) == (14, 12)
    assert root["local"][1]["attributes"]["read_bandwidth"] == 16
    h = import_timeloop_arch(_load(text), None, {"mapping": [
        {"target": "glb", "type": "spatial", "factors": "M14 C12", "permutation": "MC", "split": 1}]})
    assert [(a.size, a.dims) for a in h.levels[1].fanout] == [(14, ("K",)), (12, ("C",))]
    assert h.levels[2].size_bytes == 24 and h.levels[1].bandwidth.read == 16 and h.num_macs == 168


def test_mapping_directive_wins_over_constraint(tmp_path):
    # the constraint says ClusterBuffer keeps Outputs only; the mapping's datatype directive keeps Inputs too
    text = _edit("{keep: [Inputs, Outputs], bypass: [Weights]}", "{keep: [Outputs], bypass: [Weights, Inputs]}")
    res, _ = _eval(_write(tmp_path, text))
    assert _triples(res["levels"]) == TIMELOOP_DEEP
    # without the directive the constraint gives the keeps (here the same as the directive's)
    mapping = yaml.safe_load(V03["mapping"].read_text())
    mapping["mapping"] = [d for d in mapping["mapping"] if d["type"] != "datatype"]
    m = _write(tmp_path, yaml.safe_dump(mapping), "mapping.yaml")
    res, notes = _eval(V04_ARCH, m)
    assert _triples(res["levels"]) == TIMELOOP_DEEP
    assert any("ClusterBuffer: no datatype directive" in n for n in notes)
    res3, _ = _eval(V03["arch"], m)  # the v0.3 file then keeps weights at ClusterBuffer
    assert "Weights" in res3["levels"]["ClusterBuffer"]


# --- refusals: one line, naming the node and the value -----------------------------------------------------
REG = "  - !Component\n    name: Reg\n"
MAC = "  - !Component\n    name: MAC\n    class: intmac\n    attributes: {multiplier_width: 8, adder_width: 16}\n"
CASES = {
    "parallel": (_edit(PE_PART, "  - !Parallel\n    nodes: []\n" + PE_PART),
                 ["nodes[6]", "!Parallel", "one chain"]),
    "network": (_edit(REG, "  - !Component {name: noc, class: XY_NoC}\n" + REG), ["nodes[8]", "noc", "'XY_NoC'"]),
    "unknown class": (_edit("class: regfile\n    attributes: {depth: 3", "class: fifo\n    attributes: {depth: 3"),
                      ["nodes[8]", "Reg", "'fifo'"]),
    "storage below MAC": (V04_TEXT + "  - !Component {name: Late, class: SRAM, attributes: {depth: 4}}\n",
                          ["nodes[10]", "Late", "below the compute component MAC"]),
    "no MAC": (_edit(MAC, ""), ["no compute component"]),
    "two MACs": (V04_TEXT + "  - !Component {name: MAC2, class: intmac}\n", ["nodes[10]", "MAC2", "second"]),
    "fan-out above DRAM": (_edit("name: system\n", "name: system\n    spatial: {meshX: 2}\n"),
                           ["nodes[1]", "DRAM", "2 instances of the outermost"]),
    "expression": (_edit("depth: 1024", "depth: 1024*2"), ["nodes[5]", "ClusterBuffer", "depth '1024*2'"]),
    "width": (_edit("{depth: 128, width: 8}", "{depth: 128, width: 12}"),
              ["nodes[7]", "PESpad", "width 12 is not a multiple of datawidth 8"]),
    "block size": (_edit("attributes: {width: 8}", "attributes: {width: 64}"),
                   ["DRAM", "block-size 8 (width 64 / word-bits 8)", "ceil"]),
    "multiple buffering": (_edit("{depth: 128, width: 8}", "{depth: 128, width: 8, multiple_buffering: 2}"),
                           ["PESpad", "multiple-buffering 2"]),
    "duplicate": (_edit("name: Reg\n", "name: PESpad\n"), ["nodes[8]", "'PESpad' is also architecture.nodes[7]"]),
    "spatial key": (_edit("spatial: {meshX: 2}\n\n  - !Component\n    name: ClusterBuffer",
                          "spatial: {meshZ: 2}\n\n  - !Component\n    name: ClusterBuffer"),
                    ["nodes[4]", "Cluster", "spatial.meshZ 2"]),
    "version": (_edit("version: 0.4", "version: 0.5"), ["architecture.version 0.5"]),
    "sparse": (_edit("name: Reg\n", "name: Reg\n    sparse_optimizations: {action_optimization: [x]}\n"),
               ["nodes[8]", "Reg", "sparse_optimizations"]),
    "fan-out ends early": (_edit(PE_PART, "  - !Hierarchical\n    nodes:\n    - !Container {name: PE, spatial: "
                                          "{meshX: 2}}\n    - !Component {name: Inner, class: regfile, attributes: "
                                          "{depth: 9}}\n\n  - !Component\n    name: PESpad"),
                           ["nodes[7]", "PESpad", "2 x 1 instances below Inner's 4 x 1"]),
    "name": (_edit("name: Reg\n", "name: PE.Reg\n"), ["nodes[8]", "'PE.Reg'"]),
    "data space": (_edit("keep: [Inputs, Outputs], bypass: [Weights]", "keep: [A, Outputs]"),
                   ["nodes[5]", "ClusterBuffer", "data space 'A'"]),
    "outermost bypass": (_edit("attributes: {width: 8}\n", "attributes: {width: 8}\n    constraints: {dataspace: "
                                                           "{bypass: [Weights]}}\n"),
                         ["nodes[1]", "DRAM", "['Inputs', 'Outputs']", "every data space"]),
    "networks": (_edit("name: chip\n", "name: chip\n    networks: [{name: n, class: XY_NoC}]\n"),
                 ["nodes[2]", "chip", "networks"]),
    "merge key": (_edit("name: chip\n", "name: chip\n    <<<: [{attributes: {x: 1}}]\n"), ["nodes[2]", "'<<<'"]),
    "tag": (_edit("!Container\n    name: chip", "!Pipeline\n    name: chip"), ["nodes[2]", "!Pipeline"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refusals(tmp_path, case):
    text, words = CASES[case]
    arch = _write(tmp_path, text)
    with pytest.raises(TimeloopFileError) as exc:
        _eval(arch)
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert str(arch) in msg, msg
    for w in words:
        assert w in msg, msg
    # the same refusal from the functions themselves (no file name)
    with pytest.raises(ValueError) as exc2:
        import_timeloop_arch(_load(text))
    assert "\n" not in str(exc2.value) and words[-1] in str(exc2.value)


def test_number_parsing():
    # 'inf' depth is unlimited; numeric strings are numbers
    text = _edit("{depth: 8192, width: 8}", "{depth: inf, width: '8', read_bandwidth: '4.5'}")
    h = import_timeloop_arch(_load(text))
    assert math.isinf(h.levels[1].size_bytes) and h.levels[1].bandwidth.read == 4.5
