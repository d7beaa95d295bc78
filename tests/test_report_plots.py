"""Report plots and tables a person can read: ratio bars equal the table, no NaN in geomean rows, the
co-search front says when the predictor saturates, legends only for what is drawn, arrays of any design."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from naas.cosearch_report import _front_figure, saturation_note  # noqa: E402
from naas.designs import design_to_dict, load_design  # noqa: E402
from naas.hardware_search import HardwareSearchConfig  # noqa: E402
from naas.report import (_compared_costs, _draw_array, _edp_and_energy_figure, comparison_table,  # noqa: E402
                         summary, write_report)
from naas.run_store import RESULT_FIELDS, RunStore  # noqa: E402
from naas.sweep_report import _tradeoff_figure  # noqa: E402

NETS = ("alexnet", "mobilenetv2", "squeezenet")


def _result(edp: float, util: float = 0.5, scale: float = 1.0) -> dict:
    r = {f: scale for f in RESULT_FIELDS}
    r.update(energy=edp ** 0.5 * 5 * scale, cycles=edp ** 0.5 / 5, edp=edp, utilization=util)
    for k, lvl in enumerate(("mac", "l1", "noc", "l2", "dram")):
        r[f"energy_{lvl}"] = r["energy"] * (0.1, 0.4, 0.0, 0.2, 0.3)[k]  # no NoC energy
    return r


def _tiny_run(folder, base: dict, best: dict, networks=NETS) -> None:
    """A search run store written by hand: the baseline (generation -1) and one searched design."""
    cfg = HardwareSearchConfig(baseline="eyeriss", networks=networks, inner_budget=20, final_budget=0)
    acc = design_to_dict(load_design("eyeriss"))
    store = RunStore(folder)
    try:
        store.set_meta("kind", "search")
        store.set_meta("config", cfg.to_dict())
        geo = lambda res: math.exp(np.mean([math.log(r["edp"]) for r in res.values()]))  # noqa: E731
        store.add_design(-1, np.full(3, -1.0), acc, geo(base), base, None, 0.1)
        store.add_design(0, np.full(3, 0.5), {**acc, "name": "eyeriss-naas"}, geo(best), best, None, 0.1)
    finally:
        store.close()


def _geomean_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "geomean" in line]


def test_ratio_bars_equal_the_tables_ratios(tmp_path):
    base = {n: _result(e) for n, e in zip(NETS, (4e12, 9e12, 2.5e13))}
    best = {n: _result(e) for n, e in zip(NETS, (2e12, 1e12, 2.5e13))}
    _tiny_run(tmp_path, base, best)
    store = RunStore(tmp_path, create=False)
    try:
        table = comparison_table(store)
        b, s, _ = _compared_costs(store)
    finally:
        store.close()
    fig = _edp_and_energy_figure(table, b, s, "eyeriss", "as ranked")
    try:
        ratio_ax, energy_ax = fig.axes[:2]
        heights = [p.get_height() for p in ratio_ax.patches]
        assert heights == pytest.approx(list(table["EDP reduction"]), rel=1e-12)  # 3 networks, then the geomean
        assert heights[:3] == pytest.approx([2.0, 9.0, 1.0])
        texts = [t.get_text() for t in ratio_ax.texts]
        assert texts == [f"{v:.2f}x" for v in table["EDP reduction"]]
        assert ratio_ax.get_yscale() == "linear" and ratio_ax.get_ylim()[0] == 0
        assert any(np.allclose(line.get_ydata(), 1.0) for line in ratio_ax.lines)  # the line at 1.0
        # energy: linear, shares of the baseline's total; the legend names only the classes with energy
        assert energy_ax.get_yscale() == "linear"
        legend = [t.get_text() for t in energy_ax.get_legend().get_texts()]
        assert legend and not any("NoC" in t for t in legend) and len(legend) == 4
    finally:
        plt.close(fig)


def test_no_nan_in_geomean_rows(tmp_path):
    """A network the baseline failed on, a NaN utilization: the geomean is over the finite values, says so,
    and no geomean row the report prints or writes holds 'nan'."""
    base = {n: _result(e) for n, e in zip(NETS[:2], (4e12, 9e12))}  # no squeezenet: it failed on the baseline
    best = {n: _result(e, util=math.nan if n == "alexnet" else 0.5) for n, e in zip(NETS, (2e12, 1e12, 5e12))}
    _tiny_run(tmp_path, base, best)
    store = RunStore(tmp_path, create=False)
    try:
        table = comparison_table(store)
    finally:
        store.close()
    geo = table.iloc[-1]
    assert geo.network.startswith("geomean") and "squeezenet" in geo.network and "alexnet" in geo.network
    assert geo["EDP reduction"] == pytest.approx(math.sqrt(2.0 * 9.0))  # over the two finite networks
    assert geo["NAAS util"] == pytest.approx(0.5)  # over mobilenetv2 and squeezenet
    for v in geo.drop("network"):
        assert isinstance(v, str) or math.isfinite(v)
    files = write_report(tmp_path)
    assert {f.name for f in files} >= {"comparison.md", "comparison.csv", "edp_and_energy.png", "array.png"}
    for name in ("comparison.md", "comparison.csv"):
        lines = _geomean_lines((tmp_path / "report" / name).read_text())
        assert len(lines) == 1 and "nan" not in lines[0].lower()
    lines = _geomean_lines(summary(tmp_path))
    assert len(lines) == 1 and "nan" not in lines[0].lower()


def test_geomean_row_of_a_clean_run_is_plain_and_has_every_column(tmp_path):
    base = {n: _result(e, util=0.4) for n, e in zip(NETS[:2], (4e12, 9e12))}
    best = {n: _result(e, util=0.6) for n, e in zip(NETS[:2], (2e12, 1e12))}
    _tiny_run(tmp_path, base, best, NETS[:2])
    store = RunStore(tmp_path, create=False)
    try:
        table = comparison_table(store)
    finally:
        store.close()
    geo = table.set_index("network").loc["geomean"]  # scripts read it by this label
    assert geo["baseline EDP"] == pytest.approx(6e12) and geo["NAAS EDP"] == pytest.approx(math.sqrt(2e24))
    assert geo["baseline util"] == pytest.approx(0.4) and geo["NAAS util"] == pytest.approx(0.6)
    assert table.drop(columns="network").notna().all().all()


def _points(accuracy) -> pd.DataFrame:
    n = len(accuracy)
    rng = np.random.default_rng(0)
    return pd.DataFrame({"design_id": [1] + [2 + i // 3 for i in range(n - 1)],
                         "rank": [0] + [i % 3 for i in range(n - 1)],
                         "generation": [-1] + [0] * (n - 1), "accuracy": accuracy,
                         "macs": rng.uniform(2e9, 4e9, n), "edp": rng.uniform(1e17, 1e18, n)})


def _figure_texts(fig) -> str:
    """Every text on the figure's axes, line breaks of wrapped text as spaces."""
    return "\n".join(t.get_text().replace("\n", " ") for ax in fig.axes for t in ax.texts)


@pytest.mark.parametrize("accuracy, saturated", [
    ([0.829870] * 9, True),
    (list(0.8298700 - np.linspace(0, 9e-7, 9)), True),  # ofa-resnet50: float noise around 0.829870
    (list(np.linspace(0.76, 0.80, 9)), False),
    ([0.79] + [0.80] * 8, False),  # 1e-2 apart
])
def test_saturation_note_only_when_the_predictor_saturates(accuracy, saturated):
    note = saturation_note(accuracy)
    assert (note is not None) == saturated
    config = {"space": "ofa-resnet50", "baseline": "eyeriss", "inner_budget": 20}
    fig = _front_figure(_points(accuracy), min(accuracy), config, 2, "pJ")
    try:
        texts = _figure_texts(fig)
        assert ("predictor saturates" in texts) == saturated
        if saturated:
            assert "the accuracy axis carries no information here" in texts and "0.829870" in texts
            assert f"{max(accuracy) - min(accuracy):.1e}" in note
        acc_ax = fig.axes[0]
        assert "holdout" in acc_ax.get_ylabel().replace("\n", " ")
        assert acc_ax.get_xlabel().startswith("EDP [pJ x cycles]")
        macs_ax = fig.axes[1]
        assert "GMACs" in macs_ax.get_ylabel()
    finally:
        plt.close(fig)


def _legend_labels(ax) -> list[str]:
    leg = ax.get_legend()
    return [] if leg is None else [t.get_text() for t in leg.get_texts()]


def _drawn_labels(ax) -> list[str]:
    """Labels of the series with at least one finite point on ``ax``."""
    out = []
    for h in ax.collections + ax.lines:
        label = h.get_label()
        if label.startswith("_"):
            continue
        xy = np.asarray(h.get_offsets() if hasattr(h, "get_offsets") else h.get_xydata(), dtype=float)
        if len(xy) and np.isfinite(xy.reshape(-1, 2)).all(axis=1).any():
            out.append(label)
    return out


def _sweep_table(n: int, base_edp: float = 2e18) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"design": "base", "area proxy": 900.0, "energy": 7e10, "cycles": 4e7, "EDP": base_edp}]
    for _ in range(n):
        e, c = rng.uniform(6e10, 1e11), rng.uniform(2e7, 1e8)
        rows.append({"design": "sweep", "area proxy": rng.uniform(300, 2000), "energy": e, "cycles": c,
                     "EDP": e * c})
    t = pd.DataFrame(rows)
    t["front_edp_area"] = False
    if n:
        t.loc[t[t.design == "sweep"].EDP.idxmin(), "front_edp_area"] = True
    return t


@pytest.mark.parametrize("n, base_edp", [(8, 2e18), (8, math.nan), (0, 2e18), (0, math.nan)])
def test_sweep_legend_entries_equal_the_drawn_series(n, base_edp):
    table = _sweep_table(n, base_edp)
    front = table[table.front_edp_area].sort_values("area proxy")
    fig = _tradeoff_figure(table, front, "eyeriss", 256, "pJ")
    try:
        for ax in fig.axes[:1] + [a for a in fig.axes if a.get_title() == "energy vs latency"]:
            assert sorted(_legend_labels(ax)) == sorted(_drawn_labels(ax))
        ax1 = fig.axes[0]
        assert ("base (eyeriss)" in _legend_labels(ax1)) == (not math.isnan(base_edp))
        assert ("Pareto front (area, EDP)" in _legend_labels(ax1)) == bool(n)  # a one-point front is drawn
    finally:
        plt.close(fig)


@pytest.mark.parametrize("name", ["eyeriss", "eyeriss-hier", "edgetpu-hier"])
def test_array_drawing_names_every_fanout_axis(tmp_path, name, monkeypatch):
    """3-level designs and hierarchies with one or several fan-outs: each axis labelled with size and dims."""
    import naas.report as report
    seen = {}
    real = report._draw_fanout

    def spy(ax, y, axes, unit, used, *args):
        seen.setdefault("axes", []).extend(axes)
        return real(ax, y, axes, unit, used, *args)

    monkeypatch.setattr(report, "_draw_fanout", spy)
    captured = {}
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, path, **kw: captured.setdefault("fig", fig))
    design = load_design(name)
    cfg = HardwareSearchConfig(baseline=name, networks=("alexnet",), inner_budget=10)
    _draw_array({"id": 3, "accelerator": design_to_dict(design)}, cfg, tmp_path / "array.png")
    fig = captured["fig"]
    texts = _figure_texts(fig) + "\n".join(ax.get_title() for ax in fig.axes)
    axes = [a for lv in design.levels for a in lv.fanout] if hasattr(design, "levels") else list(design.array)
    assert len(seen["axes"]) == len(axes)
    for a in axes:
        assert f"{a.size} x ({', '.join(a.dims)})" in texts
    assert f"(design 3) under {name}'s resources" in texts and "DRAM" in texts
    assert "iB" in texts  # buffer sizes with units (KiB, MiB)
    plt.close(fig)
