"""Timeloop export of matrix products (issue 26): gemm / bmm layers as Timeloop's matmul problem shape.

Problem documents (v0.4 for the 3-level export, timeloop-model v3.0.3's keys for the hierarchy export),
their reading back, what is refused, mapping round trips (3-level files and hierarchy files), the CLI, and
two cases whose counts timeloop-model v3.0.3 printed (experiments/results/timeloop_gemm/ has the rest).
"""
from __future__ import annotations

import copy
import random
from dataclasses import replace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_model.accelerator import load_accelerator
from cost_model.evaluate import evaluate_layer
from cost_model.hierarchy_yaml import load_hierarchy
from cost_model.nest_evaluate import evaluate_nest
from cost_model.timeloop_arch import export_timeloop
from cost_model.timeloop_evaluate import evaluate_timeloop_files
from mapping.nest import LevelMapping, NestMapping
from mapping.spec import Mapping, MappingSpecError
from mapping.timeloop_mapping import mapping_from_timeloop, mapping_to_timeloop, timeloop_form
from mapping.timeloop_nest_mapping import nest_mapping_from_timeloop, nest_timeloop_form
from nn_space.layers import DIMS, ConvLayer, Network
from nn_space.timeloop_problem import (TimeloopFormatError, layer_from_timeloop, load_timeloop_problem,
                                       problem_dims, timeloop_problem)

from .strategies import mappings_for, small_layers

GEMM = ConvLayer.gemm(64, 32, 16, name="fc")
BMM = ConvLayer.bmm(8, 128, 128, 64, name="qk")
BATCHED_GEMM = ConvLayer(k=16, c=8, y=12, x=1, n=2, op="gemm", name="proj")


def _yaml_round(doc):
    return yaml.safe_load(yaml.safe_dump(doc, sort_keys=False))


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    return text


def _lm(f=None, order="NKCYXRS", sp=None) -> LevelMapping:
    f, sp = f or {}, sp or {}
    return LevelMapping(tuple(f.get(d, 1) for d in DIMS), order, tuple(sp.get(d, 1) for d in DIMS))


# --- problem documents --------------------------------------------------------------------------------
def test_gemm_problem_document():
    assert timeloop_problem(GEMM) == {"problem": {"version": 0.4, "shape": {
        "name": "GEMM",
        "dimensions": ["M", "N", "K"],
        "data_spaces": [
            {"name": "Weights", "projection": [[["K"]], [["N"]]]},
            {"name": "Inputs", "projection": [[["M"]], [["K"]]]},
            {"name": "Outputs", "projection": [[["M"]], [["N"]]], "read_write": True},
        ]}, "instance": {"M": 64, "N": 32, "K": 16}}}


def test_bmm_problem_document():
    assert timeloop_problem(BMM) == {"problem": {"version": 0.4, "shape": {
        "name": "Batched_GEMM",
        "dimensions": ["B", "M", "N", "K"],
        "data_spaces": [
            {"name": "Weights", "projection": [[["B"]], [["K"]], [["N"]]]},
            {"name": "Inputs", "projection": [[["B"]], [["M"]], [["K"]]]},
            {"name": "Outputs", "projection": [[["B"]], [["M"]], [["N"]]], "read_write": True},
        ]}, "instance": {"B": 8, "M": 128, "N": 128, "K": 64}}}
    # no YAML anchors: each projection is its own list
    assert "&id" not in yaml.safe_dump(timeloop_problem(BMM))


def test_batched_gemm_weights_have_no_batch():
    shape = timeloop_problem(BATCHED_GEMM)["problem"]["shape"]
    assert shape["dimensions"] == ["B", "M", "N", "K"]
    assert shape["data_spaces"][0] == {"name": "Weights", "projection": [[["K"]], [["N"]]]}
    assert timeloop_problem(BATCHED_GEMM)["problem"]["instance"] == {"B": 2, "M": 12, "N": 16, "K": 8}


def test_hierarchy_export_problem_uses_timeloop_v3_keys():
    hier = _eyeriss_hier()
    layer, mapping = FIXED["bmm"][:2]
    assert export_timeloop(layer, hier, mapping)["problem"] == {"problem": {"shape": {
        "name": "Batched-GEMM",
        "dimensions": ["B", "M", "N", "K"],
        "data-spaces": [
            {"name": "Weights", "projection": [[["B"]], [["K"]], [["N"]]]},
            {"name": "Inputs", "projection": [[["B"]], [["M"]], [["K"]]]},
            {"name": "Outputs", "projection": [[["B"]], [["M"]], [["N"]]], "read-write": True},
        ]}, "instance": {"B": 4, "M": 16, "N": 16, "K": 8}}}


def test_problem_dims():
    assert problem_dims(GEMM) == (("M", "N", "K"), {"M": "Y", "N": "K", "K": "C"})
    assert problem_dims(BMM) == (("B", "M", "N", "K"), {"B": "N", "M": "Y", "N": "K", "K": "C"})
    assert problem_dims(ConvLayer.fc(8, 4))[0] == ("C", "M", "R", "S", "N", "P", "Q")  # an FC stays a CNN layer


@pytest.mark.parametrize("layer", [GEMM, BMM, BATCHED_GEMM, ConvLayer.bmm(1, 4, 5, 6), ConvLayer.gemm(1, 1, 1)])
def test_problem_round_trip(layer, tmp_path):
    back = layer_from_timeloop(_yaml_round(timeloop_problem(layer)))
    assert back == layer and back.op == layer.op and back.relevance == layer.relevance
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(timeloop_problem(layer), sort_keys=False))
    loaded = load_timeloop_problem(path)
    assert loaded == layer and loaded.name == "p"
    whole = NestMapping((LevelMapping(), LevelMapping(layer.loop_bounds)))
    hier_problem = export_timeloop(layer, _roomy(), whole)["problem"]
    assert layer_from_timeloop(_yaml_round(hier_problem)) == layer


def test_timeloop_gemm_abz_example_reads():
    """Timeloop's own problem-shapes/gemm-ABZ.yaml (data spaces A, B, Z; B projected on N, K)."""
    doc = {"problem": {"shape": {
        "name": "gemm-ABZ", "dimensions": ["M", "N", "K"],
        "data-spaces": [{"name": "A", "projection": [[["M"]], [["K"]]]},
                        {"name": "B", "projection": [[["N"]], [["K"]]]},
                        {"name": "Z", "projection": [[["M"]], [["N"]]], "read-write": True}]},
        "instance": {"M": 10, "N": 20, "K": 30}}}
    assert layer_from_timeloop(doc) == ConvLayer.gemm(10, 20, 30)
    # a batch dim under another name, on all three operands: a bmm
    bat = copy.deepcopy(doc)
    bat["problem"]["shape"]["dimensions"].insert(0, "G")
    for sp in bat["problem"]["shape"]["data-spaces"]:
        sp["projection"].insert(0, [["G"]])
    bat["problem"]["instance"]["G"] = 3
    assert layer_from_timeloop(bat) == ConvLayer.bmm(3, 10, 20, 30)


def _gemm_doc():
    return _yaml_round(timeloop_problem(GEMM))


def _shape(d):
    return d["problem"]["shape"]


@pytest.mark.parametrize("edit, message", [
    (lambda d: _shape(d)["dimensions"].extend(["B", "H"]),
     r"^p.yaml: problem.shape.dimensions: \['M', 'N', 'K', 'B', 'H'\] \(naas reads a matmul shape as M, N, K and "
     r"at most one batch dim"),
    (lambda d: _shape(d)["dimensions"].remove("M"),
     r"^p.yaml: problem.shape.dimensions: \['N', 'K'\] \(naas reads a matmul shape"),
    (lambda d: d["problem"]["instance"].update(P=2),
     r"^p.yaml: problem.instance.P: unknown field \(allowed: M, N, K, the shape's dims\)$"),
    (lambda d: d["problem"]["instance"].update(M=0), r"^p.yaml: problem.instance.M: 0 \(allowed: integer 1 to"),
    (lambda d: d["problem"]["instance"].update(densities={"Inputs": 0.5}),
     r"^p.yaml: problem.instance.densities: sparsity is not modelled"),
    (lambda d: _shape(d)["data_spaces"][1].update(projection=[[["M", 2]], [["K"]]]),
     r"^p.yaml: problem.shape.data_spaces\[1\] \(Inputs\).projection\[0\]: \[\['M', 2\]\] \(a matmul data space "
     r"projects on plain dims"),
    (lambda d: _shape(d)["data_spaces"][1].update(projection=[[["M"], ["K"]]]),
     r"^p.yaml: problem.shape.data_spaces\[1\] \(Inputs\).projection\[0\]"),
    (lambda d: _shape(d)["data_spaces"][2].pop("read_write"),
     r"^p.yaml: problem.shape.data_spaces\[2\] \(Outputs\).projection: \['M', 'N'\] \(naas reads"),
    (lambda d: _shape(d)["data_spaces"][0].update(projection=[[["M"]], [["K"]]]),
     r"^p.yaml: problem.shape.data_spaces\[1\] \(Inputs\).projection: \['M', 'K'\] \(naas reads"),
    (lambda d: _shape(d)["data_spaces"].pop(),
     r"^p.yaml: problem.shape.data_spaces: .* \(allowed: three data spaces"),
    (lambda d: _shape(d).update(coefficients=[{"name": "Wstride", "default": 1}]),
     r"^p.yaml: problem.shape.coefficients: .* \(a matmul shape has no coefficients"),
    (lambda d: _shape(d).pop("data_spaces"), r"^p.yaml: problem.shape.data_spaces: missing"),
    # Timeloop's older CNN layer names its output channels K: a CNN dim set with K is still refused
    (lambda d: _shape(d).update(dimensions=["R", "S", "P", "Q", "C", "K", "N"]),
     r"^p.yaml: problem.shape.dimensions: 'K' is not a CNN-layer dim \(naas reads .*, or a matmul shape"),
])
def test_problem_refusals_name_file_field_value(edit, message):
    doc = _gemm_doc()
    edit(doc)
    with pytest.raises(TimeloopFormatError) as exc:
        layer_from_timeloop(doc, "p.yaml")
    assert _one_line(exc)
    with pytest.raises(TimeloopFormatError, match=message):
        layer_from_timeloop(doc, "p.yaml")


def test_batch_missing_on_inputs_refused():
    doc = _yaml_round(timeloop_problem(BMM))
    _shape(doc)["data_spaces"][1]["projection"].pop(0)
    with pytest.raises(TimeloopFormatError, match=r"^p.yaml: .*\(Inputs\).projection: \['M', 'K'\] lacks the batch "
                                                  r"dim B") as exc:
        layer_from_timeloop(doc, "p.yaml")
    assert _one_line(exc)


# --- 3-level mappings ---------------------------------------------------------------------------------
NATIVE_BMM = Mapping(dram={"N": 2}, l2={"N": 4, "K": 4, "Y": 8}, spatial={"C": 8, "Y": 4},
                     l1={"K": 32, "C": 8, "Y": 4}, dram_order="XRSNKCY", l2_order="XRSKNYC", l1_order="XRSNYKC")


def test_bmm_mapping_document():
    doc = mapping_to_timeloop(NATIVE_BMM, BMM, [("R", "C", "K"), ("Y",)])
    assert doc == {"mapping": [
        {"target": "DRAM", "type": "temporal", "factors": "B=2 M=1 N=1 K=1", "permutation": "MKNB"},
        {"target": "GlobalBuffer", "type": "temporal", "factors": "B=4 M=8 N=4 K=1", "permutation": "KMBN"},
        {"target": "GlobalBuffer", "type": "spatial", "factors": "B=1 M=4 N=1 K=8", "permutation": "NKBM",
         "split": 2},
        {"target": "RegisterFile", "type": "temporal", "factors": "B=1 M=4 N=32 K=8", "permutation": "KNMB"},
    ]}
    back, notes = mapping_from_timeloop(_yaml_round(doc), BMM)
    assert back == NATIVE_BMM and notes == []


def test_gemm_mapping_has_no_batch_and_no_conv_dims():
    m = Mapping(dram={"K": 2}, l2={"Y": 8}, spatial={"C": 4}, l1={"K": 16, "C": 4, "Y": 8})
    doc = mapping_to_timeloop(m, GEMM, [("C",)])
    for e in doc["mapping"]:
        assert sorted(f.split("=")[0] for f in e["factors"].split()) == ["K", "M", "N"]
        assert sorted(e["permutation"]) == ["K", "M", "N"]
    assert doc["mapping"][0]["factors"] == "M=1 N=2 K=1"
    back, _ = mapping_from_timeloop(_yaml_round(doc), GEMM)
    assert back == timeloop_form(m, GEMM)
    assert back.dram_order == "NXRSKCY" and back.l1_order == "NXRSKCY"


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_any_matmul_mapping_round_trips(data):
    layer = data.draw(small_layers().filter(lambda lay: lay.is_matmul))
    mapping, parallel = data.draw(mappings_for(layer))
    doc = _yaml_round(mapping_to_timeloop(mapping, layer, [parallel]))
    problem_layer = layer_from_timeloop(_yaml_round(timeloop_problem(layer)))
    assert problem_layer == layer
    back, _ = mapping_from_timeloop(doc, problem_layer)
    assert back == timeloop_form(mapping, layer)
    assert timeloop_form(back, layer) == back
    assert _yaml_round(mapping_to_timeloop(back, layer, [parallel])) == doc  # naas's form is a fixed point


def test_searched_mappings_round_trip_on_builtins():
    net = [GEMM, ConvLayer.bmm(4, 32, 32, 16, name="qk")]
    for acc_name in ("eyeriss", "nvdla-256", "shidiannao"):
        acc = load_accelerator(acc_name)
        for layer in net:
            from mapping.network_search import SearchSettings, search_network

            lc = search_network(Network("t", (layer,)), acc, SearchSettings(budget=40, seed=0)).layers[0]
            doc = _yaml_round(mapping_to_timeloop(lc.mapping, layer, [a.dims for a in acc.array]))
            back, _ = mapping_from_timeloop(doc, layer)
            assert back == timeloop_form(lc.mapping, layer)
            assert evaluate_layer(layer, acc, back).edp == evaluate_layer(layer, acc, lc.mapping).edp


def test_matmul_mapping_refusals():
    doc = mapping_to_timeloop(NATIVE_BMM, BMM)
    bad = copy.deepcopy(doc)
    bad["mapping"][0]["factors"] = "B=2 P=1"
    with pytest.raises(TimeloopFormatError, match=r"m.yaml: mapping\[0\] \(DRAM\).factors: dim 'P' \(allowed: B, M, "
                                                  r"N, K\)") as exc:
        mapping_from_timeloop(bad, BMM, origin="m.yaml")
    assert _one_line(exc)
    bad = copy.deepcopy(doc)
    bad["mapping"][3]["factors"] = "B=1 M=4 N=32 K=4"
    with pytest.raises(TimeloopFormatError, match="factors of K multiply to 32, below the layer's bound 64"):
        mapping_from_timeloop(bad, BMM, origin="m.yaml")
    padded = replace(NATIVE_BMM, l1=tuple(2 if d == "X" else f for d, f in zip(DIMS, NATIVE_BMM.l1)))
    with pytest.raises(TimeloopFormatError, match=r"l1 factor X=2 \(a bmm problem has no dim for naas X"):
        mapping_to_timeloop(padded, BMM)


def test_abz_operand_names_in_keep_lists():
    doc = _yaml_round(mapping_to_timeloop(NATIVE_BMM, BMM))
    doc["mapping"] += [{"target": "RegisterFile", "type": "bypass", "keep": ["A", "B", "Z"]}]
    back, _ = mapping_from_timeloop(doc, BMM)
    assert back == NATIVE_BMM
    doc["mapping"][-1] = {"target": "RegisterFile", "type": "bypass", "keep": ["A", "B"], "bypass": ["Z"]}
    with pytest.raises(TimeloopFormatError, match="no l1 target keeps outputs"):
        mapping_from_timeloop(doc, BMM)
    conv = ConvLayer(k=4, c=4, y=2, x=2)
    conv_doc = _yaml_round(mapping_to_timeloop(Mapping((1,) * 7, (1,) * 7, (1,) * 7, conv.loop_bounds), conv))
    conv_doc["mapping"].append({"target": "RegisterFile", "type": "bypass", "keep": ["Z"]})
    with pytest.raises(TimeloopFormatError, match=r"tensor 'Z' \(allowed: Weights, Inputs, Outputs\)$"):
        mapping_from_timeloop(conv_doc, conv)


# --- hierarchies --------------------------------------------------------------------------------------
def _eyeriss_hier():
    hier = load_hierarchy("eyeriss-hier")
    return replace(hier, levels=tuple(replace(lv, hop_energy=0.0) if lv.fanout else lv for lv in hier.levels))


def _roomy():
    from cost_model.hierarchy import Hierarchy, StorageLevel

    return Hierarchy("roomy", (StorageLevel("DRAM", read_energy=(100.0,) * 3, write_energy=(100.0,) * 3),
                               StorageLevel("Buf", read_energy=(1.0,) * 3, write_energy=(1.0,) * 3)))


#: Exported on eyeriss-hier (hop energy 0) and run through timeloop-model v3.0.3 (built from source,
#: TIMELOOP_DISABLE_TEMPORAL_EXTRAPOLATION=1): totals over instances per level and data space (reads,
#: fills, updates), cycles and energy (pJ, from its XML), as that run printed them.
FIXED = {
    "bmm": (ConvLayer.bmm(4, 16, 16, 8, name="qk"),
            NestMapping((_lm({"N": 2}), _lm({"N": 2, "K": 2, "Y": 2}, "KNYCXRS", {"C": 4, "Y": 8}),
                         _lm({"C": 2}), _lm({"K": 8}), _lm())),
            {"DRAM": {"Weights": (1024, 0, 0), "Inputs": (512, 0, 0), "Outputs": (0, 0, 1024)},
             "GLB": {"Inputs": (1024, 512, 0), "Outputs": (1024, 0, 2048)},
             "ifmap_spad": {"Inputs": (8192, 1024, 0)},
             "weights_spad": {"Weights": (8192, 8192, 0)},
             "psum_spad": {"Outputs": (4096, 4096, 8192)}}, 640, 436706.86402979016),
    "gemm": (ConvLayer.gemm(32, 48, 24, name="fc"),
             NestMapping((_lm({"K": 2}), _lm({"Y": 4}, "NKCYXRS", {"C": 12, "Y": 8}),
                          _lm({"C": 2}), _lm({"K": 24}), _lm())),
             {"DRAM": {"Weights": (4608, 0, 0), "Inputs": (768, 0, 0), "Outputs": (0, 0, 1536)},
              "GLB": {"Inputs": (1536, 768, 0), "Outputs": (1536, 0, 3072)},
              "ifmap_spad": {"Inputs": (36864, 1536, 0)},
              "weights_spad": {"Weights": (36864, 36864, 0)},
              "psum_spad": {"Outputs": (18432, 18432, 36864)}}, 1728, 1172559.093313654),
}


@pytest.mark.parametrize("key", sorted(FIXED))
def test_hierarchy_export_equals_timeloop(tmp_path, key):
    layer, mapping, counts, cycles, energy = FIXED[key]
    hier = _eyeriss_hier()
    docs = export_timeloop(layer, hier, mapping)
    paths = docs.write(tmp_path)
    res, _ = evaluate_timeloop_files(paths["arch"], paths["problem"], paths["mapping"], paths["ert"])
    got = {lv: {ds: (c["reads"], c["fills"], c["updates"]) for ds, c in per.items()} for lv, per in res["levels"].items()}
    assert got == counts
    assert res["cycles"] == cycles and res["energy_pJ"] == pytest.approx(energy, rel=1e-9)
    assert res["macs"] == layer.macs
    # the mapping file names the matmul dims only
    for e in docs["mapping"]["mapping"]:
        if "factors" in e:
            assert [f[0] for f in e["factors"].split()] == list(problem_dims(layer)[0])
    back, kept, _ = nest_mapping_from_timeloop(_yaml_round(docs["mapping"]), layer, hier)
    assert back == nest_timeloop_form(mapping, layer)
    assert [lv.keeps for lv in kept.levels] == [lv.keeps for lv in hier.levels]


def test_hierarchy_round_trips_random_mappings():
    from experiments.timeloop_crosscheck import (HIERARCHY_FILES, MATMUL_LAYERS, exportable_hierarchy,
                                                 random_mapping, template_hierarchy)

    rng = random.Random(5)
    hiers = [template_hierarchy("eyeriss"), template_hierarchy("nvdla-256")]
    hiers += [exportable_hierarchy(h)[0] for h in HIERARCHY_FILES]
    done = 0
    for hier in hiers:
        for layer in MATMUL_LAYERS:
            m = random_mapping(rng, layer, hier, tries=300)
            if m is None:
                continue
            docs = export_timeloop(layer, hier, m)
            problem_layer = layer_from_timeloop(_yaml_round(docs["problem"]))
            assert problem_layer == layer
            back, kept, _ = nest_mapping_from_timeloop(_yaml_round(docs["mapping"]), problem_layer, hier)
            assert back == nest_timeloop_form(m, layer)
            assert evaluate_nest(layer, kept, back).counts() == evaluate_nest(layer, hier, m).counts()
            again = export_timeloop(layer, hier, back)
            assert again["mapping"] == docs["mapping"]
            done += 1
    assert done >= 25


def test_nest_mapping_refusals():
    layer, mapping = FIXED["gemm"][:2]
    doc = _yaml_round(export_timeloop(layer, _eyeriss_hier(), mapping)["mapping"])
    doc["mapping"][0]["factors"] = "M1 N1 K1 P2"
    with pytest.raises(MappingSpecError, match=r"m.yaml: mapping\[0\] \(psum_spad\).factors: dim 'P' \(allowed: M, N, "
                                               r"K, the problem's dims\)") as exc:
        nest_mapping_from_timeloop(doc, layer, _eyeriss_hier(), "m.yaml")
    assert _one_line(exc)
    doc = _yaml_round(export_timeloop(layer, _eyeriss_hier(), mapping)["mapping"])
    kept = [e for e in doc["mapping"] if e["type"] == "datatype"]
    kept[0]["keep"], kept[0]["bypass"] = ["Z"], ["A", "B"]  # Timeloop's gemm-ABZ operand names
    back, hier, _ = nest_mapping_from_timeloop(doc, layer, _eyeriss_hier(), "m.yaml")
    assert back == nest_timeloop_form(mapping, layer)


# --- the command line ---------------------------------------------------------------------------------
def _run_cli(*args) -> int:
    from naas.cli import main

    return main(list(args))


def test_cli_export_three_level(tmp_path, capsys):
    problem = tmp_path / "qk.yaml"
    problem.write_text(yaml.safe_dump(timeloop_problem(ConvLayer.bmm(4, 32, 32, 16)), sort_keys=False))
    out = tmp_path / "tl"
    assert _run_cli("timeloop", "export", "-a", "eyeriss", "-n", str(problem), "--out", str(out),
                    "--budget", "30") == 0
    assert "wrote 1 problem/mapping pairs" in capsys.readouterr().out
    written = yaml.safe_load((out / "00_qk.problem.yaml").read_text())
    assert written == _yaml_round(timeloop_problem(ConvLayer.bmm(4, 32, 32, 16)))
    doc = yaml.safe_load((out / "00_qk.map.yaml").read_text())
    assert {"".join(sorted(e["permutation"])) for e in doc["mapping"]} == {"BKMN"}
    assert _run_cli("timeloop", "evaluate", str(out / "00_qk.problem.yaml"), str(out / "00_qk.map.yaml"),
                    "-a", "eyeriss") == 0
    assert "bmm 4x M32 N32 K16" in capsys.readouterr().out


def test_cli_export_hand_built_network(tmp_path, capsys, monkeypatch):
    """A network of gemm / bmm layers (and a conv) built by hand, through the CLI's export."""
    import naas.cli

    net = Network("mini-transformer", (ConvLayer.gemm(16, 24, 12, name="q_proj"),
                                       ConvLayer.bmm(2, 16, 16, 12, name="qk"),
                                       ConvLayer.gemm(16, 24, 12, name="k_proj"),  # same shape: not rewritten
                                       ConvLayer.conv(8, 8, 6, 3, name="conv")))
    monkeypatch.setattr(naas.cli, "_network", lambda args: net)
    out = tmp_path / "tl"
    assert _run_cli("timeloop", "export", "-a", "eyeriss", "-n", "ignored", "--out", str(out),
                    "--budget", "20") == 0
    assert "wrote 3 problem/mapping pairs" in capsys.readouterr().out
    names = sorted(p.name for p in out.glob("*.problem.yaml"))
    assert names == ["00_q_proj.problem.yaml", "01_qk.problem.yaml", "03_conv.problem.yaml"]
    shapes = [yaml.safe_load((out / n).read_text())["problem"]["shape"]["name"] for n in names]
    assert shapes == ["GEMM", "Batched_GEMM", "CNN_Layer"]
    for n, layer in zip(names, (net.layers[0], net.layers[1])):
        assert load_timeloop_problem(out / n) == layer
    assert load_timeloop_problem(out / names[2]).shape_key == net.layers[3].shape_key  # (padding is not kept)
    # and on a hierarchy: one arch/problem/mapping/ert folder per distinct shape
    hout = tmp_path / "hier"
    assert _run_cli("timeloop", "export", "-a", "eyeriss-hier", "-n", "ignored", "--out", str(hout),
                    "--budget", "20") == 0
    folders = sorted(p.name for p in hout.iterdir())
    assert folders == ["00_q_proj", "01_qk", "03_conv"]
    for f in folders[:2]:
        files = {k: hout / f / f"{k}.yaml" for k in ("arch", "problem", "mapping", "ert")}
        res, _ = evaluate_timeloop_files(files["arch"], files["problem"], files["mapping"], files["ert"])
        assert res["macs"] == load_timeloop_problem(files["problem"]).macs
