"""The naas command: evaluate as table, JSON and CSV; bad input is one line on stderr with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from naas.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "naas", *args], capture_output=True, text=True, timeout=300)


def test_evaluate_searches_by_default(capsys):
    assert main(["evaluate", "-a", "eyeriss", "-n", "squeezenet1_1", "--budget", "300"]) == 0
    out = capsys.readouterr().out
    assert "searched per distinct layer shape (cma-importance, 300 evaluations each" in out


def test_evaluate_table_default_mapping_is_labelled(capsys):
    assert main(["evaluate", "--accelerator", "eyeriss", "--network", "resnet50", "--mapping", "default"]) == 0
    out = capsys.readouterr().out
    assert "layer4.2.conv3" in out and "fc" in out
    assert "default row-stationary mapping" in out and "not searched" in out
    assert "resnet50: 54 layers, 24 distinct shapes, 4.089 GMACs" in out
    assert "EDP" in out and "utilization" in out


def test_evaluate_json_and_csv(tmp_path, capsys):
    csv = tmp_path / "out.csv"
    assert main(["evaluate", "-a", "nvdla-256", "-n", "mobilenetv2", "--format", "json",
                 "--csv", str(csv), "--mapping", "default"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["macs"] == sum(row["macs"] for row in doc["layers"])
    assert doc["totals"]["edp"] == pytest.approx(doc["totals"]["energy"] * doc["totals"]["cycles"])
    assert doc["layers"][1]["mapping"]["spatial"]["factors"]
    frame = pd.read_csv(csv)
    assert len(frame) == len(doc["layers"])
    assert {"layer", "energy", "cycles", "edp", "dram_W_reads", "l1_O_updates"} <= set(frame.columns)
    assert frame["energy"].sum() == pytest.approx(doc["totals"]["energy"])


def test_evaluate_accepts_a_yaml_file_and_energy_override(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\narray: [{size: 8, dim: K}, {size: 8, dim: Y}]\nl1: {size: 64 B}\n"
                    "l2: {size: 64 KiB, bandwidth: 16}\ndram: {bandwidth: 4}\n")
    assert main(["evaluate", "-a", str(path), "-n", "alexnet", "--energy", "maestro", "--budget", "200"]) == 0
    out = capsys.readouterr().out
    assert "mine: 64 PEs" in out and "energy maestro" in out and "energy[MAC]" in out


@pytest.mark.parametrize("args, message", [
    (["evaluate", "--network", "resnet51"], "network: 'resnet51' is not built in"),
    (["evaluate", "--accelerator", "eyeris"], "accelerator: 'eyeris' is neither a file nor built in"),
    (["evaluate", "--batch", "0"], "n: 0 is out of range (allowed: >= 1)"),
    (["evaluate", "--energy", "joules"], "--energy: energy table: 'joules' is not known"),
    (["evaluate", "--input-size", "8", "--network", "vgg16"], "smaller than kernel"),
    (["evaluate", "--budget", "0"], "--budget: 0 (allowed: >= 1"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("naas: error: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_bad_yaml_field_and_unwritable_csv(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("name: t\narray: [{size: 8, dim: K}]\nl1: {size: 64 B}\nl2: {size: 64 KiB, bandwith: 4}\n")
    proc = run("evaluate", "-a", str(path))
    assert proc.returncode == 2
    assert "l2.bandwith: unknown field" in proc.stderr and "did you mean 'bandwidth'" in proc.stderr
    proc = run("evaluate", "-n", "alexnet", "--mapping", "default", "--csv", str(tmp_path / "no" / "such" / "dir.csv"))
    assert proc.returncode == 2 and "--csv: cannot write" in proc.stderr
    assert "fc8" in proc.stdout  # the results were printed before the failed write: nothing lost


def test_list():
    proc = run("list")
    assert proc.returncode == 0
    for name in ("eyeriss", "tpu-v1", "unet", "mnasnet", "maestro", "horowitz-45nm"):
        assert name in proc.stdout


def test_unmappable_layers_keep_the_others(tmp_path):
    # A 64-wide K array with a 128-word L2: minimal array tiles of 64 weights + 64 outputs + 1 input do not
    # fit; only fc8 (K=1000 spreads as 63 x 16) does.
    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\narray: [{size: 64, dim: K}]\nl1: {size: 8 B}\nl2: {size: 256 B}\n")
    proc = run("evaluate", "-a", str(path), "-n", "alexnet", "--mapping", "default")
    assert proc.returncode == 2
    assert "could not be mapped" in proc.stdout and "fc8" in proc.stdout
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 7 and all(e.startswith("naas: error: layer '") and "no default mapping fits" in e
                                    for e in errors)
