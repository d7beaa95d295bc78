"""Shared fixtures: where OFA's predictor files are (tests and CI read them from ../shared/data/ofa)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def ofa_data_dir() -> Path | None:
    """$NAAS_OFA_DATA, else ../shared/data/ofa next to the repository, else None."""
    for candidate in (os.environ.get("NAAS_OFA_DATA"), REPO.parent / "shared" / "data" / "ofa",
                      Path("/work/shared/data/ofa")):
        if candidate and (Path(candidate) / "ofa_resnet50_acc_predictor.pth").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def ofa_data() -> Path:
    found = ofa_data_dir()
    if found is None:
        pytest.skip("OFA predictor files not found (set NAAS_OFA_DATA or put them in ../shared/data/ofa)")
    return found
