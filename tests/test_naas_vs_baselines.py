"""experiments/naas_vs_baselines.py --baseline-mapping: the paper's setting (baseline at its dataflow's fixed
mapping) and the strict one (baseline at its best searched mapping), on a tiny run and on the committed runs."""
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

REPO = Path(__file__).resolve().parents[1]
CURRENT = REPO / "experiments" / "results" / "naas_vs_baselines_current"
CURRENT_START = dict(warm_start="dataflows", mutants=2, inner_start=("best-default", 0.15, True))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """One quick Eyeriss search (AlexNet, 8 designs) and its --baseline-mapping dataflow,best tables."""
    tmp = tmp_path_factory.mktemp("nvb")
    argv = ["--quick", "--jobs", "1", "--baselines", "eyeriss", "--out", str(tmp / "runs"),
            "--baseline-mapping", "dataflow,best", "--tables-out", str(tmp / "tables")]
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
    assert not (tmp / "runs" / "summary.csv").exists()  # the default output is not (over)written
    assert (tmp / "tables" / "tables-dataflow+best.md").read_text().count("| eyeriss") >= 2


def test_baseline_mapping_option():
    assert nvb.parse_settings("dataflow,best") == ("dataflow", "best")
    assert nvb.parse_settings("best") == ("best",)
    assert nvb.parse_settings(None) == ()
    for bad in ("maestro", "best,best", "dataflow,"):
        with pytest.raises(argparse.ArgumentTypeError, match="allowed: dataflow, best"):
            nvb.parse_settings(bad)


@pytest.mark.skipif(not CURRENT.is_dir(), reason="committed runs not present")
def test_committed_runs_are_found_and_read_as_committed():
    summary = pd.read_csv(CURRENT / "summary.csv")
    for _, r in summary.iterrows():
        folder = nvb.run_folder(CURRENT, r.baseline, tuple(r.networks.split(",")), r["mode"], int(r.seed),
                                **CURRENT_START)
        assert (folder / "run.sqlite").is_file(), folder  # so the script reuses them instead of searching
    r = summary.iloc[0]
    folder = nvb.run_folder(CURRENT, r.baseline, tuple(r.networks.split(",")), r["mode"], int(r.seed),
                            **CURRENT_START)
    tables = nvb.compare_settings(folder, ("dataflow", "best"))
    best = tables["best"].set_index("network").loc["geomean"]
    assert best["speedup"] == pytest.approx(r.speedup, rel=1e-12)
    assert best["energy saving"] == pytest.approx(r["energy saving"], rel=1e-12)
    df = tables["dataflow"].set_index("network")
    acc = load_accelerator(r.baseline)
    for net in r.networks.split(","):
        cost = evaluate_network(get_network(net), acc, default_mapping, "default")
        assert df.loc[net, "baseline EDP"] == pytest.approx(cost.edp, rel=1e-12)
        assert df.loc[net, "NAAS EDP"] == tables["best"].set_index("network").loc[net, "NAAS EDP"]


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
                               final_budget=None)
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

    nvb.main(["--quick", "--jobs", "1", "--baselines", "eyeriss-hier", "--out", str(tmp_path / "runs"),
              "--baseline-mapping", "dataflow,best", "--tables-out", str(tmp_path / "tables")])
    _, _, per_net = _tables(tmp_path)
    rows = per_net[per_net.network == "alexnet"].set_index("baseline mapping")
    flow = load_accelerator("eyeriss").dataflow
    cost = evaluate_nest_network(get_network("alexnet"), load_hierarchy("eyeriss-hier"),
                                 lambda layer, h: nest_default_mapping(layer, h, flow))
    assert rows.loc["dataflow", "baseline EDP"] == pytest.approx(cost.edp, rel=1e-12)
    assert rows.loc["best", "baseline EDP"] <= rows.loc["dataflow", "baseline EDP"] * (1 + 1e-9)
    assert rows.loc["dataflow", "NAAS EDP"] == rows.loc["best", "NAAS EDP"]
