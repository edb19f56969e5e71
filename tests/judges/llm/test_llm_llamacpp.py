"""The LLM judge against a real OpenAI-compatible server: llama.cpp serving SmolLM2-135M-Instruct.

The small model is a weak judge; these tests prove the wiring (logprobs, JSON schema, parsing, errors, cache,
determinism), not the wisdom of its verdicts.  All 308 real stage-3 pairs go through it, by the command line, in
tests/live/test_llm_stage3.py.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from servers.fake_openai import make_items
from servers.llama_server import LLAMA_KEY, MODEL_EXCLUSIONS

from judges.llm import JudgeRunError, LLMJudge, LLMJudgeConfig

pytestmark = pytest.mark.llm


def _config(base_url: str, key_env: str, **overrides) -> LLMJudgeConfig:
    settings = {
        "model": "smollm2-135m",
        "base_url": base_url,
        "api_key_env": key_env,
        "concurrency": 1,  # llama-cpp-python's server answers one request at a time
        "timeout": 600,
        "max_retries": 1,
        "progress": False,
        "min_verdict_mass": 0.0,  # take any verdict token among the top ones: wiring, not wisdom
    }
    settings.update(overrides)
    return LLMJudgeConfig(**settings)


def test_logprob_verdicts_give_a_probability_per_label(llama_server, llama_key):
    judge = LLMJudge(_config(llama_server, llama_key), profile_view="none")
    labels = judge.judge_items(make_items(4, profile=False), "pairwise")
    assert (labels["verdict_source"] == "logprobs").all(), labels[["raw", "exclusion"]]
    assert labels["exclusion"].isna().all()
    for row in labels.itertuples():
        probabilities = json.loads(row.probabilities)
        assert set(probabilities) == {"a", "tie", "b"}
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert row.label == max(probabilities, key=probabilities.get)
        assert -1.0 <= row.score <= 1.0
        assert 0.0 < row.verdict_mass <= 1.0 + 1e-9
    assert labels["prompt_tokens"].gt(0).all() and labels["completion_tokens"].gt(0).all()


def test_json_schema_verdicts(llama_server, llama_key):
    config = _config(llama_server, llama_key, verdict_mode="json", json_format="json_object", max_tokens=24)
    labels = LLMJudge(config, profile_view="none").judge_items(make_items(3, profile=False), "likert")
    assert labels["exclusion"].isna().all(), labels[["raw", "exclusion"]]
    assert (labels["verdict_source"] == "json").all()
    assert set(labels["label"]) <= {"1", "2", "3", "4", "5"}
    for raw, label in zip(labels["raw"], labels["label"], strict=True):
        assert json.loads(raw)["verdict"] == label  # ab order: the shown and the original numbering agree


PROSE_TEMPLATE = """
name = "prose-test"
version = "1"
task = "pairwise"
verdicts = { FIRSTISBETTER = "a", SECONDISBETTER = "b", BOTHEQUAL = "tie" }
system = "You are a poet."
user = "{{ response_a }}"
[answer]
logprobs = "Write a short poem about the sea."
json = "Write a short poem about the sea."
text = "Write a short poem about the sea."
"""


def test_unparseable_prose_is_kept_and_counted_as_an_exclusion(llama_server, llama_key, tmp_path):
    template = tmp_path / "prose.toml"
    template.write_text(PROSE_TEMPLATE)
    config = _config(llama_server, llama_key, verdict_mode="text", max_tokens=12)
    labels = LLMJudge(config, template=template, profile_view="none").judge_items(make_items(2), "pairwise")
    assert labels["label"].isna().all()
    assert (labels["exclusion"] == "unparseable").all()
    assert labels["raw"].str.len().gt(0).all(), "the text that could not be parsed is kept"
    assert (labels["template"] == "prose-test@1").all()


def test_a_wrong_key_gives_a_clear_401_error(llama_server, monkeypatch):
    monkeypatch.setenv("LLAMA_WRONG_KEY", "sk-not-the-right-one")
    with pytest.raises(JudgeRunError, match=r"HTTP 401 .*\$LLAMA_WRONG_KEY") as caught:
        LLMJudge(_config(llama_server, "LLAMA_WRONG_KEY")).judge_items(make_items(1), "pairwise")
    assert "sk-not-the-right-one" not in str(caught.value) and LLAMA_KEY not in str(caught.value)


def test_temperature_0_is_deterministic_and_a_second_run_is_served_from_the_cache(
    llama_server, llama_key, tmp_path
):
    items = make_items(3, profile=False)
    cache = tmp_path / "cache.sqlite"
    config = _config(llama_server, llama_key)
    first = LLMJudge(config, cache=cache).judge_items(items, "pairwise")
    independent = LLMJudge(config).judge_items(items, "pairwise")  # its own, empty cache
    judge = LLMJudge(config, cache=cache)
    again = judge.judge_items(items, "pairwise")

    for labels in (first, independent):
        assert set(labels["exclusion"].dropna()) <= MODEL_EXCLUSIONS, labels["exclusion"].value_counts()
    compared = ["label", "raw", "verdict_source"]
    pd.testing.assert_frame_equal(first[compared], independent[compared])
    for one, two in zip(first["probabilities"], independent["probabilities"], strict=True):
        assert json.loads(one) == pytest.approx(json.loads(two), abs=1e-6)
    assert judge.stats["sent"] == 0 and judge.stats["from_cache"] == 3
    assert again["cached"].all() and not first["cached"].any()
    pd.testing.assert_frame_equal(first[[*compared, "probabilities"]], again[[*compared, "probabilities"]])
