"""The openai client's two HTTP transports (``--http-client``): httpx (the client's default) and aiohttp (the
``openai[aiohttp]`` extra, used by ``auto`` when installed) give the same labels and name failures the same way."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from servers.fake_openai import make_items
from servers.hostile import refused_port

from auditor.errors import ConfigError
from judges.llm import JudgeRunIncomplete, LLMJudge, LLMJudgeConfig
from judges.llm.config import aiohttp_installed, resolved_http_client
from judges.llm.transport import http_client

pytestmark = pytest.mark.skipif(
    not aiohttp_installed(), reason="needs the aiohttp extra: pip install 'openai[aiohttp]'"
)


def test_auto_picks_aiohttp_when_installed_and_each_kind_builds_its_transport():
    assert LLMJudgeConfig(model="m").http_client == "auto" and resolved_http_client("auto") == "aiohttp"
    assert resolved_http_client("httpx") == "httpx"
    assert type(http_client(4, "aiohttp")._transport).__name__ == "AiohttpTransport"
    assert type(http_client(4, "httpx")._transport).__name__ == "AsyncHTTPTransport"
    with pytest.raises(ConfigError, match="--http-client must be auto, httpx or aiohttp"):
        LLMJudge(LLMJudgeConfig(model="m", http_client="curl"))


def test_both_transports_give_the_same_labels(fake_server):
    server = fake_server()
    items = make_items(24)
    config = LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False, concurrency=4)
    runs = {
        kind: LLMJudge(replace(config, http_client=kind), orders=("ab", "ba")).judge_items(items, "pairwise")
        for kind in ("httpx", "aiohttp")
    }
    assert len(server.log) == 2 * 48, "no cache shared: each transport sent every request"
    assert runs["aiohttp"]["label"].notna().all()
    columns = ["item_id", "order", "label", "score", "exclusion"]
    pd.testing.assert_frame_equal(runs["aiohttp"][columns], runs["httpx"][columns])


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
def test_a_refused_connection_is_named_connection_refused_not_a_timeout(kind):
    """aiohttp's transport reports a refused connection as httpx's ConnectTimeout: the wrapped aiohttp error
    decides (a bug of the first aiohttp run: every request excluded as ``timeout``)."""
    config = LLMJudgeConfig(
        model="m", base_url=f"http://127.0.0.1:{refused_port()}/v1", progress=False, http_client=kind,
        max_retries=1, concurrency=1,
    )  # fmt: skip
    with pytest.raises(JudgeRunIncomplete) as caught:
        LLMJudge(config).judge_items(make_items(10), "pairwise")
    labels = caught.value.labels
    assert set(labels["exclusion"]) <= {"connection_error", "run_stopped"}
    assert "connection_error" in set(labels["exclusion"])
    assert "connection refused" in str(caught.value)
