"""The software environment stored with each run, and the warning when a run is resumed under another."""
from __future__ import annotations

import os
import warnings
from dataclasses import replace

import numpy as np
import pytest

from cost_model.blas_kernels import openblas_core
from naas.environment import (EnvironmentChangedWarning, check_resumed_environment, environment_changes,
                              software_environment)
from naas.hardware_search import HardwareSearchConfig, run_hardware_search
from naas.report import summary
from naas.run_store import RunStore

TINY = HardwareSearchConfig(baseline="shidiannao", networks=("alexnet",), mode="sizing", budget=4, seed=1,
                            inner_budget=40, popsize=4, final_budget=0,
                            warm_start="baseline", inner_start="default", inner_sigma0=0.25, final_portfolio=False)


def _numpy_blas() -> str:
    try:
        return np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # older numpy: no dict mode
        return ""


def test_environment_names_the_libraries_and_openblas_core():
    env = software_environment()
    assert {"python", "machine", "naas", "numpy", "numba", "cma", "openblas_core"} <= set(env)
    assert env["numpy"] == np.__version__
    if "openblas" in _numpy_blas() and os.environ.get("OPENBLAS_CORETYPE") == "Haswell":
        assert openblas_core() == "Haswell"  # the pin (tests/conftest.py) is the kernel in use


def test_environment_changes_lists_only_what_differs():
    old = {"numpy": "2.0", "cma": "4.5.0", "gone": "x"}
    assert environment_changes(old, {"numpy": "2.4", "cma": "4.5.0"}) == ["numpy: 2.0 -> 2.4"]
    assert environment_changes(old, dict(old)) == []


def test_resume_warns_only_when_the_software_changed(tmp_path):
    run = tmp_path / "run"
    first = run_hardware_search(replace(TINY, budget=4), run)
    store = RunStore(run)
    try:
        assert store.get_meta("environment") == software_environment()
    finally:
        store.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", EnvironmentChangedWarning)
        again = run_hardware_search(None, run, resume=True)  # same software: silent
    assert again["fitness"] == first["fitness"]
    assert f"numpy {np.__version__}" in summary(run).splitlines()[-1]  # naas report prints it
    store = RunStore(run)
    try:
        stored = store.get_meta("environment")
        store.set_meta("environment", {**stored, "numpy": "1.0.0", "openblas_core": "SkylakeX"})
        with pytest.warns(EnvironmentChangedWarning, match=r"numpy: 1\.0\.0 -> .*openblas_core: SkylakeX ->"):
            assert len(check_resumed_environment(store)) == 2
        store.set_meta("environment", None)  # runs stored before environments were recorded
        with warnings.catch_warnings():
            warnings.simplefilter("error", EnvironmentChangedWarning)
            assert check_resumed_environment(store) == []
    finally:
        store.close()
    assert summary(run).splitlines()[-1] == "computed with: not recorded (stored before runs recorded their software)"
