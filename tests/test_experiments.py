"""Experiment scripts run end to end in their quick mode and write what they promise."""
from __future__ import annotations

import pandas as pd

from experiments import encoding_ablation


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
    naas_vs_baselines.main(["--quick", "--jobs", "1", "--baselines", "shidiannao", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "shidiannao" in out and "paper speedup" in out
    summary = pd.read_csv(tmp_path / "summary.csv")
    row = summary.iloc[0]
    assert row["EDP reduction"] == __import__("pytest").approx(row["speedup"] * row["energy saving"])
    assert (tmp_path / "summary.png").exists() and (tmp_path / "shidiannao-full-alexnet-seed0" / "best.yaml").exists()


def test_encoding_ablation_hardware_quick(tmp_path, capsys):
    import pytest

    from experiments import encoding_ablation_hardware
    encoding_ablation_hardware.main(["--quick", "--workers", "1", "--networks", "squeezenet", "--out",
                                     str(tmp_path)])
    assert "index / importance" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "table.csv").set_index("network")
    runs = pd.read_csv(tmp_path / "runs.csv").set_index("encoding")
    row = table.loc["squeezenet"]
    assert row["index / importance"] == pytest.approx(runs.loc["index", "best EDP"] / runs.loc["importance",
                                                                                              "best EDP"])
    assert row["importance vs baseline"] == pytest.approx(runs.loc["importance", "baseline EDP"] /
                                                          runs.loc["importance", "best EDP"])
    assert (tmp_path / "convergence.png").exists()
    assert (tmp_path / "runs" / "squeezenet-index-seed0" / "best.yaml").exists()


def test_cosearch_resnet50_eyeriss_quick(tmp_path, capsys, ofa_data):
    from experiments import cosearch_resnet50_eyeriss
    assert cosearch_resnet50_eyeriss.main(["--quick", "--workers", "1", "--ofa-data", str(ofa_data),
                                           "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "EDP, energy, cycles at 120 mapping evaluations per layer shape" in text
    table = pd.read_csv(tmp_path / "table.csv")
    assert list(table["EDP reduction"].round(9))[0] == 1.0
    assert (table.EDP > 0).all() and (table["search EDP"] > 0).all()
    assert (tmp_path / "report" / "pareto.png").stat().st_size > 0
    # rerunning reuses both complete runs and their re-costing
    assert cosearch_resnet50_eyeriss.main(["--quick", "--workers", "1", "--ofa-data", str(ofa_data),
                                           "--out", str(tmp_path)]) == 0
    assert pd.read_csv(tmp_path / "table.csv").equals(table)


def test_inner_ranking_quick(tmp_path, capsys):
    from experiments import inner_ranking
    assert inner_ranking.main(["--quick", "--workers", "1", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "table.csv")
    assert len(table) == len(inner_ranking.VARIANTS)
    assert (table["inner / final EDP (geomean)"] > 0).all() and (table["regret of its first"] >= 1).all()
    designs = pd.read_csv(tmp_path / "designs.csv")
    assert len(designs) == 4 and (designs["EDP at 120"] > 0).all()
    assert "4 designs (2 best, 2 drawn" in capsys.readouterr().out


def test_speedup_bounds_quick(tmp_path, capsys):
    import pytest

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
