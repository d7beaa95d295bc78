"""The software a run was computed with, stored in its run folder, so a resume can say what changed.

A CMA-ES search is reproducible only with the same libraries and linear-algebra kernels: another numpy,
cma or OpenBLAS core rounds differently in the last bits and the search takes another path (see
``cost_model.blas_kernels``). A resumed run then no longer ends where an uninterrupted one would.
"""
from __future__ import annotations

import platform
import warnings
from importlib import import_module, metadata

from .run_store import RunStore

PACKAGES = ("naas", "numpy", "numba", "cma")


class EnvironmentChangedWarning(UserWarning):
    """A run is resumed with other software than it was started with."""


def software_environment() -> dict[str, str]:
    """Python, the packages whose numbers a search depends on, the CPU architecture and OpenBLAS's kernels."""
    from cost_model.blas_kernels import openblas_core

    import_module("numpy")  # loads OpenBLAS, so its core can be read

    env = {"python": platform.python_version(), "machine": platform.machine()}
    for name in PACKAGES:
        try:
            env[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            env[name] = "not installed"
    env["openblas_core"] = openblas_core() or "unknown"
    return env


def environment_changes(stored: dict[str, str], current: dict[str, str]) -> list[str]:
    """'what: stored -> now' for each entry that differs (entries only one side has are ignored)."""
    return [f"{k}: {stored[k]} -> {current[k]}" for k in stored if k in current and stored[k] != current[k]]


def describe_environment(env: dict[str, str] | None) -> str:
    """One line for reports: what the run was computed with."""
    if not env:
        return "computed with: not recorded (stored before runs recorded their software)"
    return "computed with: " + ", ".join(f"{k} {v}" for k, v in env.items())


def record_environment(store: RunStore) -> None:
    """Store the software environment of a new run."""
    store.set_meta("environment", software_environment())


def check_resumed_environment(store: RunStore) -> list[str]:
    """Warn (``EnvironmentChangedWarning``) when a resumed run was stored with other software; the changes.

    Runs stored before environments were recorded have none to compare: nothing is said about them.
    """
    stored = store.get_meta("environment")
    if not stored:
        return []
    changes = environment_changes(stored, software_environment())
    if changes:
        warnings.warn(f"resume: {str(store.folder)!r} was computed with other software ({'; '.join(changes)}); "
                      "the resumed search may take another path than an uninterrupted one",
                      EnvironmentChangedWarning, stacklevel=2)
    return changes
