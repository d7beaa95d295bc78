"""Numba's on-disk cache, kept apart for each version of the kernel sources.

Numba checks a cached kernel only against the file that defines it (its modification time and size). A
kernel that inlines another module's kernel keeps running the old code after that module changes:
``mapping.default_kernel.grow_default_rows`` inlines ``cost_model.kernel.evaluate_into``, and after the
relevance code of batched matrix products was added to cost_model/kernel.py, the cached default-mapping
kernel still grew tiles by the old rule and returned a mapping that ``evaluate_stats`` refused (L2 overflow).

So unless the user set NUMBA_CACHE_DIR, the cache lives in ``cost_model/__pycache__/numba-<digest>``, the digest
of the sources kernels can depend on (``KERNEL_SOURCES``: every module of cost_model and mapping, whose kernels
inline each other and freeze their constants, and nn_space's one kernel module): a change to any of them starts
a fresh cache; editing a network in the zoo does not. Folders of other versions unused for a day are removed. Where that folder cannot be written, Numba falls back to its own locations. Every
module that defines a kernel takes its ``njit`` from here, so the folder is set before any kernel is defined
(not in the packages' ``__init__``: ``import naas`` and ``naas.reproducible()`` must not load numpy before they
pin OpenBLAS).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

__all__ = ["njit", "source_digest", "use_versioned_cache", "CACHE_FOLDER"]

#: The files (globs under the repository root) whose contents key the cache.
KERNEL_SOURCES = ("cost_model/*.py", "mapping/*.py", "nn_space/accuracy.py")
STALE_AFTER_S = 24 * 3600


def source_digest(root: Path) -> str:
    """A digest of the ``KERNEL_SOURCES`` under ``root`` (their paths and contents)."""
    h = hashlib.sha256()
    for pattern in KERNEL_SOURCES:
        for path in sorted(root.glob(pattern)):
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _remove_stale(folder: Path) -> None:
    """Remove the cache folders of other source versions that were not used for ``STALE_AFTER_S``."""
    import shutil
    import time

    try:
        for other in folder.parent.glob("numba-*"):
            if other != folder and time.time() - other.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(other, ignore_errors=True)
    except OSError:
        pass


def use_versioned_cache() -> str | None:
    """Point Numba's cache at the folder of the current sources (unless NUMBA_CACHE_DIR is set); the folder."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    here = Path(__file__).resolve().parent
    folder = here / "__pycache__" / f"numba-{source_digest(here.parent)}"
    numba.config.CACHE_DIR = str(folder)
    _remove_stale(folder)
    return str(folder)


CACHE_FOLDER = use_versioned_cache()


def njit(*args, **kwargs):
    """``numba.njit``, with this folder in force when the kernel is defined: Numba re-reads its config when the
    environment changes (a script setting NUMBA_NUM_THREADS, say), which drops a folder set at import, and a
    kernel keeps the cache location it was defined with."""
    if CACHE_FOLDER is not None:
        numba.config.CACHE_DIR = CACHE_FOLDER
    return numba.njit(*args, **kwargs)
