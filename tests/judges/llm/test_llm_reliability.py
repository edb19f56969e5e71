"""Reliability of the LLM judge at scale (issue 9): a faulty endpoint, and kill -9 at random points of a run.

Whatever the endpoint does, every item ends labelled or excluded with its reason, and a verdict that reached the
cache is never paid for twice; whatever point a run is killed at, the cache stays a sound SQLite file in WAL mode
and the final labels equal those of a run that was never interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from servers.fake_openai import (
    PERMANENT_REASON,
    LoggedRequest,
    body_hash,
    make_items,
    seeded_fault_plan,
    stored_count,
)

from judges.cache import request_key
from judges.llm import LLMJudge, LLMJudgeConfig

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPARED = ["item_id", "judge", "rater", "label", "order", "score", "raw", "exclusion", "probabilities"]
TEMPLATE_ID = "pairwise@1"

#: 20% of the requests fail: 12% on their first attempt only, 8% on every attempt.
TRANSIENT_SHARES = {"429": 0.03, "500": 0.03, "slow": 0.02, "malformed_json": 0.02, "truncated": 0.02}
PERMANENT_SHARES = {
    "429": 0.01, "500": 0.01, "slow": 0.01, "malformed_json": 0.01, "truncated": 0.01, "empty_choices": 0.02,
    "prose": 0.01,
}  # fmt: skip
#: The client's timeout per attempt.  A ``slow`` fault never answers (``delay=None``); every other answer of the
#: fake server comes within 0.3 s even at 64 requests in flight on a loaded 2-core machine, so a request times out
#: exactly when it meets that fault, also on a machine ten times slower.
TIMEOUT = 4.0


def _stored(cache: Path) -> dict[str, float]:
    """Body hash -> the time its response was stored, read without locking out a running writer."""
    if not cache.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as conn:
            rows = conn.execute("SELECT request, created FROM responses").fetchall()
    except sqlite3.OperationalError:  # the file or table is not created yet
        return {}
    return {body_hash(json.loads(request)): created for request, created in rows}


def assert_sound_cache(cache: Path, endpoint: str) -> int:
    """The cache is an intact SQLite file in WAL mode whose every entry parses and sits under its own key."""
    with sqlite3.connect(cache) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT key, request, response FROM responses").fetchall()
    for key, request, response in rows:
        body, answer = json.loads(request), json.loads(response)
        assert key == request_key(endpoint=endpoint, body=body, template=TEMPLATE_ID, sample=0), (
            "entry under a wrong key"
        )
        assert answer["choices"] and answer["choices"][0]["message"]["content"], (
            "a stored response without a verdict"
        )
    return len(rows)


def assert_no_stored_verdict_requested_again(log: list[LoggedRequest], stored: dict[str, float]) -> None:
    """No request reached the server after the response to the same body was stored (server log vs cache times)."""
    repeated = [e for e in log if e.body_hash in stored and e.started > stored[e.body_hash]]
    assert not repeated, f"{len(repeated)} requests were sent again after their verdict was stored"


# -- a faulty endpoint at scale ---------------------------------------------------------------------------------


def _expected_exclusion(plan, body: dict) -> str | None:
    first, later = plan(body, 0), plan(body, 1)
    if later is not None:  # the fault is met on every attempt
        return PERMANENT_REASON[later.kind]
    if first is not None and first.kind in ("empty_choices", "prose"):
        return PERMANENT_REASON[first.kind]
    return None


def test_1000_items_with_20_percent_faulty_requests_are_each_labelled_or_excluded_with_the_injected_reason(
    fake_server, tmp_path
):
    plan = seeded_fault_plan(
        TRANSIENT_SHARES, permanent=PERMANENT_SHARES, seed=9, retry_after=0.1, delay=None
    )
    server = fake_server(fault_plan=plan)
    items = make_items(1000)
    cache = tmp_path / "cache.sqlite"
    config = LLMJudgeConfig(
        model="fake-judge",
        base_url=server.base_url,
        timeout=TIMEOUT,
        max_retries=2,
        concurrency=64,
        max_error_rate=1.0,  # about 14% of the requests fail on purpose: the labels are what is checked here
        progress=False,
    )
    judge = LLMJudge(config, cache=cache)
    bodies = {p.item_id: p.body for p in judge.plan(items, "pairwise")}
    injected = Counter(
        (plan(body, 0).kind, plan(body, 1) is not None)
        for body in bodies.values()
        if plan(body, 0) is not None
    )
    assert 180 <= sum(injected.values()) <= 220, injected  # about 20% of the requests meet a fault
    assert {kind for kind, _ in injected} == set(TRANSIENT_SHARES) | set(PERMANENT_SHARES), "the whole mix"

    labels = judge.judge_items(items, "pairwise")
    # no retry storm: each request is tried at most (1 + max_retries) times by the client, and a malformed body
    # at most (1 + max_retries) times more by the judge
    attempts = Counter(entry.body_hash for entry in server.log)
    assert max(attempts.values()) <= (1 + config.max_retries) ** 2, attempts.most_common(3)
    assert sum(attempts.values()) <= 1000 + 2 * (1 + config.max_retries) ** 2 * sum(injected.values())

    assert len(labels) == 1000 and list(labels["item_id"]) == list(items["item_id"])
    labelled, excluded = labels["label"].notna(), labels["exclusion"].notna()
    assert (labelled ^ excluded).all(), "each item is labelled or excluded, never both or neither"
    assert int(labelled.sum()) + int(excluded.sum()) == 1000
    expected = {item_id: _expected_exclusion(plan, body) for item_id, body in bodies.items()}
    got = {row.item_id: (None if pd.isna(row.exclusion) else row.exclusion) for row in labels.itertuples()}
    assert got == expected, {k: (got[k], expected[k]) for k in got if got[k] != expected[k]}
    assert Counter(r for r in got.values() if r) == Counter(
        PERMANENT_REASON[kind]
        for kind, every_attempt in injected.elements()
        if every_attempt or kind in ("empty_choices", "prose")
    )
    assert set(labels.loc[labelled, "label"]) <= {"a", "b", "tie"}

    # Every retried request was retried a bounded number of times, and none after its verdict was stored.
    per_body = Counter(entry.body_hash for entry in server.log)
    assert max(per_body.values()) <= config.max_retries + 1
    stored = _stored(cache)
    assert_no_stored_verdict_requested_again(server.log, stored)
    answered = Counter(e.body_hash for e in server.log if e.outcome in ("ok", "prose"))
    assert set(answered) == set(stored), "exactly the usable answers were stored"
    unparseable = sum(reason == "unparseable" for reason in got.values())
    assert assert_sound_cache(cache, config.endpoint) == len(stored) == int(labelled.sum()) + unparseable

    # A second run with the same cache asks again only for what failed, and changes no verdict.  Everything it
    # sends fails on every attempt, with the same reason whatever the number of attempts: one attempt each (a
    # request that never answers costs one timeout, not three).
    server.clear_log()
    again = LLMJudge(dataclasses.replace(config, max_retries=0), cache=cache).judge_items(items, "pairwise")
    failed_bodies = {body_hash(bodies[i]) for i, reason in got.items() if reason and reason != "unparseable"}
    assert {entry.body_hash for entry in server.log} == failed_bodies
    pd.testing.assert_frame_equal(again[COMPARED], labels[COMPARED])


# -- kill -9 at random points -----------------------------------------------------------------------------------


def _judge_command(items: Path, base_url: str, cache: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "auditor", "judge", str(items), "--judge", "openai:fake-judge", "--base-url", base_url,
        "--api-key-env", "FAKE_JUDGE_KEY", "--cache", str(cache), "--out", str(out), "--concurrency", "4",
        "--timeout", "10", "--max-retries", "2", "--quiet",
    ]  # fmt: skip


def _read_labels(path: Path) -> pd.DataFrame:
    return pd.read_json(path, lines=True, dtype=False)[COMPARED].astype(str)


def test_five_kill_9_at_random_points_then_a_rerun_equals_an_uninterrupted_run_with_a_sound_cache(
    fake_server, tmp_path, monkeypatch
):
    """``python -m auditor judge`` is killed five times (each rerun is killed again), then completes."""
    seed = int(os.environ.get("AUDITOR_CRASH_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    server = fake_server(latency=0.03, api_key="sk-fake-judge")
    total = 300
    items = tmp_path / "items.jsonl"
    make_items(total).to_json(items, orient="records", lines=True)
    cache, out = tmp_path / "cache.sqlite", tmp_path / "labels.jsonl"
    endpoint = server.base_url + "/chat/completions"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FAKE_JUDGE_KEY": "sk-fake-judge"}
    command = _judge_command(items, server.base_url, cache, out)
    kill_points = sorted(rng.sample(range(5, total - 20), 5))
    context = f"seed {seed} (rerun with AUDITOR_CRASH_SEED={seed}), kill points {kill_points}"

    sent_per_run, log = [], []
    for kill_at in kill_points:
        stored_before = _stored(cache)
        server.clear_log()
        # 8 answers past the kill point, the rest held: the run cannot end before the kill on any machine.
        server.answer_limit = max(kill_at - len(stored_before), 0) + 8
        process = subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while stored_count(cache) < kill_at and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.003)
        assert process.poll() is None, (
            f"the run ended before the kill: {process.stderr.read().decode()}; {context}"
        )
        time.sleep(rng.uniform(0.0, 0.02))  # land anywhere: mid-request, mid-commit, between two answers
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        process.stderr.close()
        assert not out.exists(), "a killed run leaves no labels file"
        resent = {e.body_hash for e in server.log} & set(stored_before)
        assert not resent, f"{len(resent)} requests with a stored verdict were sent again; {context}"
        stored = assert_sound_cache(cache, endpoint)
        assert stored >= kill_at, context
        sent_per_run.append(len(server.log))
        log += server.log

    stored_before = _stored(cache)
    server.clear_log()
    server.answer_limit = None
    final = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert {e.body_hash for e in server.log}.isdisjoint(stored_before), context
    assert len(server.log) == total - len(stored_before), "the final run asks for exactly what is missing"
    sent_per_run.append(len(server.log))
    log += server.log
    assert assert_sound_cache(cache, endpoint) == total
    assert_no_stored_verdict_requested_again(log, _stored(cache))
    # Over all six runs, only the requests in flight at a kill (at most --concurrency per kill) were paid twice.
    assert total <= sum(sent_per_run) <= total + 5 * 4, (sent_per_run, context)

    uninterrupted = tmp_path / "uninterrupted.jsonl"
    fresh = _judge_command(items, server.base_url, tmp_path / "fresh.sqlite", uninterrupted)
    from auditor.cli import main

    monkeypatch.setenv("FAKE_JUDGE_KEY", "sk-fake-judge")
    assert main(fresh[3:]) == 0
    pd.testing.assert_frame_equal(_read_labels(out), _read_labels(uninterrupted))
    final_labels = pd.read_json(out, lines=True, dtype=False)
    assert final_labels["label"].notna().all() and final_labels["exclusion"].isna().all(), (
        "every item labelled"
    )
