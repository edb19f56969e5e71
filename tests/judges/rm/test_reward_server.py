"""Reward models served by vLLM's pooling API (:mod:`judges.reward_server`) against a loopback server that runs a
REAL transformers reward model (tests/servers/reward_server.py): the served scores are the local judge's."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from servers.reward_server import RewardServer  # noqa: E402

from auditor.errors import ConfigError  # noqa: E402
from judges.cli import main  # noqa: E402
from judges.reward_server import ServedRewardModelJudge, reward_of, server_root  # noqa: E402

SENTINEL = "sk-SENTINEL-rm-3c9d1e"


def _items() -> pd.DataFrame:
    words = "tea coffee jazz rock hiking beach budget quick detailed vegan spicy morning".split()
    rows = []
    for index in range(12):
        rows.append(
            {
                "item_id": f"item{index:02d}",
                "user_id": f"user{index % 4}",
                "prompt": " ".join(words[index % 5 : index % 5 + 4]) + "?",
                "response_a": " ".join(words[: 1 + index % 9]),
                "response_b": " ".join(reversed(words[: 2 + (index * 5) % 10])),
                "profile": f"likes {words[index]}" if index % 3 else "",
            }
        )
    frame = pd.DataFrame(rows)
    frame.loc[5, "response_a"] = ""  # an exclusion decided before any request
    return frame


@pytest.fixture(scope="module")
def reward_server(llama_reward_model):
    with RewardServer(llama_reward_model, api_key=SENTINEL) as server:
        yield server


@pytest.mark.parametrize("endpoint", ["classify", "pooling"])
def test_served_scores_equal_the_local_reward_model(reward_server, llama_judge, monkeypatch, endpoint):
    monkeypatch.setenv("RM_KEY", SENTINEL)
    items = _items()
    local = llama_judge.judge_items(items, "pairwise")
    served = ServedRewardModelJudge(
        reward_server.model_name, base_url=reward_server.base_url, endpoint=endpoint, api_key_env="RM_KEY",
        concurrency=4,
    ).judge_items(items, "pairwise")  # fmt: skip

    assert served["judge"].iloc[0] == local["judge"].iloc[0]  # the same judge, wherever it runs
    np.testing.assert_allclose(served["score"].astype(float), local["score"].astype(float), atol=1e-4)
    pd.testing.assert_series_equal(served["label"], local["label"])
    pd.testing.assert_series_equal(served["exclusion"], local["exclusion"])
    assert served["exclusion"].eq("empty_response").sum() == 1
    score_task = ServedRewardModelJudge(
        reward_server.model_name, base_url=reward_server.base_url, endpoint=endpoint, api_key_env="RM_KEY"
    ).judge_items(items.rename(columns={"response_b": "response"}), "score")
    expected = llama_judge.judge_items(items.rename(columns={"response_b": "response"}), "score")
    np.testing.assert_allclose(score_task["score"].astype(float), expected["score"].astype(float), atol=1e-4)


def test_auditor_judge_rm_with_base_url_scores_on_the_server(
    reward_server, llama_judge, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("RM_KEY", SENTINEL)
    items_path, out, cache = tmp_path / "items.jsonl", tmp_path / "labels.jsonl", tmp_path / "cache.sqlite"
    _items().to_json(items_path, orient="records", lines=True)
    before = reward_server.requests
    args = ["judge", str(items_path), "--judge", f"rm:{reward_server.model_name}", "--base-url",
            reward_server.base_url, "--api-key-env", "RM_KEY", "--out", str(out), "--tie-margin", "0.01",
            "--cache", str(cache)]  # fmt: skip
    assert main(args) == 0
    assert reward_server.requests - before == 23  # 12 pairs, one empty response never sent
    assert "23 requests sent, 0 from the cache" in capsys.readouterr().err
    written = pd.read_json(out, lines=True, dtype={"item_id": str})
    local = llama_judge.judge_items(_items(), "pairwise")
    np.testing.assert_allclose(written["score"].astype(float), local["score"].astype(float), atol=1e-4)
    assert SENTINEL.encode() not in out.read_bytes()
    first = out.read_bytes()
    assert main(args) == 0  # a rerun answers every request from the cache
    assert reward_server.requests - before == 23
    assert "0 requests sent, 23 from the cache" in capsys.readouterr().err
    assert out.read_bytes() == first
    assert all(SENTINEL.encode() not in f.read_bytes() for f in tmp_path.glob("cache.sqlite*"))


def test_a_refused_key_and_too_long_conversations_end_with_exit_3_after_writing_the_labels(
    llama_reward_model, tmp_path, monkeypatch, capsys
):
    items_path, out = tmp_path / "items.jsonl", tmp_path / "labels.jsonl"
    _items().to_json(items_path, orient="records", lines=True)
    monkeypatch.setenv("RM_KEY", SENTINEL + "-wrong")
    with RewardServer(llama_reward_model, api_key=SENTINEL, max_tokens=40) as server:
        args = ["judge", str(items_path), "--judge", "rm:tiny", "--base-url", server.base_url,
                "--api-key-env", "RM_KEY", "--out", str(out), "--concurrency", "1", "--max-retries", "0",
                "--cache", str(tmp_path / "cache.sqlite")]  # fmt: skip
        assert main(args) == 3
        err = capsys.readouterr().err
        assert "stopped early: HTTP 401" in err and "SENTINEL" not in err
        refused = pd.read_json(out, lines=True)
        assert set(refused["exclusion"].dropna()) <= {"http_401", "run_stopped", "empty_response"}

        monkeypatch.setenv("RM_KEY", SENTINEL)
        assert main(args) == 3  # the longer conversations exceed the server's 40 tokens
        err = capsys.readouterr().err
        assert "http_400" in err and "maximum context length is 40 tokens" in err
        assert "a rerun with the same cache sends only the requests without an answer" in err
        labels = pd.read_json(out, lines=True)
        assert (labels["exclusion"] == "http_400").any() and labels["label"].notna().any()

        failed = int(re.search(r"(\d+) of 23 requests to \S+ failed", err).group(1))
        assert 0 < failed < 23 and f"{failed} of 23 requests" in err

        # the rerun sends only the requests that failed (they fail again); the rewards stored are read back
        assert main(args) == 3
        again = capsys.readouterr().err
        assert f"{failed} of {failed} requests to" in again
        assert f"{failed} requests sent, {23 - failed} from the cache" in again
        pd.testing.assert_frame_equal(pd.read_json(out, lines=True), labels)


def test_answers_are_read_by_their_documented_shape():
    classify = {"data": [{"index": 0, "label": "LABEL_0", "probs": [1.25], "num_classes": 1}]}
    assert reward_of("classify", classify) == 1.25
    assert reward_of("pooling", {"data": [{"index": 0, "object": "pooling", "data": [-0.5]}]}) == -0.5
    assert reward_of("pooling", {"data": [{"index": 0, "data": [[0.1], [0.2], [0.7]]}]}) == 0.7  # per token
    for bad in ({}, {"data": []}, {"data": [{"probs": [0.1, 0.9]}]}, {"data": [{"probs": ["x"]}]}):
        with pytest.raises(ValueError):
            reward_of("classify", bad)
    assert server_root("http://h:8000/v1/") == server_root("http://h:8000") == "http://h:8000"
    with pytest.raises(ConfigError, match="--rm-endpoint must be classify or pooling"):
        ServedRewardModelJudge("m", base_url="http://h", endpoint="score")
