"""naas: a Numba analytical cost model of neural accelerators and nested CMA-ES co-design searches.

The public API (``import naas``; README, "Python API"). Importing it loads nothing heavy and changes nothing
in the process: each name loads its module when first used, and ``naas.reproducible()`` (what the command
line does first) pins OpenBLAS's kernels and threads, before numpy is imported where it can.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: public name -> module that defines it
_EXPORTS = {
    "reproducible": "cost_model.blas_kernels",
    "load_accelerator": "naas.api",
    "network": "naas.api",
    "evaluate": "naas.api",
    "search_mappings": "naas.api",
    "search_hardware": "naas.api",
    "cosearch": "naas.api",
    "sweep": "naas.api",
    "tradeoff": "naas.api",
    "open_run": "naas.api",
    "NetworkResult": "naas.results",
    "SearchResult": "naas.results",
    "SweepResult": "naas.results",
    "Run": "naas.results",
    "HardwareSearchConfig": "naas.hardware_search",
    "CosearchConfig": "naas.joint_search",
    "TradeoffConfig": "naas.tradeoff_search",
    "SweepSpec": "naas.sweep_spec",
    "load_sweep": "naas.sweep_spec",
    "NaasError": "naas.errors",
}

__all__ = ["CosearchConfig", "HardwareSearchConfig", "NaasError", "NetworkResult", "Run", "SearchResult",
           "SweepResult", "SweepSpec", "TradeoffConfig", "cosearch", "evaluate", "load_accelerator", "load_sweep",
           "network", "open_run", "reproducible", "search_hardware", "search_mappings", "sweep", "tradeoff"]

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily (__getattr__)
    from cost_model.blas_kernels import reproducible
    from naas.api import (cosearch, evaluate, load_accelerator, network, open_run, search_hardware,
                          search_mappings, sweep, tradeoff)
    from naas.joint_search import CosearchConfig
    from naas.tradeoff_search import TradeoffConfig
    from naas.errors import NaasError
    from naas.hardware_search import HardwareSearchConfig
    from naas.results import NetworkResult, Run, SearchResult, SweepResult
    from naas.sweep_spec import SweepSpec, load_sweep


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'naas' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
