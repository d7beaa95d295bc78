"""Co-search: the nested loop's invariants, resume, executors, the CLI and the report."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from naas.cli import main
from cost_model.accelerator import load_accelerator
from mapping.network_search import SearchSettings, final_portfolio, search_network_best_of
from naas.joint_search import (ACCURACY_TOLERANCE, CosearchConfig, _network_key, low_mac_subnets,
                          reference_subnet, run_cosearch)
from naas.cosearch_report import cosearch_table, pareto_front
from nn_space.accuracy import load_predictor
from nn_space.zoo import get_network
from naas.executor import LocalProcessExecutor
from naas.errors import RunFolderError
from naas.run_store import RunStore

TINY = dict(space="ofa-resnet50", baseline="eyeriss", budget=5, popsize=2, inner_budget=40,
            subnet_population=4, subnet_generations=1, seed_subnets=2, final_budget=80, elite_mutants=1,
            inner_start="best-default", inner_sigma0=0.15, final_portfolio=True, seed_generations=6,
            warm_start="baseline")


def _rows(folder):
    store = RunStore(folder)
    try:
        d = store.designs()[["generation", "genome_key", "fitness", "error"]]
        s = store.subnets()[["design_id", "rank", "config", "accuracy", "edp"]]
        return d.to_dict("records"), s.to_dict("records")
    finally:
        store.close()


@pytest.fixture(scope="module")
def tiny_run(ofa_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("co") / "run"
    best = run_cosearch(CosearchConfig(**TINY), folder, data_dir=str(ofa_data))
    return folder, best


def test_every_costed_subnet_meets_the_bound(tiny_run):
    folder, best = tiny_run
    store = RunStore(folder)
    try:
        subs = store.subnets()
        bound = store.get_meta("accuracy_bound")
        assert store.count() == 5
    finally:
        store.close()
    assert len(subs) > 10
    assert (subs.accuracy >= bound - ACCURACY_TOLERANCE).all()
    assert best["subnet"]["accuracy"] >= bound - ACCURACY_TOLERANCE
    # a design's fitness is its best subnet's EDP, and the reference row is ResNet-50 on Eyeriss
    assert best["fitness"] == pytest.approx(best["subnet"]["edp"])
    assert best["reference"]["config"]["d"] == [2, 1, 2, 2, 1]
    assert json.loads((folder / "best_subnet.json").read_text())["accuracy"] == best["subnet"]["accuracy"]


def test_final_costs_are_larger_budget_costs_of_reference_and_best(tiny_run, ofa_data):
    """The compared costs: ResNet-50 on Eyeriss and the best subnet on the best design, both re-costed."""
    folder, best = tiny_run
    fin = best["final"]
    assert fin["budget"] == 80 and fin["best_id"] == best["id"]
    own = SearchSettings(budget=80, seed=0, x0="best-default", sigma0=0.15)  # the search's, at 80
    assert CosearchConfig(**TINY).mapping_settings(80) == own
    searches = final_portfolio(own)  # per layer shape, the best of it and two others
    assert CosearchConfig(**TINY).final_settings(80) == searches and fin["portfolio"].count(";") == 2
    ref = search_network_best_of(get_network("resnet50"), load_accelerator("eyeriss"), searches)
    assert fin["reference"]["resnet50"]["edp"] == pytest.approx(ref.edp)
    space = load_predictor("ofa-resnet50", str(ofa_data)).space
    sub = search_network_best_of(space.layers(space.from_dict(best["subnet"]["config"])),
                                 load_accelerator(folder / "best.yaml"), searches)
    assert fin["best"]["edp"] == pytest.approx(sub.edp)
    assert fin["best"]["edp"] != pytest.approx(best["fitness"])  # not the search's (inner budget 40) cost
    store = RunStore(folder)
    try:
        table, ranked = cosearch_table(store), cosearch_table(store, final=False)
    finally:
        store.close()
    assert table.EDP.iloc[0] == pytest.approx(ref.edp) and table.EDP.iloc[-1] == pytest.approx(sub.edp)
    assert ranked.EDP.iloc[-1] == pytest.approx(best["fitness"]) == table["search EDP"].iloc[-1]
    assert list(table["mapping budget"].unique()) == [80] and list(ranked["mapping budget"].unique()) == [40]


def test_a_stored_config_is_read_whole_and_reference_network_resolved():
    """A co-search reproduces from its stored config alone: no field filled in from today's defaults."""
    from naas.errors import ConfigError

    cfg = CosearchConfig(**TINY)
    assert CosearchConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["reference_network"] == "resnet50"
    assert CosearchConfig(space="ofa-mbv3-w1.2").reference_network is None  # 'auto': the space's reference
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("axis_dims", "final_budget")}
    with pytest.raises(ConfigError, match="config: stored without axis_dims, final_budget"):
        CosearchConfig.from_dict(old)


def test_config_refuses_unknown_inner_starts():
    with pytest.raises(ValueError, match="inner_start: 'best' \\(allowed: default, best-default, random\\)"):
        CosearchConfig(**{**TINY, "inner_start": "best"})
    with pytest.raises(ValueError, match="inner_sigma0: 1.5"):
        CosearchConfig(**{**TINY, "inner_sigma0": 1.5})


@pytest.mark.parametrize("field,value,message", [
    ("seed_subnets", -1, "seed_subnets: -1 \\(allowed: an integer >= 0\\)"),
    ("seed_generations", 2.5, "seed_generations: 2.5 \\(allowed: an integer >= 0\\)"),
    ("seed_restarts", 0, "seed_restarts: 0 \\(allowed: an integer >= 1\\)"),
])
def test_config_refuses_bad_seed_subnet_search(field, value, message):
    with pytest.raises(ValueError, match=message):
        CosearchConfig(**{**TINY, field: value})


def test_low_mac_subnets_are_distinct_feasible_networks_lowest_first(ofa_data):
    predictor = load_predictor("ofa-resnet50", str(ofa_data))
    space = predictor.space
    ref = reference_subnet(space)
    bound = predictor.predict_one(ref)
    # stem widths 0.65 and 0.8 round to the same 24-channel middle conv: one network, two configs
    twin = space.from_dict({**ref.to_dict(), "w": [1] + ref.to_dict()["w"][1:]})
    low = space.from_dict({**ref.to_dict(), "w": [0] + ref.to_dict()["w"][1:]})
    assert twin != low and _network_key(space, twin) == _network_key(space, low)

    def run(seed, **kw):
        return low_mac_subnets(predictor, bound, [ref], 5, np.random.default_rng([seed, 1]), generations=8,
                               batch=60, **kw)

    found = run(0)
    keys = [_network_key(space, s) for s in found]
    assert len(found) == 5 and len(set(keys)) == 5  # one config per network
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    assert keys[0][0] < space.layers(ref).macs
    assert (predictor.predict(found) >= bound - ACCURACY_TOLERANCE).all()
    assert run(0) == found  # reproducible
    # restarts pool their evolutions: the first restart is the one-restart search, so never worse
    one = run(0, restarts=1)
    assert _network_key(space, found[0])[0] <= _network_key(space, one[0])[0]
    assert low_mac_subnets(predictor, 0.99, [ref], 5, np.random.default_rng(0)) == []  # nothing meets it


def test_interrupted_and_resumed_equals_uninterrupted(tiny_run, ofa_data, tmp_path):
    folder, _ = tiny_run
    calls = []

    def stop_in_second_generation(p):
        calls.append(p)
        if p.generation == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_cosearch(CosearchConfig(**TINY), tmp_path / "r", data_dir=str(ofa_data),
                     progress=stop_in_second_generation)
    best = run_cosearch(None, tmp_path / "r", resume=True, data_dir=str(ofa_data))
    assert _rows(tmp_path / "r") == _rows(folder)
    assert (tmp_path / "r" / "best.yaml").read_text() == (folder / "best.yaml").read_text()
    assert best["fitness"] > 0


def test_extended_run_equals_a_run_started_with_the_larger_budget(tiny_run, ofa_data, tmp_path):
    folder, _ = tiny_run  # budget 5: the warm start and 2 generations of 2
    run_cosearch(CosearchConfig(**{**TINY, "budget": 3}), tmp_path / "x", data_dir=str(ofa_data))
    with pytest.raises(RunFolderError, match="budget: 2 is below the 3 designs"):
        run_cosearch(None, tmp_path / "x", resume=True, data_dir=str(ofa_data), budget=2)
    best = run_cosearch(None, tmp_path / "x", resume=True, data_dir=str(ofa_data), budget=5)
    assert _rows(tmp_path / "x") == _rows(folder)
    assert (tmp_path / "x" / "best.yaml").read_text() == (folder / "best.yaml").read_text()
    store = RunStore(tmp_path / "x")
    try:
        assert store.get_meta("config")["budget"] == 5
        assert store.get_meta("final")["best_id"] == best["id"]  # re-costed for the new best
    finally:
        store.close()


def test_local_processes_give_the_same_rows(tiny_run, ofa_data, tmp_path):
    folder, _ = tiny_run
    with LocalProcessExecutor(2) as ex:
        run_cosearch(CosearchConfig(**TINY), tmp_path / "p", data_dir=str(ofa_data), executor=ex)
    assert _rows(tmp_path / "p") == _rows(folder)


def test_cli_cosearch_and_report(ofa_data, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["cosearch", "--space", "ofa-resnet50", "--baseline", "eyeriss", "--budget", "3", "--popsize", "2",
               "--inner-budget", "30", "--subnet-population", "3", "--subnet-generations", "1",
               "--final-budget", "50", "--min-accuracy", "81", "--warm-start", "baseline", "--ofa-data", str(ofa_data),
               "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "bound 81.00%" in text and "predicted top-1 on OFA's holdout" in text
    assert "re-costed with 50 mapping evaluations per layer shape" in text
    store = RunStore(out)
    try:  # --elite-mutants default 2, capped below the population of 2
        config = store.get_meta("config")
        assert config["elite_mutants"] == 1
        assert (config["inner_start"], config["inner_sigma0"]) == ("best-default", 0.15)
        assert config["final_portfolio"] and store.get_meta("final")["portfolio"].count(";") == 2
    finally:
        store.close()
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "pareto.png").stat().st_size > 0
    md = (out / "report" / "comparison.md").read_text()
    assert "each mapping search starts from best-default, sigma0 0.15; re-costing: best per layer shape of" in md
    front = pd.read_csv(out / "report" / "pareto.csv")
    assert len(front) >= 1 and (front.accuracy >= 0.81 - ACCURACY_TOLERANCE).all()
    assert main(["evaluate", "-a", str(out / "best.yaml"), "-n", "resnet50", "--budget", "30"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--min-accuracy", "120"], "--min-accuracy: 120"),
    (["--space", "ofa-vgg"], "--space: 'ofa-vgg' (allowed: ofa-resnet50, ofa-mbv3-w1.2)"),
    (["--ofa-data", "/nonexistent/ofa"], "'/nonexistent/ofa' is not a folder"),
    (["--budget", "0"], "--budget: 0"),
    (["--final-budget", "-1"], "--final-budget: -1"),
    (["--elite-mutants", "8"], "--elite-mutants: 8 (allowed: below the population size, 8)"),
    (["--elite-sigma", "0"], "--elite-sigma: 0.0"),
    (["--inner-sigma0", "0"], "--inner-sigma0: 0.0 (allowed: 0 < inner_sigma0 <= 1)"),
    (["--inner-start", "best"], "--inner-start: 'best' (allowed: default, best-default, random)"),
])
def test_cli_errors(args, message, tmp_path, capsys):
    assert main(["cosearch", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


    assert not (tmp_path / "x").exists()


def test_pareto_front():
    pts = pd.DataFrame({"accuracy": [0.80, 0.82, 0.81, 0.82, 0.79], "edp": [1.0, 3.0, 2.5, 4.0, 0.5]})
    front = pareto_front(pts)
    assert list(zip(front.accuracy, front.edp)) == [(0.79, 0.5), (0.80, 1.0), (0.81, 2.5), (0.82, 3.0)]
    assert np.isfinite(front.edp).all()


def test_dataflow_warm_start_evaluates_the_starts_then_searches_from_the_best(ofa_data, tmp_path):
    from naas.hardware_space import HardwareSpace
    cfg = CosearchConfig(**{**TINY, "budget": 12, "final_budget": 0, "warm_start": "dataflows"})
    best = run_cosearch(cfg, tmp_path / "r", data_dir=str(ofa_data))
    start = HardwareSpace(load_accelerator("eyeriss"), "full").start_genomes("dataflows")
    store = RunStore(tmp_path / "r")
    try:
        designs = store.designs()
        assert [store.find(g)[0] for g in start] == list(designs[designs.generation == 0].id)
        assert list(designs.generation) == [-1] + [0] * len(start) + [1, 1]
        assert best["fitness"] == designs[designs.generation >= 0].fitness.min()
        assert store.get_meta("config")["warm_start"] == "dataflows"
    finally:
        store.close()
    with pytest.raises(ValueError, match="warm_start: 'x'"):
        CosearchConfig(warm_start="x")
