"""Timeloop input files costed by naas (cost_model.timeloop_evaluate, mapping.timeloop_nest_mapping).

No Timeloop needed: the reference numbers below were printed by timeloop-model v3.0.3 once, and the round
trip compares with naas's own evaluate_nest.
"""
from __future__ import annotations

import random
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from cost_model.accelerator import ArrayDim
from cost_model.hierarchy import Hierarchy, StorageLevel
from cost_model.hierarchy_yaml import load_hierarchy
from cost_model.nest_evaluate import InvalidNestMappingError, evaluate_nest
from cost_model.timeloop_arch import export_timeloop
from cost_model.timeloop_evaluate import TimeloopFileError, evaluate_timeloop_files
from mapping.nest import NestMapping
from mapping.nest_random import random_nest_mappings
from mapping.spec import MappingSpecError
from mapping.timeloop_nest_mapping import nest_mapping_from_timeloop
from nn_space.layers import ConvLayer
from nn_space.timeloop_problem import TimeloopFormatError

DATA = Path(__file__).parent / "data" / "timeloop_arch"
FILES = {k: DATA / f"{k}.yaml" for k in ("arch", "problem", "mapping", "ert")}

# From timeloop-model v3.0.3 (tag 6b41058f), run with TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION=1 on
# tests/data/timeloop_arch/{arch,problem,mapping,ert}.yaml: totals over instances (per-instance counts x
# utilized instances); ClusterBuffer bypasses Weights, so Timeloop lists no Weights there.
# Cycles 1152, energy 138818.24 pJ, 4608 MACs, utilization 1.0.
TIMELOOP_DEEP = {
    "DRAM": {"Weights": (288, 0, 0), "Inputs": (144, 0, 0), "Outputs": (0, 0, 128)},
    "GlobalBuffer": {"Weights": (288, 288, 0), "Inputs": (384, 144, 0), "Outputs": (0, 0, 128)},
    "ClusterBuffer": {"Inputs": (1536, 768, 0), "Outputs": (0, 0, 128)},
    "PESpad": {"Weights": (4608, 288, 0), "Inputs": (4608, 3072, 0), "Outputs": (0, 0, 128)},
    "Reg": {"Weights": (4608, 4608, 0), "Inputs": (4608, 4608, 0), "Outputs": (4480, 0, 4608)},
}


def _triples(levels):
    return {lv: {ds: (c["reads"], c["fills"], c["updates"]) for ds, c in per.items()} for lv, per in levels.items()}


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


# --- the hand-written files against Timeloop's numbers ---------------------------------------------------
def test_deep_example_equals_timeloop():
    res, notes = evaluate_timeloop_files(FILES["arch"], FILES["problem"], FILES["mapping"], FILES["ert"])
    assert _triples(res["levels"]) == TIMELOOP_DEEP
    assert res["cycles"] == 1152
    assert res["macs"] == 4608
    assert res["utilization"] == pytest.approx(1.0)
    assert res["energy_pJ"] == pytest.approx(138818.24, rel=1e-12)
    assert res["edp"] == pytest.approx(138818.24 * 1152, rel=1e-12)
    assert res["layer"] == "problem"
    assert set(res) == {"layer", "cycles", "energy_pJ", "edp", "macs", "utilization", "levels"}
    # the example's spatial directives do not say no_link_transfer
    assert any("no_link_transfer" in n for n in notes)


def test_ert_under_a_key_of_another_file(tmp_path):
    merged = yaml.safe_load(FILES["arch"].read_text())
    merged.update(yaml.safe_load(FILES["ert"].read_text()))
    (tmp_path / "arch_ert.yaml").write_text(yaml.safe_dump(merged))
    res, notes = evaluate_timeloop_files(tmp_path / "arch_ert.yaml", FILES["problem"], FILES["mapping"])
    assert _triples(res["levels"]) == TIMELOOP_DEEP
    assert res["energy_pJ"] == pytest.approx(138818.24, rel=1e-12)
    # without any ERT the counts are the same, the energies naas's table's
    res2, notes2 = evaluate_timeloop_files(FILES["arch"], FILES["problem"], FILES["mapping"])
    assert _triples(res2["levels"]) == TIMELOOP_DEEP
    assert any("no ERT" in n for n in notes2)


def test_mapping_forms_read_alike(tmp_path):
    """Dict factors, list permutations, '=' factors, case-insensitive targets, 0 = the whole dim."""
    doc = yaml.safe_load(FILES["mapping"].read_text())
    for e in doc["mapping"]:
        if e["type"] == "temporal" and e["target"] == "PESpad":
            e["factors"] = {"C": 0, "R": 3, "S": 3}  # C0: the whole C (4)
            e["permutation"] = list(e["permutation"])
        elif e["target"] == "GlobalBuffer" and e["type"] == "temporal":
            e["factors"] = "C=1 M=2 P=2 Q=4  # a comment"
            e["target"] = "globalbuffer"
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    res, notes = evaluate_timeloop_files(FILES["arch"], FILES["problem"], tmp_path / "m.yaml", FILES["ert"])
    assert _triples(res["levels"]) == TIMELOOP_DEEP
    assert any("case differs" in n for n in notes)
    # a bare list reads the same
    (tmp_path / "bare.yaml").write_text(yaml.safe_dump(doc["mapping"]))
    res2, _ = evaluate_timeloop_files(FILES["arch"], FILES["problem"], tmp_path / "bare.yaml", FILES["ert"])
    assert res2 == res


# --- round trip: export_timeloop -> files -> evaluate_timeloop_files == evaluate_nest -----------------
def _round_trip(tmp_path, layer, hier, mapping, tag):
    try:
        docs = export_timeloop(layer, hier, mapping, zero_hop_energy=True)
    except ValueError:
        return False
    paths = docs.write(tmp_path / tag)
    res, _ = evaluate_timeloop_files(paths["arch"], paths["problem"], paths["mapping"], paths["ert"])
    ref = evaluate_nest(layer, hier, mapping)
    counts = ref.counts()
    expected = {lv.name: {ds: counts[lv.name][ds] for ds, t in zip(("Weights", "Inputs", "Outputs"),
                                                                   ("weights", "inputs", "outputs"))
                          if t in lv.keeps} for lv in hier.levels}
    assert res["levels"] == expected, tag
    assert res["cycles"] == ref.cycles, tag
    assert res["macs"] == int(ref["macs"])
    assert res["utilization"] == pytest.approx(ref["utilization"], rel=1e-12)
    # Timeloop's network energy is per hop: the export writes naas's per-word hop energy as 0
    no_hop = replace(hier, levels=tuple(replace(lv, hop_energy=0.0) if lv.fanout else lv for lv in hier.levels))
    assert res["energy_pJ"] == pytest.approx(evaluate_nest(layer, no_hop, mapping).energy, rel=1e-9), tag
    return True


@pytest.mark.parametrize("name", ["eyeriss-hier", "nvdla-256", "shidiannao", "edgetpu", "nvdla-256-hier"])
def test_round_trip_builtin_hierarchies(tmp_path, name):
    hier = load_hierarchy(name)
    layer = ConvLayer(k=16, c=8, y=8, x=8, r=3, s=3, name="conv")
    tf, sf, orders = random_nest_mappings(layer, hier, 200, np.random.default_rng(1), exact=True)
    done = tried = 0
    for i in range(200):
        m = NestMapping.from_arrays(tf[i], sf[i], orders[i])
        try:
            evaluate_nest(layer, hier, m)
        except InvalidNestMappingError:
            continue
        tried += 1
        done += _round_trip(tmp_path, layer, hier, m, f"{name}-{i}")
        if done >= 4 or tried >= 12:
            break
    if done == 0:
        with pytest.raises(ValueError):  # e.g. nvdla-256-hier: per-tensor precision
            export_timeloop(layer, hier, m, zero_hop_energy=True)
        pytest.skip(f"{name}: export_timeloop refuses it")


def test_round_trip_random_hierarchies(tmp_path):
    """Random 2-6 level hierarchies (bypasses, registers, 1-2 fan-outs of 1-2 axes, bandwidths)."""
    from experiments.timeloop_crosscheck import named_cases, random_case

    rng = random.Random(3)
    cases = named_cases()
    i = 0
    while len(cases) < 7 + 20:
        c = random_case(rng, i)
        i += 1
        if c is not None:
            cases.append(c)
    assert all(_round_trip(tmp_path, lay, h, m, f"case{k}") for k, (_, lay, h, m) in enumerate(cases))


def test_depthwise_round_trip(tmp_path):
    hier = load_hierarchy("nvdla-256")
    layer = ConvLayer(k=8, c=8, groups=8, y=4, x=4, r=3, s=3, name="dw")
    tf, sf, orders = random_nest_mappings(layer, hier, 100, np.random.default_rng(2), exact=True)
    ok = 0
    for i in range(100):
        m = NestMapping.from_arrays(tf[i], sf[i], orders[i])
        try:
            evaluate_nest(layer, hier, m)
        except InvalidNestMappingError:
            continue
        ok += _round_trip(tmp_path, layer, hier, m, f"dw{i}")
        if ok >= 2:
            break
    assert ok >= 1


# --- refusals: one line each, naming the origin, the entry, the value and what is allowed ---------------
def _hier():
    return Hierarchy("h", (StorageLevel("DRAM"), StorageLevel("GLB", fanout=(ArrayDim(4, "K"), ArrayDim(2, "C"))),
                           StorageLevel("PE")))


LAYER = ConvLayer(k=8, c=4, y=4, x=4, r=3, s=3)


def _doc(**over):
    entries = [
        {"target": "PE", "type": "temporal", "factors": "C2 R3 S3", "permutation": "SRC"},
        {"target": "GLB", "type": "spatial", "factors": "M4 C2", "permutation": "MC", "split": 1},
        {"target": "GLB", "type": "temporal", "factors": "M2 P4 Q4", "permutation": "QPM"},
        {"target": "DRAM", "type": "temporal", "factors": "C1"},
    ]
    for k, v in over.items():
        i, key = k.split("__")
        if v is None:
            entries[int(i)].pop(key)
        else:
            entries[int(i)][key] = v
    return {"mapping": entries}


def test_reader_valid_and_axes():
    m, h, notes = nest_mapping_from_timeloop(_doc(), LAYER, _hier(), origin="m.yaml")
    assert m.levels[1].spatial == (1, 4, 2, 1, 1, 1, 1)
    assert m.levels[1].factors == (1, 2, 1, 4, 4, 1, 1)
    assert m.levels[2].order.endswith("CRS")  # innermost S, then R, then C
    assert m.levels[0].factors == (1,) * 7
    assert h is _hier() or h == _hier()
    evaluate_nest(LAYER, h, m)


def test_datatype_directives_give_keeps():
    doc = _doc()
    doc["mapping"].append({"target": "GLB", "type": "bypass", "bypass": ["Weights"]})
    doc["mapping"].append({"target": "PE", "type": "datatype", "keep": ["Weights"], "bypass": ["Outputs"]})
    m, h, _ = nest_mapping_from_timeloop(doc, LAYER, _hier())
    assert h.levels[1].keeps == ("inputs", "outputs")
    assert h.levels[2].keeps == ("weights", "inputs")
    assert _hier().levels[1].keeps == ("weights", "inputs", "outputs")  # the original is untouched


def test_unknown_target_lists_levels():
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(_doc(**{"2__target": "GlobalBuffer"}), LAYER, _hier(), origin="m.yaml")
    text = _one_line(exc)
    assert "m.yaml" in text and "mapping[2]" in text and "'GlobalBuffer'" in text
    assert "DRAM, GLB, PE" in text


def test_ambiguous_target():
    h = Hierarchy("amb", (StorageLevel("DRAM"), StorageLevel("buf"), StorageLevel("BUF")))
    doc = {"mapping": [{"target": "Buf", "type": "temporal", "factors": "C4 M8 R3 S3 P4 Q4"}]}
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, h, origin="m.yaml")
    text = _one_line(exc)
    assert "ambiguous" in text and "buf, BUF" in text and "mapping[0]" in text
    # exact names win
    doc["mapping"][0]["target"] = "BUF"
    m, _, _ = nest_mapping_from_timeloop(doc, LAYER, h)
    assert m.levels[2].factors == (1, 8, 4, 4, 4, 3, 3)


def test_numeric_target_refused():
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(_doc(**{"3__target": 2}), LAYER, _hier(), origin="m.yaml")
    assert "numeric" in _one_line(exc)


def test_imperfect_factor_refused():
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(_doc(**{"2__factors": "M2 P4 Q3,1"}), LAYER, _hier(), origin="m.yaml")
    text = _one_line(exc)
    assert "Q3,1" in text and "imperfect" in text and "mapping[2] (GLB)" in text


def test_product_mismatch_refused():
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(_doc(**{"2__factors": "M2 P2 Q4"}), LAYER, _hier(), origin="m.yaml")
    text = _one_line(exc)
    assert "factors of P multiply to 2" in text and "problem's P is 4" in text and "m.yaml" in text


def test_spatial_overflow_refused():
    # X axis (size 4, K): M4 x ... fine; put C2 on X too (split 2): C is on the Y axis
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(_doc(**{"1__split": 2}), LAYER, _hier(), origin="m.yaml")
    text = _one_line(exc)
    assert "C2" in text and "X axis" in text and "Y axis (size 2" in text
    # too large for the axis: M8 on a 4-wide X axis
    doc = _doc(**{"1__factors": "M8 C2", "2__factors": "P4 Q4"})
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, _hier(), origin="m.yaml")
    text = _one_line(exc)
    assert "M8" in text and "size is 4" in text and "X axis" in text and "GLB" in text
    # a dim the fan-out does not parallelize
    doc = _doc(**{"1__factors": "M4 C2 P2", "1__permutation": "MCP", "1__split": 1, "2__factors": "M2 P2 Q4"})
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, _hier(), origin="m.yaml")
    assert "P2" in _one_line(exc) and "does not parallelize P" in _one_line(exc)
    # spatial below a level without a fan-out
    doc = _doc()
    doc["mapping"].append({"target": "PE", "type": "spatial", "factors": "C1"})
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, _hier(), origin="m.yaml")
    assert "no fan-out below it" in _one_line(exc) and "GLB" in _one_line(exc)


def test_y_only_fanout(tmp_path):
    """A fan-out along Timeloop's Y axis only (meshY): factors must be on Y (split 0)."""
    arch = yaml.safe_load(FILES["arch"].read_text())
    chip = arch["architecture"]["subtree"][0]["subtree"][0]
    cluster = chip["subtree"][0]
    cluster["local"][0]["attributes"].update(meshX=1, meshY=2)
    pe = cluster["subtree"][0]
    for comp in pe["local"]:
        comp["attributes"].update(meshX=2, meshY=2)
    (tmp_path / "arch.yaml").write_text(yaml.safe_dump(arch))
    doc = yaml.safe_load(FILES["mapping"].read_text())
    with pytest.raises(MappingSpecError) as exc:  # the GlobalBuffer spatial directive is all-X
        evaluate_timeloop_files(tmp_path / "arch.yaml", FILES["problem"], FILES["mapping"], FILES["ert"])
    assert "no X axis" in _one_line(exc) and "M2" in _one_line(exc)
    for e in doc["mapping"]:
        if e["type"] == "spatial" and e["target"] == "GlobalBuffer":
            e["split"] = 0
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(doc))
    res, _ = evaluate_timeloop_files(tmp_path / "arch.yaml", FILES["problem"], tmp_path / "m.yaml", FILES["ert"])
    assert _triples(res["levels"]) == TIMELOOP_DEEP


@pytest.mark.parametrize("over, words", [
    ({"0__type": "skew"}, ["skew"]),
    ({"0__type": "loop"}, ["'loop'", "allowed: temporal, spatial, datatype, bypass"]),
    ({"0__factors": "C2 R3 S3 Z2"}, ["dim 'Z'", "allowed: C, M, R, S, N, P, Q"]),
    ({"0__factors": "C2 C2 R3 S3"}, ["C is given twice"]),
    ({"0__factors": "C2 R3 S3 garbage"}, ["'garbage'"]),
    ({"0__permutation": "SRCC"}, ["appears twice"]),
    ({"0__permutation": "SRX"}, ["dim 'X'"]),
    ({"1__split": -1}, ["split: -1"]),
    ({"0__no_temporal_reuse": ["Weights"]}, ["no_temporal_reuse"]),
    ({"0__keep": ["Weights"]}, ["not a field of a temporal directive"]),
    ({"0__target": None}, ["target: missing"]),
])
def test_malformed_entries(over, words):
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(_doc(**over), LAYER, _hier(), origin="m.yaml")
    text = _one_line(exc)
    assert text.startswith("m.yaml: mapping[")
    for w in words:
        assert w in text, text


def test_duplicate_and_bypass_refusals():
    doc = _doc()
    doc["mapping"].append({"target": "PE", "type": "temporal", "factors": "C2 R3 S3"})
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, _hier(), origin="m.yaml")
    assert "second temporal directive for PE" in _one_line(exc)
    doc = _doc()
    doc["mapping"].append({"target": "DRAM", "type": "datatype", "bypass": ["Inputs"]})
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, _hier(), origin="m.yaml")
    assert "outermost" in _one_line(exc)
    doc = _doc()
    doc["mapping"].append({"target": "PE", "type": "datatype", "keep": ["Weights"], "bypass": ["weights"]})
    with pytest.raises(MappingSpecError) as exc:
        nest_mapping_from_timeloop(doc, LAYER, _hier(), origin="m.yaml")
    assert "both keep and bypass" in _one_line(exc)


# --- file errors ---------------------------------------------------------------------------------------
def _copy(tmp_path):
    for k, p in FILES.items():
        shutil.copy(p, tmp_path / p.name)
    return {k: tmp_path / p.name for k, p in FILES.items()}


def test_file_errors(tmp_path):
    f = _copy(tmp_path)
    cases = []
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(tmp_path / "nope.yaml", f["problem"], f["mapping"], f["ert"])
    cases.append((exc, ["nope.yaml", "does not exist"]))
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(f["arch"], tmp_path, f["mapping"], f["ert"])
    cases.append((exc, ["is a directory", "problem"]))
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("mapping: []  # caf\xe9\n".encode("latin-1"))
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], bad, f["ert"])
    cases.append((exc, ["latin1.yaml", "not UTF-8"]))
    broken = tmp_path / "broken.yaml"
    broken.write_text("mapping:\n  - target: [DRAM\n")
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], broken, f["ert"])
    cases.append((exc, ["broken.yaml", "not valid YAML", "line"]))
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], f["problem"], f["ert"])
    cases.append((exc, ["problem.yaml", "mapping: missing"]))
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(f["problem"], f["problem"], f["mapping"], f["ert"])
    cases.append((exc, ["problem.yaml", "architecture: missing"]))
    v04 = tmp_path / "v04.yaml"
    v04.write_text("architecture:\n  version: 0.4\n  nodes:\n  - !Container\n    name: system\n")
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(v04, f["problem"], f["mapping"], f["ert"])
    cases.append((exc, ["v04.yaml", "v0.4", "architecture.nodes", "no storage component"]))
    noform = tmp_path / "noform.yaml"
    noform.write_text("architecture:\n  version: 0.4\n  local: []\n")
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(noform, f["problem"], f["mapping"], f["ert"])
    cases.append((exc, ["noform.yaml", "version 0.4", "v0.3 tree form", "v0.4 nodes form"]))
    ert = yaml.safe_load(f["ert"].read_text())
    ert["ERT"]["tables"][0]["actions"][2]["energy"] = 999.0
    f["ert"].write_text(yaml.safe_dump(ert))
    with pytest.raises(TimeloopFileError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], f["mapping"], f["ert"])
    cases.append((exc, ["ert.yaml", "random_update"]))
    for e, words in cases:
        text = _one_line(e)
        for w in words:
            assert w in text, text


def test_problem_and_mapping_errors_name_the_file(tmp_path):
    f = _copy(tmp_path)
    prob = yaml.safe_load(f["problem"].read_text())
    prob["problem"]["instance"]["Wdilation"] = 2
    f["problem"].write_text(yaml.safe_dump(prob))
    with pytest.raises(TimeloopFormatError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], f["mapping"], f["ert"])
    assert "problem.yaml" in _one_line(exc) and "Wdilation" in _one_line(exc)
    f = _copy(tmp_path)
    doc = yaml.safe_load(f["mapping"].read_text())
    doc["mapping"][1]["factors"] = "C4 M1 R3 S1 N1 P1 Q1"
    f["mapping"].write_text(yaml.safe_dump(doc))
    with pytest.raises(MappingSpecError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], f["mapping"], f["ert"])
    assert "mapping.yaml" in _one_line(exc) and "factors of S multiply to 1" in _one_line(exc)
    # naas's own refusal (capacity) names the mapping file too
    f = _copy(tmp_path)
    arch = f["arch"].read_text().replace("depth: 128", "depth: 16")
    f["arch"].write_text(arch)
    with pytest.raises(InvalidNestMappingError) as exc:
        evaluate_timeloop_files(f["arch"], f["problem"], f["mapping"], f["ert"])
    assert "mapping.yaml" in _one_line(exc) and "PESpad overflows" in _one_line(exc)
