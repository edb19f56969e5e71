"""The LLM judge against a real loopback server that injects faults (429, 5xx, timeouts, broken bodies)."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pandas as pd
import pytest
from servers.fake_openai import PERMANENT_REASON, Fault, body_hash, make_items, seeded_fault_plan
from servers.latency_server import LatencyServer

from judges.llm import JudgeRunError, LLMJudge, LLMJudgeConfig

RETRYABLE = ("429", "500", "slow", "truncated", "malformed_json")
#: The client's timeout per attempt.  The fake server answers in milliseconds and a ``slow`` fault never answers
#: (``delay=None``), so a request times out exactly when it meets that fault, on a machine of any speed.
TIMEOUT = 3.0


def _judge(server, cache=None, **config) -> LLMJudge:
    settings = {
        "timeout": TIMEOUT,
        "max_retries": 2,
        "concurrency": 16,
        "progress": False,
        "max_error_rate": 1.0,
    }
    settings.update(config)
    return LLMJudge(LLMJudgeConfig(model="fake-judge", base_url=server.base_url, **settings), cache=cache)


def _item_index(body: dict) -> int:
    match = re.search(r"Question (\d+) ", body["messages"][-1]["content"])
    assert match, "the fake plan finds the item by its prompt"
    return int(match.group(1))


def fault_by_item(body: dict, attempt: int) -> Fault | None:
    """Items 0..27 fail on every attempt (4 of each kind), items 28..87 meet a retryable fault once, the rest none.

    An empty ``choices`` list and a prose answer are answers, not transport faults: they are not retried.
    """
    index = _item_index(body)
    kinds = list(PERMANENT_REASON)
    if index < 4 * len(kinds):
        return Fault(kinds[index % len(kinds)], retry_after=0.2, delay=None)
    if index < 4 * len(kinds) + 60 and attempt == 0:
        return Fault(RETRYABLE[index % len(RETRYABLE)], retry_after=0.2, delay=None)
    return None


def test_200_items_under_faults_are_each_labelled_or_excluded_with_the_right_reason(fake_server, tmp_path):
    server = fake_server(fault_plan=fault_by_item)
    items = make_items(200)
    judge = _judge(server, cache=tmp_path / "cache.sqlite")

    labels = judge.judge_items(items, "pairwise")

    assert len(labels) == 200
    assert list(labels["item_id"]) == list(items["item_id"])
    labelled = labels["label"].notna()
    assert (labelled ^ labels["exclusion"].notna()).all(), (
        "each row is labelled or excluded, never both or neither"
    )
    assert set(labels.loc[labelled, "label"]) <= {"a", "b", "tie"}
    kinds = list(PERMANENT_REASON)
    expected = [PERMANENT_REASON[kinds[i % len(kinds)]] if i < 4 * len(kinds) else None for i in range(200)]
    assert [None if pd.isna(x) else x for x in labels["exclusion"]] == expected
    assert Counter(labels["exclusion"].dropna()) == {reason: 4 for reason in PERMANENT_REASON.values()}
    assert labels.loc[labels["exclusion"] == "unparseable", "raw"].str.contains("merits").all(), (
        "raw text kept"
    )
    # A request whose verdict was stored (an answer with choices) is never sent again.
    answered: set[str] = set()
    for entry in sorted(server.log, key=lambda e: e.started):
        assert entry.body_hash not in answered, "a request with a stored verdict was repeated"
        if entry.outcome in ("ok", "prose"):
            answered.add(entry.body_hash)
    assert set(judge.cache.keys()) == set(
        labels.loc[labelled | (labels["exclusion"] == "unparseable"), "request_key"]
    )


def test_retry_after_is_honoured(fake_server):
    server = fake_server(
        fault_plan=lambda body, attempt: Fault("429", retry_after=1.0) if attempt == 0 else None
    )
    labels = _judge(server, timeout=5).judge_items(make_items(1), "pairwise")
    assert labels["label"].notna().all()
    first, second = sorted(server.log, key=lambda e: e.attempt)
    assert (first.outcome, second.outcome) == ("429", "ok")
    assert second.started - first.started >= 0.95


def test_a_repeated_run_makes_no_request_and_gives_the_same_labels(fake_server, tmp_path):
    server = fake_server()
    items = make_items(30)
    first = _judge(server, cache=tmp_path / "c.sqlite").judge_items(items, "pairwise")
    sent = len(server.log)
    judge = _judge(server, cache=tmp_path / "c.sqlite")
    second = judge.judge_items(items, "pairwise")
    assert sent == 30 and len(server.log) == sent
    assert first["exclusion"].isna().all(), first["exclusion"].value_counts()
    assert judge.stats["sent"] == 0 and judge.stats["from_cache"] == 30
    assert second["cached"].all() and not first["cached"].any()
    pd.testing.assert_series_equal(first["label"], second["label"])


def test_the_body_the_server_receives_is_the_body_that_is_keyed_and_stored(fake_server, tmp_path):
    server = fake_server()
    judge = _judge(server, cache=tmp_path / "c.sqlite", seed=7, extra_body={"top_k": 1})
    judge.judge_items(make_items(5), "pairwise")
    stored = {body_hash(body) for body in judge.cache.requests()}
    assert stored == set(server.completed_hashes())
    assert all(entry.body["top_k"] == 1 and entry.body["seed"] == 7 for entry in server.log)


@pytest.mark.parametrize(
    ("task", "answer", "expected_ab", "expected_ba"),
    [("pairwise", "A", "a", "b"), ("pairwise", "tie", "tie", "tie"), ("likert", "4", "4", "2")],
)
def test_position_swap_maps_verdicts_back_to_the_original_numbering(
    fake_server, task, answer, expected_ab, expected_ba
):
    server = fake_server(verdicts=(answer,))  # the fake judge always answers `answer` about what it is shown
    judge = LLMJudge(
        LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False), orders=("ab", "ba")
    )
    labels = judge.judge_items(make_items(3), task)
    assert len(labels) == 6
    assert set(labels.loc[labels["order"] == "ab", "label"]) == {expected_ab}
    assert set(labels.loc[labels["order"] == "ba", "label"]) == {expected_ba}
    ba_prompt = judge.plan(make_items(1), task)[1].body["messages"][1]["content"]
    assert ba_prompt.index("personalised answer") < ba_prompt.index("generic answer"), "ba shows b first"


def test_logprob_verdicts_give_probabilities_and_an_expected_score(fake_server):
    server = fake_server(verdicts=("A", "B", "tie"))
    labels = LLMJudge(
        LLMJudgeConfig(model="fake-judge", base_url=server.base_url, progress=False)
    ).judge_items(make_items(10), "pairwise")
    assert (labels["verdict_source"] == "logprobs").all()
    for row in labels.itertuples():
        probabilities = json.loads(row.probabilities)
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert row.label == max(probabilities, key=probabilities.get)
        assert row.score == pytest.approx(probabilities["b"] - probabilities["a"])


def test_a_rejected_key_stops_the_run_with_a_clear_message_that_hides_the_key(fake_server, monkeypatch):
    server = fake_server(api_key="sk-right-key")
    monkeypatch.setenv("JUDGE_KEY_UNDER_TEST", "sk-WRONG-sentinel-123")
    judge = _judge(server, api_key_env="JUDGE_KEY_UNDER_TEST")
    with pytest.raises(JudgeRunError) as caught:
        judge.judge_items(make_items(20), "pairwise")
    message = str(caught.value)
    assert "401" in message and "JUDGE_KEY_UNDER_TEST" in message
    assert "sk-WRONG" not in message and "sentinel" not in message
    assert len(server.log) < 20, "the run stops at the first 401 instead of trying every item"


def test_costs_come_from_the_configured_prices(fake_server):
    server = fake_server()
    labels = _judge(server, prices=(2.0, 8.0)).judge_items(make_items(3), "pairwise")
    expected = (labels["prompt_tokens"] * 2.0 + labels["completion_tokens"] * 8.0) / 1e6
    assert labels["cost"].to_numpy() == pytest.approx(expected.to_numpy().astype(float))


def test_missing_responses_are_excluded_without_a_request(fake_server):
    server = fake_server()
    items = make_items(3)
    items.loc[1, "response_b"] = None
    labels = _judge(server).judge_items(items, "pairwise")
    assert labels["exclusion"].fillna("-").tolist() == ["-", "missing_input", "-"]
    assert len(server.log) == 2


def test_server_log_groups_attempts_per_request(fake_server):
    plan = seeded_fault_plan({"500": 1.0})
    server = fake_server(fault_plan=plan)
    labels = _judge(server).judge_items(make_items(4), "pairwise")
    assert labels["exclusion"].isna().all(), "each 500 was retried into an answer"
    attempts = defaultdict(list)
    for entry in server.log:
        attempts[entry.body_hash].append(entry.outcome)
    assert sorted(attempts.values()) == [["500", "ok"]] * 4


def test_concurrency_is_bounded():
    # hold=3: nothing is answered until 3 requests are in flight at once, so the run reaches 3 whatever the
    # machine's speed (a client that cannot keep 3 open gets timeouts); the latency after that gives a client that
    # overshoots its bound the time to show it.
    with LatencyServer(latency=0.15, hold=3) as server:
        labels = _judge(server, concurrency=3).judge_items(make_items(12), "pairwise")
        stats = server.stats()
    assert stats["max_in_flight"] == 3
    assert labels["exclusion"].isna().all(), labels["exclusion"].value_counts()


def test_samples_are_raters_with_their_own_seed_and_cache_key(fake_server):
    server = fake_server()
    judge = _judge(server, samples=3, seed=10, temperature=0.7)
    labels = judge.judge_items(make_items(2), "pairwise")
    assert labels["exclusion"].isna().all(), labels["exclusion"].value_counts()
    assert labels["rater"].tolist() == ["0", "1", "2"] * 2
    assert labels["request_key"].nunique() == 6
    assert sorted(entry.body["seed"] for entry in server.log) == [10, 10, 11, 11, 12, 12]
