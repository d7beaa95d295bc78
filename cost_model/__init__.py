"""Workload-independent analytical cost model (Numba kernels)."""
from .blas_kernels import pin_openblas_kernels

pin_openblas_kernels()  # before anything here imports numpy
