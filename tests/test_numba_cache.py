"""Numba's cache is kept per version of the kernel sources (cost_model.numba_cache)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba

from cost_model import numba_cache

ROOT = Path(__file__).resolve().parents[1]


def test_the_cache_folder_follows_the_sources(tmp_path):
    for package in ("cost_model", "mapping", "nn_space"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = numba_cache.source_digest(tmp_path)
    assert before == numba_cache.source_digest(ROOT)
    zoo = tmp_path / "nn_space" / "zoo.py"
    zoo.write_text(zoo.read_text() + "\n# a network edited: no kernel depends on it\n")
    assert numba_cache.source_digest(tmp_path) == before
    for changed in ("cost_model/kernel.py", "cost_model/accelerator.py", "nn_space/accuracy.py"):
        path = tmp_path / changed  # a kernel, constants kernels freeze, nn_space's kernel module
        path.write_text(path.read_text() + "\n# changed\n")
        assert numba_cache.source_digest(tmp_path) != before, changed
        before = numba_cache.source_digest(tmp_path)


def test_numba_uses_the_versioned_folder_unless_the_user_chose_one(tmp_path):
    from cost_model.kernel import evaluate_batch
    from mapping.default_kernel import grow_default_rows

    if not os.environ.get("NUMBA_CACHE_DIR"):
        assert Path(numba_cache.CACHE_FOLDER).name.startswith("numba-")
        for kernel in (evaluate_batch, grow_default_rows):  # where each kernel's cache is, whatever Numba's
            assert kernel._cache._cache_path.startswith(numba_cache.CACHE_FOLDER)  # config says now
        # a kernel defined after Numba re-read its config (the environment changed) still goes there
        numba.config.reload_config()
        late = numba_cache.njit(cache=True)(lambda x: x + 1)
        assert late._cache._cache_path.startswith(numba_cache.CACHE_FOLDER)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "import cost_model, numba; print(numba.config.CACHE_DIR)"],
                         env=env, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert out == str(tmp_path)
