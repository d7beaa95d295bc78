"""naas sweep: the sweep file, overrides, sampling, the run (resume, executors), the report and the CLI."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cost_model.accelerator import accelerator_from_dict, load_accelerator
from naas.cli import main
from naas.executor import LocalProcessExecutor
from naas.pareto import non_dominated
from naas.run_store import RunStore
from naas.sweep_run import run_sweep
from naas.sweep_spec import (SweepSpecError, apply_overrides, area_proxy, load_sweep, parse_path, sweep_from_dict,
                             validated_designs)

#: 8 combinations on AlexNet with a small mapping search: about a second in-process.
SMALL = {"base": "eyeriss", "networks": ["alexnet"], "mapping": "search", "inner_budget": 30, "seed": 3,
         "parameters": {"array[0].size": [6, 12], "l1.partition": [None],
                        "l2.size": {"from": 54, "to": 108, "factor": 2, "unit": "KiB"},
                        "dram.bandwidth": [2, 8]}}


def sweep_rows(folder):
    """Everything a run commits that must not depend on the executor (ids, genomes, costs, per network)."""
    store = RunStore(folder)
    try:
        d = store.designs()[["id", "generation", "genome_key", "fitness", "error"]].to_dict("records")
        r = store.network_results()[["design_id", "network", "energy", "cycles", "edp"]].to_dict("records")
        return d, r
    finally:
        store.close()


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep") / "run"
    done = run_sweep(sweep_from_dict(SMALL), folder)
    return folder, done


# --- the sweep file ----------------------------------------------------------------------------------
def test_paths_and_overrides():
    assert parse_path("array[0].size") == ("array", 0, "size")
    assert parse_path("energy.overrides.dram") == ("energy", "overrides", "dram")
    base = load_accelerator("eyeriss").to_dict()
    doc = apply_overrides(base, {"array[1].size": 28, "l1.partition": None, "l2.bandwidth": 16,
                                 "energy.overrides.dram": 100.0})
    assert base["array"][1]["size"] == 14 and "partition" in base["l1"]  # the base is not modified
    acc = accelerator_from_dict(doc)
    assert acc.array[1].size == 28 and acc.l1_partition is None
    assert acc.l2_bandwidth.shared == 16  # read/write bandwidths dropped with the shared one set
    assert acc.energy.dram.read == 100.0 and dict(acc.energy.overrides) == {"dram": 100.0}
    assert accelerator_from_dict(acc.to_dict()) == acc  # overrides survive the YAML form


@pytest.mark.parametrize("change, message", [
    ({"paramters": {}}, "paramters: unknown field .*did you mean 'parameters'"),
    ({"parameters": {"array[5].size": [4]}}, r"parameters.array\[5\].size: array\[5\] does not exist"),
    ({"parameters": {"l2.size": []}}, "parameters.l2.size: an empty list"),
    ({"parameters": {"l2.size": {"from": 8, "to": 4, "step": 1}}}, "from 8 is above to 4"),
    ({"parameters": {"l2.size": {"from": 1, "to": 4, "stpe": 1}}}, "l2.size.stpe: unknown field.*'step'"),
    ({"parameters": {"l2..size": [1]}}, "is not a field name"),
    ({"method": "latin"}, "method: 'latin' \\(allowed: grid, random\\)"),
    ({"method": "random"}, "samples: missing"),
    ({"networks": ["resnet51"]}, "networks: .*resnet51"),
    ({"base": "eyeris"}, "base: accelerator: 'eyeris'"),
    ({"area": {"bytes_per_pe": 0}}, "area.bytes_per_pe: 0"),
    ({"parameters": {"l2.size": ["64 KiB", "12 parsecs"]}},
     r"design 2: l2.size: '12 parsecs' is not a size.*combination l2.size='12 parsecs'"),
    ({"parameters": {"l1.size": ["100 B"]}}, "l1.partition: 520 B in all exceeds l1.size 100 B"),
])
def test_bad_sweep_files_name_the_field_and_value(change, message):
    doc = {**SMALL, **change}
    with pytest.raises(SweepSpecError, match=message):
        list(validated_designs(sweep_from_dict(doc)))


def test_ranges_units_and_grid_order():
    spec = sweep_from_dict(SMALL)
    assert spec.parameters[2].values == ("54 KiB", "108 KiB")
    assert spec.grid_size == 8
    assert spec.points()[:3] == [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0)]
    steps = sweep_from_dict({**SMALL, "parameters": {"clock": {"from": 100, "to": 400, "step": 150,
                                                               "unit": "MHz"}}})
    assert steps.parameters[0].values == ("100 MHz", "250 MHz", "400 MHz")


def test_random_sampling_is_seeded_distinct_and_bounded():
    doc = {**SMALL, "method": "random", "samples": 5,
           "parameters": {"array[0].size": list(range(1, 13)), "array[1].size": list(range(1, 15))}}
    a, b = sweep_from_dict(doc).points(), sweep_from_dict(doc).points()
    assert a == b and len(a) == 5 and len(set(a)) == 5
    assert sweep_from_dict({**doc, "seed": 4}).points() != a
    assert len(sweep_from_dict({**doc, "samples": 1000}).points()) == 12 * 14  # no more than the grid


def test_shipped_sweep_file_is_valid():
    from pathlib import Path
    spec = load_sweep(Path(__file__).resolve().parents[1] / "experiments" / "sweeps" / "eyeriss.yaml")
    assert spec.grid_size == 108 and len(list(validated_designs(spec))) == 108


def test_area_proxy():
    acc = load_accelerator("eyeriss")
    assert area_proxy(acc, 256) == pytest.approx(168 + (108 * 1024 + 168 * 520) / 256)


# --- the run -----------------------------------------------------------------------------------------
def test_sweep_commits_every_combination_and_the_base(small_run):
    folder, done = small_run
    store = RunStore(folder)
    try:
        designs = store.designs()
        assert store.get_meta("kind") == "sweep"
    finally:
        store.close()
    assert len(designs) == 1 + 8 and (designs.generation == -1).sum() == 1
    assert designs.fitness.notna().all() and done["evaluated"] == 8
    best = load_accelerator(folder / "best.yaml")
    assert best.l2_bytes in (54 * 1024, 108 * 1024)
    assert done["best"]["fitness"] == designs[designs.generation >= 0].fitness.min()


def test_interrupted_sweep_resumes_to_the_same_rows(small_run, tmp_path):
    folder, _ = small_run

    def stop_after_three(p):
        if p.evaluated == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep_from_dict(SMALL), tmp_path / "r", progress=stop_after_three)
    assert len(sweep_rows(tmp_path / "r")[0]) == 1 + 3
    done = run_sweep(None, tmp_path / "r", resume=True)
    assert done["evaluated"] == 5
    assert sweep_rows(tmp_path / "r") == sweep_rows(folder)


def test_local_processes_give_the_same_rows(small_run, tmp_path):
    folder, _ = small_run
    with LocalProcessExecutor(2) as ex:
        run_sweep(sweep_from_dict(SMALL), tmp_path / "p", executor=ex)
    assert sweep_rows(tmp_path / "p") == sweep_rows(folder)


def test_invalid_combinations_are_stored_when_skipped(tmp_path):
    doc = {**SMALL, "mapping": "default", "skip_invalid": True,
           "parameters": {"l1.size": ["100 B", "1 KiB"], "l1.partition": [None, {"weights": "448 B",
                                                                                  "inputs": "24 B",
                                                                                  "outputs": "48 B"}]}}
    done = run_sweep(sweep_from_dict(doc), tmp_path / "s")
    assert done["designs"] == 4
    store = RunStore(tmp_path / "s")
    try:
        d = store.designs()
    finally:
        store.close()
    bad = d[d.fitness.isna()]
    assert len(bad) == 1 and "l1.partition: 520 B in all exceeds l1.size 100 B" in bad.error.iloc[0]


def test_report_front_is_non_dominated(small_run):
    from naas.report import write_report
    from naas.sweep_report import sweep_table

    folder, _ = small_run
    files = write_report(folder)
    assert {f.name for f in files} >= {"designs.csv", "pareto.csv", "pareto.md", "tradeoff.png"}
    store = RunStore(folder)
    try:
        table = sweep_table(store)
    finally:
        store.close()
    sweep = table[table.design == "sweep"]
    front = sweep[sweep.front_edp_area]
    assert len(front) >= 1
    for _, row in sweep.iterrows():  # each design is on the front or dominated by a front design
        dominated = ((front["area proxy"] <= row["area proxy"]) & (front.EDP <= row.EDP)).any()
        assert row.front_edp_area or dominated
    assert table["EDP vs base"][table.design == "base"].iloc[0] == 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30))
def test_non_dominated(points):
    values = np.array(points, dtype=float)
    mask = non_dominated(values)
    for i, v in enumerate(values):
        dominated_by = [(values[j] <= v).all() and (values[j] < v).any() for j in range(len(values))]
        if mask[i]:
            assert not any(dominated_by)
            assert not any((values[j] == v).all() for j in range(i) if mask[j])  # equal rows: the first only
        else:
            assert any(dominated_by) or any((values[j] == v).all() for j in range(i))


# --- the command line --------------------------------------------------------------------------------
def test_cli_sweep_resume_and_report(tmp_path, capsys):
    grid = tmp_path / "sweep.yaml"
    grid.write_text(yaml.safe_dump({**SMALL, "mapping": "default"}))
    assert main(["sweep", "--grid", str(grid), "--out", str(tmp_path / "c"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "9 designs" not in out and "8 designs (8 evaluated now" in out
    assert main(["sweep", "--resume", str(tmp_path / "c"), "--quiet"]) == 0
    assert "8 designs (0 evaluated now" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "c")]) == 0
    assert "Pareto front in (area proxy, EDP)" in capsys.readouterr().out
    # --samples turns the grid into a random sweep
    assert main(["sweep", "--grid", str(grid), "--samples", "3", "--out", str(tmp_path / "rnd"), "--quiet"]) == 0
    assert "3 designs" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path):
    grid = tmp_path / "typo.yaml"
    grid.write_text("base: eyeriss\nparameters:\n  l2.sise: [1]\n  l2.size: [oops]\n")
    for args, message in [
        (["--grid", str(grid), "--out", str(tmp_path / "t")], "l2.sise: unknown field"),
        (["--grid", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "t")],
             "missing.yaml: does not exist (expected the sweep YAML file)"),
        (["--out", str(tmp_path / "t")], "--grid: a sweep file is required"),
        (["--resume", str(tmp_path / "none")], "holds no run to resume"),
    ]:
        r = subprocess.run([sys.executable, "-m", "naas", "sweep", *args], capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert message in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "t").exists()  # nothing created for a sweep that cannot run
