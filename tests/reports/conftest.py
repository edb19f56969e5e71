"""Fixtures of the report tests; the audits themselves are built in ``report_fixtures``."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

# The helper modules beside this file (report_fixtures, chromium_cdp, mdtables, htmlscan) are imported by plain
# name; make that hold under any pytest import mode and whether or not tests/ is a package.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_fixtures import build_big_audit, build_likert_audit, build_pairwise_audit, xss_audit  # noqa: E402


@pytest.fixture
def likert_audit() -> dict:
    return build_likert_audit()


@pytest.fixture
def pairwise_audit() -> dict:
    return build_pairwise_audit()


@pytest.fixture
def evil_audit() -> dict:
    return xss_audit()


@pytest.fixture(scope="session")
def big_audit() -> dict:
    return build_big_audit()


@pytest.fixture
def copy_of():
    return copy.deepcopy


@pytest.fixture
def no_plots(monkeypatch):
    """Render HTML without figures, for tests about something else (figures take most of the render time)."""
    from reports import plots

    monkeypatch.setattr(plots, "ALL_PLOTS", {})
