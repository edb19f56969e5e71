"""Fixtures of the LLM-judge tests: the loopback fake server, the llama.cpp server with SmolLM2, the stage-3 items."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
# The helpers in tests/servers are imported as `servers.*` (a top-level `tests` package of some installed
# distributions, e.g. ppi_python, would shadow `tests.servers`).
TESTS_DIR = str(REPO_ROOT / "tests")
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from servers.batch_api import BatchServer  # noqa: E402
from servers.fake_openai import FakeJudgeServer  # noqa: E402

from tests.conftest import LLAMA_KEY_ENV, SHARED_DATA  # noqa: E402,F401  (the llama.cpp fixtures: tests/conftest.py)

# ../shared/data, or $AUDITOR_SHARED_DATA, as everywhere else in the tests
T = TypeVar("T")

STAGE3_ITEMS = SHARED_DATA / "recentering" / "stage3" / "task6_items.jsonl"


def _factory(server_class: type[T]) -> Iterator[Callable[..., T]]:
    """A factory of started ``server_class`` objects (``start()`` / ``stop()``), all stopped at teardown."""
    servers: list[Any] = []

    def start(**kwargs: object) -> T:
        server = server_class(**kwargs).start()  # type: ignore[call-arg]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeJudgeServer]]:
    """A factory of started :class:`FakeJudgeServer` objects, all stopped at teardown."""
    yield from _factory(FakeJudgeServer)


@pytest.fixture
def batch_server() -> Iterator[Callable[..., BatchServer]]:
    """A factory of started loopback Files + Batch APIs (:class:`servers.batch_api.BatchServer`)."""
    yield from _factory(BatchServer)


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
