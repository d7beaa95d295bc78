"""Accuracy–EDP trade-off curves (issue 27): targets, both strategies, resumes, the report, the command line."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from naas.cli import main
from naas.errors import ConfigError
from naas.joint_search import CosearchConfig
from naas.run_store import RunStore
from naas.tradeoff_search import TradeoffConfig, parse_accuracies, run_tradeoff, target_folder, target_key
from naas.tradeoff_report import comparison

#: tiny settings: 2 targets, a few designs of a small outer population, short middle and inner loops
TINY = dict(space="ofa-mbv3-w1.2", baseline="eyeriss", accuracies=(0.79, 0.78), budget=6, popsize=4, inner_budget=30,
            final_budget=40, subnet_population=4, subnet_generations=1, seed_subnets=2, seed_generations=5,
            seed_restarts=1, warm_start="baseline", elite_mutants=0)


def test_accuracies_parse_as_ranges_lists_and_percentages():
    assert parse_accuracies("0.76:0.78:0.01") == (0.76, 0.77, 0.78)
    assert parse_accuracies("76:78:1") == (0.76, 0.77, 0.78)  # percentages: the step in percent too
    assert parse_accuracies("80, 0.78") == (0.8, 0.78)
    for bad, message in (("76:78:0.3", "whole number of STEPs"), ("78:76:1", "LO <= HI"), ("a:b:c", "numbers")):
        with pytest.raises(ValueError, match=message):
            parse_accuracies(bad)
    config = TradeoffConfig(accuracies="78,80,0.79,0.8")
    assert config.accuracies == (0.8, 0.79, 0.78)  # distinct, highest first


@pytest.mark.parametrize("fields, message", [
    ({}, "accuracies: none given"),
    ({"accuracies": (1.5,)}, "accuracies: 1.5"),
    ({"accuracies": (0.8,), "min_accuracy": 0.8}, "min_accuracy: 0.8 .*leave it none"),
    ({"accuracies": (0.8,), "strategy": "both"}, "strategy: 'both'"),
    ({"accuracies": (0.8,), "start_subnets": ({"resolution": 160},)}, "start_subnets: a trade-off makes"),
])
def test_config_refusals_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        TradeoffConfig(**fields)


def test_warm_cosearch_of_a_target_keeps_every_setting():
    config = TradeoffConfig(**TINY, strategy="warm")
    co = config.cosearch(0.78, ((0.5,) * 3,), ({"a": 1},))
    assert isinstance(co, CosearchConfig) and not isinstance(co, TradeoffConfig)
    assert co.min_accuracy == 0.78 and co.start_genomes == ((0.5, 0.5, 0.5),) and co.start_subnets == ({"a": 1},)
    assert co.final_budget == 0  # the curve re-costs every point itself
    same = {k: v for k, v in co.to_dict().items() if k not in ("min_accuracy", "start_genomes", "start_subnets",
                                                               "final_budget")}
    assert same == {k: v for k, v in config.to_dict().items() if k in same}


@pytest.fixture(scope="module")
def shared_run(ofa_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tradeoff") / "shared"
    curve = run_tradeoff(TradeoffConfig(**TINY), folder, data_dir=ofa_data)
    return folder, curve


def test_shared_run_keeps_each_designs_best_subnet_per_target(shared_run):
    folder, curve = shared_run
    assert list(curve.target) == [0.79, 0.78]
    assert (curve.accuracy >= curve.target - 1e-6).all() and (curve.method == "co-design").all()
    with RunStore(folder, create=False) as store:
        res, subs, designs = store.network_results(), store.subnets(), store.designs()
    fitted = designs[designs.fitness.notna()]
    for _, d in fitted.iterrows():  # fitness = geomean of the per-target EDPs; subnet rank i = target i
        r = res[res.design_id == d.id].set_index("network").edp
        assert d.fitness == pytest.approx(np.exp(np.log([r[target_key(0.79)], r[target_key(0.78)]]).mean()))
        s = subs[subs.design_id == d.id].set_index("rank")
        assert s.loc[0, "accuracy"] >= 0.79 - 1e-6 and s.loc[1, "accuracy"] >= 0.78 - 1e-6
        assert s.loc[0, "edp"] == r[target_key(0.79)] and s.loc[1, "edp"] == r[target_key(0.78)]
        assert s.loc[1, "edp"] <= s.loc[0, "edp"]  # what meets 0.79 meets 0.78: never worse at the lower target
    for _, p in curve.iterrows():  # each point: the searched design with the lowest EDP at its target
        rows = res[(res.network == target_key(p.target)) & res.design_id.isin(designs.id[designs.generation >= 0])]
        assert p.search_edp == rows.edp.min()


def test_shared_run_resumes_to_the_same_curve(shared_run, ofa_data):
    folder, curve = shared_run
    again = run_tradeoff(None, folder, resume=True, data_dir=ofa_data)
    pd.testing.assert_frame_equal(again, curve)


def test_warm_strategy_starts_each_target_from_the_higher_targets_best(ofa_data, tmp_path):
    config = TradeoffConfig(**TINY, strategy="warm")
    curve = run_tradeoff(config, tmp_path / "warm", data_dir=ofa_data)
    assert list(curve.target) == [0.79, 0.78]
    with RunStore(target_folder(tmp_path / "warm", 0, 0.79), create=False) as first:
        best = first.best()
        best_subnet = first.design_subnets(best["id"])[0]["config"]
        assert CosearchConfig.from_dict(first.get_meta("config")).start_genomes == ()
    with RunStore(target_folder(tmp_path / "warm", 1, 0.78), create=False) as second:
        stored = CosearchConfig.from_dict(second.get_meta("config"))
        assert stored.start_genomes == (tuple(best["genome"]),) and stored.min_accuracy == 0.78
        assert best_subnet in stored.start_subnets
        assert second.find(np.array(best["genome"])) is not None  # evaluated in its generation 0


def test_comparison_takes_each_references_best_point_meeting_the_target():
    frame = pd.DataFrame([
        {"method": "co-design", "target": 0.8, "name": "a", "accuracy": 0.801, "edp": 10.0},
        {"method": "network-only", "target": 0.8, "name": "b", "accuracy": 0.805, "edp": 15.0},
        {"method": "hardware-only", "target": np.nan, "name": "c", "accuracy": 0.79, "edp": 5.0},  # below: ignored
        {"method": "hardware-only", "target": np.nan, "name": "d", "accuracy": 0.81, "edp": 12.0},
        {"method": "hardware-only", "target": np.nan, "name": "e", "accuracy": 0.82, "edp": 20.0},
        {"method": "fixed network", "target": np.nan, "name": "f", "accuracy": np.nan, "edp": 1.0},  # not in space
    ])
    row = comparison(frame).iloc[0]
    assert row["network-only / co-design"] == 1.5 and row["hardware-only / co-design"] == 1.2
    assert row["hardware-only point"] == "d" and np.isnan(row["fixed network / co-design"])


def test_cli_tradeoff_and_report(ofa_data, tmp_path, capsys):
    args = ["tradeoff", "--ofa-data", str(ofa_data), "--quiet", "--references", "fixed,network",
            "--accuracies", "79:79:1"]
    for key, value in TINY.items():
        if key not in ("accuracies",):
            args += [f"--{key.replace('_', '-')}", str(value)]
    assert main(args + ["--out", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert "network-only / co-design" in out and "predicted top-1 on OFA's holdout" in out
    for name in ("curve.csv", "comparison.csv", "tradeoff.md", "tradeoff.png"):
        assert (tmp_path / "t" / name).is_file()
    curve = pd.read_csv(tmp_path / "t" / "curve.csv")
    assert set(curve.method) == {"co-design", "network-only", "fixed network"}
    assert main(["report", str(tmp_path / "t")]) == 0
    assert "co-design EDP" in capsys.readouterr().out
    import naas

    run = naas.open_run(tmp_path / "t")
    assert run.kind == "tradeoff" and run.config.accuracies == (0.79,)
    assert list(run.table().target) == [0.79] and (tmp_path / "t" / "tradeoff.png") in run.report()
    assert json.loads((tmp_path / "t" / "comparison.csv").read_text().splitlines()[1].split(",")[0]) == 0.79


@pytest.mark.parametrize("args, message", [
    (["--accuracies", "78:80:x"], "--accuracies: '78:80:x' .*numbers"),
    (["--accuracies", "0.95"], "--accuracies: 0.95 is above"),
    (["--accuracies", "0.8", "--references", "fixed,bogus"], "references: 'bogus'"),
    (["--accuracies", "0.8", "--strategy", "both"], "--strategy: 'both'"),
])
def test_cli_errors(args, message, ofa_data, tmp_path, capsys):
    assert main(["tradeoff", "--ofa-data", str(ofa_data), "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and __import__("re").search(message, err), err
    assert not (tmp_path / "x").exists()  # nothing created for a refused config


def test_local_processes_give_the_same_rows(shared_run, ofa_data, tmp_path):
    from naas.executor import make_executor

    folder, curve = shared_run
    with make_executor(2, None) as executor:
        again = run_tradeoff(TradeoffConfig(**TINY), tmp_path / "two", data_dir=ofa_data, executor=executor)
    pd.testing.assert_frame_equal(again.drop(columns=["run", "seconds"]), curve.drop(columns=["run", "seconds"]))
    with RunStore(folder, create=False) as a, RunStore(tmp_path / "two", create=False) as b:
        pd.testing.assert_frame_equal(a.network_results(), b.network_results())
        assert (a.designs().fitness.fillna(-1) == b.designs().fitness.fillna(-1)).all()
