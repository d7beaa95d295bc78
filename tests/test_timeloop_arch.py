"""Export of a general hierarchy + mapping to Timeloop v3 documents, the refusals, and the import back.

None of these need Timeloop (experiments/timeloop_crosscheck.py runs the real thing).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import yaml

from cost_model.accelerator import ArrayDim, Bandwidth, load_accelerator
from cost_model.hierarchy import Hierarchy, StorageLevel, hierarchy_from_accelerator
from cost_model.nest_evaluate import evaluate_nest
from cost_model.timeloop_arch import export_timeloop, import_timeloop_arch
from mapping.nest import LevelMapping, NestMapping
from nn_space.layers import DIMS, ConvLayer


def _lv(name, size=math.inf, e=1.0, keeps=("weights", "inputs", "outputs"), fanout=(), bw=Bandwidth(), **kw):
    return StorageLevel(name, keeps=keeps, size_bytes=size, read_energy=(e,) * 3, write_energy=(e * 1.25,) * 3,
                        fanout=tuple(fanout), hop_energy=0.0 if fanout else None, bandwidth=bw, **kw)


def _m(*levels):
    return NestMapping(tuple(LevelMapping(tuple(f.get(d, 1) for d in DIMS), o, tuple(s.get(d, 1) for d in DIMS))
                             for f, o, s in levels))


LAYER = ConvLayer(k=8, c=4, y=4, x=4, r=3, s=3)


def deep():
    """DRAM -> GLB (2 on K) -> Cluster (2 on K x 2 on C, weights bypass) -> PESpad -> Reg (1 word each)."""
    h = Hierarchy("deep", (_lv("DRAM", e=200, bw=Bandwidth(read=4.0, write=2.0)),
                           _lv("GLB", 8192, 6, fanout=[ArrayDim(2, "K")], bw=Bandwidth(shared=8.0)),
                           _lv("Cluster", 1024, 2, keeps=("inputs", "outputs"),
                               fanout=[ArrayDim(2, "K"), ArrayDim(2, ("C", "R"))]),
                           _lv("PESpad", 128, 0.5), _lv("Reg", 3, 0.05)), word_bits=8)
    m = _m(({}, "NKCYXRS", {}), ({"K": 2, "Y": 2, "X": 4}, "NKCYXRS", {"K": 2}),
           ({"Y": 2}, "NYKCXRS", {"K": 2, "C": 2}), ({"C": 2, "R": 3, "S": 3}, "NKYXCRS", {}), ({}, "NKCYXRS", {}))
    return h, m


def test_export_structure():
    h, m = deep()
    docs = export_timeloop(LAYER, h, m)
    assert set(docs) == {"arch", "problem", "mapping", "ert"}
    for d in docs.values():  # plain YAML
        assert yaml.safe_load(yaml.safe_dump(d)) == d
    arch = docs["arch"]["architecture"]
    assert arch["version"] == 0.3
    system = arch["subtree"][0]
    assert system["name"] == "system" and system["local"][0]["class"] == "DRAM"
    # levels with no fan-out between them share a local list; each fan-out opens a [0..n-1] subtree
    names, node, subtree_names = [], system, []
    while True:
        names.append([c["name"] for c in node["local"]])
        if "subtree" not in node:
            break
        node = node["subtree"][0]
        subtree_names.append(node["name"])
    assert names == [["DRAM", "GLB"], ["Cluster"], ["PESpad", "Reg", "MAC"]]
    assert subtree_names == ["GLB_fanout[0..1]", "Cluster_fanout[0..3]"]


def _levels(docs):
    out, node = {}, docs["arch"]["architecture"]["subtree"][0]
    while True:
        for c in node["local"]:
            out[c["name"]] = c
        if "subtree" not in node:
            return out
        node = node["subtree"][0]


def test_export_attributes_mapping_ert():
    h, m = deep()
    docs = export_timeloop(LAYER, h, m)
    lv = _levels(docs)
    assert lv["DRAM"]["attributes"]["read_bandwidth"] == 4 and lv["DRAM"]["attributes"]["write_bandwidth"] == 2
    assert "depth" not in lv["DRAM"]["attributes"]
    assert lv["GLB"]["attributes"]["shared_bandwidth"] == 8
    assert lv["GLB"]["attributes"]["depth"] == 8192 and lv["GLB"]["attributes"]["word-bits"] == 8
    assert lv["Cluster"]["attributes"]["meshX"] == 2 and lv["Cluster"]["attributes"]["meshY"] == 1
    assert lv["PESpad"]["attributes"]["meshX"] == 4 and lv["PESpad"]["attributes"]["meshY"] == 2
    assert lv["Reg"]["attributes"]["depth"] == 3
    assert lv["MAC"]["class"] == "intmac" and lv["MAC"]["attributes"]["meshX"] * lv["MAC"]["attributes"]["meshY"] == 8
    for name in ("DRAM", "GLB", "Cluster", "PESpad", "Reg"):
        assert lv[name]["attributes"]["block-size"] == 1
        assert lv[name]["attributes"]["energy-per-hop"] == 0 and lv[name]["attributes"]["addr-gen-energy"] == 0
    # instance counts from the [0..n-1] subtree names multiply to the hierarchy's instances
    node, mult, inst = docs["arch"]["architecture"]["subtree"][0], 1, {}
    while True:
        import re
        mm = re.search(r"\[0\.\.(\d+)\]$", node["name"])
        mult *= int(mm.group(1)) + 1 if mm else 1
        for c in node["local"]:
            inst[c["name"]] = mult
        if "subtree" not in node:
            break
        node = node["subtree"][0]
    assert [inst[n] for n in h.level_names] == [h.instances(i) for i in range(h.num_levels)]
    assert inst["MAC"] == h.num_macs
    entries = docs["mapping"]["mapping"]
    temporal = {e["target"]: e for e in entries if e["type"] == "temporal"}
    spatial = {e["target"]: e for e in entries if e["type"] == "spatial"}
    datatype = {e["target"]: e for e in entries if e["type"] == "datatype"}
    assert set(temporal) == set(h.level_names) and set(spatial) == {"GLB", "Cluster"}
    assert temporal["PESpad"]["factors"] == "C2 M1 R3 S3 N1 P1 Q1"
    assert temporal["PESpad"]["permutation"] == "SRCQPMN"  # NKYXCRS reversed, in Timeloop's names
    assert spatial["Cluster"]["factors"] == "C2 M2 R1 S1 N1 P1 Q1"
    assert spatial["Cluster"]["permutation"].startswith("MCR") and spatial["Cluster"]["split"] == 1
    assert spatial["GLB"]["no_link_transfer"] == ["Weights", "Inputs", "Outputs"]
    assert datatype["Cluster"] == {"target": "Cluster", "type": "datatype", "keep": ["Inputs", "Outputs"],
                                   "bypass": ["Weights"]}
    assert "DRAM" not in datatype
    tables = {t["name"].split(".")[-1]: {a["name"]: a["energy"] for a in t["actions"]}
              for t in docs["ert"]["ERT"]["tables"]}
    assert tables["GLB"] == {"random_read": 6.0, "random_fill": 7.5, "random_update": 7.5}
    assert tables["MAC"] == {"mac_random": h.energy_table.mac}
    prob = docs["problem"]["problem"]
    assert prob["instance"] == {"C": 4, "M": 8, "R": 3, "S": 3, "N": 1, "P": 4, "Q": 4, "Wstride": 1,
                                "Hstride": 1, "Wdilation": 1, "Hdilation": 1}


def test_export_strides_and_depthwise():
    h = Hierarchy("two", (_lv("DRAM"), _lv("L1", 4096)), word_bits=16)
    layer = ConvLayer(k=4, c=4, y=3, x=2, r=3, s=1, stride_y=2, stride_x=1, groups=4)
    m = _m(({"K": 4}, "NKCYXRS", {}), ({"Y": 3, "X": 2, "R": 3}, "NKCYXRS", {}))
    docs = export_timeloop(layer, h, m)
    prob = docs["problem"]["problem"]
    assert prob["shape"]["dimensions"][0] == "G"
    assert prob["instance"]["G"] == 4 and prob["instance"]["M"] == 1 and prob["instance"]["C"] == 1
    assert prob["instance"]["Wstride"] == 2 and prob["instance"]["Hstride"] == 1
    temporal = [e for e in docs["mapping"]["mapping"] if e["target"] == "DRAM" and e["type"] == "temporal"][0]
    assert "G4" in temporal["factors"] and temporal["permutation"].endswith("G") is False
    inputs = [d for d in prob["shape"]["data-spaces"] if d["name"] == "Inputs"][0]
    assert [["G"]] in inputs["projection"]


# --- refusals -----------------------------------------------------------------------------------------
def test_refuses_padding():
    h, m = deep()
    lm = list(m.levels)
    lm[1] = replace(lm[1], factors=(1, 2, 1, 2, 5, 1, 1))  # X: 5 * ... != 4
    with pytest.raises(ValueError, match="no padding"):
        export_timeloop(LAYER, h, NestMapping(tuple(lm)))


def test_refuses_partition():
    h, m = deep()
    lv = list(h.levels)
    lv[3] = replace(lv[3], partition=(64.0, 32.0, 32.0))
    with pytest.raises(ValueError, match="one depth per level"):
        export_timeloop(LAYER, replace(h, levels=tuple(lv)), m)


def test_refuses_precision():
    h, m = deep()
    with pytest.raises(ValueError, match="one word width per storage level"):
        export_timeloop(LAYER, replace(h, precision=(8, 8, 16)), m)


def test_refuses_per_tensor_energies():
    h, m = deep()
    lv = list(h.levels)
    lv[1] = replace(lv[1], read_energy=(6.0, 5.0, 6.0))
    with pytest.raises(ValueError, match="per-tensor read energies differ"):
        export_timeloop(LAYER, replace(h, levels=tuple(lv)), m)


def test_refuses_hop_energy_unless_zeroed():
    h, m = deep()
    lv = list(h.levels)
    lv[1] = replace(lv[1], hop_energy=0.5)
    h2 = replace(h, levels=tuple(lv))
    with pytest.raises(ValueError, match="hop energy .* is nonzero"):
        export_timeloop(LAYER, h2, m)
    docs = export_timeloop(LAYER, h2, m, zero_hop_energy=True)
    assert any("hop energy 0.5" in n for n in docs.notes)


def test_refuses_grouped_and_invalid():
    h = Hierarchy("two", (_lv("DRAM"), _lv("L1", 4096)), word_bits=16)
    layer = ConvLayer(k=4, c=4, y=1, x=1, groups=2)
    with pytest.raises(ValueError, match="grouped layer"):
        export_timeloop(layer, h, _m(({"K": 2, "C": 2}, "NKCYXRS", {}), ({}, "NKCYXRS", {})))
    small = Hierarchy("small", (_lv("DRAM"), _lv("L1", 2)), word_bits=16)
    with pytest.raises(ValueError, match="naas refuses the mapping"):
        export_timeloop(ConvLayer(k=2, c=1, y=1, x=1), small,
                        _m(({}, "NKCYXRS", {}), ({"K": 2}, "NKCYXRS", {})))
    with pytest.raises(ValueError, match="names? .*|white space"):
        export_timeloop(ConvLayer(k=1, c=1, y=1, x=1), Hierarchy("n", (_lv("DRAM"), _lv("PE buf", 64))),
                        _m(({}, "NKCYXRS", {}), ({}, "NKCYXRS", {})))


def test_multi_dim_axis_uses_split():
    h, m = deep()
    docs = export_timeloop(LAYER, h, m)
    sp = [e for e in docs["mapping"]["mapping"] if e["type"] == "spatial" and e["target"] == "Cluster"][0]
    assert sp["permutation"][:3] == "MCR" and sp["split"] == 1  # X: M; Y: C, R


# --- import and round trip ----------------------------------------------------------------------------
def _same_levels(a: Hierarchy, b: Hierarchy):
    assert a.level_names == b.level_names
    for i, (x, y) in enumerate(zip(a.levels, b.levels)):
        assert set(x.keeps) == set(y.keeps), x.name
        assert x.size_bytes == y.size_bytes, x.name
        assert x.bandwidth.as_tuple() == y.bandwidth.as_tuple(), x.name
        assert a.level_energies(i) == b.level_energies(i), x.name
        assert [(ax.size, tuple(ax.dims)) for ax in x.fanout if ax.size > 1] == \
            [(ax.size, tuple(ax.dims)) for ax in y.fanout], x.name
    assert a.tensor_bits == b.tensor_bits
    assert a.energy_table.mac == b.energy_table.mac


def test_round_trip_deep():
    h, m = deep()
    docs = export_timeloop(LAYER, h, m)
    back = import_timeloop_arch(docs["arch"], docs["ert"], docs["mapping"])
    _same_levels(h, back)
    a, b = evaluate_nest(LAYER, h, m), evaluate_nest(LAYER, back, m)
    assert a.counts() == b.counts()
    assert a.cycles == b.cycles and math.isclose(a.energy, b.energy, rel_tol=1e-12)
    # exporting the import again gives the same documents
    again = export_timeloop(LAYER, back, m)
    assert again["mapping"] == docs["mapping"] and again["ert"] == docs["ert"]
    assert again["arch"]["architecture"]["subtree"][0]["local"] == docs["arch"]["architecture"]["subtree"][0]["local"]


def test_import_fanout_dims_from_mapping_or_default():
    h, m = deep()
    docs = export_timeloop(LAYER, h, m)
    arch = yaml.safe_load(yaml.safe_dump(docs["arch"]))
    node = arch["architecture"]["subtree"][0]
    while True:  # drop the naas attribute: dims must come from the mapping's spatial directives
        for c in node["local"]:
            c["attributes"].pop("naas-fanout-dims", None)
        if "subtree" not in node:
            break
        node = node["subtree"][0]
    back = import_timeloop_arch(arch, docs["ert"], docs["mapping"])
    glb, cluster = back.levels[1], back.levels[2]
    assert [(a.size, a.dims) for a in glb.fanout] == [(2, ("K",))]
    assert [(a.size, a.dims) for a in cluster.fanout] == [(2, ("K",)), (2, ("C",))]  # the dims it uses
    assert evaluate_nest(LAYER, back, m).counts() == evaluate_nest(LAYER, h, m).counts()
    # without a mapping: a one-axis fan-out parallelizes every dim; two axes need the mapping
    with pytest.raises(ValueError, match="give the mapping document"):
        import_timeloop_arch(arch, docs["ert"], {"Cluster": ["Inputs", "Outputs"]})


def test_import_example_files_without_ert():
    arch = {"architecture": {"version": 0.3, "subtree": [{"name": "system", "local": [
        {"name": "DRAM", "class": "DRAM", "attributes": {"word-bits": 16}}], "subtree": [
        {"name": "PE[0..3]", "local": [
            {"name": "RF", "class": "regfile", "attributes": {"depth": 64, "word-bits": 16, "meshX": 4,
                                                               "read_bandwidth": 2}},
            {"name": "MAC", "class": "intmac", "attributes": {"datawidth": 16, "meshX": 4}}]}]}]}}
    h = import_timeloop_arch(arch)
    assert h.level_names == ("DRAM", "RF")
    assert h.levels[0].fanout[0].size == 4 and h.levels[0].fanout[0].dims == DIMS
    assert h.levels[1].size_bytes == 128 and h.levels[1].energy == "spad"
    assert h.levels[1].bandwidth.read == 2 and h.num_macs == 4


def test_round_trip_eyeriss_template():
    acc = load_accelerator("eyeriss")
    he = hierarchy_from_accelerator(acc)
    lv = list(he.levels)
    lv[1] = replace(lv[1], hop_energy=0.0)
    lv[2] = replace(lv[2], partition=None)
    he = replace(he, levels=tuple(lv))
    layer = ConvLayer(k=4, c=2, y=4, x=2, r=3, s=1)
    m = _m(({"K": 2}, "NKCYXRS", {}), ({"X": 2}, "NKCYXRS", {"R": 3, "K": 2, "Y": 4}), ({"C": 2}, "NKCYXRS", {}))
    docs = export_timeloop(layer, he, m)
    back = import_timeloop_arch(docs["arch"], docs["ert"], docs["mapping"])
    _same_levels(he, back)
    a, b = evaluate_nest(layer, he, m), evaluate_nest(layer, back, m)
    assert a.counts() == b.counts() and np.isclose(a.energy, b.energy)
