"""experiments/naas_vs_baselines.py --baseline-mapping: the paper's setting (baseline at its dataflow's fixed
mapping) and the strict one (baseline at its best searched mapping), on tiny runs; its run folders and the
search settings its options stand for."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
import pytest

from cost_model.accelerator import load_accelerator
from cost_model.evaluate import evaluate_network
from experiments import naas_vs_baselines as nvb
from mapping.default_mapping import default_mapping
from naas.report import comparison_table, final_costs_of
from naas.run_store import RunStore
from nn_space.zoo import get_network

# the stored configs of the runs behind experiments/results/naas_vs_baselines (the script's defaults) and
# experiments/results/naas_vs_baselines_current (the current settings), seed 0 on Eyeriss
NETWORKS = ["mobilenetv2", "squeezenet", "mnasnet"]
COMMITTED = {"baseline": "eyeriss", "networks": NETWORKS, "mode": "full", "budget": 160, "seed": 0,
             "inner_budget": 300, "popsize": None, "sigma0": 0.3, "axis_dims": 3, "final_budget": 2000,
             "encoding": "importance", "warm_start": "baseline", "elite_mutants": 0, "elite_sigma": 0.05,
             "inner_start": "default", "inner_sigma0": 0.25, "final_portfolio": False}
CURRENT = {**COMMITTED, "warm_start": "dataflows", "elite_mutants": 2, "inner_start": "best-default",
           "inner_sigma0": 0.15, "final_portfolio": True}
CURRENT_OPTIONS = ["--warm-start", "dataflows", "--elite-mutants", "2", "--inner-start", "best-default",
                   "--inner-sigma0", "0.15", "--final-portfolio"]


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path, monkeypatch):
    """Each test runs in its tmp_path: a default (relative) --runs or --out never lands in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One quick Eyeriss search (AlexNet, 8 designs) and its --baseline-mapping dataflow,best tables."""
    tmp = tmp_path_factory.mktemp("nvb")
    argv = ["--quick", "--jobs", "1", "--baselines", "eyeriss", "--runs", str(tmp / "runs"), "--out",
            str(tmp / "out"), "--baseline-mapping", "dataflow,best", "--tables-out", str(tmp / "tables")]
    nvb.main(argv)
    return tmp, argv


def _tables(tmp):
    name = "dataflow+best"
    return (pd.read_csv(tmp / "tables" / f"per_seed-{name}.csv"), pd.read_csv(tmp / "tables" / f"geomean-{name}.csv"),
            pd.read_csv(tmp / "tables" / f"per_network-{name}.csv"))


def test_dataflow_baseline_is_the_default_mapping_cost(tiny):
    tmp, _ = tiny
    _, _, per_net = _tables(tmp)
    row = per_net[(per_net["baseline mapping"] == "dataflow") & (per_net.network == "alexnet")].iloc[0]
    cost = evaluate_network(get_network("alexnet"), load_accelerator("eyeriss"), default_mapping, "default")
    assert row["baseline EDP"] == pytest.approx(cost.edp, rel=1e-12)
    # and the searched design is the same on both sides: the run's final re-costing of its best design
    store = RunStore(tmp / "runs" / "eyeriss-full-alexnet-seed0", create=False)
    try:
        fin = final_costs_of(store)
        strict = comparison_table(store).set_index("network").loc["geomean"]
    finally:
        store.close()
    assert fin is not None
    assert set(per_net[per_net.network == "alexnet"]["NAAS EDP"]) == {fin["best"]["networks"]["alexnet"]["edp"]}
    best = per_net[(per_net["baseline mapping"] == "best")].iloc[0]
    assert best["baseline EDP"] == fin["baseline"]["networks"]["alexnet"]["edp"]
    assert row["speedup"] == pytest.approx(cost.cycles / fin["best"]["networks"]["alexnet"]["cycles"], rel=1e-12)
    # the strict setting is what the script's default output (naas.report.comparison_table) reports
    per_seed, _, _ = _tables(tmp)
    s = per_seed[per_seed["baseline mapping"] == "best"].iloc[0]
    for c in ("speedup", "energy saving", "EDP reduction", "max speedup", "max energy saving"):
        assert s[c] == pytest.approx(strict[c], rel=1e-12)


def test_strict_baseline_never_worse_and_bounds_hold(tiny):
    tmp, _ = tiny
    per_seed, wide, per_net = _tables(tmp)
    d = per_net.set_index(["network", "baseline mapping"])
    for net in per_net.network.unique():
        dataflow, best = d.loc[(net, "dataflow")], d.loc[(net, "best")]
        # the searched mappings start from the dataflow's default (and keep it if nothing beats it)
        assert best["baseline EDP"] <= dataflow["baseline EDP"] * (1 + 1e-12)
        assert best["EDP reduction"] <= dataflow["EDP reduction"] * (1 + 1e-12)
    for _, r in pd.concat([per_net, per_seed]).iterrows():
        assert r["speedup"] <= r["max speedup"] * (1 + 1e-9)  # no design beats the bound
        assert r["energy saving"] <= r["max energy saving"] * (1 + 1e-9)
        assert r["of bound"] == pytest.approx(r["speedup"] / r["max speedup"], rel=1e-9)
        assert r["EDP reduction"] == pytest.approx(r["speedup"] * r["energy saving"], rel=1e-9)
    w = wide.iloc[0]
    assert w["speedup (dataflow)"] == pytest.approx(per_seed[per_seed["baseline mapping"] == "dataflow"]
                                                    .speedup.iloc[0])
    assert (w["paper speedup"], w["paper energy saving"]) == (4.4, 2.1)


def test_finished_runs_are_reused_and_out_left_alone(tiny):
    tmp, argv = tiny
    folder = tmp / "runs" / "eyeriss-full-alexnet-seed0"
    store = RunStore(folder, create=False)
    designs = store.designs()
    store.close()
    before = (folder / "run.sqlite").stat().st_mtime_ns
    first = _tables(tmp)[0]
    nvb.main(argv)
    store = RunStore(folder, create=False)
    try:
        pd.testing.assert_frame_equal(store.designs(), designs)
    finally:
        store.close()
    assert (folder / "run.sqlite").stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(_tables(tmp)[0], first)
    assert not (tmp / "out").exists()  # the default output (summary.csv, summary.png) is not written
    assert (tmp / "tables" / "tables-dataflow+best.md").read_text().count("| eyeriss") >= 2


def test_baseline_mapping_option():
    assert nvb.parse_settings("dataflow,best") == ("dataflow", "best")
    assert nvb.parse_settings("best") == ("best",)
    assert nvb.parse_settings(None) == ()
    for bad in ("maestro", "best,best", "dataflow,"):
        with pytest.raises(argparse.ArgumentTypeError, match="allowed: dataflow, best"):
            nvb.parse_settings(bad)


def _first_run(argv, monkeypatch) -> tuple[Path, dict]:
    """(folder, stored config) of the first run ``main(argv)`` would make, without running it."""
    seen = []

    class Stop(Exception):
        pass

    def first(task):
        folder, config = nvb.task_run(task)
        seen.append((folder, config.to_dict()))
        raise Stop

    monkeypatch.setattr(nvb, "run_one", first)
    with pytest.raises(Stop):
        nvb.main(["--jobs", "1", *argv])
    return seen[0]


@pytest.mark.parametrize("options, stored", [([], COMMITTED), (CURRENT_OPTIONS, CURRENT)],
                         ids=["defaults", "current settings"])
def test_options_give_the_committed_results_settings(tmp_path, monkeypatch, options, stored):
    """Every field of the searches' config comes from the script, not from HardwareSearchConfig's defaults:
    its options make the runs the committed results were computed from."""
    folder, config = _first_run(["--baselines", "eyeriss", "--budget", "160", "--runs", str(tmp_path), *options],
                                monkeypatch)
    assert config == stored
    assert folder == tmp_path / "eyeriss-full-mobilenetv2+squeezenet+mnasnet-seed0"  # named by what it is
    assert not any(tmp_path.iterdir())  # nothing made yet


def test_run_folders_are_named_by_what_they_are():
    assert nvb.run_folder("R", "nvdla-256", ("vgg16",), "sizing", 2) == Path("R/nvdla-256-sizing-vgg16-seed2")
    names = {nvb.run_folder("R", b, n, m, s) for b in ("eyeriss", "eyeriss-hier") for n in (("a",), ("a", "b"))
             for m in ("sizing", "full") for s in (0, 1)}
    assert len(names) == 16


def test_runs_of_other_settings_are_refused_not_reused(tiny):
    """The folder of a run stands for its settings: asked for other settings, the script stops before
    searching and leaves the runs there as they are."""
    tmp, argv = tiny
    folder = tmp / "runs" / "eyeriss-full-alexnet-seed0"
    before = (folder / "run.sqlite").stat().st_mtime_ns
    with pytest.raises(SystemExit, match="other settings \\(warm_start: 'baseline' there, 'dataflows' asked for\\)"):
        nvb.main(argv + ["--warm-start", "dataflows"])
    with pytest.raises(SystemExit, match="inner_sigma0: 0.25 there, 0.15 asked for"):
        nvb.main(argv + ["--inner-sigma0", "0.15"])
    assert (folder / "run.sqlite").stat().st_mtime_ns == before
    assert sorted(p.name for p in (tmp / "runs").iterdir()) == ["eyeriss-full-alexnet-seed0"]


def test_run_state_of_a_finished_run(tiny):
    """What a run folder needs for a config: reused as it is, extended to a larger budget, never cut down."""
    from dataclasses import replace

    from experiments.run_folders import OtherSettingsError, run_state
    from naas.hardware_search import HardwareSearchConfig

    tmp, _ = tiny
    folder = tmp / "runs" / "eyeriss-full-alexnet-seed0"
    with RunStore(folder, create=False) as store:
        config = HardwareSearchConfig.from_dict(store.get_meta("config"))
    assert run_state(folder, config) == "complete"
    assert run_state(folder, replace(config, budget=config.budget + 8)) == "extend"
    assert run_state(tmp / "runs" / "none-here", config) == "absent"
    with pytest.raises(OtherSettingsError, match="budget: 8 there, 7 asked for"):
        run_state(folder, replace(config, budget=config.budget - 1))
    with pytest.raises(OtherSettingsError, match="seed: 0 there, 1 asked for"):
        run_state(folder, replace(config, seed=1))


def test_full_over_sizing_is_the_geomean_of_per_seed_ratios():
    rows = [{"baseline": "eyeriss", "networks": "a,b", "seed": s, "mode": m, "baseline mapping": "dataflow",
             "EDP reduction": v} for s, m, v in [(0, "sizing", 1.0), (0, "full", 2.0), (1, "sizing", 2.0),
                                                   (1, "full", 2.0)]]
    (line,) = nvb.full_over_sizing(pd.DataFrame(rows), "dataflow")
    assert f"{math.sqrt(2):.3g}x" in line and "per seed 2 / 1" in line


def test_run_without_final_recosting_compares_as_ranked(tmp_path):
    """A run stored without a final re-costing: both settings use the costs the search ranked designs by."""
    from naas.hardware_search import HardwareSearchConfig, run_hardware_search

    cfg = HardwareSearchConfig(baseline="shidiannao", networks=("alexnet",), budget=8, inner_budget=40,
                               final_budget=0)  # 0: no final re-costing
    run_hardware_search(cfg, tmp_path / "run")
    tables = nvb.compare_settings(tmp_path / "run", ("dataflow", "best"))
    store = RunStore(tmp_path / "run", create=False)
    try:
        assert final_costs_of(store) is None
        ranked = comparison_table(store).set_index("network")
    finally:
        store.close()
    best = tables["best"].set_index("network")
    for c in ("baseline EDP", "NAAS EDP", "speedup", "energy saving", "max speedup"):
        assert best.loc["alexnet", c] == pytest.approx(ranked.loc["alexnet", c], rel=1e-12)
    df = tables["dataflow"].set_index("network")
    cost = evaluate_network(get_network("alexnet"), load_accelerator("shidiannao"), default_mapping, "default")
    assert df.loc["alexnet", "baseline EDP"] == pytest.approx(cost.edp, rel=1e-12)
    assert df.loc["alexnet", "NAAS EDP"] == best.loc["alexnet", "NAAS EDP"]


def test_a_published_hierarchy_baseline_at_its_dataflow(tmp_path):
    """eyeriss-hier: the paper's setting costs it with Eyeriss's dataflow rules on every level; the strict one
    at its best searched mapping, never worse."""
    from cost_model.hierarchy_yaml import load_hierarchy
    from cost_model.nest_network import evaluate_nest_network
    from mapping.nest_default import nest_default_mapping

    nvb.main(["--quick", "--jobs", "1", "--baselines", "eyeriss-hier", "--runs", str(tmp_path / "runs"),
              "--baseline-mapping", "dataflow,best", "--tables-out", str(tmp_path / "tables")])
    _, _, per_net = _tables(tmp_path)
    rows = per_net[per_net.network == "alexnet"].set_index("baseline mapping")
    flow = load_accelerator("eyeriss").dataflow
    cost = evaluate_nest_network(get_network("alexnet"), load_hierarchy("eyeriss-hier"),
                                 lambda layer, h: nest_default_mapping(layer, h, flow))
    assert rows.loc["dataflow", "baseline EDP"] == pytest.approx(cost.edp, rel=1e-12)
    assert rows.loc["best", "baseline EDP"] <= rows.loc["dataflow", "baseline EDP"] * (1 + 1e-9)
    assert rows.loc["dataflow", "NAAS EDP"] == rows.loc["best", "NAAS EDP"]
