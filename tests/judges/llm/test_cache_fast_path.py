"""The cached rerun's fast path: plan keys (no rendering) and stored parsed verdicts (no decoding, no parsing).

Every table here is compared with the labels of a cold run (fresh cache, every request sent) and with the labels
the previous code built (:meth:`LLMJudge.plan` renders every prompt, ``get_many`` decodes every response,
:meth:`LLMJudge._judgment` parses it, ``judgments_to_frame`` builds the table).
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers.fake_openai import make_items
from servers.latency_server import LatencyServer, completion_body

import judges.llm.planning as planning
from judges.base import Judgment, columns_to_frame, judgments_to_frame
from judges.cache import JudgeCache, canonical_json
from judges.llm import LLMJudge, LLMJudgeConfig

KEY_ENV = "AUDITOR_TEST_FAST_PATH_KEY"
RUN_COLUMNS = ["cached", "latency_s"]  # what differs between a run that sent its requests and a rerun


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LatencyServer]:
    monkeypatch.setenv(KEY_ENV, "sk-fast-path-test")
    with LatencyServer(latency=0) as running:
        yield running


def _config(base_url: str, **overrides: Any) -> LLMJudgeConfig:
    options: dict[str, Any] = dict(
        model="latency", base_url=base_url, api_key_env=KEY_ENV, progress=False, max_retries=1, timeout=60.0
    )
    options.update(overrides)
    return LLMJudgeConfig(**options)


def _items(task: str, n: int, seed: int = 0) -> pd.DataFrame:
    items = make_items(n, seed=seed)
    if task == "score":
        items = items.rename(columns={"response_b": "response"}).drop(columns="response_a")
    if task == "binary":
        items = items[["item_id", "prompt", "profile"]]
    return items


def _reference(judge: LLMJudge, items: pd.DataFrame, task: str) -> pd.DataFrame:
    """The labels table as the previous code built it from the same cache (render, decode, parse, asdict)."""
    template = judge.template_for(task)
    planned = judge.plan(items, task)
    stored = judge.cache.get_many((p.key for p in planned if not p.skip), with_request=False)
    rows: list[Judgment] = [judge._judgment(p, stored.get(p.key), None, template, task) for p in planned]
    return judgments_to_frame(rows)


def _run(
    base_url: str, cache: Any, items: pd.DataFrame, task: str, *, render: bool = True, **kwargs: Any
) -> tuple[pd.DataFrame, dict[str, int]]:
    judge_options = {
        k: kwargs.pop(k) for k in ("orders", "profile_view", "max_response_chars") if k in kwargs
    }
    judge = LLMJudge(_config(base_url, **kwargs), cache=cache, **judge_options)
    try:
        if not render:  # the fast path must not render a single prompt
            original = planning.render_messages

            def refuse(*args: Any, **kw: Any) -> Any:
                raise AssertionError("rendered a prompt on a fully cached rerun")

            planning.render_messages = refuse
            try:
                labels = judge.judge_items(items, task)
            finally:
                planning.render_messages = original
        else:
            labels = judge.judge_items(items, task)
        return labels, dict(judge.stats)
    finally:
        judge.close()


def _reference_of(base_url: str, cache: Any, items: pd.DataFrame, task: str, **kwargs: Any) -> pd.DataFrame:
    judge_options = {
        k: kwargs.pop(k) for k in ("orders", "profile_view", "max_response_chars") if k in kwargs
    }
    judge = LLMJudge(_config(base_url, **kwargs), cache=cache, **judge_options)
    try:
        return _reference(judge, items, task)
    finally:
        judge.close()


CASES = [
    ("pairwise", "logprobs", {"orders": ("ab", "ba")}),
    ("pairwise", "json", {"orders": ("ba",), "samples": 2, "seed": 7}),
    ("pairwise", "text", {}),
    ("likert", "logprobs", {"orders": ("ab", "ba"), "prices": (0.15, 0.6)}),
    ("binary", "logprobs", {}),
    ("score", "text", {"max_response_chars": 20}),
]


@pytest.mark.parametrize(("task", "mode", "options"), CASES)
def test_cold_run_warm_rerun_and_previous_code_give_the_same_table(
    server: LatencyServer, tmp_path: Any, task: str, mode: str, options: dict[str, Any]
) -> None:
    items = _items(task, 9)
    path = tmp_path / "cache.sqlite"
    cold, cold_stats = _run(server.base_url, path, items, task, verdict_mode=mode, **dict(options))
    sent = server.requests
    assert cold_stats["sent"] == sent > 0 and not cold["cached"].any()
    warm, stats = _run(server.base_url, path, items, task, render=False, verdict_mode=mode, **dict(options))
    assert server.requests == sent and stats["sent"] == 0 and stats["from_cache"] == len(warm)
    assert warm["cached"].all()
    reference = _reference_of(server.base_url, path, items, task, verdict_mode=mode, **dict(options))
    pd.testing.assert_frame_equal(warm, reference)
    pd.testing.assert_frame_equal(warm.drop(columns=RUN_COLUMNS), cold.drop(columns=RUN_COLUMNS))
    assert (warm["latency_s"] == cold["latency_s"]).all()  # the stored latency of the run that asked
    # a cold run on a fresh cache (nothing stored, every prompt rendered) gives the same verdicts
    fresh, _ = _run(
        server.base_url, tmp_path / "fresh.sqlite", items, task, verdict_mode=mode, **dict(options)
    )
    pd.testing.assert_frame_equal(fresh.drop(columns=RUN_COLUMNS), warm.drop(columns=RUN_COLUMNS))


def test_changing_one_items_text_requests_that_item_only(server: LatencyServer, tmp_path: Any) -> None:
    items = _items("pairwise", 12)
    path = tmp_path / "cache.sqlite"
    options = {"orders": ("ab", "ba")}
    _run(server.base_url, path, items, "pairwise", **options)
    sent = server.requests
    edited = items.copy()
    edited.loc[5, "response_b"] = edited.loc[5, "response_b"] + " Also: stretch."
    labels, stats = _run(server.base_url, path, edited, "pairwise", **options)
    assert server.requests - sent == 2 and stats["sent"] == 2  # item 5 in both orders
    changed = labels["item_id"] == items.loc[5, "item_id"]
    assert not labels.loc[changed, "cached"].any() and labels.loc[~changed, "cached"].all()
    reference = _reference_of(server.base_url, path, edited, "pairwise", **options)
    pd.testing.assert_frame_equal(labels.drop(columns="cached"), reference.drop(columns="cached"))
    fresh, _ = _run(server.base_url, tmp_path / "fresh.sqlite", edited, "pairwise", **options)
    pd.testing.assert_frame_equal(labels.drop(columns=RUN_COLUMNS), fresh.drop(columns=RUN_COLUMNS))
    again, stats = _run(server.base_url, path, edited, "pairwise", render=False, **options)
    assert stats["sent"] == 0
    pd.testing.assert_frame_equal(again, reference)


@pytest.mark.parametrize(
    "change",
    [
        {"max_response_chars": 12},
        {"profile_view": "outputs"},
        {"temperature": 0.5},
        {"top_logprobs": 5},
        {"extra_body": {"top_k": 1}},
        {"model": "latency-2"},
    ],
)
def test_changing_a_template_or_request_option_requests_everything(
    server: LatencyServer, tmp_path: Any, change: dict[str, Any]
) -> None:
    items = _items("pairwise", 6)
    path = tmp_path / "cache.sqlite"
    _run(server.base_url, path, items, "pairwise")
    sent = server.requests
    labels, stats = _run(server.base_url, path, items, "pairwise", **dict(change))
    assert server.requests - sent == len(items) and stats["sent"] == len(items)
    assert not labels["cached"].any()
    reference = _reference_of(server.base_url, path, items, "pairwise", **dict(change))
    pd.testing.assert_frame_equal(labels.drop(columns="cached"), reference.drop(columns="cached"))


def test_a_new_parsing_threshold_parses_again(server: LatencyServer, tmp_path: Any) -> None:
    items = _items("pairwise", 10)
    path = tmp_path / "cache.sqlite"
    _run(server.base_url, path, items, "pairwise")
    strict, stats = _run(server.base_url, path, items, "pairwise", min_verdict_mass=1.5)
    assert stats["sent"] == 0
    # no logprob verdict can hold 1.5: the answers were parsed again (as text)
    assert (strict["verdict_source"] == "text").all()
    reference = _reference_of(server.base_url, path, items, "pairwise", min_verdict_mass=1.5)
    pd.testing.assert_frame_equal(strict, reference)
    loose, _ = _run(server.base_url, path, items, "pairwise", render=False)
    pd.testing.assert_frame_equal(loose, _reference_of(server.base_url, path, items, "pairwise"))


def test_stored_plan_keys_without_responses_are_rendered_and_requested(
    server: LatencyServer, tmp_path: Any
) -> None:
    items = _items("pairwise", 5)
    path = tmp_path / "cache.sqlite"
    judge = LLMJudge(_config(server.base_url), cache=path)
    judge.export_batch(items, "pairwise", tmp_path / "batch.jsonl")  # plans every request, stores its key
    judge.close()
    with JudgeCache(path) as cache:
        assert len(cache) == 0 and cache._conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0] == 5
    labels, stats = _run(server.base_url, path, items, "pairwise")
    assert stats["sent"] == 5 == server.requests and labels["label"].notna().all()
    fresh, _ = _run(server.base_url, tmp_path / "fresh.sqlite", items, "pairwise")
    pd.testing.assert_frame_equal(labels.drop(columns="latency_s"), fresh.drop(columns="latency_s"))


def test_a_deleted_response_is_requested_again_despite_its_stored_verdict(
    server: LatencyServer, tmp_path: Any
) -> None:
    items = _items("pairwise", 4)
    path = tmp_path / "cache.sqlite"
    cold, _ = _run(server.base_url, path, items, "pairwise")
    with JudgeCache(path) as cache:
        cache._conn.execute("DELETE FROM responses WHERE key = ?", (cold.loc[2, "request_key"],))
    labels, stats = _run(server.base_url, path, items, "pairwise")
    assert stats["sent"] == 1 and labels["cached"].tolist() == [True, True, False, True]
    pd.testing.assert_frame_equal(labels.drop(columns=RUN_COLUMNS), cold.drop(columns=RUN_COLUMNS))


def test_odd_stored_responses_give_the_previous_codes_rows(tmp_path: Any) -> None:
    """Unparseable answers, weak logprobs, refusals, odd token counts: each row equals the previous code's, on the
    run that parses (and stores) and on the rerun that reads the stored fields."""
    items = _items("pairwise", 8)
    judge = LLMJudge(_config("http://127.0.0.1:9/v1"), cache=tmp_path / "c.sqlite", orders=("ab", "ba"))
    planned = judge.plan(items, "pairwise")
    odd: list[dict[str, Any]] = [
        {"choices": [{"message": {"content": "I cannot decide."}}], "usage": {"prompt_tokens": 12}},
        {
            "choices": [
                {"message": {"content": "B"}, "logprobs": {"content": [{"token": "x", "logprob": -0.01}]}}
            ]
        },
        {"choices": [{"message": {"content": None, "refusal": "no"}}], "usage": {"prompt_tokens": 3.0}},
        {"choices": [{"message": {"content": '```json\n{"verdict": "tie"}\n```'}}], "usage": None},
        {"choices": [{"message": {"content": "Verdict: A"}}], "usage": {"completion_tokens": 2.0}},
        {"choices": [{"message": {"content": [{"type": "text", "text": "b"}]}}]},
    ]
    for number, p in enumerate(planned):
        if number < len(odd):
            response = odd[number]
        else:
            response = completion_body(p.body, zlib.crc32(canonical_json(p.body).encode()), None)
        judge.cache.put(p.key, p.body, response, latency_s=0.1 * number)
    first = judge.judge_items(items, "pairwise")
    assert judge.stats["sent"] == 0
    reference = _reference(judge, items, "pairwise")
    pd.testing.assert_frame_equal(first, reference)
    second = judge.judge_items(items, "pairwise")
    pd.testing.assert_frame_equal(second, reference)
    judge.close()


def test_columns_to_frame_equals_judgments_to_frame() -> None:
    judgments = [
        Judgment(item_id="i-1", judge="j", label="b", order="ba", score=0.25, raw="B", verdict_source="logprobs",
                 probabilities={"a": 0.25, "b": 0.5, "tie": 0.25}, verdict_mass=0.9, prompt_tokens=120,
                 completion_tokens=1, cost=1e-5, cached=True, latency_s=0.2, template="t@1", profile_view="full",
                 request_key="k"),
        Judgment(item_id="i-2", judge="j", exclusion="timeout", request_key="k2"),
        Judgment(item_id="i-3", judge="j", exclusion="missing_input"),
    ]  # fmt: skip
    for chosen in ([], judgments[:1], judgments[1:], judgments):
        rows = [j.to_row() for j in chosen]
        names = [f for f in Judgment.__dataclass_fields__ if f != "extra"]
        columns = {name: [row[name] for row in rows] for name in names}
        pd.testing.assert_frame_equal(columns_to_frame(columns), judgments_to_frame(chosen))


# -- the plan keys never name the wrong request --------------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("ab 1.\n\"'\\é\x00{}[]")), max_size=6)
_VALUE = st.one_of(
    _TEXT,
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.booleans(),
    st.none(),
)
_EDIT = st.tuples(
    st.sampled_from(["set", "append", "add_column", "drop_column", "swap_columns", "retype"]),
    st.integers(0, 5),
    st.sampled_from(["prompt", "response_a", "response_b", "profile", "user_id", "extra"]),
    _VALUE,
)


def _edit(items: pd.DataFrame, edit: tuple[str, int, str, Any]) -> pd.DataFrame:
    kind, row, column, value = edit
    items = items.copy()
    if kind == "set" and column in items.columns:
        # a str column takes str values as they are (so the other rows keep their plan keys)
        if not (isinstance(value, str) and isinstance(items[column].dtype, pd.StringDtype)):
            items[column] = items[column].astype(object)
        items.at[row, column] = value
    elif kind == "append" and column in items.columns and isinstance(items.at[row, column], str):
        items.at[row, column] = items.at[row, column] + (value if isinstance(value, str) else repr(value))
    elif kind == "add_column" and column not in items.columns:
        items[column] = [value] * len(items)
    elif kind == "drop_column" and column in ("user_id", "profile", "extra") and column in items.columns:
        items = items.drop(columns=column)
    elif kind == "swap_columns":
        columns = list(items.columns)
        columns[-1], columns[-2] = columns[-2], columns[-1]
        items = items[columns]
    elif kind == "retype" and column in items.columns:
        items[column] = items[column].astype(object)
    return items


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_EDIT, min_size=1, max_size=4))
def test_plan_keys_never_map_changed_inputs_to_a_stored_request(
    edits: list[tuple[str, int, str, Any]],
) -> None:
    """After every request of the original items is planned (and its key stored under its plan key), the lazy
    planner gives, for any edited items, exactly the keys that rendering the edited items gives."""
    items = _items("pairwise", 6)
    cache = JudgeCache()
    judge = LLMJudge(_config("http://127.0.0.1:9/v1", samples=2, seed=1), cache=cache, orders=("ab", "ba"))
    judge.plan(items, "pairwise")  # stores every plan key -> request key
    edited = items
    for edit in edits:
        edited = _edit(edited, edit)
        lazy, _, _ = judge._plan(edited, "pairwise", lazy=True)
        rendered = judge.plan(edited, "pairwise")
        assert [(p.item_id, p.order, p.rater, p.key, p.skip) for p in lazy] == [
            (p.item_id, p.order, p.rater, p.key, p.skip) for p in rendered
        ]
        for fast, full in zip(lazy, rendered, strict=True):
            if fast.body is not None:
                assert fast.body == full.body
    judge.close()


def test_plan_keys_tell_apart_values_that_print_alike() -> None:
    """``1``, ``1.0``, ``True`` and ``"1"``; ``None``, ``nan`` and ``""``: distinct rows, distinct plan keys."""
    judge = LLMJudge(_config("http://127.0.0.1:9/v1"), cache=JudgeCache())
    template = judge.template_for("pairwise")
    base = _items("pairwise", 1)
    keys = set()
    for value in (1, 1.0, True, "1", None, math.nan, "", "None", -0.0, 0.0):
        items = base.astype(object)
        items.at[0, "user_id"] = value
        prefix = judge._plan_prefix(template, "pairwise", items)
        row = tuple(items.iloc[0].tolist())
        keys.add(planning.plan_keys(prefix, row, [("ab", 0)])[0])
    assert len(keys) == 10
    judge.close()


def test_the_api_key_is_stored_nowhere(server: LatencyServer, tmp_path: Any) -> None:
    path = tmp_path / "cache.sqlite"
    _run(server.base_url, path, _items("pairwise", 3), "pairwise")
    _run(server.base_url, path, _items("pairwise", 3), "pairwise")
    assert b"sk-fast-path-test" not in path.read_bytes()
    with JudgeCache(path) as cache:
        for table in ("responses", "plans", "verdicts"):
            dump = json.dumps(cache._conn.execute(f"SELECT * FROM {table}").fetchall())
            assert "sk-fast-path-test" not in dump


class _RacedCache(JudgeCache):
    """A cache that another process fills first: every response this run sends finds another one stored."""

    def put_many(self, entries: Any, *, source: str = "api") -> set[str]:
        entries = list(entries)
        other = {"choices": [{"message": {"content": "tie"}}], "usage": {"prompt_tokens": 1}}
        super().put_many([(key, body, other, 9.0) for key, body, _, _ in entries], source="other")
        return super().put_many(entries, source=source)


def test_a_response_another_process_stored_first_is_the_one_parsed_on_rerun(
    server: LatencyServer, tmp_path: Any
) -> None:
    items = _items("pairwise", 4)
    path = tmp_path / "cache.sqlite"
    cache = _RacedCache(path)
    judge = LLMJudge(_config(server.base_url), cache=cache)
    first = judge.judge_items(items, "pairwise")
    judge.close()
    cache.close()
    assert (first["verdict_source"] == "logprobs").all()  # this run's own answers
    rerun, stats = _run(server.base_url, path, items, "pairwise", render=False)
    assert stats["sent"] == 0 and (rerun["label"] == "tie").all() and (rerun["latency_s"] == 9.0).all()
    pd.testing.assert_frame_equal(rerun, _reference_of(server.base_url, path, items, "pairwise"))
