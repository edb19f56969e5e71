"""The fixed-latency benchmark server, the runner's concurrency against it, and the benchmark script's smoke run.

Nothing here asserts on time: the server counts the requests it held at once (``max_in_flight``), and its ``hold``
mode answers nothing until a given number of requests are in flight together, so a client that cannot keep that
many open never finishes (the ``timeout`` of each run is a guard against hanging, not a measurement).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import openai
import pandas as pd
import pytest
from servers.fake_openai import make_items
from servers.latency_server import LatencyServer, approx_prompt_tokens, infer_verdicts

from judges.base import Judgment, judgments_to_frame
from judges.cache import JudgeCache
from judges.llm import CLIENT_CONNECTIONS, LLMJudge, LLMJudgeConfig
from judges.llm.rows import _Row
from judges.templates import BUILTIN_TEMPLATES, VERDICT_MODES, load_template, render_messages

REPO = Path(__file__).resolve().parents[3]
KEY_ENV = "AUDITOR_TEST_LATENCY_KEY"


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, "sk-latency-test")
    return KEY_ENV


def _config(server: LatencyServer, key_env: str, **overrides: object) -> LLMJudgeConfig:
    options: dict[str, object] = dict(
        model="latency",
        base_url=server.base_url,
        api_key_env=key_env,
        progress=False,
        max_retries=1,
        timeout=60.0,
    )
    options.update(overrides)
    return LLMJudgeConfig(**options)  # type: ignore[arg-type]


def _items_for(task: str, n: int) -> pd.DataFrame:
    items = make_items(n)
    if task == "score":
        items = items.rename(columns={"response_b": "response"}).drop(columns="response_a")
    if task == "binary":
        items = items[["item_id", "prompt", "profile"]]
    return items


# -- the server -------------------------------------------------------------------------------------------------


def test_latency_server_answers_valid_chat_completions_in_every_verdict_mode() -> None:
    messages = [
        {"role": "system", "content": "judge"},
        {"role": "user", "content": "Reply with A, B, or tie."},
    ]
    with LatencyServer(latency=0.001) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        try:
            logprob = client.chat.completions.create(
                model="m", messages=messages, max_tokens=1, logprobs=True, top_logprobs=3
            )
            as_json = client.chat.completions.create(
                model="m", messages=messages, response_format={"type": "json_object"}
            )
            as_text = client.chat.completions.create(model="m", messages=messages)
        finally:
            client.close()
        assert server.requests == 3
    assert logprob.object == "chat.completion"
    choice = logprob.choices[0]
    assert choice.message.content in ("A", "B", "tie")
    first = choice.logprobs.content[0]
    assert first.token == choice.message.content
    assert [t.token for t in first.top_logprobs][0] == first.token and len(first.top_logprobs) == 3
    assert sum(2.718281828459045**t.logprob for t in first.top_logprobs) == pytest.approx(1.0)
    assert logprob.usage.prompt_tokens == approx_prompt_tokens(messages)
    assert logprob.usage.completion_tokens == 1
    assert logprob.usage.total_tokens == logprob.usage.prompt_tokens + 1
    assert json.loads(as_json.choices[0].message.content)["verdict"] in ("A", "B", "tie")
    assert as_json.choices[0].logprobs is None
    assert as_text.choices[0].message.content.splitlines()[-1].startswith("Verdict: ")


def test_latency_server_answers_are_a_pure_function_of_the_request() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Rate it from 1 to 9."}], "logprobs": True}
    with LatencyServer(latency=0) as server:
        client = openai.OpenAI(api_key="x", base_url=server.base_url, max_retries=0)
        try:
            first = client.chat.completions.create(**body)
            second = client.chat.completions.create(**body)
        finally:
            client.close()
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].message.content in [str(k) for k in range(1, 10)]


@pytest.mark.parametrize("name", BUILTIN_TEMPLATES)
def test_latency_server_reads_the_verdict_set_off_each_builtin_template(name: str) -> None:
    template = load_template(name, name)
    item = _items_for(name, 1).iloc[0].to_dict()
    for mode in VERDICT_MODES:
        messages = render_messages(template, item, mode=mode)
        assert set(infer_verdicts({"messages": messages})) == set(template.verdicts), (name, mode)


def test_latency_server_holds_300_requests_at_once_and_keeps_connections_alive() -> None:
    """Raw HTTP/1.1 clients; the server answers none until all 300 are in flight, then each client sends a second
    request on the same connection."""
    count = 300
    payload = json.dumps({"model": "m", "messages": [{"role": "user", "content": "A, B, or tie?"}]}).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(payload)
    ) + payload

    async def one(port: int) -> list[dict]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for _ in range(2):
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            answers.append(json.loads(await reader.readexactly(length)))
        writer.close()
        return answers

    async def run(port: int) -> list[list[dict]]:
        return await asyncio.wait_for(asyncio.gather(*(one(port) for _ in range(count))), timeout=120)

    with LatencyServer(latency=0.001, hold=count) as server:
        answers = asyncio.run(run(server.port))
        stats = server.stats()
    assert stats["max_in_flight"] == count
    assert stats["requests"] == 2 * count
    assert stats["connections"] == count  # the second request of each client reused its connection
    assert all(a["object"] == "chat.completion" and a["choices"] for pair in answers for a in pair)


# -- the runner against it --------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [8, 3 * CLIENT_CONNECTIONS])
def test_runner_keeps_its_concurrency_in_flight(concurrency: int, key_env: str, tmp_path: Path) -> None:
    """With ``hold = concurrency`` the run can only finish if the runner really had that many requests open at
    once (across its several clients when the concurrency is above one client's share)."""
    items = make_items(2 * concurrency)
    with LatencyServer(latency=0.001, hold=concurrency) as server:
        judge = LLMJudge(_config(server, key_env, concurrency=concurrency), cache=tmp_path / "cache.sqlite")
        labels = judge.judge_items(items, "pairwise")
        stats = server.stats()
        judge.close()
    assert stats["max_in_flight"] == concurrency
    assert stats["requests"] == len(items)
    assert labels["label"].notna().all() and labels["exclusion"].isna().all()
    assert judge.stats["sent"] == len(items)


@pytest.mark.parametrize("name", BUILTIN_TEMPLATES)
@pytest.mark.parametrize("mode", VERDICT_MODES)
def test_runner_against_the_latency_server_every_template_and_mode(
    name: str, mode: str, key_env: str, tmp_path: Path
) -> None:
    items = _items_for(name, 12)
    cache_path = tmp_path / "cache.sqlite"
    with LatencyServer(latency=0) as server:
        judge = LLMJudge(_config(server, key_env, concurrency=4, verdict_mode=mode), cache=cache_path)
        labels = judge.judge_items(items, name)
        judge.close()
        assert server.requests == len(items)
        again = LLMJudge(_config(server, key_env, concurrency=4, verdict_mode=mode), cache=cache_path)
        rerun = again.judge_items(items, name)
        again.close()
        assert server.requests == len(items), "the rerun was answered from the cache"
    assert labels["exclusion"].isna().all(), labels["exclusion"].value_counts()
    assert (labels["verdict_source"] == mode).all()
    value = labels["score"] if name == "score" else labels["label"]
    assert value.notna().all()
    template = load_template(name, name)
    expected = [
        approx_prompt_tokens(render_messages(template, item, mode=mode)) for item in items.to_dict("records")
    ]
    assert list(labels["prompt_tokens"]) == expected
    assert not labels["cached"].any() and rerun["cached"].all()
    pd.testing.assert_frame_equal(
        labels.drop(columns=["cached", "latency_s"]), rerun.drop(columns=["cached", "latency_s"])
    )
    with JudgeCache(cache_path) as cache:
        assert len(cache) == len(items)
        stored = cache.get_many(labels["request_key"])
        lean = cache.get_many(labels["request_key"], with_request=False)
    assert {k: v.response for k, v in stored.items()} == {k: v.response for k, v in lean.items()}
    assert all(v.request is None for v in lean.values()) and all(v.request for v in stored.values())


def test_fast_rows_equal_the_base_rows() -> None:
    fields = dict(
        item_id="i-1", judge="openai:m", rater="0", label="b", order="ba", score=0.25, raw="B",
        verdict_source="logprobs", probabilities={"b": 0.5, "a": 0.25, "tie": 0.25}, verdict_mass=0.9,
        prompt_tokens=120, completion_tokens=1, cost=1e-5, cached=True, latency_s=0.2, template="pairwise@1",
        profile_view="full", request_key="k" * 64,
    )  # fmt: skip
    plain = [Judgment(**fields), Judgment(item_id="i-2", judge="openai:m", exclusion="timeout")]
    fast = [_Row(**fields), _Row(item_id="i-2", judge="openai:m", exclusion="timeout")]
    assert [j.to_row() for j in fast] == [j.to_row() for j in plain]
    pd.testing.assert_frame_equal(judgments_to_frame(fast), judgments_to_frame(plain))
    extra = _Row(item_id="i-3", judge="j", extra={"note": "x"})
    assert extra.to_row() == Judgment(item_id="i-3", judge="j", extra={"note": "x"}).to_row()


# -- the benchmark script ---------------------------------------------------------------------------------------


def test_benchmark_script_smoke_run_prints_its_tables() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_judges.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for heading in ("## Throughput", "## Cached rerun", "## Tokens per judgment"):
        assert heading in out
    assert "| concurrency | judgments | ideal /s |" in out
    assert "\n| 4 | 20 | 400 |" in out  # concurrency 4, 20 items, ideal 4 / 10 ms
    for name in BUILTIN_TEMPLATES:
        for mode in VERDICT_MODES:
            assert f"| {name}@1 | {mode} |" in out
