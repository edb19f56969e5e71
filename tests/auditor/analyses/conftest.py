"""Fixtures of the personalization tests: the public data (skipped with the reason when missing) and, for the
LLM-backed tests, the session llama.cpp server of tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.conftest import shared_dataset


@pytest.fixture(scope="session")
def data_root():
    """``../shared/data`` when it holds the Re-Centering and LLMBar folders, else a skip naming the folder."""
    shared_dataset("recentering")
    return shared_dataset("llmbar").parent
