"""OpenBLAS kernel pinning: a seed gives the same numbers on any x86-64 CPU, in any process."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from cost_model import blas_kernels

from .conftest import REPO

# A fresh process that calls naas.reproducible() before numpy loads (as the CLI and the experiments do), then
# runs a CMA-ES mapping search: its numbers must equal this (pinned) process's bit for bit.
RECOST = """
import json, os
import naas
naas.reproducible()
from mapping.network_search import SearchSettings, search_network
cost = search_network(naas.network("alexnet"), naas.load_accelerator("eyeriss"), SearchSettings(budget=300, seed=4))
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


def test_a_fresh_process_reproduces_this_process_search_bit_for_bit():
    if not {"avx2", "fma"} <= blas_kernels._cpu_flags():
        pytest.skip("kernels are pinned on x86-64 CPUs with AVX2 and FMA only")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    out = subprocess.run([sys.executable, "-c", RECOST], capture_output=True, text=True, env=env, cwd=REPO,
                         check=True).stdout
    got = json.loads(out)
    assert got["coretype"] == "Haswell"
    from mapping.network_search import SearchSettings, search_network
    from naas.api import load_accelerator, network

    here = search_network(network("alexnet"), load_accelerator("eyeriss"), SearchSettings(budget=300, seed=4))
    assert got["edp"] == here.edp


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
