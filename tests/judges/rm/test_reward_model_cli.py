"""End to end: ``auditor judge ITEMS --judge rm:PATH`` writes labels that ``auditor audit`` reads as they are."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from auditor.cli import main  # noqa: E402
from judges.reward_model import RewardModelJudge  # noqa: E402


def _items(count: int = 30) -> pd.DataFrame:
    rng = random.Random(3)
    words = "tea coffee jazz rock hiking beach budget quick detailed vegan spicy morning".split()
    return pd.DataFrame(
        {
            "item_id": [f"item{index:02d}" for index in range(count)],
            "user_id": [f"user{index % 10}" for index in range(count)],
            "prompt": [" ".join(rng.choices(words, k=6)) + "?" for _ in range(count)],
            "response_a": [" ".join(rng.choices(words, k=rng.randint(1, 30))) for _ in range(count)],
            "response_b": [" ".join(rng.choices(words, k=rng.randint(1, 30))) for _ in range(count)],
            "profile": [f"likes {words[index % len(words)]}" for index in range(count)],
        }
    )


def test_auditor_judge_with_a_reward_model_feeds_auditor_audit(tmp_path, llama_reward_model):
    items = _items()
    items.loc[4, "response_b"] = ""  # one exclusion that must come through
    items_path = tmp_path / "items.jsonl"
    items.to_json(items_path, orient="records", lines=True)
    rm_labels_path = tmp_path / "rm_labels.jsonl"

    code = main(
        ["judge", str(items_path), "--judge", f"rm:{llama_reward_model}", "--task", "pairwise"]
        + ["--batch-size", "4", "--batch-tokens", "64", "--tie-margin", "0.05", "--out", str(rm_labels_path)]
    )
    assert code == 0
    written = pd.read_json(rm_labels_path, lines=True, dtype={"item_id": str, "rater": str})
    expected = RewardModelJudge(llama_reward_model, device="cpu", tie_margin=0.05).judge_items(items)
    assert list(written["item_id"]) == list(expected["item_id"])
    assert list(written["label"].fillna("-")) == list(expected["label"].fillna("-"))
    np.testing.assert_allclose(
        written["score"].to_numpy(dtype=float), expected["score"].to_numpy(dtype=float), atol=1e-4
    )
    assert written.loc[4, "exclusion"] == "empty_response"

    rng = random.Random(4)
    human = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "judge": "human",
            "rater": "0",
            "label": [rng.choice(["a", "tie", "b"]) for _ in range(len(items))],
        }
    )
    labels_path = tmp_path / "labels.jsonl"
    pd.concat([human, written], ignore_index=True).to_json(labels_path, orient="records", lines=True)
    out = tmp_path / "audit"
    code = main(
        ["audit", str(labels_path), "--items", str(items_path), "--task", "pairwise"]
        + ["--bootstrap", "0", "--format", "json", "--out", str(out), "--quiet"]
    )
    assert code == 0
    audit = json.loads((out / "audit.json").read_text())
    name = f"rm:{llama_reward_model.rstrip('/').split('/')[-1]}"
    assert name in audit["judges"] or name in json.dumps(audit["judges"])
    # The exclusion is counted, not lost.
    assert {"judge": name, "reason": "empty_response", "count": 1} in audit["exclusions"]
