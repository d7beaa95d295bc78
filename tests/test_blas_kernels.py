"""OpenBLAS kernel pinning: a seed gives the numbers committed under experiments/results on any x86-64 CPU."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from cost_model import blas_kernels
from naas.run_store import RunStore

from .conftest import REPO

RUN = REPO / "experiments" / "results" / "cosearch_resnet50_eyeriss" / "cosearch"

# Imports naas before numpy (as the CLI, the experiments and the workers do), then re-costs the committed
# co-search's warm-start design with its best subnet at the search's settings.
RECOST = """
import json, os, sys
import naas  # pins OpenBLAS's kernels
from cost_model.accelerator import accelerator_from_dict
from mapping.network_search import MappingCache, search_network
from naas.cosearch import CosearchConfig
from nn_space.accuracy import load_predictor
acc, sub, config, data = json.loads(sys.stdin.read())
space = load_predictor("ofa-resnet50", data).space
cost = search_network(space.layers(space.from_dict(sub)), accelerator_from_dict(acc),
                      CosearchConfig.from_dict(config).mapping_settings(), MappingCache())
print(json.dumps({"edp": cost.edp, "coretype": os.environ.get("OPENBLAS_CORETYPE")}))
"""


def test_user_setting_wins_and_other_cpus_are_left_alone(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "SkylakeX")
    assert blas_kernels.pin_openblas_kernels() == "SkylakeX"
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert blas_kernels.pin_openblas_kernels() is None and "OPENBLAS_CORETYPE" not in os.environ
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(blas_kernels, "_cpu_flags", lambda: {"sse4_2", "avx"})
    assert blas_kernels.pin_openblas_kernels() is None
    monkeypatch.setattr(blas_kernels, "_cpu_flags", lambda: {"avx2", "fma", "avx512f"})
    assert blas_kernels.pin_openblas_kernels() == "Haswell" == os.environ["OPENBLAS_CORETYPE"]


def test_the_test_process_pinned_before_numpy_loaded():
    from .conftest import NUMPY_LOADED_BEFORE_PIN
    assert not NUMPY_LOADED_BEFORE_PIN  # else in-process and worker rows could differ on AVX-512 CPUs


def test_a_fresh_process_reproduces_a_committed_search_result(ofa_data):
    if not {"avx2", "fma"} <= blas_kernels._cpu_flags():
        pytest.skip("kernels are pinned on x86-64 CPUs with AVX2 and FMA only")
    store = RunStore(RUN)
    try:
        designs = store.designs()
        warm = int(designs[designs.generation == 0].id.iloc[0])
        acc = json.loads(store.db.execute("SELECT accelerator FROM designs WHERE id = ?", (warm,)).fetchone()[0])
        sub = store.design_subnets(warm)[0]
        config = store.get_meta("config")
    finally:
        store.close()
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run([sys.executable, "-c", RECOST], input=json.dumps([acc, sub["config"], config,
                                                                          str(ofa_data)]),
                         capture_output=True, text=True, env=env, cwd=REPO, check=True).stdout
    got = json.loads(out)
    assert got["coretype"] == "Haswell"
    # Bit for bit the same as this (pinned) process computes (AVX-512 kernels changed the 4th digit).
    from cost_model.accelerator import accelerator_from_dict
    from mapping.network_search import MappingCache, search_network
    from naas.cosearch import CosearchConfig
    from nn_space.accuracy import load_predictor

    space = load_predictor("ofa-resnet50", str(ofa_data)).space
    here = search_network(space.layers(space.from_dict(sub["config"])), accelerator_from_dict(acc),
                          CosearchConfig.from_dict(config).mapping_settings(), MappingCache())
    assert got["edp"] == here.edp
    # The committed run predates the R/S sliding-window rule (SPEC §5), which lowered this design's EDP
    # by 0.97% (9.6169e17 -> 9.5238e17); with the rule reverted it reproduces the committed value exactly.
    assert 0.985 * sub["edp"] <= got["edp"] <= sub["edp"]


THREADS_AFTER_CLI = """
import contextlib, io, json
from naas.cli import main
from cost_model.blas_kernels import openblas_threads
with contextlib.redirect_stdout(io.StringIO()):
    main(["list"])
print(json.dumps(openblas_threads()))
"""


@pytest.mark.parametrize("user_setting,expected", [(None, 1), ("2", 2)])
def test_the_command_line_runs_one_openblas_thread_unless_told(user_setting, expected):
    if blas_kernels.openblas_threads() is None:
        pytest.skip("numpy is not linked to OpenBLAS here")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if user_setting:
        env["OPENBLAS_NUM_THREADS"] = user_setting
    out = subprocess.run([sys.executable, "-c", THREADS_AFTER_CLI], capture_output=True, text=True, env=env,
                         cwd=REPO, check=True).stdout
    assert json.loads(out) == expected
