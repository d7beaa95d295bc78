"""Pin OpenBLAS's kernels so that a seed gives the same numbers on every x86-64 machine.

cma's linear algebra (eigendecompositions and products of the covariance matrix) runs in numpy's OpenBLAS,
which picks its kernels by CPU. The AVX-512 kernels round differently in the last bits from the AVX2
("Haswell") ones, and a CMA-ES run amplifies that: on an AVX-512 machine the same seed found other mappings
(a subnet's EDP 1.0411e18 instead of 1.0401e18) and the co-search took another path. With
OPENBLAS_CORETYPE=Haswell every x86-64 CPU with AVX2 and FMA runs the same kernels, and the runs committed
under experiments/results reproduce exactly.

OpenBLAS reads OPENBLAS_CORETYPE once, when numpy is first imported, so this runs from the packages'
``__init__`` before they import numpy; a program that imports numpy first should set the variable itself
(child processes, e.g. ``--workers``, inherit it either way). A value the user set is left alone.
"""
from __future__ import annotations

import os
import platform

PINNED_CORETYPE = "Haswell"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def pin_openblas_kernels() -> str | None:
    """Set OPENBLAS_CORETYPE (unless set) on x86-64 CPUs with AVX2 and FMA; the value in effect, or None."""
    if os.environ.get("OPENBLAS_CORETYPE"):
        return os.environ["OPENBLAS_CORETYPE"]
    if platform.machine().lower() in ("x86_64", "amd64") and {"avx2", "fma"} <= _cpu_flags():
        os.environ["OPENBLAS_CORETYPE"] = PINNED_CORETYPE
        return PINNED_CORETYPE
    return None
