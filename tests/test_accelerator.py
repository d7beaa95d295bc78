"""Accelerator files: built-ins load and round-trip; bad files give one clear line naming field and value."""
from __future__ import annotations

import math
import textwrap

import pytest
import yaml

from cost_model.accelerator import (AcceleratorSpecError, accelerator_from_dict, builtin_accelerators,
                                    load_accelerator, save_accelerator)
from cost_model.energy import ENERGY_TABLES
from cost_model.units import parse_bandwidth, parse_size

SPEC_PES = {"eyeriss": 168, "shidiannao": 64, "nvdla-256": 256, "nvdla-1024": 1024, "edgetpu": 1024,
            "tpu-v1": 65536}


def test_builtins_match_spec_table():
    assert set(builtin_accelerators()) == set(SPEC_PES)
    for name, pes in SPEC_PES.items():
        acc = load_accelerator(name)
        assert acc.num_pes == pes
        assert acc.sources, f"{name} must say where its numbers come from"
        assert {"array", "l1", "l2"} <= {k for k, _ in acc.sources}
    assert load_accelerator("eyeriss").parallel_dims[:1] == ("R",)
    assert "Y" in load_accelerator("eyeriss").parallel_dims
    assert load_accelerator("shidiannao").parallel_dims == ("Y", "X")
    assert load_accelerator("nvdla-1024").parallel_dims == ("K", "C")


@pytest.mark.parametrize("name", sorted(SPEC_PES))
def test_round_trip(tmp_path, name):
    acc = load_accelerator(name)
    path = tmp_path / f"{name}.yaml"
    save_accelerator(acc, path)
    again = load_accelerator(path)
    assert again.hw_vector.tolist() == acc.hw_vector.tolist()
    assert again.describe() == acc.describe()


def test_units():
    assert parse_size("108 KiB", 16) == 108 * 1024
    assert parse_size("108 KB", 16) == 108 * 1024
    assert parse_size("260 words", 16) == 520
    assert parse_size(520, 16) == 520
    assert parse_bandwidth("8 B/cycle", 16) == 4
    assert math.isinf(parse_bandwidth("unlimited", 8))


GOOD = textwrap.dedent("""
    name: mine
    array: [{size: 4, dim: K}, {size: 4, dim: C}]
    l1: {size: 64 B}
    l2: {size: 32 KiB, bandwidth: 8}
    dram: {bandwidth: 2}
""")


def _with(path: str, value):
    doc = yaml.safe_load(GOOD)
    node = doc
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


@pytest.mark.parametrize("path, value, expected", [
    ("l1.size", "64 KX", "l1.size: '64 KX' is not a size"),
    ("l1.size", 1, "l1.size: 1 B cannot hold one word each"),
    ("l2.bandwidth", 0, "l2.bandwidth: 0.0 words/cycle (allowed: > 0"),
    ("l2.bandwidth", "fast", "l2.bandwidth: 'fast' is not a bandwidth"),
    ("word_bits", 0, "word_bits: 0 (allowed: integer 1 to 64)"),
    ("array", [], "array: [] is not a list"),
    ("array", [{"size": 2, "dim": d} for d in "KCYX"], "array: 4 dimensions (allowed: 1 to 3)"),
    ("array", [{"size": 2, "dim": "K"}, {"size": 2, "dim": "K"}], "array[1].dim: 'K' is already parallelized"),
    ("array", [{"size": 2, "dim": "Z"}],
     "array[0].dim: 'Z' (allowed: one of N, K, C, Y, X, R, S, or Timeloop's M, P, Q; any case)"),
    ("array", [{"size": 0, "dim": "K"}], "array[0].size: 0 (allowed: integer 1 to 1048576)"),
    ("array", [{"size": 4, "dim": "K", "dims": ["C"]}], "array[0]: give exactly one of dim"),
    ("energy", "joules", "energy.table: 'joules'"),
    ("dataflow", "magic", "dataflow: 'magic' (allowed: weight-stationary"),
    ("l1.partition", {"weights": "32 B", "inputs": "32 B", "outputs": "32 B"}, "l1.partition: 96 B in all exceeds"),
    ("l1.sise", 4, "l1.sise: unknown field (allowed: partition, size); did you mean 'size'?"),
    ("l2.size", KeyError, "l2.size: missing (required)"),
])
def test_bad_fields_are_named(path, value, expected):
    with pytest.raises(AcceleratorSpecError) as err:
        accelerator_from_dict(_with(path, value), origin="mine.yaml")
    message = str(err.value)
    assert message.startswith("mine.yaml: ")
    assert expected in message, message
    assert "\n" not in message


def test_good_file_and_energy_tables(tmp_path):
    acc = accelerator_from_dict(yaml.safe_load(GOOD))
    assert acc.num_pes == 16 and acc.l1_words == 32 and acc.l2_words == 16384
    for name in ENERGY_TABLES:
        doc = yaml.safe_load(GOOD)
        doc["energy"] = {"table": name}
        e = accelerator_from_dict(doc).hw_vector
        assert (e[12:20] >= 0).all()


def test_sram_energy_grows_with_size():
    small = accelerator_from_dict(yaml.safe_load(GOOD))
    doc = yaml.safe_load(GOOD)
    doc["l2"]["size"] = "512 KiB"
    big = accelerator_from_dict(doc)
    assert big.hw_vector[16] > small.hw_vector[16]  # L2 read energy


def test_bad_yaml_and_missing_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\narray: [\n")
    with pytest.raises(AcceleratorSpecError, match="not valid YAML at line"):
        load_accelerator(bad)
    with pytest.raises(AcceleratorSpecError, match="neither a file nor built in"):
        load_accelerator("eyeris")
