"""Request profiles and body reshaping: what is sent to the endpoint for ``chat`` and ``reasoning``, the fields
``drop_fields`` / ``rename_fields`` take out or rename, and the keys (cache and plan) that tell the bodies apart."""

from __future__ import annotations

import pytest
from servers.fake_openai import make_items

from auditor.errors import ConfigError
from judges.llm import LLMJudge, LLMJudgeConfig
from judges.llm.planning import plan_prefix, request_body, template_for

MESSAGES = [{"role": "user", "content": "Which is better?"}]
TEMPLATE = template_for(None, "pairwise")


def _body(**options) -> dict:
    config = LLMJudgeConfig(model="m", **options)
    LLMJudge(config)  # validates the options as every command does
    return request_body(config, MESSAGES, 0, TEMPLATE)


def test_the_chat_profile_sends_the_body_earlier_versions_sent():
    """The default body is unchanged, so every response cached before request profiles existed is found again."""
    assert _body() == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_tokens": 3,
        "logprobs": True,
        "top_logprobs": 10,
    }
    schema = _body(verdict_mode="json", seed=7)
    assert list(schema) == ["model", "messages", "temperature", "max_tokens", "seed", "response_format"]
    assert schema["max_tokens"] == 32 and schema["seed"] == 7
    assert _body(verdict_mode="text") == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_tokens": 512,
    }


def test_the_reasoning_profile_sends_max_completion_tokens_and_no_temperature_or_logprobs():
    body = _body(request_profile="reasoning")
    assert list(body) == ["model", "messages", "max_completion_tokens", "response_format"]
    assert body["max_completion_tokens"] == 2048
    assert body["response_format"]["json_schema"]["schema"]["properties"]["verdict"]["enum"] == [
        "A",
        "B",
        "tie",
    ]
    text = _body(request_profile="reasoning", verdict_mode="text", max_tokens=300, seed=1, temperature=0.7)
    assert text == {"model": "m", "messages": MESSAGES, "max_completion_tokens": 300, "seed": 1}
    assert _body(request_profile="reasoning", verdict_mode="text")["max_completion_tokens"] == 4096


def test_the_verdict_defaults_to_json_under_the_reasoning_profile_and_refuses_logprobs():
    assert LLMJudgeConfig(model="m").verdict_mode == "logprobs"
    assert LLMJudgeConfig(model="m", request_profile="reasoning").verdict_mode == "json"
    with pytest.raises(ConfigError, match="--verdict logprobs needs the chat profile.*--verdict json"):
        LLMJudge(LLMJudgeConfig(model="m", request_profile="reasoning", verdict_mode="logprobs"))
    with pytest.raises(ConfigError, match="--request-profile must be chat or reasoning, not 'o1'"):
        LLMJudge(LLMJudgeConfig(model="m", request_profile="o1"))


def test_fields_are_dropped_and_renamed_before_extra_is_merged():
    body = _body(
        drop_fields=("temperature", "top_logprobs"),
        rename_fields={"max_tokens": "max_completion_tokens"},
        extra_body={"top_k": 1},
    )
    assert body == {
        "model": "m",
        "messages": MESSAGES,
        "max_completion_tokens": 3,
        "logprobs": True,
        "top_k": 1,
    }
    # --extra may send a dropped field again with another value
    assert _body(drop_fields=("temperature",), extra_body={"temperature": 1})["temperature"] == 1
    # renames are simultaneous: two fields may swap names
    swapped = _body(
        verdict_mode="text", rename_fields={"temperature": "max_tokens", "max_tokens": "temperature"}
    )
    assert swapped == {"model": "m", "messages": MESSAGES, "max_tokens": 0.0, "temperature": 512}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"drop_fields": ("temprature",)},
            r"--drop-field temprature: the request body has no field 'temprature' \(profile chat, verdict "
            r"logprobs: model, messages, temperature, max_tokens, logprobs, top_logprobs\)",
        ),
        (
            {"request_profile": "reasoning", "drop_fields": ("temperature",)},
            r"no field 'temperature' \(profile reasoning, verdict json: model, messages, max_completion_tokens, "
            r"response_format\)",
        ),
        ({"rename_fields": {"max_token": "x"}}, r"--rename-field max_token: the request body has no field"),
        ({"rename_fields": {"max_tokens": "temperature"}}, r"already sends 'temperature'"),
        ({"rename_fields": {"max_tokens": ""}}, r"names no new field"),
        ({"drop_fields": ("messages",)}, r"--drop-field messages: every chat-completions request needs"),
        (
            {"rename_fields": {"model": "engine"}},
            r"--rename-field model: every chat-completions request needs",
        ),
        (
            {"drop_fields": ("seed",), "rename_fields": {"seed": "random_seed"}, "seed": 1},
            r"both name 'seed'",
        ),
    ],
)
def test_a_field_the_body_does_not_have_is_a_config_error_naming_the_body_fields(options, message):
    with pytest.raises(ConfigError, match=message):
        LLMJudge(LLMJudgeConfig(model="m", **options))


def test_each_body_shape_has_its_own_cache_and_plan_keys():
    """A changed profile, drop or rename never reuses the responses stored for another body."""
    items = make_items(2)
    variants = [
        {},
        {"request_profile": "reasoning"},
        {"verdict_mode": "json"},
        {"drop_fields": ("temperature",)},
        {"rename_fields": {"max_tokens": "max_completion_tokens"}},
    ]
    keys, prefixes = [], []
    for options in variants:
        judge = LLMJudge(LLMJudgeConfig(model="m", **options))
        keys.append(tuple(request.key for request in judge.plan(items, "pairwise")))
        prefixes.append(plan_prefix(judge, TEMPLATE, "pairwise", items).hexdigest())
    assert len(set(keys)) == len(variants) and len(set(prefixes)) == len(variants)


def test_a_reasoning_run_sends_its_own_body_and_never_reuses_chat_responses(
    fake_server, tmp_path, monkeypatch
):
    server = fake_server()
    monkeypatch.setenv("FAKE_KEY", "sk-fake")
    items, cache = make_items(3), tmp_path / "cache.sqlite"

    def run(**options):
        config = LLMJudgeConfig(
            model="m", base_url=server.base_url, api_key_env="FAKE_KEY", progress=False, **options
        )
        judge = LLMJudge(config, cache=cache)
        try:
            return judge.judge_items(items, "pairwise"), judge.stats
        finally:
            judge.close()

    chat, _ = run()
    assert (chat["verdict_source"] == "logprobs").all()
    server.clear_log()
    reasoning, stats = run(request_profile="reasoning")
    assert stats["sent"] == 3 and stats["from_cache"] == 0
    assert [sorted(entry.body) for entry in server.log] == [
        ["max_completion_tokens", "messages", "model", "response_format"]
    ] * 3
    assert (reasoning["verdict_source"] == "json").all() and reasoning["exclusion"].isna().all()
    assert (reasoning["request_key"] != chat["request_key"]).all()
    again, stats = run(request_profile="reasoning")
    assert stats["sent"] == 0 and again["label"].tolist() == reasoning["label"].tolist()
