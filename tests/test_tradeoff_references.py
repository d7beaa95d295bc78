"""Reference curves of the accuracy–EDP trade-off (issue 27): published networks, fixed / hardware-only /
network-only points (tiny budgets)."""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pandas as pd
import pytest

from cost_model.accelerator import load_accelerator
from mapping.network_search import MappingCache, search_network_best_of
from naas.errors import ConfigError, RunFolderError
from naas.joint_search import ACCURACY_TOLERANCE, CosearchConfig
from naas.run_store import RunStore
from naas.tradeoff_references import (COLUMNS, RESNET50_CONFIG, FixedNetwork, final_searches, fixed_points,
                                      hardware_only_points, network_only_points, published_networks)
from nn_space.accuracy import load_predictor
from nn_space.ofa_spaces import layers_from_mbv3_net_config

SPACE = "ofa-mbv3-w1.2"
TINY = dict(space=SPACE, baseline="eyeriss", budget=6, popsize=3, inner_budget=30, final_budget=60,
            subnet_population=4, subnet_generations=1, seed_subnets=2, seed_generations=5, seed_restarts=1,
            warm_start="baseline", elite_mutants=1)
#: OFA's specialized MobileNetV3s that are width 1.2 networks (their net.config builds the w1.2 subnet's layers)
SAME_WIDTH = {"ofa-flops-389M": 0.791, "ofa-flops-482M": 0.796, "ofa-note10_lat-30ms": 0.784,
              "ofa-pixel1_lat-79ms": 0.787}


def check_frame(df: pd.DataFrame, method: str, rows: int) -> None:
    assert tuple(df.columns) == COLUMNS and len(df) == rows
    for col in ("target", "accuracy", "published_top1", "macs", "energy", "cycles", "edp", "seconds"):
        assert pd.api.types.is_float_dtype(df[col]), col
    for col in ("method", "name", "accuracy_source", "accelerator", "run"):
        assert all(isinstance(v, str) for v in df[col]), col
    assert (df.method == method).all()
    assert (df.accuracy_source == df.accuracy.map(lambda a: "published top-1" if math.isnan(a) else "predictor")).all()
    assert (df[["macs", "energy", "cycles", "edp", "seconds"]] >= 0).all().all()
    assert (df.edp == df.energy * df.cycles).all()


def test_columns_are_the_trade_off_curves():
    tradeoff = pytest.importorskip("naas.tradeoff_search")
    assert tradeoff.COLUMNS == COLUMNS


def test_published_mobilenetv3s(ofa_data):
    pred = load_predictor(SPACE, ofa_data)
    nets = published_networks(SPACE, ofa_data)
    assert [n.name for n in nets[:2]] == ["mobilenetv2", "mnasnet"]
    assert [(n.accuracy, n.published_top1, n.subnet) for n in nets[:2]] == [(None, 0.72, None), (None, 0.752, None)]
    ofa = nets[2:]
    assert len(ofa) == 17 and len({n.name for n in ofa}) == 17
    folders = {f"ofa-{p.name.split('_top1')[0]}": p.name for p in (ofa_data / "specialized").iterdir()}
    for n in ofa:
        sub = pred.space.from_dict(n.subnet)
        assert n.accuracy == pred.predict_one(sub) and n.network.macs == pred.space.layers(sub).macs
        assert n.published_top1 == SAME_WIDTH.get(n.name)  # none for the width-1.0 ones
        config = json.loads((ofa_data / "specialized" / folders[n.name] / "net.config").read_text())
        assert pred.space.subnet_from_net_config(config, sub.resolution) == sub
    loose = {n.name: n.published_top1 for n in published_networks(SPACE, ofa_data, variant_top1=True)}
    assert loose["ofa-note10_lat-8ms"] == 0.714 and loose["ofa-s7edge_lat-88ms"] == 0.763
    assert all(loose[name] == top1 for name, top1 in SAME_WIDTH.items())
    window = published_networks(SPACE, ofa_data, window=(0.74, 0.80))  # accuracy, or else published top-1
    assert {n.name for n in window} == {"mnasnet"} | {n.name for n in ofa if 0.74 <= n.accuracy <= 0.80}


def test_published_resnet50s(ofa_data):
    pred = load_predictor("ofa-resnet50", ofa_data)
    zoo, config = published_networks("ofa-resnet50", ofa_data)
    assert (zoo.name, zoo.accuracy, zoo.published_top1, zoo.subnet) == ("resnet50", None, 0.7613, None)
    assert zoo.network.macs == 4089184256  # torchvision's
    assert config.name == RESNET50_CONFIG and config.published_top1 is None
    assert config.accuracy == pred.predict_one(pred.space.resnet50())
    assert config.subnet == pred.space.resnet50().to_dict()


def test_fixed_points_are_the_networks_each_costed_alone(ofa_data):
    nets = [n for n in published_networks(SPACE, ofa_data) if n.name in ("mobilenetv2", "ofa-note10_lat-8ms")]
    df = fixed_points(SPACE, "eyeriss", nets, 60, 3, ofa_data)
    check_frame(df, "fixed network", 2)
    assert (df.accelerator == "eyeriss").all() and df.target.isna().all() and (df.run == "").all()
    searches = CosearchConfig(seed=3).final_settings(60)
    assert final_searches(None, 60, 3) == searches and len(searches) == 3
    acc = load_accelerator("eyeriss")
    for n, row in zip(nets, df.itertuples()):
        alone = search_network_best_of(n.network, acc, searches, MappingCache())  # its own cache, unbatched
        assert (row.name, row.macs, row.energy, row.cycles) == (n.name, n.network.macs, alone.energy, alone.cycles)
    assert math.isnan(df.accuracy[0]) and df.published_top1[0] == 0.72
    assert df.accuracy[1] == nets[1].accuracy and math.isnan(df.published_top1[1])


@pytest.fixture(scope="module")
def hardware_only(ofa_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("hw")
    nets = [n for n in published_networks(SPACE, ofa_data) if n.name in ("mobilenetv2", "ofa-note10_lat-8ms")]
    return runs, nets, hardware_only_points(SPACE, "eyeriss", nets, CosearchConfig(**TINY), runs, ofa_data)


def test_hardware_only_of_a_pinned_subnet_costs_only_it(hardware_only, ofa_data):
    runs, nets, df = hardware_only
    check_frame(df, "hardware-only", 2)
    assert list(df.name) == ["mobilenetv2", "ofa-note10_lat-8ms"]
    assert list(df.run) == [str(runs / "hardware-only-mobilenetv2"), str(runs / "hardware-only-ofa-note10_lat-8ms")]
    assert all("(" in a and a != "eyeriss" for a in df.accelerator)  # the searched arrays
    with RunStore(runs / "hardware-only-ofa-note10_lat-8ms", create=False) as store:
        assert store.kind == "cosearch" and store.count() >= TINY["budget"]
        assert set(store.subnets().config) == {json.dumps(nets[1].subnet)}
        final = store.get_meta("final")
    assert df.accuracy[1] == nets[1].accuracy and df.macs[1] == nets[1].network.macs
    assert df.edp[1] == final["best"]["edp"]
    # the run's reference (the subnet on the baseline, final re-costing) is the fixed point of the subnet
    fixed = fixed_points(SPACE, "eyeriss", nets, TINY["final_budget"], 0, ofa_data, CosearchConfig(**TINY))
    assert fixed.edp[1] == final["reference"]["reference-subnet"]["edp"]
    with RunStore(runs / "hardware-only-mobilenetv2", create=False) as store:
        assert store.kind == "search" and store.get_meta("config")["networks"] == ["mobilenetv2"]
        assert store.get_meta("final")["baseline"]["networks"]["mobilenetv2"]["edp"] == fixed.edp[0]


def test_hardware_only_is_resumable_and_refuses_other_settings(hardware_only, ofa_data):
    runs, nets, df = hardware_only
    again = hardware_only_points(SPACE, "eyeriss", nets, CosearchConfig(**TINY), runs, ofa_data)
    pd.testing.assert_frame_equal(again.drop(columns="seconds"), df.drop(columns="seconds"))
    assert (again.seconds < 0.5).all()
    new = [n for n in published_networks(SPACE, ofa_data) if n.name == "mnasnet"]
    with pytest.raises(RunFolderError, match="other settings.*seed: 0 there, 1 asked for"):
        hardware_only_points(SPACE, "eyeriss", new + nets, replace(CosearchConfig(**TINY), seed=1), runs, ofa_data)
    assert not (runs / "hardware-only-mnasnet").exists()  # refused before any search started
    with RunStore(runs / "hardware-only-mobilenetv2", create=False) as store:
        assert store.get_meta("config")["seed"] == 0
    # a larger budget extends the runs (one more generation each)
    more = hardware_only_points(SPACE, "eyeriss", nets, replace(CosearchConfig(**TINY), budget=9), runs, ofa_data)
    assert list(more.name) == list(df.name)
    for folder in more.run:
        with RunStore(folder, create=False) as store:
            assert store.get_meta("config")["budget"] == 9 and store.count() >= 9


def test_hardware_only_refuses_a_network_outside_space_and_zoo(ofa_data, tmp_path):
    config = json.loads(next((ofa_data / "specialized").glob("note10_lat-8ms*/net.config")).read_text())
    own = FixedNetwork("note10 w1.0", layers_from_mbv3_net_config(config, 160), None, 0.714, None)
    with pytest.raises(ConfigError, match="neither a subnet of the space nor the built-in network"):
        hardware_only_points(SPACE, "eyeriss", [own], CosearchConfig(**TINY), tmp_path, ofa_data)
    with pytest.raises(ConfigError, match="final_budget"):
        hardware_only_points(SPACE, "eyeriss", [own], CosearchConfig(**{**TINY, "final_budget": 0}), tmp_path,
                             ofa_data)
    assert not any(tmp_path.iterdir())


def test_network_only_meets_each_target(ofa_data):
    pred = load_predictor(SPACE, ofa_data)
    top = pred.predict_one(pred.space.largest(224))
    targets = [0.78, 0.83]
    df = network_only_points(SPACE, "eyeriss", targets, CosearchConfig(**TINY), ofa_data)
    check_frame(df, "network-only", 2)
    assert list(df.target) == targets and (df.accelerator == "eyeriss").all()
    assert (df.accuracy >= df.target - ACCURACY_TOLERANCE).all() and (df.accuracy <= top).all()
    subs = [pred.space.from_dict(s) for s in df.attrs["subnets"]]
    assert list(df.accuracy) == [pred.predict_one(s) for s in subs]
    assert list(df.macs) == [pred.space.layers(s).macs for s in subs]
    assert df.macs[1] > df.macs[0]  # a higher target needs a larger network
    assert all(0 < n <= TINY["subnet_population"] * (TINY["subnet_generations"] + 1) for n in df.attrs["costed"])


def test_network_only_with_given_seeds_is_deterministic_and_runs_longer(ofa_data):
    config = CosearchConfig(**TINY)
    one = network_only_points(SPACE, "eyeriss", [0.79], config, ofa_data, seeds=[[]])  # the reference alone
    again = network_only_points(SPACE, "eyeriss", [0.79], config, ofa_data, seeds=[[]])
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), again.drop(columns="seconds"))
    assert one.accuracy[0] >= 0.79 - ACCURACY_TOLERANCE
    longer = network_only_points(SPACE, "eyeriss", [0.79], config, ofa_data, generations=3, seeds=[[]])
    per_design = TINY["subnet_population"] * (TINY["subnet_generations"] + 1)
    assert one.attrs["costed"][0] <= per_design < longer.attrs["costed"][0] <= 3 * per_design
    with pytest.raises(ValueError, match="seeds: 1 lists for 2 targets"):
        network_only_points(SPACE, "eyeriss", [0.78, 0.79], config, ofa_data, seeds=[[]])
