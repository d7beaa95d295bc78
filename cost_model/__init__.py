"""Workload-independent analytical cost model (Numba kernels)."""
