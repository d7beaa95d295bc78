"""Workload-independent analytical cost model (Numba kernels)."""
from . import numba_cache  # noqa: F401  (before any kernel is defined: see the module)
