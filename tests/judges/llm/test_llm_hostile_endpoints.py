"""The LLM judge against hostile loopback endpoints (:mod:`servers.hostile`): a run never fails silently.

A failing endpoint (connection refused, every request 400, unknown model, rejected key, a 429 storm asking to wait
a day, a server that never answers, malformed answers) ends the command with exit code 3 and one line naming the
endpoint and the server's own message (never the key), after writing the labels it has; a rerun against a healthy
server sends only the requests without an answer.  Answers are untrusted: malformed or oversized ones become
exclusions and are never cached, redirects leave no origin, and a key echoed by the server is stored nowhere.

No assertion here depends on time: each run is bounded by counts (a request is tried at most twice, the run stops
after the same failure on every request) and the subprocess timeout is only a guard against hanging.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from servers.fake_openai import Fault, body_hash, make_items
from servers.hostile import MAX_TOKENS_MESSAGE, HostileServer, refused_port

from auditor.cli.exits import RUN_INCOMPLETE, error_exit_code
from judges.cli import main as judges_main
from judges.llm import JudgeRunError, JudgeRunIncomplete, LLMJudge, LLMJudgeConfig
from judges.llm.transport import FAIL_FAST_AFTER
from tests.conftest import run_cli

KEY_ENV = "AUDITOR_TEST_HOSTILE_KEY"
KEY = "sk-hostile-SENTINEL-7f3a9c2e41b8d6f0aa"
#: Bounds that keep every failing run short: two attempts of at most 1 s, Retry-After honoured up to 1 s.
FAST = ("--timeout", "1", "--max-retries", "1", "--max-wait", "1", "--request-deadline", "10", "--quiet")
ITEMS, SEEDED = 5, 2  # items judged; of them, answered by a healthy server before the endpoint fails


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    started: list[HostileServer] = []

    def start(mode: str, **options: object) -> HostileServer:
        server = HostileServer(mode, **options).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def _config(base_url: str, **options: object) -> LLMJudgeConfig:
    settings: dict[str, object] = dict(
        model="fake-judge", base_url=base_url, api_key_env=KEY_ENV, timeout=1.0, max_retries=1, max_wait=1.0,
        request_deadline=10.0, progress=False,
    )  # fmt: skip
    settings.update(options)
    return LLMJudgeConfig(**settings)  # type: ignore[arg-type]


def _judge_args(items: Path, base_url: str, cache: Path, out: Path) -> list[str]:
    return [
        "judge", str(items), "--judge", "openai:fake-judge", "--base-url", base_url, "--api-key-env", KEY_ENV,
        "--cache", str(cache), "--out", str(out), *FAST,
    ]  # fmt: skip


def _incomplete(judge: LLMJudge, items: pd.DataFrame) -> pd.DataFrame:
    """The labels a run carries in its :class:`JudgeRunIncomplete`."""
    with pytest.raises(JudgeRunIncomplete) as caught:
        judge.judge_items(items, "pairwise")
    assert caught.value.labels is not None
    return caught.value.labels


def _stored(cache: Path) -> tuple[int, int]:
    """Responses and parsed verdicts a cache file holds."""
    with sqlite3.connect(cache) as conn:
        return tuple(
            conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("responses", "verdicts")
        )


# -- the command line against failing endpoints ----------------------------------------------------------------

FAILING = {
    # mode: (the exclusions of the requests sent, the first of them always there; what the error line quotes)
    "refused": ({"connection_error"}, "connection refused"),
    "max_tokens_400": ({"http_400"}, MAX_TOKENS_MESSAGE),
    "model_404": ({"http_404", "run_stopped"}, "The model `fake-judge` does not exist"),
    "key_401": ({"http_401", "run_stopped"}, "Incorrect API key provided: [redacted]."),
    "retry_after_storm": ({"http_429_exhausted"}, "Retry-After 86400 s is longer than --max-wait 1 s"),
    "hang": ({"timeout"}, "no answer within --timeout 1 s"),
    "choices_strings": ({"malformed_response"}, "choices[0] is a string, not an object"),
}
FIXES = {
    "max_tokens_400": "--request-profile reasoning",
    "model_404": "--base-url",
    "key_401": f"${KEY_ENV}",
    "refused": "server is running",
}


@pytest.mark.parametrize("mode", list(FAILING))
def test_a_failing_endpoint_exits_3_with_one_line_after_writing_the_labels_and_a_rerun_resumes(
    mode, hostile, fake_server, key, tmp_path
):
    reasons, said = FAILING[mode]
    items = make_items(ITEMS)
    items_path, cache, out = tmp_path / "items.jsonl", tmp_path / "cache.sqlite", tmp_path / "labels.jsonl"
    items.to_json(items_path, orient="records", lines=True)
    healthy = fake_server()  # the first items are answered (and cached) before the endpoint fails
    port, base_url = healthy.port, healthy.base_url
    LLMJudge(_config(base_url), cache=cache).judge_items(items.iloc[:SEEDED], "pairwise")
    healthy.stop()
    failing = hostile(mode, port=port) if mode != "refused" else None

    done = run_cli(*_judge_args(items_path, base_url, cache, out), timeout=300)

    assert done.returncode == 3, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert f"{base_url}/chat/completions" in errors[0] and said in errors[0], errors[0]
    assert FIXES.get(mode, "fix:") in errors[0]
    assert "Traceback" not in done.stderr and KEY not in done.stderr + done.stdout
    labels = pd.read_json(out, lines=True, dtype=False)
    assert labels["item_id"].tolist() == items["item_id"].tolist()
    assert labels["label"].iloc[:SEEDED].notna().all() and labels["cached"].iloc[:SEEDED].all()
    sent = labels["exclusion"].iloc[SEEDED:]
    assert set(sent) <= reasons and next(iter(sorted(reasons))) in set(sent), sent.tolist()
    assert KEY not in out.read_text()

    if failing is not None:
        failing.stop()
    # the endpoint is healthy again: the rerun (the same command, in this process) sends only the missing requests
    healthy = fake_server(port=port)
    assert judges_main(_judge_args(items_path, base_url, cache, out)) == 0
    planned = LLMJudge(_config(base_url)).plan(items, "pairwise")
    assert sorted(entry.body_hash for entry in healthy.log) == sorted(
        body_hash(p.body) for p in planned[SEEDED:]
    )
    labels = pd.read_json(out, lines=True, dtype=False)
    assert labels["label"].notna().all() and labels["exclusion"].isna().all()


def test_judges_cli_main_gives_the_same_exit_code_3(key, tmp_path):
    items = tmp_path / "items.jsonl"
    make_items(2).to_json(items, orient="records", lines=True)
    out = tmp_path / "labels.jsonl"
    base_url = f"http://127.0.0.1:{refused_port()}/v1"
    assert judges_main(_judge_args(items, base_url, tmp_path / "c.sqlite", out)) == 3
    assert pd.read_json(out, lines=True)["exclusion"].tolist() == ["connection_error"] * 2


def _one_500_and_half_prose(body: dict, attempt: int) -> Fault | None:
    """Item 0 fails with a 500 on every attempt; odd items get a prose answer (unparseable); the rest a verdict."""
    index = int(re.search(r"Question (\d+) ", body["messages"][-1]["content"]).group(1))
    return Fault("500") if index == 0 else Fault("prose") if index % 2 else None


def test_failures_within_max_error_rate_pass_and_unparseable_verdicts_are_no_failures(
    fake_server, key, tmp_path, capsys
):
    server = fake_server(fault_plan=_one_500_and_half_prose)
    items = tmp_path / "items.jsonl"
    make_items(20).to_json(items, orient="records", lines=True)
    args = _judge_args(items, server.base_url, tmp_path / "c.sqlite", tmp_path / "labels.jsonl")
    assert judges_main([*args, "--max-retries", "0"]) == 0  # 1 failed request of 20 = 0.05, the default bound
    summary = capsys.readouterr().err
    assert "http_500_exhausted 1" in summary and "unparseable 10 (50%)" in summary
    assert judges_main([*args, "--max-retries", "0", "--max-error-rate", "0.04"]) == 3
    error = capsys.readouterr().err
    assert "1 of 20 requests" in error and "more than --max-error-rate 0.04" in error
    assert "The server had an error" in error


# -- fail fast -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["max_tokens_400", "refused"])
def test_the_same_failure_on_request_after_request_stops_the_run(mode, hostile, key):
    server = hostile(mode) if mode != "refused" else None
    base_url = server.base_url if server else f"http://127.0.0.1:{refused_port()}/v1"
    concurrency = 2
    labels = _incomplete(LLMJudge(_config(base_url, concurrency=concurrency)), make_items(30))
    reason = "http_400" if server else "connection_error"
    counts = Counter(labels["exclusion"])
    assert set(counts) == {reason, "run_stopped"}
    # the run stops at the FAIL_FAST_AFTER-th failure; the other worker may have one more request in flight
    assert FAIL_FAST_AFTER <= counts[reason] <= FAIL_FAST_AFTER + concurrency - 1
    if server:
        # a 400 is not retried, and no request is sent after the stop (one in flight may reach the server)
        assert counts[reason] <= server.requests <= FAIL_FAST_AFTER + concurrency - 1


def test_a_refused_key_stops_at_once_and_its_error_is_a_judge_run_error_with_exit_code_3(hostile, key):
    server = hostile("key_401")
    labels = _incomplete(LLMJudge(_config(server.base_url, concurrency=1)), make_items(20))
    assert Counter(labels["exclusion"]) == {"http_401": 1, "run_stopped": 19}
    assert server.requests == 1
    assert issubclass(JudgeRunIncomplete, JudgeRunError)
    assert error_exit_code(JudgeRunIncomplete("stopped")) == RUN_INCOMPLETE == 3
    assert KEY not in labels["raw"].dropna().str.cat()


# -- answers are untrusted input -------------------------------------------------------------------------------

UNTRUSTED = {
    "choices_strings": ("malformed_response", "choices[0] is a string, not an object"),
    "message_string": ("malformed_response", "choices[0].message is a string, not an object"),
    "usage_string": ("malformed_response", "usage is a string, not an object"),
    "logprob_1000": ("malformed_response", "top_logprobs[0].logprob is the number 1000"),
    "huge": ("answer_too_large", "longer than --max-answer-bytes 1048576"),
}


@pytest.mark.parametrize("mode", list(UNTRUSTED))
def test_a_malformed_or_oversized_answer_is_an_exclusion_and_is_never_cached(mode, hostile, key, tmp_path):
    reason, problem = UNTRUSTED[mode]
    server = hostile(mode)
    cache = tmp_path / "cache.sqlite"
    judge = LLMJudge(_config(server.base_url), cache=cache)
    labels = _incomplete(judge, make_items(2))
    judge.close()
    assert labels["exclusion"].tolist() == [reason] * 2
    assert labels["raw"].str.contains(problem, regex=False).all(), labels["raw"].tolist()
    assert server.requests == 2, "an answer that is not a transport fault is not retried"
    assert _stored(cache) == (0, 0), "neither the answer nor a verdict parsed from it is stored"
    assert sum(path.stat().st_size for path in tmp_path.glob("cache.sqlite*")) < 1_000_000
    _incomplete(LLMJudge(_config(server.base_url), cache=cache), make_items(2))
    assert server.requests == 4, "a rerun asks again"


def test_a_malformed_answer_stored_by_an_older_version_is_excluded_then_requested_again(
    fake_server, key, tmp_path
):
    server = fake_server()
    items = make_items(2)
    judge = LLMJudge(_config(server.base_url), cache=tmp_path / "c.sqlite")
    first = judge.plan(items, "pairwise")[0]
    judge.cache.put(first.key, first.body, {"choices": ["A"]})  # stored before answers were checked
    labels = judge.judge_items(items, "pairwise")
    assert [None if pd.isna(x) else x for x in labels["exclusion"]] == ["malformed_response", None]
    assert len(server.log) == 1 and first.key not in judge.cache.keys()
    again = judge.judge_items(items, "pairwise")
    assert len(server.log) == 2 and again["label"].notna().all()


@pytest.mark.parametrize(("mode", "options", "reason"), [
    ("trickle", {"max_retries": 0}, "timeout"),  # a byte every 0.2 s: no read ever times out, the attempt does
    ("hang", {"timeout": 60.0, "request_deadline": 1.0}, "deadline_exceeded"),
])  # fmt: skip
def test_an_attempt_and_a_request_end_within_their_bounds(mode, options, reason, hostile, key):
    server = hostile(mode)
    labels = _incomplete(LLMJudge(_config(server.base_url, **options)), make_items(1))
    assert labels["exclusion"].tolist() == [reason]
    assert server.requests == 1


def test_a_redirect_to_another_origin_is_not_followed(hostile, fake_server, key):
    elsewhere = fake_server()
    server = hostile("redirect", redirect_to=elsewhere.base_url)
    labels = _incomplete(LLMJudge(_config(server.base_url)), make_items(2))
    assert labels["exclusion"].tolist() == ["redirect_refused"] * 2
    assert labels["raw"].str.contains(f"http://127.0.0.1:{elsewhere.port}", regex=False).all()
    assert elsewhere.log == [], "the other origin received nothing, not even the request body"


def test_a_redirect_within_the_origin_is_followed(hostile, key):
    server = hostile("same_origin_redirect")
    labels = LLMJudge(_config(server.base_url)).judge_items(make_items(2), "pairwise")
    assert labels["label"].tolist() == ["a", "a"]
    assert server.requests == 4  # each request, then its redirect


def test_a_key_echoed_by_the_server_reaches_neither_the_cache_nor_the_labels(hostile, key, tmp_path):
    server = hostile("echo_key")
    items_path, cache, out = tmp_path / "items.jsonl", tmp_path / "cache.sqlite", tmp_path / "labels.jsonl"
    make_items(2).to_json(items_path, orient="records", lines=True)
    done = run_cli(*_judge_args(items_path, server.base_url, cache, out), timeout=300)
    assert done.returncode == 0, done.stderr
    assert server.requests == 2
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("cache.sqlite*"))
    assert b"[redacted]" in stored
    written = out.read_text()
    assert "[redacted]" in written
    for fragment in (KEY, KEY[:16], KEY[-16:]):
        assert fragment.encode() not in stored and fragment not in written and fragment not in done.stderr
    labels = pd.read_json(out, lines=True, dtype=False)
    assert labels["label"].tolist() == ["a", "a"], "the answer itself is used, with the key taken out"


# -- probe and injection obey the same rule --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["probe", "injection"])
def test_probe_and_injection_exit_3_after_writing_the_labels_they_have(command, key, tmp_path, capsys):
    from auditor.cli import main as auditor_main

    base_url = f"http://127.0.0.1:{refused_port()}/v1"
    out = tmp_path / "out"
    items = tmp_path / "items.jsonl"
    make_items(3).to_json(items, orient="records", lines=True)
    shared = ["--model", "fake-judge", "--base-url", base_url, "--api-key-env", KEY_ENV, "--out", str(out)]
    if command == "probe":
        args = ["probe", str(items), *shared, "--orders", "ab", "--quiet"]
        written, absent = "labels.jsonl", "audit.json"
    else:
        args = ["injection", str(items), *shared, "--cache", str(tmp_path / "c.sqlite"), "--quiet"]
        written, absent = "clean.jsonl", "summary.csv"
    assert auditor_main(args) == 3
    error = capsys.readouterr().err
    assert "judging run incomplete" in error and f"{base_url}/chat/completions" in error and KEY not in error
    labels = pd.read_json(out / written, lines=True)
    assert set(labels["exclusion"]) == {"connection_error"}
    assert not (out / absent).exists()
