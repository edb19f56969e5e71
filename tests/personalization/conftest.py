"""Fixtures of the personalization tests: the public data (skipped with the reason when missing) and, for the
LLM-backed tests, the session llama.cpp server of tests/llm/conftest.py (imported, not copied)."""

from __future__ import annotations

import pytest

from tests.conftest import shared_dataset
from tests.llm.conftest import llama_key, llama_server  # noqa: F401  (session fixtures reused as they are)


@pytest.fixture(scope="session")
def data_root():
    """``../shared/data`` when it holds the Re-Centering and LLMBar folders, else a skip naming the folder."""
    shared_dataset("recentering")
    return shared_dataset("llmbar").parent
