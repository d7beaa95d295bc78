"""The public API (``import naas``): each call, its results' ``to_frame`` / ``to_dict``, its errors, the
command line built from the config dataclasses, and importing without side effects."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

import naas
from naas.cli import build_parser
from naas.config_options import build_config, cli_fields, given_options
from naas.errors import ConfigError, NaasError

from .conftest import REPO

SMALL_SWEEP = {"base": "eyeriss", "networks": ["alexnet"], "mapping": "default",
               "parameters": {"array[0].size": [6, 12], "dram.bandwidth": [2, 8]}}
TINY_SEARCH = dict(baseline="shidiannao", networks=("alexnet",), mode="sizing", budget=4, popsize=3,
                   final_budget=0, warm_start="baseline")


def test_every_public_name_loads_and_is_listed():
    for name in naas.__all__:
        assert getattr(naas, name) is not None, name
    assert sorted(naas.__all__) == sorted(naas._EXPORTS) and set(naas.__all__) <= set(dir(naas))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        naas.nothing  # noqa: B018
    for package in ("naas", "cost_model", "mapping", "nn_space"):
        assert (REPO / package / "py.typed").is_file(), package


IMPORTS = """
import json, os, sys
before = dict(os.environ)
import numpy  # loads OpenBLAS; its thread count before and after importing every package
from cost_model.blas_kernels import openblas_threads
threads = openblas_threads()
import naas, cost_model, mapping, nn_space
import naas.cli, naas.api, naas.hardware_search, naas.joint_search, naas.sweep_run, cost_model.evaluate, mapping.search
print(json.dumps({"env_changed": sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)),
                  "threads": [threads, openblas_threads()]}))
"""

LAZY = """
import json, sys
import naas
print(json.dumps({"numpy": "numpy" in sys.modules, "pinned": naas.reproducible()}))
"""


def _python(code: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                         env={**base, **env}).stdout
    return json.loads(out)


def test_importing_the_packages_changes_no_environment_variable_or_thread_setting():
    got = _python(IMPORTS)
    assert got["env_changed"] == [] and got["threads"][0] == got["threads"][1]


def test_import_naas_loads_no_numpy_and_reproducible_pins_blas_before_it_does():
    got = _python(LAZY)
    assert got["numpy"] is False
    pinned = got["pinned"]
    from cost_model.blas_kernels import _cpu_flags, openblas_threads

    if {"avx2", "fma"} <= _cpu_flags():
        assert pinned["coretype"] == "Haswell" and pinned["pinned_in_process"] is True
    if openblas_threads() is not None:
        assert pinned["threads"] == 1


def test_evaluate_returns_totals_a_frame_and_a_dict():
    r = naas.evaluate("alexnet", "eyeriss", budget=30, seed=1)
    assert r.edp == pytest.approx(r.energy * r.cycles) and r.macs == naas.network("alexnet").macs
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(naas.network("alexnet").layers)
    d = r.to_dict()
    assert d["totals"]["edp"] == r.edp and len(d["layers"]) == len(frame) and json.dumps(d, default=str)
    assert set(r.mappings) == {layer.name for layer in naas.network("alexnet").layers}
    assert naas.search_mappings("alexnet", "eyeriss", budget=30, seed=1).edp == r.edp  # same search
    default = naas.evaluate("alexnet", naas.load_accelerator("eyeriss"), mapping="default")
    assert default.edp > 0 and "default" in default.mapping
    hier = naas.evaluate("squeezenet", "eyeriss-hier", mapping="default")
    assert hier.edp > 0 and hier.accelerator.startswith("eyeriss")


@pytest.mark.parametrize("call, message", [
    (lambda: naas.evaluate("resnet51", "eyeriss"), "network: "),
    (lambda: naas.evaluate("alexnet", "eyeriss", mapping="best"), "mapping: 'best' (allowed: search, default)"),
    (lambda: naas.evaluate("alexnet", "eyeriss", budget=0), "budget: 0"),
    (lambda: naas.evaluate("alexnet", "eyeriss", method="grid"), "method: 'grid'"),
    (lambda: naas.evaluate("alexnet", "eyeriss", energy="nope"), "energy: "),
    (lambda: naas.evaluate(42, "eyeriss"), "network: int"),
    (lambda: naas.load_accelerator(3.5), "accelerator: float"),
    (lambda: naas.search_hardware(out="x", budget=0), "budget: 0"),
    (lambda: naas.search_hardware(out="x", mode="both"), "mode: 'both'"),
    (lambda: naas.cosearch(out="x", space="ofa-vgg"), "space: 'ofa-vgg'"),
    (lambda: naas.sweep(3, out="x"), "spec: int"),
])
def test_bad_arguments_raise_one_naas_error_naming_the_argument(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NaasError) as exc:
        call()
    assert str(exc.value).startswith(message.split(" ")[0]) and message in str(exc.value)
    assert not (tmp_path / "x").exists()


def test_network_from_the_zoo_torch_and_a_timeloop_problem():
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                                torch.nn.Linear(8 * 32 * 32, 10))
    net = naas.network(model, input_size=32)
    assert len(net.layers) == 2 and net.macs == 3 * 8 * 9 * 32 * 32 + 8 * 32 * 32 * 10
    problem = REPO / "tests" / "data" / "timeloop" / "conv3x3.yaml"
    assert len(naas.network(problem).layers) == 1
    assert naas.network(net) is net


def test_search_hardware_result_and_the_run_it_leaves(tmp_path):
    res = naas.search_hardware(out=tmp_path / "run", inner_budget=20, **TINY_SEARCH)
    assert res.kind == "search" and res.config == naas.HardwareSearchConfig(inner_budget=20, **TINY_SEARCH)
    assert res.edp_vs_baseline == res.fitness / res.baseline_fitness  # no final re-costing asked for
    d = res.to_dict()
    assert json.loads(json.dumps(d))["config"]["baseline"] == "shidiannao"
    assert isinstance(res.to_frame(), pd.DataFrame) and "alexnet" in set(res.to_frame().network)
    run = naas.open_run(tmp_path / "run")
    assert run.kind == "search" and run.config == res.config and run.best()["id"] == res.best_id
    assert len(run.designs()) == len(run.to_frame()) >= TINY_SEARCH["budget"]
    assert run.to_dict()["environment"]["numpy"]
    again = naas.search_hardware(out=tmp_path / "run", resume=True)  # everything from the folder
    assert again.best_id == res.best_id and again.config == res.config
    with pytest.raises(NaasError, match="out: .* already holds a run"):
        naas.search_hardware(out=tmp_path / "run", **TINY_SEARCH)
    with pytest.raises(NaasError, match="resume: .* holds a search run, not a sweep"):
        naas.sweep(out=tmp_path / "run", resume=True)


def test_sweep_result(tmp_path):
    res = naas.sweep(SMALL_SWEEP, out=tmp_path / "sw")
    assert res.designs == res.evaluated == 4 and res.best is not None
    table = res.to_frame()
    assert list(table.design) == ["base"] + ["sweep"] * 4 and table.EDP.min() == pytest.approx(
        min(res.best["fitness"], res.baseline_fitness))
    assert naas.open_run(tmp_path / "sw").kind == "sweep" and res.to_dict()["spec"]["mapping"] == "default"
    assert naas.sweep(out=tmp_path / "sw", resume=True).evaluated == 0


def test_cosearch_result(ofa_data, tmp_path):
    res = naas.cosearch(out=tmp_path / "co", data_dir=ofa_data, budget=3, popsize=2, inner_budget=20,
                        subnet_population=3, subnet_generations=1, seed_subnets=1, seed_generations=2,
                        final_budget=0, warm_start="baseline")
    assert res.kind == "cosearch" and res.subnet["accuracy"] > 0 and res.config.elite_mutants == 1
    assert json.dumps(res.to_dict()) and naas.open_run(tmp_path / "co").config == res.config


@pytest.mark.parametrize("command, cls", [("search", naas.HardwareSearchConfig), ("cosearch", naas.CosearchConfig)])
def test_the_command_line_options_are_the_config_fields_and_their_defaults(command, cls):
    """One place for each default: the config dataclass; the CLI builds its options from it."""
    parser = build_parser()
    args = parser.parse_args([command, "--out", "x"])
    assert build_config(cls, given_options(cls, args)) == cls()  # nothing given: the dataclass's defaults
    sub = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(command))
    options = {a.dest: a for a in sub._actions}
    for f in cli_fields(cls):
        assert f.name in options, f.name
        assert options[f.name].default is None  # "not given": the dataclass fills it in
        shown = f.default if not isinstance(f.default, tuple) else ",".join(f.default)
        assert "(default: " in options[f.name].help, f.name
        if isinstance(f.default, (int, str)) and not isinstance(f.default, bool):
            assert f"(default: {shown}" in options[f.name].help, f.name
    given = parser.parse_args([command, "--out", "x", "--seed", "7", "--no-final-portfolio"])
    cfg = build_config(cls, given_options(cls, given))
    assert cfg.seed == 7 and cfg.final_portfolio is False


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError) as exc:
        naas.HardwareSearchConfig(networks=())
    assert exc.value.argument == "networks"
