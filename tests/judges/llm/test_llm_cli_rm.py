"""`auditor judge --judge rm:PATH` dispatches to the reward-model judge (a tiny model written by a fixture)."""

from __future__ import annotations

import pandas as pd
import pytest
from servers.fake_openai import make_items

from judges.cli import main


def test_rm_judges_are_dispatched_and_renamed(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from judges.rm_tiny import build_tiny_reward_model

    model = build_tiny_reward_model(tmp_path / "tiny-rm")
    items = tmp_path / "items.jsonl"
    make_items(3).to_json(items, orient="records", lines=True)
    out = tmp_path / "labels.jsonl"
    args = ["judge", str(items), "--judge", f"rm:{model}", "--name", "tiny-rm", "--batch-size", "2"]
    assert main([*args, "--out", str(out)]) == 0
    labels = pd.read_json(out, lines=True, dtype=False)
    assert len(labels) == 3 and set(labels["judge"]) == {"tiny-rm"}
    assert labels["score"].notna().all()
    assert (
        main([*args, "--batch-export", str(tmp_path / "b.jsonl")]) == 2
    )  # batch files are for openai: judges
