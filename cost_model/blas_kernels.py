"""Pin OpenBLAS's kernels so that a seed gives the same numbers on every x86-64 machine.

cma's linear algebra (eigendecompositions and products of the covariance matrix) runs in numpy's OpenBLAS,
which picks its kernels by CPU. The AVX-512 kernels round differently in the last bits from the AVX2
("Haswell") ones, and a CMA-ES run amplifies that: on an AVX-512 machine the same seed found other mappings
(a subnet's EDP 1.0411e18 instead of 1.0401e18) and the co-search took another path. With
OPENBLAS_CORETYPE=Haswell every x86-64 CPU with AVX2 and FMA runs the same kernels, and the runs committed
under experiments/results reproduce exactly.

OpenBLAS reads OPENBLAS_CORETYPE once, when numpy is first imported. Importing naas's packages changes
nothing: the command line and ``naas.reproducible()`` (``reproducible`` below) pin the kernels and limit the
threads, before numpy is imported where they can; a program that imports numpy first should set the variable
itself (child processes, e.g. ``--workers``, inherit it either way). A value the user set is left alone.
"""
from __future__ import annotations

import logging
import os
import platform
import sys
from importlib import import_module

PINNED_CORETYPE = "Haswell"
log = logging.getLogger(__name__)


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


def _openblas_function(*names: str):
    """A function of the OpenBLAS this process has loaded (numpy's wheel prefixes its symbols), or None."""
    import ctypes

    try:
        # surrogateescape: another mapped file's name need not be UTF-8 (a run folder named by the user)
        with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn
    return None


def openblas_core() -> str | None:
    """The kernel family the OpenBLAS loaded in this process uses (e.g. 'Haswell'), or None if unknown.

    Call it after numpy is imported.
    """
    import ctypes

    fn = _openblas_function("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                            "openblas_get_corename64_", "openblas_get_corename")
    if fn is None:
        return None
    fn.restype = ctypes.c_char_p
    core = fn()
    return core.decode().strip() if core else None


def openblas_threads() -> int | None:
    """How many threads the loaded OpenBLAS uses, or None if unknown."""
    fn = _openblas_function("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                            "openblas_get_num_threads64_", "openblas_get_num_threads")
    return None if fn is None else int(fn())


def limit_openblas_threads() -> int | None:
    """One OpenBLAS thread in this process unless the user set OPENBLAS_NUM_THREADS; the count in effect.

    cma's matrices are tiny (tens of genes), so more threads never help a search, but two processes whose
    OpenBLAS threads spin against each other on shared cores run 2.6x slower (measured: two concurrent
    co-search design evaluations took 10.7-15.5 s each with the default threads, 3.7-6.2 s with one; alone,
    no difference). The command line calls this; the worker processes get the variable (naas.executor).
    Works after numpy is loaded (OpenBLAS's own setter).
    """
    import_module("numpy")  # loads OpenBLAS

    if not os.environ.get("OPENBLAS_NUM_THREADS"):
        fn = _openblas_function("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                                "openblas_set_num_threads64_", "openblas_set_num_threads")
        if fn is not None:
            fn(1)
    return openblas_threads()


def reproducible() -> dict[str, object]:
    """Same seed, same numbers on any x86-64 machine: pin OpenBLAS's kernels and run it on one thread.

    What the command line does first. Call it before importing numpy (directly or through naas's modules):
    OpenBLAS reads its kernel setting once, when it loads; called later it still sets the variable for child
    processes and limits the threads, and logs a warning when this process's kernels differ from the pinned
    ones. Returns ``{"coretype": ..., "openblas_core": ..., "threads": ..., "pinned_in_process": bool}``.
    """
    numpy_loaded = "numpy" in sys.modules
    coretype = pin_openblas_kernels()
    threads = limit_openblas_threads()
    core = openblas_core()
    pinned = coretype is not None and (not numpy_loaded or (core or "").lower() == coretype.lower())
    if coretype is not None and not pinned:
        log.warning("numpy was imported before naas.reproducible(): this process runs OpenBLAS's %s kernels, "
                    "not %s (seeds may round differently from other machines); call it first or set "
                    "OPENBLAS_CORETYPE=%s before starting Python", core or "unknown", coretype, coretype)
    return {"coretype": coretype, "openblas_core": core, "threads": threads, "pinned_in_process": pinned}


_WARNED = []


def warn_unless_pinned() -> None:
    """Log once per process (warning) when this process's OpenBLAS runs other kernels than ``reproducible``
    pins, so a search here may not give the command line's numbers (call it where searches start)."""
    if _WARNED or os.environ.get("OPENBLAS_CORETYPE") or not (
            platform.machine().lower() in ("x86_64", "amd64") and {"avx2", "fma"} <= _cpu_flags()):
        return
    core = openblas_core()
    if core is not None and core.lower() != PINNED_CORETYPE.lower():
        _WARNED.append(core)
        log.warning("OpenBLAS runs its %s kernels here, not %s: CMA-ES searches may give other numbers than "
                    "the naas command line (call naas.reproducible() before importing numpy)", core,
                    PINNED_CORETYPE)
