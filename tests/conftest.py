"""Shared fixtures: the reference data in ../shared/data, skipped with a reason when absent."""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the reference data; skips the test when the folder is not beside the project."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (clone the project beside shared/)")
    return SHARED_DATA
