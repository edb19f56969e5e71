"""Fixtures for the advanced-estimate tests."""

from __future__ import annotations

from dataclasses import asdict

import pytest

import auditor.advanced as advanced


@pytest.fixture
def advanced_settings():
    """Restore :data:`auditor.advanced.SETTINGS` after a test changes them."""
    old = asdict(advanced.SETTINGS)
    yield advanced.SETTINGS
    advanced.configure(**old)
