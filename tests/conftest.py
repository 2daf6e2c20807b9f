import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LRDIF_SHARED_DATA", ROOT.parent / "shared" / "data"))
TINY_NPZ = SHARED_DATA / "ferplus" / "ferplus_tiny64_48x48_uint8.npz"
FERPLUS_NPZ = SHARED_DATA / "ferplus" / "ferplus_48x48_uint8.npz"

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def tiny_npz() -> Path:
    assert TINY_NPZ.exists(), f"shared test data missing: {TINY_NPZ}"
    return TINY_NPZ


@pytest.fixture(scope="session")
def ferplus_npz() -> Path:
    assert FERPLUS_NPZ.exists(), f"shared data missing: {FERPLUS_NPZ}"
    return FERPLUS_NPZ
