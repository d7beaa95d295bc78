"""NAAS hardware search: run store atomicity, exact resume after SIGKILL (real processes), CLI."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from cost_model.accelerator import load_accelerator
from naas.errors import RunFolderError
from naas.hardware_search import HardwareSearchConfig, run_hardware_search
from naas.hardware_space import HardwareSpace
from naas.outer_loop import elite_mutants, new_optimizer
from naas.run_store import NoRunError, RunStore, genome_key

CONFIG = HardwareSearchConfig(baseline="shidiannao", networks=("alexnet",), mode="full", budget=24, seed=3,
                              inner_budget=150, popsize=4, final_budget=400,
                              warm_start="baseline", inner_start="default", inner_sigma0=0.25, final_portfolio=False)


def cli_args(cfg: HardwareSearchConfig, out) -> list[str]:
    """``naas search`` with every field of ``cfg`` as an option."""
    from naas.config_options import cli_fields

    args = [sys.executable, "-m", "naas", "search"]
    for f in cli_fields(HardwareSearchConfig):
        value, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        elif value is not None:
            args += [flag, ",".join(value) if isinstance(value, tuple) else str(value)]
    return args + ["--out", str(out), "--quiet"]


def rows(folder) -> list[tuple]:
    db = sqlite3.connect(folder / RunStore.FILE)
    try:
        return db.execute("SELECT id, generation, genome_key, fitness FROM designs ORDER BY id").fetchall()
    finally:
        db.close()


def test_run_store_round_trip(tmp_path):
    store = RunStore(tmp_path)
    g = np.array([0.1, 0.2])
    i = store.add_design(0, g, {"name": "x"}, 2.5, {"net": {f: 1.0 for f in (
        "energy", "cycles", "edp", "utilization", "energy_mac", "energy_l1", "energy_noc", "energy_l2",
        "energy_dram")}}, None, 0.1)
    store.save_checkpoint(0, b"state")
    store.close()
    again = RunStore(tmp_path, create=False)  # an existing run opens for reading
    assert again.find(g) == (i, 2.5) and again.count() == 1
    assert again.latest_checkpoint() == (0, b"state")
    assert len(again.network_results()) == 1
    with pytest.raises(sqlite3.IntegrityError):  # a genome is stored once
        again.add_design(0, g, {}, 1.0, {}, None, 0.1)
    assert again.count() == 1  # the failed insert left nothing behind
    with pytest.raises(NoRunError, match=f"{str(tmp_path / 'other')!r} holds no run \\(no run.sqlite\\)"):
        RunStore(tmp_path / "other", create=False)
    assert not (tmp_path / "other").exists()


def test_search_beats_or_matches_its_warm_start_and_writes_best(tmp_path):
    best = run_hardware_search(CONFIG, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    designs = store.designs()
    store.close()
    warm = designs[designs.generation == 0]
    assert len(warm) == 1 and warm.id.iloc[0] == designs[designs.generation >= 0].id.min()
    assert best["fitness"] <= warm.fitness.iloc[0]
    acc = load_accelerator(tmp_path / "run" / "best.yaml")
    base = load_accelerator("shidiannao")
    assert acc.num_pes <= base.num_pes and acc.onchip_bytes <= base.onchip_bytes
    assert best["fitness"] < best["baseline_fitness"]
    with pytest.raises(RunFolderError, match="already holds a run"):
        run_hardware_search(CONFIG, tmp_path / "run")
    with pytest.raises(RunFolderError, match="holds no run"):
        run_hardware_search(None, tmp_path / "empty", resume=True)


def test_report_tables_and_plots(tmp_path):
    from naas.report import ReportError, comparison_table, write_report
    run = tmp_path / "run"
    run_hardware_search(CONFIG, run)
    files = write_report(run)
    assert {f.name for f in files} == {"comparison.csv", "designs.csv", "network_results.csv", "comparison.md",
                                       "convergence.png", "edp_and_energy.png", "array.png"}
    assert all(f.stat().st_size > 0 for f in files)
    store = RunStore(run)
    table = comparison_table(store)
    store.close()
    row = table[table.network == "alexnet"].iloc[0]
    assert row["EDP reduction"] == pytest.approx(row["baseline EDP"] / row["NAAS EDP"])
    assert row["EDP reduction"] == pytest.approx(row["speedup"] * row["energy saving"])
    assert "| alexnet" in (run / "report" / "comparison.md").read_text()
    assert "re-costed with 400 mapping evaluations" in (run / "report" / "comparison.md").read_text()
    with pytest.raises(ReportError, match="holds no run"):
        write_report(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()  # reading a folder never starts a run in it


def test_final_costs_are_fresh_larger_budget_costs_of_baseline_and_best(tmp_path):
    """The report's comparison uses baseline and best re-costed with final_budget, not the search's costs."""
    from dataclasses import replace

    from naas.hardware_search import DesignEvaluator
    from naas.report import comparison_table
    run = tmp_path / "run"
    run_hardware_search(CONFIG, run)
    store = RunStore(run)
    try:
        final, ranked = comparison_table(store), comparison_table(store, final=False)
        best_id = store.best()["id"]
        assert store.get_meta("final")["best_id"] == best_id
    finally:
        store.close()
    ev = DesignEvaluator(replace(CONFIG, inner_budget=CONFIG.final_budget))
    base_fit, base_res, _ = ev.cost(load_accelerator("shidiannao"), True)
    best_fit, best_res, _ = ev.cost(load_accelerator(run / "best.yaml"), True)
    row, ranked_row = final.iloc[0], ranked.iloc[0]
    assert row["baseline EDP"] == pytest.approx(base_res["alexnet"]["edp"], rel=1e-12)
    assert row["NAAS EDP"] == pytest.approx(best_res["alexnet"]["edp"], rel=1e-12)
    assert row["baseline EDP"] != ranked_row["baseline EDP"]  # 400 vs 150 evaluations per layer shape
    # a run whose config asks for a portfolio is re-costed with one: per layer shape the best of the
    # searches, stored as such, and computed once
    from naas.hardware_search import record_final_costs
    from mapping.network_search import final_portfolio
    with RunStore(run) as store:
        store.set_meta("config", replace(CONFIG, final_portfolio=True).to_dict())
        fin = record_final_costs(store, CONFIG.final_budget)
        assert fin["portfolio"].startswith("best per layer shape of: ") and fin["portfolio"].count(";") == 1
        assert store.get_meta("final") == fin and record_final_costs(store, CONFIG.final_budget) == fin
    searches = final_portfolio(CONFIG.mapping_settings(CONFIG.final_budget))
    assert [(s.x0, s.sigma0) for s in searches] == [("default", 0.25), ("best-default", 0.25)]
    best_of = DesignEvaluator(CONFIG, searches).cost(load_accelerator("shidiannao"), True)[1]["alexnet"]
    assert fin["baseline"]["networks"]["alexnet"]["edp"] == pytest.approx(best_of["edp"], rel=1e-12)


def test_sizing_mode_keeps_the_baselines_connectivity(tmp_path):
    cfg = HardwareSearchConfig(baseline="eyeriss", networks=("alexnet",), mode="sizing", budget=8, seed=0,
                               popsize=4)
    run_hardware_search(cfg, tmp_path / "run")
    acc = load_accelerator(tmp_path / "run" / "best.yaml")
    assert [a.dims for a in acc.array] == [a.dims for a in load_accelerator("eyeriss").array]


def test_sigkill_and_resume_equals_an_uninterrupted_run(tmp_path):
    cfg = HardwareSearchConfig(**{**CONFIG.to_dict(), "elite_mutants": 1})  # one injected design a generation
    full = tmp_path / "full"
    subprocess.run(cli_args(cfg, full), check=True, capture_output=True, timeout=600)
    reference = rows(full)
    assert len([r for r in reference if r[1] >= 0]) == 1 + 4 * 6  # warm start + ceil(23 / 4) generations

    run = tmp_path / "killed"
    proc = subprocess.Popen(cli_args(cfg, run), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    committed: list[tuple] = []
    while time.time() < deadline:
        if (run / RunStore.FILE).exists():
            try:
                committed = rows(run)
            except sqlite3.OperationalError:
                committed = []
            if len([r for r in committed if r[1] >= 0]) >= 10:  # mid third generation
                break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    before = rows(run)
    assert len(before) < len(reference), "the run finished before it could be killed"

    resumed = subprocess.run([sys.executable, "-m", "naas", "search", "--resume", str(run), "--quiet"],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    after = rows(run)
    assert after[:len(before)] == before  # nothing committed was lost or rewritten
    assert len({r[2] for r in after}) == len(after)  # nothing duplicated
    assert [(g, k, f) for _, g, k, f in after] == [(g, k, f) for _, g, k, f in reference]
    assert (run / "best.yaml").read_text() == (full / "best.yaml").read_text()


def test_cli_errors(tmp_path):
    def run(*a):
        return subprocess.run([sys.executable, "-m", "naas", "search", *a], capture_output=True, text=True,
                              timeout=120)
    for args, message in [(("--mode", "both", "--out", str(tmp_path / "a")), "--mode: 'both'"),
                          (("--networks", "resnet51", "--out", str(tmp_path / "b")), "--networks: 'resnet51' is not a built-in"),
                          (("--budget", "0", "--out", str(tmp_path / "c")), "--budget: 0"),
                          (("--resume", str(tmp_path / "none"),), "holds no run to resume"),
                          ((), "--out: a run folder is required"),
                          (("--elite-mutants", "12", "--out", str(tmp_path / "d")),  # Eyeriss: 15 genes, popsize 12
                           "--elite-mutants: 12 (allowed: below the population size, 12)"),
                          (("--elite-mutants", "-1", "--out", str(tmp_path / "e")), "--elite-mutants: -1"),
                          (("--elite-sigma", "2", "--out", str(tmp_path / "f")), "--elite-sigma: 2.0"),
                          (("--inner-sigma0", "2", "--out", str(tmp_path / "g")), "--inner-sigma0: 2.0 (allowed")]:
        proc = run(*args)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_local_processes_give_the_same_rows_as_in_process(tmp_path):
    from dataclasses import replace

    from naas.executor import LocalProcessExecutor

    cfg = replace(CONFIG, budget=9)
    run_hardware_search(cfg, tmp_path / "inline")
    with LocalProcessExecutor(2) as ex:
        run_hardware_search(cfg, tmp_path / "procs", executor=ex)
    assert rows(tmp_path / "procs") == rows(tmp_path / "inline")


def test_a_stored_config_is_read_whole_never_filled_in_from_todays_defaults():
    """A run reproduces from its stored config alone: a field missing (an older naas) is refused, not filled."""
    from naas.errors import ConfigError

    assert HardwareSearchConfig.from_dict(CONFIG.to_dict()) == CONFIG
    old = {k: v for k, v in CONFIG.to_dict().items() if k not in ("axis_dims", "final_budget")}
    with pytest.raises(ConfigError, match="config: stored without axis_dims, final_budget"):
        HardwareSearchConfig.from_dict(old)
    with pytest.raises(ConfigError, match="config: stored with unknown colour"):
        HardwareSearchConfig.from_dict({**CONFIG.to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="encoding: 'gray'"):
        HardwareSearchConfig(baseline="eyeriss", networks=("alexnet",), encoding="gray")


def test_index_encoding_runs_hardware_and_mappings_by_index(tmp_path):
    """--encoding index: index genomes for the parallel dims and cma-index for every inner mapping search."""
    from dataclasses import replace

    from naas.hardware_search import DesignEvaluator
    from naas.hardware_space import HardwareSpace

    cfg = replace(CONFIG, encoding="index", budget=9, final_budget=0)
    run_hardware_search(cfg, tmp_path / "run")
    store = RunStore(tmp_path / "run")
    try:
        designs = store.designs()
        base_fit = designs[designs.generation == -1].fitness.iloc[0]
    finally:
        store.close()
    size = HardwareSpace(load_accelerator("shidiannao"), "full", encoding="index").size
    assert size == HardwareSpace(load_accelerator("shidiannao"), "full").size - 5
    assert all(len(k) == 16 * size for k in designs[designs.generation >= 0].genome_key)  # float64 hex
    shidiannao = load_accelerator("shidiannao")
    assert DesignEvaluator(cfg).cost(shidiannao, True)[0] == pytest.approx(base_fit, rel=1e-12)
    assert DesignEvaluator(CONFIG).cost(shidiannao, True)[0] != pytest.approx(base_fit, rel=1e-6)


def test_resume_refuses_a_run_searched_over_another_genome(tmp_path):
    """A run whose optimizer state has another genome length (an older space) is refused, not corrupted."""
    from dataclasses import replace

    run = tmp_path / "run"
    run_hardware_search(replace(CONFIG, budget=5, final_budget=0), run)
    store = RunStore(run)
    n = store.count()
    store.set_meta("config", replace(CONFIG, mode="sizing", budget=20).to_dict())
    store.close()
    with pytest.raises(RunFolderError, match="searched over 15 genes; this naas's sizing space has 4"):
        run_hardware_search(None, run, resume=True)
    store = RunStore(run)
    assert store.count() == n
    store.close()


def test_cli_resume_with_a_larger_budget_extends_the_run(tmp_path):
    from dataclasses import replace

    small, large = replace(CONFIG, mode="sizing", budget=5, final_budget=0), \
        replace(CONFIG, mode="sizing", budget=13, final_budget=0)
    run_hardware_search(large, tmp_path / "whole")
    run_hardware_search(small, tmp_path / "ext")
    assert len(rows(tmp_path / "ext")) < len(rows(tmp_path / "whole"))
    done = subprocess.run([sys.executable, "-m", "naas", "search", "--resume", str(tmp_path / "ext"), "--budget",
                           "13", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert rows(tmp_path / "ext") == rows(tmp_path / "whole")
    lower = subprocess.run([sys.executable, "-m", "naas", "search", "--resume", str(tmp_path / "ext"), "--budget",
                            "9", "--quiet"], capture_output=True, text=True)
    assert lower.returncode == 2 and "--budget: 9 is below the 13 designs" in lower.stderr


def test_dataflow_warm_start_generation_zero_then_cma_from_its_best(tmp_path):
    cfg = HardwareSearchConfig(**{**CONFIG.to_dict(), "budget": 14, "final_budget": 0,
                                  "warm_start": "dataflows"})
    seen = []

    def interrupt_in_generation_zero(p):
        seen.append(p)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_hardware_search(cfg, tmp_path / "r", progress=interrupt_in_generation_zero)
    assert [p.generation for p in seen] == [0, 0, 0]
    best = run_hardware_search(None, tmp_path / "r", resume=True)
    full = run_hardware_search(cfg, tmp_path / "full")
    assert rows(tmp_path / "r") == rows(tmp_path / "full") and best["fitness"] == full["fitness"]

    space = HardwareSpace(load_accelerator("shidiannao"), "full")
    start = space.start_genomes("dataflows")
    store = RunStore(tmp_path / "full")
    try:
        designs = store.designs()
        zero = designs[designs.generation == 0]
        assert [store.find(g)[0] for g in start] == list(zero.id)  # generation 0 = the starts, in order
        n = len(start)
        assert len(designs[designs.generation >= 1]) == 4 * -(-(14 - n) // 4)  # whole generations after them
    finally:
        store.close()
    # CMA-ES started from the best start: a CMA-ES started there asks exactly generation 1's designs
    x0 = start[int(np.argmin(zero.fitness.to_numpy()))]
    assert not np.array_equal(x0, start[0])  # here a start other than the baseline is best
    X = new_optimizer(x0, cfg.sigma0, cfg.seed, cfg.popsize).ask()
    assert list(designs[designs.generation == 1].genome_key) == [genome_key(np.array(x)) for x in X]


def test_cli_warm_start_option_is_stored_and_a_budget_of_only_starts_runs_no_generation(tmp_path):
    args = cli_args(HardwareSearchConfig(**{**CONFIG.to_dict(), "budget": 6, "final_budget": 0}),
                    tmp_path / "r")
    done = subprocess.run(args + ["--warm-start", "dataflows"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    store = RunStore(tmp_path / "r")
    try:
        assert store.get_meta("config")["warm_start"] == "dataflows"
        assert list(store.designs().generation) == [-1] + [0] * 6  # ShiDianNao: 6 distinct starts
    finally:
        store.close()
    bad = subprocess.run(args[:-3] + ["--out", str(tmp_path / "b"), "--warm-start", "best"], capture_output=True,
                         text=True, timeout=600)
    assert bad.returncode != 0 and "--warm-start" in bad.stderr


def test_elite_mutants_lead_each_generation_and_are_near_the_best_so_far(tmp_path):
    cfg = HardwareSearchConfig(**{**CONFIG.to_dict(), "budget": 13, "final_budget": 0, "elite_mutants": 2,
                                  "elite_sigma": 0.05})
    run_hardware_search(cfg, tmp_path / "r")
    store = RunStore(tmp_path / "r")
    try:
        genomes = {}
        for gen, genome in store.db.execute("SELECT generation, genome FROM designs WHERE generation >= 1 "
                                            "ORDER BY id"):
            genomes.setdefault(gen, []).append(np.array(json.loads(genome)))
        assert sorted(genomes) == [1, 2, 3] and all(len(g) == 4 for g in genomes.values())
        propose = elite_mutants(store, 2, 0.05, cfg.seed)
        for gen, X in genomes.items():
            best = np.array(store.best(before_generation=gen)["genome"])
            mutants = propose(gen)
            assert len(mutants) == 2
            # two of the four designs are the mutants, as proposed; the other two are CMA-ES samples
            match = [next(i for i, x in enumerate(X) if np.allclose(x, m, rtol=0, atol=1e-12)) for m in mutants]
            assert len(set(match)) == 2
            for i, x in enumerate(X):  # a CMA-ES sample may land near the best too: only mutants must
                assert ((x >= 0) & (x <= 1)).all()
                if i in match:
                    assert np.abs(x - best).max() < 0.05 * 6
        assert store.best(before_generation=1)["generation"] == 0
        assert store.best(before_generation=0) is None
    finally:
        store.close()
    with pytest.raises(ValueError, match="elite_mutants: 4 \\(allowed: below the population size, 4\\)"):
        HardwareSearchConfig(**{**CONFIG.to_dict(), "elite_mutants": 4})
    with pytest.raises(ValueError, match="elite_sigma: 0"):
        HardwareSearchConfig(**{**CONFIG.to_dict(), "elite_sigma": 0})


def test_inner_start_reaches_the_mapping_searches():
    cfg = HardwareSearchConfig(**{**CONFIG.to_dict(), "inner_start": "best-default", "inner_sigma0": 0.15})
    s = cfg.mapping_settings(2000)
    assert (s.budget, s.x0, s.sigma0, s.method) == (2000, "best-default", 0.15, "cma-importance")
    assert CONFIG.mapping_settings().x0 == "default" and CONFIG.mapping_settings().sigma0 == 0.25
    with pytest.raises(ValueError, match="inner_start: 'x'"):
        HardwareSearchConfig(**{**CONFIG.to_dict(), "inner_start": "x"})
