"""Fixtures of the LLM-judge tests: the loopback fake server, the llama.cpp server with SmolLM2, the stage-3 items."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The helpers in tests/servers are imported as `servers.*` (a top-level `tests` package of some installed
# distributions, e.g. ppi_python, would shadow `tests.servers`).
TESTS_DIR = str(REPO_ROOT / "tests")
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from servers.fake_openai import FakeJudgeServer  # noqa: E402
from servers.llama_server import LLAMA_KEY, LlamaServer, missing_requirement  # noqa: E402

STAGE3_ITEMS = REPO_ROOT.parent / "shared" / "data" / "recentering" / "stage3" / "task6_items.jsonl"
#: The environment variable the tests put the llama.cpp server's key in.
LLAMA_KEY_ENV = "AUDITOR_TEST_LLAMA_KEY"


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeJudgeServer]]:
    """A factory of started :class:`FakeJudgeServer` objects, all stopped at teardown."""
    servers: list[FakeJudgeServer] = []

    def start(**kwargs: object) -> FakeJudgeServer:
        server = FakeJudgeServer(**kwargs).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct on 127.0.0.1; yields its base URL.

    The server requires the API key ``LLAMA_KEY``; tests get it through the environment variable that the
    ``llama_key`` fixture sets.
    """
    reason = missing_requirement()
    if reason:
        pytest.skip(reason)
    server = LlamaServer(log_dir=os.environ.get("PYTEST_LLAMA_LOG", "/tmp"))
    try:
        base_url = server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield base_url
    finally:
        server.stop()


@pytest.fixture
def llama_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(LLAMA_KEY_ENV, LLAMA_KEY)
    return LLAMA_KEY_ENV


@pytest.fixture(scope="session")
def stage3_items() -> pd.DataFrame:
    """The 308 stage-3 generic-vs-personalised pairs: a = generic, b = personalised, profile = attributes."""
    if not STAGE3_ITEMS.is_file():
        pytest.skip(f"the stage-3 data is not at {STAGE3_ITEMS}")
    rows = []
    with STAGE3_ITEMS.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            rows.append(
                {
                    "item_id": f"{record['prompt_id']}:{record['model_tag']}",
                    "user_id": record["user_id"],
                    "prompt": record["prompt_text"],
                    "response_a": record["response_no_context"],
                    "response_b": record["response_personalized"],
                    "profile": json.dumps([a["attribute"] for a in record["attributes"]]),
                    "source": record["model_tag"],
                    "stage": "3",
                }
            )
    return pd.DataFrame(rows)
