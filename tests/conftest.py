"""Shared fixtures: where OFA's predictor files are (tests and CI read them from ../shared/data/ofa)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cost_model.blas_kernels import pin_openblas_kernels

# The test process costs designs itself and compares them with worker processes' rows: both must run the
# same OpenBLAS kernels, so pin them here, before any test module loads numpy.
NUMPY_LOADED_BEFORE_PIN = "numpy" in sys.modules
pin_openblas_kernels()

REPO = Path(__file__).resolve().parents[1]


def ofa_data_dir() -> Path | None:
    """$NAAS_OFA_DATA, else ../shared/data/ofa next to the repository, else None."""
    for candidate in (os.environ.get("NAAS_OFA_DATA"), REPO.parent / "shared" / "data" / "ofa"):
        if candidate and (Path(candidate) / "ofa_resnet50_acc_predictor.pth").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def ofa_data() -> Path:
    found = ofa_data_dir()
    if found is None:
        pytest.skip("OFA predictor files not found (set NAAS_OFA_DATA or put them in ../shared/data/ofa)")
    return found
