"""Shared fixture: the public datasets live in ``<repo>/../shared/data`` and are never copied into the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# the same override as tests/conftest.py: AUDITOR_SHARED_DATA, else <repo>/../shared/data
DATA_ROOT = Path(
    os.environ.get("AUDITOR_SHARED_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data")
)


def _root_with(folder: str) -> Path:
    """``DATA_ROOT``, or skip the test with the reason when ``DATA_ROOT / folder`` is absent."""
    if not (DATA_ROOT / folder).is_dir():
        pytest.skip(
            f"dataset folder {DATA_ROOT.resolve() / folder} not found (only in the development checkout)"
        )
    return DATA_ROOT


@pytest.fixture(scope="session")
def dataset_root():
    """Call with a folder name: returns the data root, or skips when that folder is missing."""
    return _root_with
