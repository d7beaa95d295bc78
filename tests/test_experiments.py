"""Experiment scripts run end to end in their quick mode and write what they promise."""
from __future__ import annotations

import io
from contextlib import redirect_stdout
from types import SimpleNamespace

import pandas as pd
import pytest

from experiments import encoding_ablation
from naas.run_store import RunStore


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path, monkeypatch):
    """Each test runs in its tmp_path: a default (relative) --runs or --out never lands in the repository."""
    monkeypatch.chdir(tmp_path)


def test_encoding_ablation_quick(tmp_path, capsys):
    encoding_ablation.main(["--quick", "--jobs", "1", "--out", str(tmp_path), "--accelerators", "eyeriss"])
    out = capsys.readouterr().out
    assert "index / importance" in out and "random / importance" in out
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert set(rows.method) == {"cma-importance", "cma-index", "random"}
    assert (tmp_path / "convergence.png").stat().st_size > 10_000
    # best-so-far network EDP never gets worse with more evaluations
    for _, g in rows.groupby(["method", "seed"]):
        edp = g.sort_values("evals_per_layer").edp.tolist()
        assert edp == sorted(edp, reverse=True)


def test_naas_vs_baselines_quick(tmp_path, capsys):
    from experiments import naas_vs_baselines
    naas_vs_baselines.main(["--quick", "--jobs", "1", "--baselines", "shidiannao", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "shidiannao" in out and "paper speedup" in out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    row = summary.iloc[0]
    assert row["EDP reduction"] == pytest.approx(row["speedup"] * row["energy saving"])
    assert (tmp_path / "out" / "summary.png").exists()
    # the run folder is in --runs (by default runs/naas_vs_baselines/quick in the working directory), named by
    # what it is; --out holds the results only
    assert (tmp_path / "runs" / "naas_vs_baselines" / "quick" / "shidiannao-full-alexnet-seed0" / "best.yaml").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.csv", "summary.png"]


def test_encoding_ablation_hardware_quick(tmp_path, capsys):
    from experiments import encoding_ablation_hardware
    encoding_ablation_hardware.main(["--quick", "--workers", "1", "--networks", "squeezenet", "--out",
                                     str(tmp_path), "--runs", str(tmp_path / "runs")])
    assert "index / importance" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "table.csv").set_index("network")
    runs = pd.read_csv(tmp_path / "runs.csv").set_index("encoding")
    row = table.loc["squeezenet"]
    assert row["index / importance"] == pytest.approx(runs.loc["index", "best EDP"] / runs.loc["importance",
                                                                                              "best EDP"])
    assert row["importance vs baseline"] == pytest.approx(runs.loc["importance", "baseline EDP"] /
                                                          runs.loc["importance", "best EDP"])
    assert (tmp_path / "convergence.png").exists()
    assert (tmp_path / "runs" / "eyeriss-squeezenet-index-seed0" / "best.yaml").exists()


@pytest.fixture(scope="module")
def quick_cosearch(tmp_path_factory, ofa_data):
    """inner_ranking --quick on an empty --runs (it makes the co-search experiment's quick co-search run
    there), then the co-search experiment --quick on the same --runs (it reuses that run, adds its
    hardware-only one)."""
    from experiments import cosearch_resnet50_eyeriss, inner_ranking

    tmp = tmp_path_factory.mktemp("cosearch")
    common = ["--quick", "--workers", "1", "--ofa-data", str(ofa_data), "--runs", str(tmp / "runs")]
    ranking, experiment = io.StringIO(), io.StringIO()
    with redirect_stdout(ranking):
        assert inner_ranking.main(common + ["--out", str(tmp / "ranking")]) == 0
    with RunStore(tmp / "runs" / "cosearch", create=False) as store:
        records = store.records()
    with redirect_stdout(experiment):
        assert cosearch_resnet50_eyeriss.main(common + ["--out", str(tmp / "out")]) == 0
    return SimpleNamespace(tmp=tmp, argv=common + ["--out", str(tmp / "out")], records=records,
                           ranking=ranking.getvalue(), experiment=experiment.getvalue())


def test_cosearch_resnet50_eyeriss_quick(quick_cosearch):
    from experiments import cosearch_resnet50_eyeriss

    tmp, argv = quick_cosearch.tmp, quick_cosearch.argv
    assert "EDP, energy, cycles at 120 mapping evaluations per layer shape" in quick_cosearch.experiment
    table = pd.read_csv(tmp / "out" / "table.csv")
    assert list(table["EDP reduction"].round(9))[0] == 1.0
    assert (table.EDP > 0).all() and (table["search EDP"] > 0).all()
    assert (tmp / "out" / "report" / "pareto.png").stat().st_size > 0
    # the two runs are in --runs, with the experiment's settings stored whole; --out holds the results only
    for name, kind in (("cosearch", "cosearch"), ("hardware-only", "search")):
        with RunStore(tmp / "runs" / name, create=False) as store:
            assert store.kind == kind
            config = store.get_meta("config")
        assert (config["warm_start"], config["elite_mutants"], config["inner_start"], config["inner_sigma0"],
                config["final_portfolio"], config["final_budget"]) == ("dataflows", 1, "best-default", 0.15, True, 0)
    assert sorted(p.name for p in (tmp / "out").iterdir()) == ["report", "table.csv"]
    # rerunning reuses both complete runs and their re-costing
    assert cosearch_resnet50_eyeriss.main(argv) == 0
    assert pd.read_csv(tmp / "out" / "table.csv").equals(table)
    # other settings are not reused from the same --runs: refused before anything runs
    with pytest.raises(SystemExit, match="other settings.*inner_sigma0: 0.15 there, 0.25 asked for"):
        cosearch_resnet50_eyeriss.main(argv + ["--inner-sigma0", "0.25"])


def test_inner_ranking_quick(quick_cosearch):
    from experiments import inner_ranking

    tmp = quick_cosearch.tmp
    table = pd.read_csv(tmp / "ranking" / "table.csv")
    assert len(table) == len(inner_ranking.VARIANTS)
    assert (table["inner / final EDP (geomean)"] > 0).all() and (table["regret of its first"] >= 1).all()
    designs = pd.read_csv(tmp / "ranking" / "designs.csv")
    assert len(designs) == 4 and (designs["EDP at 120"] > 0).all()
    assert "4 designs (2 best, 2 drawn" in quick_cosearch.ranking
    # the designs: the run's two best, then two others of its later half, with the fitness the run gave them
    records = quick_cosearch.records
    fitness = {r["id"]: r["fitness"] for r in records}
    ranked = sorted((r for r in records if r["generation"] >= 0 and r["fitness"] is not None),
                    key=lambda r: (r["fitness"], r["id"]))
    assert list(designs["id"][:2]) == [r["id"] for r in ranked[:2]]
    assert len(set(designs["id"])) == 4
    assert all(designs["run fitness"][i] == fitness[designs["id"][i]] for i in range(4))
    # the co-search experiment reused the run inner_ranking made: no design added or changed
    with RunStore(tmp / "runs" / "cosearch", create=False) as store:
        assert store.records() == records


def test_speedup_bounds_quick(tmp_path, capsys):
    from experiments import speedup_bounds
    table = speedup_bounds.main(["--quick", "--jobs", "1", "--baselines", "nvdla-256,shidiannao",
                                 "--out", str(tmp_path)])
    assert "paper speedup reachable" in capsys.readouterr().out
    rows = pd.read_csv(tmp_path / "rows.csv")
    assert list(rows.baseline) == ["nvdla-256", "shidiannao"] and set(rows.network) == {"alexnet"}
    # with no DRAM limit, cycles >= floor(MACs / PEs) per layer: the bound is 1 / utilization up to rounding
    u = rows["baseline utilization, unlimited DRAM"]
    assert (rows["max speedup, unlimited DRAM"] >= 1 / u * (1 - 1e-12)).all()
    assert rows["max speedup, unlimited DRAM"].to_numpy() == pytest.approx(1 / u.to_numpy(), rel=0.01)
    assert table["paper speedup reachable"].tolist() == list(
        table["paper speedup"] <= table["max speedup"])


def test_order_sensitivity_quick(tmp_path, capsys):
    from experiments import order_sensitivity
    df = order_sensitivity.main(["--quick", "--out", str(tmp_path)])
    assert "geomean over" in capsys.readouterr().out
    assert (tmp_path / "rows.csv").exists() and (df["valid order pairs"] == 720 * 720).all()
    # the best order pair is the minimum over a set holding the searched mapping's own orders
    assert (df["searched / best order"] >= 1 - 1e-12).all()
    assert (df["median order / best"] <= df["worst order / best"] + 1e-12).all()
    # a layer with no factor > 1 above L1 has nothing for the order to change
    flat = df[(df["DRAM dims > 1"] + df["L2 dims > 1"]) == 0]
    assert (flat["worst order / best"] == 1).all()


def test_encoding_ablation_quick_on_a_hierarchy(tmp_path, capsys):
    """On a hierarchy the ablation runs the nest searches: index and importance both map every layer."""
    encoding_ablation.main(["--quick", "--jobs", "1", "--out", str(tmp_path), "--accelerators", "eyeriss-hier"])
    assert "eyeriss-hier" in capsys.readouterr().out
    rows = pd.read_csv(tmp_path / "rows.csv")
    final = rows[rows.evals_per_layer == rows.evals_per_layer.max()].set_index("method")
    assert (final.unmapped_layers == 0).all() and (final.edp < float("inf")).all()
    for _, g in rows.groupby(["method", "seed"]):
        edp = g.sort_values("evals_per_layer").edp.tolist()
        assert edp == sorted(edp, reverse=True)


# The stored configs of the runs behind experiments/results/cosearch_resnet50_eyeriss (seed 0); final_budget 0:
# neither search re-costs itself, the experiment re-costs both at --final-budget with the three-search
# portfolio (final_portfolio).
COSEARCH_SHARED = {"baseline": "eyeriss", "budget": 600, "seed": 0, "inner_budget": 300, "popsize": 8, "sigma0": 0.3,
                   "axis_dims": 3, "final_budget": 0, "warm_start": "dataflows", "elite_mutants": 2,
                   "elite_sigma": 0.05, "inner_start": "best-default", "inner_sigma0": 0.15, "final_portfolio": True}
COSEARCH = {**COSEARCH_SHARED, "space": "ofa-resnet50", "min_accuracy": None, "reference_network": "resnet50",
            "subnet_population": 16, "subnet_generations": 4, "mutate_prob": 0.1, "seed_subnets": 6,
            "seed_generations": 60, "seed_restarts": 2, "start_genomes": [], "start_subnets": [], "fixed_subnet": None}
HARDWARE_ONLY = {**COSEARCH_SHARED, "networks": ["resnet50"], "mode": "full", "encoding": "importance"}


def test_cosearch_resnet50_eyeriss_settings():
    """Every field of both searches' configs comes from the script's options (whose defaults are the committed
    results' settings), not from the config classes' defaults; runs go to runs/, not experiments/results."""
    from pathlib import Path

    from experiments import cosearch_resnet50_eyeriss as cre

    args = cre.parse_args([])
    configs = {name: c.to_dict() for name, c in cre.configs(args).items()}
    assert configs == {"cosearch": COSEARCH, "hardware-only": HARDWARE_ONLY}
    assert args.runs == Path("runs/cosearch_resnet50_eyeriss")
    assert cre.parse_args(["--quick"]).runs == Path("runs/cosearch_resnet50_eyeriss/quick")
    assert cre.parse_args(["--runs", "elsewhere"]).runs == Path("elsewhere")
    old = cre.configs(cre.parse_args(["--elite-mutants", "0", "--inner-start", "default", "--inner-sigma0", "0.25",
                                      "--no-final-portfolio", "--warm-start", "baseline"]))["cosearch"].to_dict()
    assert old == {**COSEARCH, "elite_mutants": 0, "inner_start": "default", "inner_sigma0": 0.25,
                   "final_portfolio": False, "warm_start": "baseline"}


def test_encoding_ablation_hardware_settings():
    """Both encodings' searches: every config field given by the script (the committed results' settings)."""
    from experiments import encoding_ablation_hardware as eah

    folder, config = eah.task_run(("eyeriss", "mobilenetv2", "index", 1, 97, 300, 8, "R"))
    assert str(folder) == "R/eyeriss-mobilenetv2-index-seed1"
    assert config.to_dict() == {"baseline": "eyeriss", "networks": ["mobilenetv2"], "mode": "full", "budget": 97,
                                "seed": 1, "inner_budget": 300, "popsize": 8, "sigma0": 0.3, "axis_dims": 3,
                                "final_budget": 0, "encoding": "index", "warm_start": "baseline",
                                "elite_mutants": 0, "elite_sigma": 0.05, "inner_start": "default",
                                "inner_sigma0": 0.25, "final_portfolio": False}


def test_transformer_zoo_table(tmp_path):
    from experiments import transformer_zoo
    from nn_space.zoo import get_network

    transformer_zoo.main(["--out", str(tmp_path)])
    nets = pd.read_csv(tmp_path / "zoo.csv").set_index("network")
    assert nets.loc["vit_b16", "GMACs"] == get_network("vit_b16").macs / 1e9
    assert abs(nets.loc["bert_base", "difference %"]) < 2 and abs(nets.loc["vit_b16", "difference %"]) < 2
    ops = pd.read_csv(tmp_path / "zoo_uncosted.csv")
    soft = ops[(ops.network == "gpt2_prefill") & (ops.op == "softmax")].iloc[0]
    assert soft["count"] == 12 and soft["M elements"] == 12 * 12 * 1024 * 1024 / 1e6
    assert "## Operations the model does not cost" in (tmp_path / "zoo.md").read_text()
