"""Bad input files: every one a one-line error naming the file (exit 2 on the command line), no traceback.

Each input YAML file is read by ``cost_model.yaml_files.read_yaml_file``; these tests run the command line in
process (``naas.cli.main``) on broken accelerator, hierarchy, sweep and Timeloop files.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cost_model.accelerator import AcceleratorSpecError, ArrayDim, accelerator_from_dict, load_accelerator
from cost_model.hierarchy import HierarchySpecError
from cost_model.hierarchy_yaml import hierarchy_from_dict, is_hierarchy_file, load_hierarchy
from cost_model.yaml_files import MAX_DEPTH, StrictLoader, parse_yaml_text, read_yaml_file
from naas.cli import main
from naas.sweep_spec import SweepSpecError, load_sweep, sweep_from_dict
from nn_space.timeloop_problem import TimeloopFormatError, layer_from_timeloop, load_timeloop_problem

REPO = Path(__file__).resolve().parents[1]
EYERISS = (REPO / "cost_model" / "accelerators" / "eyeriss.yaml").read_text()
EYERISS_HIER = (REPO / "cost_model" / "hierarchies" / "eyeriss-hier.yaml").read_text()
PROBLEM = REPO / "tests" / "data" / "timeloop" / "conv3x3.yaml"
MAPPING = REPO / "tests" / "data" / "timeloop" / "eyeriss_mapping.yaml"
SMALL = """name: small
array:
  - {size: 12, dims: [R, C, K]}
  - {size: 14, dim: Y}
l1: {size: 520 B}
l2: {size: 108 KiB}
dataflow: row-stationary
"""


def _fails(capsys, args: list[str], *facts: str) -> str:
    """Runs ``naas ARGS``: exit 2, one stderr line holding every fact, no traceback; returns the line."""
    assert main([str(a) for a in args]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fact in facts:
        assert fact in lines[0], lines[0]
    return lines[0]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _deep(kind: str, depth: int) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    if kind == "map":
        return "{a: " * depth + "1" + "}" * depth
    return "- " * depth + "x"  # block sequences, one line


# --- 1. deep nesting ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["list", "map", "block"])
@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_accelerator_is_refused(tmp_path, capsys, kind, depth):
    acc = _write(tmp_path / "deep.yaml", "name: x\narray:\n  " + _deep(kind, depth) + "\n")
    _fails(capsys, ["evaluate", "-a", acc, "--mapping", "default", "-n", PROBLEM], "deep.yaml",
           f"nested deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize("kind", ["list", "map"])
def test_deeply_nested_timeloop_mapping_and_sweep_are_refused(tmp_path, capsys, kind):
    mapping = _write(tmp_path / "deep_map.yaml", "mapping: " + _deep(kind, 100_000) + "\n")
    _fails(capsys, ["timeloop", "evaluate", PROBLEM, mapping, "-a", "eyeriss"], "deep_map.yaml",
           "nested deeper than 100 levels")
    sweep = _write(tmp_path / "deep_sweep.yaml", "base: eyeriss\nparameters: " + _deep(kind, 100_000) + "\n")
    _fails(capsys, ["sweep", "--grid", sweep, "--out", tmp_path / "run"], "deep_sweep.yaml",
           "nested deeper than 100 levels")
    assert not (tmp_path / "run").exists()


def test_nesting_limit_is_exact_and_counts_aliases():
    assert parse_yaml_text("[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH) is not None
    with pytest.raises(ValueError, match=f"line 1: nested deeper than {MAX_DEPTH} levels"):
        parse_yaml_text("[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1))
    via_alias = "a: &a " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * 50 + "*a" + "]" * 50 + "\n"
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        parse_yaml_text(via_alias)


def test_alias_bombs_and_recursive_aliases_are_refused():
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(ValueError, match="more than 1000000 values"):
        parse_yaml_text("\n".join(lines))
    with pytest.raises(ValueError, match="alias refers to a collection that contains it"):
        parse_yaml_text("a: &a [1, *a]\n")
    # ordinary anchors, aliases and merge keys still read
    doc = parse_yaml_text("base: &b {size: 1, dim: K}\nx:\n  <<: *b\n  size: 2\ny: [*b, *b]\n")
    assert doc["x"] == {"size": 2, "dim": "K"} and doc["y"] == [{"size": 1, "dim": "K"}] * 2


# --- 2. Timeloop dim names and lower case in array dims ---------------------------------------------------
@pytest.mark.parametrize("row, column", [("[R, C, M]", "Q"), ("[r, c, m]", "y"), ("[R, C, K]", "p"),
                                         ("[r, c, k]", "Y'")])
def test_array_dim_aliases_are_read_as_naas_dims(tmp_path, capsys, row, column):
    text = SMALL.replace("[R, C, K]", row).replace("dim: Y", f'dim: "{column}"')
    acc = load_accelerator(_write(tmp_path / "alias.yaml", text))
    want = {"Q": "X", "y": "Y", "p": "Y", "Y'": "Y"}[column]
    assert [a.dims for a in acc.array] == [("R", "C", "K"), (want,)]
    assert acc.to_dict()["array"][1] == {"size": 14, "dim": want}
    assert main(["evaluate", "-a", str(tmp_path / "alias.yaml"), "--mapping", "default", "-n", str(PROBLEM)]) == 0
    out = capsys.readouterr().out
    canonical = _write(tmp_path / "canon.yaml", SMALL.replace("dim: Y", f"dim: {want}"))
    assert main(["evaluate", "-a", str(canonical), "--mapping", "default", "-n", str(PROBLEM)]) == 0
    assert capsys.readouterr().out == out  # the same costs as with naas's names


def test_hierarchy_fanout_aliases_and_unknown_dims(tmp_path, capsys):
    text = EYERISS_HIER.replace("dims: [R, C, K]", "dims: [r, c, m]").replace("dim: Y", "dim: p")
    hier = load_hierarchy(_write(tmp_path / "h.yaml", text))
    assert [a.dims for a in hier.levels[1].fanout] == [("R", "C", "K"), ("Y",)]
    assert main(["evaluate", "-a", str(tmp_path / "h.yaml"), "--mapping", "default", "-n", str(PROBLEM)]) == 0
    capsys.readouterr()
    bad = _write(tmp_path / "bad.yaml", SMALL.replace("dim: Y", "dim: Z"))
    _fails(capsys, ["evaluate", "-a", bad, "--mapping", "default", "-n", PROBLEM], "bad.yaml",
           "array[1].dim: 'Z'", "allowed: one of N, K, C, Y, X, R, S", "M, P, Q")
    assert ArrayDim(4, ("m", "q")).dims == ("K", "X") and ArrayDim(4, "Z").dims == ("Z",)


# --- 3. keys given twice ----------------------------------------------------------------------------------
def test_duplicate_keys_are_refused_at_any_level(tmp_path, capsys):
    acc = _write(tmp_path / "dup.yaml", EYERISS.replace("word_bits: 16", "word_bits: 16\nword_bits: 8"))
    _fails(capsys, ["evaluate", "-a", acc, "--mapping", "default", "-n", PROBLEM], "dup.yaml: line 4:",
           "key 'word_bits' given twice", "first at line 3")
    acc = _write(tmp_path / "dup2.yaml", EYERISS.replace("  bandwidth: 4", "  bandwidth: 4\n  bandwidth: 8"))
    _fails(capsys, ["evaluate", "-a", acc, "--mapping", "default", "-n", PROBLEM], "dup2.yaml",
           "key 'dram.bandwidth' given twice")
    acc = _write(tmp_path / "dup3.yaml", SMALL.replace("{size: 14, dim: Y}", "{size: 14, dim: Y, size: 7}"))
    _fails(capsys, ["evaluate", "-a", acc, "-n", PROBLEM], "dup3.yaml", "key 'array[1].size' given twice")
    sweep = _write(tmp_path / "sweep.yaml", "base: eyeriss\nparameters:\n  dram.bandwidth: [2, 4]\n"
                                            "  dram.bandwidth: [8]\n")
    _fails(capsys, ["sweep", "--grid", sweep, "--out", tmp_path / "run"], "sweep.yaml: line 4:",
           "key 'parameters.dram.bandwidth' given twice")
    hier = _write(tmp_path / "hier.yaml", EYERISS_HIER.replace("clock: 200 MHz", "clock: 200 MHz\nclock: 1 GHz"))
    _fails(capsys, ["evaluate", "-a", hier, "-n", PROBLEM], "hier.yaml", "key 'clock' given twice")
    problem = _write(tmp_path / "p.yaml", PROBLEM.read_text().replace("    C: 64", "    C: 64\n    C: 32"))
    _fails(capsys, ["timeloop", "evaluate", problem, "-a", "eyeriss"], "p.yaml",
           "key 'problem.instance.C' given twice")
    with pytest.raises(HierarchySpecError, match="key 'clock' given twice"):
        load_hierarchy(hier)


# --- 4. inf, nan, negative and zero numbers ---------------------------------------------------------------
@pytest.mark.parametrize("value, shown", [(".inf", "clock: inf"), (".nan", "clock: nan"), ("-5", "clock: -5"),
                                          ("0", "clock: 0"), ("1e999 MHz", "clock: '1e999 MHz'")])
def test_clock_must_be_finite_and_positive(tmp_path, capsys, value, shown):
    acc = _write(tmp_path / "clock.yaml", EYERISS.replace("clock: 200 MHz", f"clock: {value}"))
    line = _fails(capsys, ["evaluate", "-a", acc, "--mapping", "default", "-n", PROBLEM], "clock.yaml", shown)
    assert "finite" in line and "> 0" in line


@pytest.mark.parametrize("path, value, fact", [
    ("l1.size", float("inf"), "l1.size: inf"),
    ("l1.size", float("nan"), "l1.size: nan"),
    ("l2.size", "1e999 B", "l2.size: '1e999 B' is too large"),
    ("l2.size", 10 ** 400, "l2.size: 1000"),
    ("dram.bandwidth", float("nan"), "dram.bandwidth: nan"),
    ("l2.read_bandwidth", float("-inf"), "l2.read_bandwidth: -inf"),
    ("energy.overrides.mac", float("inf"), "energy.overrides.mac: inf"),
    ("energy.overrides.dram", float("nan"), "energy.overrides.dram: nan"),
    ("l1.partition.weights", float("inf"), "l1.partition.weights: inf"),
    ("array[0].size", 10 ** 30, "array[0].size: 1000"),
])
def test_accelerator_numbers_must_be_finite(path, value, fact):
    doc = yaml.safe_load(EYERISS)
    node = doc
    steps = path.replace("[0]", ".0").split(".")
    for step in steps[:-1]:
        node = node[int(step)] if step.isdigit() else node.setdefault(step, {})
    node[steps[-1]] = value
    with pytest.raises(AcceleratorSpecError) as err:
        accelerator_from_dict(doc, origin="acc.yaml")
    assert str(err.value).startswith("acc.yaml: ") and fact in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_unlimited_bandwidth_is_still_inf(tmp_path):
    acc = load_accelerator(_write(tmp_path / "u.yaml", SMALL + "dram: {bandwidth: .inf}\n"))
    assert acc.dram_bandwidth.shared == float("inf")


@pytest.mark.parametrize("edit, fact", [
    (lambda d: d.update(clock=".inf"), "clock: '.inf'"),
    (lambda d: d.update(clock=float("inf")), "clock: inf"),
    (lambda d: d["levels"][1].update(size=float("nan")), "levels[1] (GLB).size: nan"),
    (lambda d: d["levels"][1].update(read_bandwidth=float("nan")), "levels[1] (GLB).read_bandwidth: nan"),
    (lambda d: d["levels"][1].update(fanout_hop_energy=float("inf")), "fanout_hop_energy: inf"),
    (lambda d: d["levels"][1].update(fanout_hop_energy=float("nan")), "fanout_hop_energy: nan"),
    (lambda d: d["levels"][1].update(fanout_hop_energy=-1), "fanout_hop_energy: -1"),
    (lambda d: d["levels"][2].update(energy={"read": float("inf"), "write": 1}), "energy.read: inf"),
    (lambda d: d["energy"].update(overrides={"mac": float("inf")}), "energy.overrides.mac: inf"),
    (lambda d: d["levels"][2].update(size={"inputs": float("inf")}), "size.inputs: inf"),
])
def test_hierarchy_numbers_must_be_finite(edit, fact):
    doc = yaml.safe_load(EYERISS_HIER)
    edit(doc)
    with pytest.raises((HierarchySpecError, AcceleratorSpecError)) as err:
        hierarchy_from_dict(doc, origin="h.yaml")
    assert str(err.value).startswith("h.yaml: ") and fact in str(err.value), str(err.value)


# --- 5. binary files, directories, missing files ----------------------------------------------------------
def test_binary_file_directory_and_missing_file(tmp_path, capsys):
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    _fails(capsys, ["evaluate", "-a", binary, "-n", PROBLEM], "model.bin: not a text (UTF-8) file",
           "expected the accelerator YAML file")
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"name: x\x00\n")
    _fails(capsys, ["evaluate", "-a", nul, "-n", PROBLEM], "nul.yaml: not a text (UTF-8) file")
    ctrl = _write(tmp_path / "ctrl.yaml", "name: x\x01\n")
    _fails(capsys, ["evaluate", "-a", ctrl, "-n", PROBLEM], "ctrl.yaml: not a text (UTF-8) file", "#x0001")
    folder = tmp_path / "folder"
    folder.mkdir()
    _fails(capsys, ["evaluate", "-a", folder, "-n", PROBLEM], "folder: is a directory, not a file")
    _fails(capsys, ["sweep", "--grid", folder, "--out", tmp_path / "run"], "folder: is a directory, not a file",
           "sweep")
    _fails(capsys, ["timeloop", "evaluate", folder, "-a", "eyeriss"], "folder: is a directory, not a file",
           "problem")
    _fails(capsys, ["timeloop", "evaluate", PROBLEM, folder, "-a", "eyeriss"], "folder: is a directory",
           "mapping")
    _fails(capsys, ["sweep", "--grid", binary, "--out", tmp_path / "run"], "model.bin: not a text (UTF-8) file")
    _fails(capsys, ["evaluate", "-a", tmp_path / "none.yaml", "-n", PROBLEM], "none.yaml: does not exist")
    sweep = _write(tmp_path / "s.yaml", f"base: {folder}\nparameters: {{l2.size: ['64 KiB']}}\n")
    _fails(capsys, ["sweep", "--grid", sweep, "--out", tmp_path / "run"], "s.yaml: base:",
           "is a directory, not a file")
    assert not is_hierarchy_file(folder) and not is_hierarchy_file(binary)


def test_yaml_syntax_errors_and_unsafe_tags(tmp_path, capsys):
    bad = _write(tmp_path / "bad.yaml", "name: x\narray: [\n")
    _fails(capsys, ["evaluate", "-a", bad, "-n", PROBLEM], "bad.yaml: not valid YAML at line 3")
    tag = _write(tmp_path / "tag.yaml", "name: !!python/object/apply:os.system [echo hi]\n")
    _fails(capsys, ["evaluate", "-a", tag, "-n", PROBLEM], "tag.yaml: not valid YAML at line 1",
           "could not determine a constructor")
    date = _write(tmp_path / "date.yaml", "name: 2024-13-01\n")
    _fails(capsys, ["evaluate", "-a", date, "-n", PROBLEM], "date.yaml: not valid YAML")
    empty = _write(tmp_path / "empty.yaml", "")
    _fails(capsys, ["evaluate", "-a", empty, "-n", PROBLEM], "empty.yaml: empty")


def test_the_reader_raises_the_callers_error_type(tmp_path):
    dup = _write(tmp_path / "d.yaml", "a: 1\na: 2\n")
    for error in (AcceleratorSpecError, HierarchySpecError, SweepSpecError, TimeloopFormatError):
        with pytest.raises(error, match=r"d.yaml: line 2: key 'a' given twice"):
            read_yaml_file(dup, error, "test")
    with pytest.raises(TypeError):
        parse_yaml_text("a: 1", loader=yaml.SafeLoader)
    assert read_yaml_file(_write(tmp_path / "ok.yaml", "a: [1, {b: 2}]\n"), loader=StrictLoader) == \
        {"a": [1, {"b": 2}]}


def test_every_yaml_reader_goes_through_the_one_reader():
    pattern = re.compile(r"yaml\.(safe_load|load|full_load|unsafe_load|load_all|safe_load_all)\(")
    offenders = []
    for folder in ("cost_model", "mapping", "nn_space", "naas"):
        for path in sorted((REPO / folder).glob("*.py")):
            if path.name != "yaml_files.py" and pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == [], offenders


# --- 6. huge sweep ranges are sized before they are built -------------------------------------------------
@pytest.mark.parametrize("rng, facts", [
    ("{from: 1, to: 1e11, step: 1}", ("from 1 to 100000000000 in steps of 1 is 100000000000 values",)),
    ("{from: 1, to: 1.0e+11, step: 1}", ("100000000000 values", "allowed: at most 100000")),
    ("{from: 1, to: 1.0e+300, factor: 1.000001}", ("by a factor of 1.000001 is 690775874 values", "at most 100000")),
    ("{from: 1, to: .inf, step: 1}", ("parameters.l2.size.to: inf (allowed: a finite number)",)),
])
def test_huge_sweep_ranges_are_refused_before_they_are_built(tmp_path, capsys, rng, facts):
    sweep = _write(tmp_path / "big.yaml", f"base: eyeriss\nparameters:\n  l2.size: {rng}\n")
    _fails(capsys, ["sweep", "--grid", sweep, "--out", tmp_path / "run"], "big.yaml: parameters.l2.size", *facts)


def test_sweep_range_counts():
    doc = {"base": "eyeriss", "parameters": {"l2.size": {"from": 1, "to": 100_000, "step": 1}}}
    assert len(sweep_from_dict(doc).parameters[0].values) == 100_000
    doc["parameters"]["l2.size"]["to"] = 100_001
    with pytest.raises(SweepSpecError, match="100001 values"):
        sweep_from_dict(doc)
    doc["parameters"]["l2.size"] = {"from": 32, "to": "256", "factor": 2, "unit": "KiB"}
    assert sweep_from_dict(doc).parameters[0].values == ("32 KiB", "64 KiB", "128 KiB", "256 KiB")
    doc["parameters"]["l2.size"] = {"from": 1, "to": float("nan"), "step": 1}
    with pytest.raises(SweepSpecError, match="to: nan"):
        sweep_from_dict(doc)


# --- 7. --samples for a file without samples --------------------------------------------------------------
def test_samples_override_for_a_file_without_samples(tmp_path, capsys):
    sweep = _write(tmp_path / "rnd.yaml", "base: eyeriss\nmethod: random\nmapping: default\nnetworks: [alexnet]\n"
                                          "parameters:\n  l2.size: ['64 KiB', '128 KiB', '256 KiB']\n")
    with pytest.raises(SweepSpecError, match="samples: missing"):
        load_sweep(sweep)
    spec = load_sweep(sweep, samples=2)
    assert spec.method == "random" and spec.samples == 2 and len(spec.points()) == 2
    grid = load_sweep(_write(tmp_path / "grid.yaml", "base: eyeriss\nparameters:\n  l2.size: [1 KiB, 2 KiB]\n"),
                      samples=1)
    assert grid.method == "random" and grid.samples == 1
    assert load_sweep(sweep, method="grid").method == "grid"
    with pytest.raises(SweepSpecError, match="samples: 0"):
        load_sweep(sweep, samples=0)
    with pytest.raises(SweepSpecError, match="method: 'best'"):
        load_sweep(sweep, method="best")
    code = main(["sweep", "--grid", str(sweep), "--samples", "2", "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0, capsys.readouterr().err


# --- 8. dilation given as a coefficient's default ---------------------------------------------------------
def test_dilation_in_the_shape_coefficients_is_refused(tmp_path, capsys):
    doc = yaml.safe_load(PROBLEM.read_text())
    doc["problem"]["shape"]["coefficients"][2]["default"] = 2  # Wdilation
    problem = _write(tmp_path / "dil.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", problem, "-a", "eyeriss"], "dil.yaml",
           "problem.shape.coefficients.Wdilation: 2", "dilation of R", "dilation 1 only")
    doc = yaml.safe_load(PROBLEM.read_text())
    doc["problem"]["instance"]["Hdilation"] = 3
    problem = _write(tmp_path / "dil2.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", problem, "-a", "eyeriss"], "dil2.yaml",
           "problem.instance.Hdilation: 3", "dilation of S")


# --- 9. strides from the projection -----------------------------------------------------------------------
def _problem(h: int, w: int, swapped: bool = False) -> dict:
    doc = yaml.safe_load(PROBLEM.read_text())
    doc["problem"]["instance"].update(Hstride=h, Wstride=w)
    if swapped:  # P multiplied by Hstride, Q by Wstride
        doc["problem"]["shape"]["data-spaces"][1]["projection"] = [
            [["N"]], [["C"]], [["R", "Hdilation"], ["P", "Hstride"]], [["S", "Wdilation"], ["Q", "Wstride"]]]
    return doc


def test_strides_are_read_from_the_inputs_projection(tmp_path, capsys):
    standard = layer_from_timeloop(_problem(2, 1), "p.yaml")
    assert (standard.stride_y, standard.stride_x) == (1, 2)  # Wstride multiplies P (Y'), Hstride Q (X')
    assert standard.input_height == 27 + 3 and standard.input_width == 2 * 27 + 3
    swapped = layer_from_timeloop(_problem(2, 1, swapped=True), "p.yaml")
    assert (swapped.stride_y, swapped.stride_x) == (2, 1)
    assert swapped.input_height == 2 * 27 + 3 and swapped.input_width == 27 + 3
    bare = _problem(2, 1)
    del bare["problem"]["shape"]
    assert layer_from_timeloop(bare, "p.yaml") == standard  # no shape: Timeloop's CNN layer
    as_default = _problem(1, 1)
    del as_default["problem"]["instance"]["Hstride"]
    as_default["problem"]["shape"]["coefficients"][1]["default"] = 2
    assert layer_from_timeloop(as_default, "p.yaml").stride_x == 2
    path = _write(tmp_path / "swapped.yaml", yaml.safe_dump(_problem(2, 1, swapped=True)))
    assert load_timeloop_problem(path).describe() == "conv K64 C64 28x28 3x3/s2x1"
    assert main(["timeloop", "evaluate", str(path), "-a", "eyeriss", "--budget", "30"]) == 0
    assert "conv K64 C64 28x28 3x3/s2x1" in capsys.readouterr().out


def test_projections_naas_cannot_read_are_refused(tmp_path, capsys):
    doc = _problem(1, 1)
    doc["problem"]["shape"]["data-spaces"][1]["projection"][2] = [["S", "Wdilation"], ["P", "Wstride"]]
    doc["problem"]["shape"]["data-spaces"][1]["projection"][3] = [["R", "Hdilation"], ["Q", "Hstride"]]
    path = _write(tmp_path / "odd.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", path, "-a", "eyeriss"], "odd.yaml",
           "Inputs.projection[2]", "P summed with S", "naas reads P with R")
    doc = _problem(1, 1)
    doc["problem"]["shape"]["data-spaces"][1]["projection"][2] = [["R", "Wdilation"], ["P", "Wstep"]]
    path = _write(tmp_path / "undeclared.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", path, "-a", "eyeriss"], "undeclared.yaml", "coefficient 'Wstep'")
    doc = _problem(1, 1)
    doc["problem"]["instance"]["P"] = 1 << 40
    path = _write(tmp_path / "huge.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", path, "-a", "eyeriss"], "huge.yaml", "problem.instance.P:",
           "allowed: integer 1 to 16777216")


# --- 10. a spatial fan-out larger than the array axis -----------------------------------------------------
def test_too_large_spatial_fanout_names_dims_factor_and_axis_size(tmp_path, capsys):
    doc = yaml.safe_load(MAPPING.read_text())
    doc["mapping"][0]["factors"] = "C=1 M=1 R=1 S=1 N=1 P=1 Q=7"
    doc["mapping"][3]["factors"] = "C=1 M=1 R=3 S=1 N=1 P=28 Q=1"
    mapping = _write(tmp_path / "big.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", PROBLEM, mapping, "-a", "eyeriss"], "array axis 1 (Y)",
           "Y=28 (Timeloop P) = 28", "more than the axis size 14", "allowed: a product <= 14")
    doc = yaml.safe_load(MAPPING.read_text())
    doc["mapping"][1]["factors"] = "C=2 M=8 R=1 S=1 N=1 P=1 Q=2"
    doc["mapping"][2]["factors"] = "C=32 M=1 R=1 S=1 N=1 P=1 Q=1"
    mapping = _write(tmp_path / "big_c.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", PROBLEM, mapping, "-a", "eyeriss"], "array axis 0 (R/C/K)",
           "R=3 x C=32 = 96", "more than the axis size 12")



def test_timeloop_files_with_infinite_numbers_or_huge_factors(tmp_path, capsys):
    data = REPO / "tests" / "data" / "timeloop_arch"
    arch = _write(tmp_path / "arch.yaml", (data / "arch.yaml").read_text().replace("meshX: 2,", "meshX: .inf,"))
    _fails(capsys, ["timeloop", "evaluate", "--arch", arch, data / "problem.yaml", data / "mapping.yaml",
                    "--ert", data / "ert.yaml"], "arch.yaml: architecture.", "attributes.meshX: inf",
           "allowed: a finite number")
    ert = _write(tmp_path / "ert.yaml", (data / "ert.yaml").read_text().replace("energy: 200.0", "energy: .nan"))
    _fails(capsys, ["timeloop", "evaluate", "--arch", data / "arch.yaml", data / "problem.yaml",
                    data / "mapping.yaml", "--ert", ert], "ert.yaml: ERT.tables[0].actions[0].energy: nan")
    doc = yaml.safe_load(MAPPING.read_text())
    doc["mapping"][0]["factors"] = "C=1 M=1 R=1 S=1 N=1 P=2 Q=700000000000000000000000"
    mapping = _write(tmp_path / "huge.yaml", yaml.safe_dump(doc))
    _fails(capsys, ["timeloop", "evaluate", PROBLEM, mapping, "-a", "eyeriss"], "huge.yaml: mapping[0] (DRAM)",
           "factors.Q: 700000000000000000000000", "allowed: integer 1 to 16777216")


def test_floats_json_writes_are_numbers_as_in_yaml_1_2(tmp_path):
    """json.dumps writes 1e-05; PyYAML's YAML 1.1 resolver would read it as text. Designs kept as JSON load."""
    import json

    from cost_model.accelerator import load_accelerator
    from cost_model.yaml_files import parse_yaml_text

    assert parse_yaml_text("a: 1e-05\nb: 1e11\nc: 2.5e3\nd: 123\ne: 64 KiB\n") == {
        "a": 1e-05, "b": 1e11, "c": 2500.0, "d": 123, "e": "64 KiB"}
    doc = load_accelerator("eyeriss").to_dict()
    doc["energy"]["overrides"] = {"dram": 2e-05}
    path = tmp_path / "acc.json"
    path.write_text(json.dumps(doc))
    assert "2e-05" in path.read_text() and load_accelerator(path).energy.dram.read == 2e-05
