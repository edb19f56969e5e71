"""Balanced position calibration: ``judge_aggregate = "mean_score"`` combines a judge's verdicts on one item (both
presentation orders, samples) by the mean of their probability-expected scores instead of a vote."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor import audit
from auditor.config import config_from_mapping
from auditor.errors import ConfigError


def _pairwise_study(seed: int = 0, n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A judge with a strong first-position preference whose probabilities still lean toward the true winner,
    judged in both orders; humans give the true verdict.  Returns labels, items and the true verdict codes."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(["a", "tie", "b"], size=n, p=[0.3, 0.2, 0.5])
    lean = np.select([truth == "b", truth == "a"], [0.15, -0.15], 0.0)  # P(b) - P(a) of an unbiased judge
    rows = []
    for i in range(n):
        item = f"i{i}"
        rows.append({"item_id": item, "judge": "human", "rater": "r1", "label": truth[i]})
        for order in ("ab", "ba"):
            # first shown wins: in ab order a gets +0.5, in ba order b does
            first = -0.5 if order == "ab" else 0.5
            score = float(np.clip(first + lean[i] + rng.normal(0, 0.02), -0.95, 0.95))
            p_b, p_a = (1 + score) / 2 * 0.9, (1 - score) / 2 * 0.9
            label = "b" if p_b > max(p_a, 0.1) else "a"
            rows.append({"item_id": item, "judge": "llm", "order": order, "label": label, "score": p_b - p_a})
    items = pd.DataFrame(
        {"item_id": [f"i{i}" for i in range(n)], "user_id": [f"u{i % 30}" for i in range(n)]}
    )
    return pd.DataFrame(rows), items, truth


def test_vote_turns_a_position_biased_judge_into_ties_mean_score_recovers_the_lean():
    labels, items, truth = _pairwise_study()
    voted = audit(labels, items, task="pairwise", resamples=0)
    assert voted.metric("tie_rate", "llm")["value"] == pytest.approx(1.0)  # a vs b in the two orders: a tie
    calibrated = audit(labels, items, task="pairwise", resamples=0, judge_aggregate="mean_score")
    # by hand: the mean of the two orders' scores is the lean (+-0.15 or 0, with noise of sd 0.02/sqrt(2))
    mean = labels[labels["judge"] == "llm"].groupby("item_id", sort=False)["score"].mean()
    expected = np.where(mean > 0, "b", np.where(mean < 0, "a", "tie"))
    assert calibrated.metric("win_rate", "llm")["value"] == pytest.approx(np.mean(expected == "b"))
    assert calibrated.metric("loss_rate", "llm")["value"] == pytest.approx(np.mean(expected == "a"))
    # the noise decides the true ties; every a / b item is recovered exactly
    decided = truth != "tie"
    assert (expected[decided] == truth[decided]).all()
    kappa = calibrated.metric("cohen_kappa", "llm")["value"]
    assert kappa > voted.metric("cohen_kappa", "llm")["value"] + 0.3
    assert calibrated.meta["aggregation"]["judges"] == "mean_score"
    assert "balanced position calibration" in calibrated.meta["policy"]["text"]


def test_margin_makes_small_leans_ties_and_humans_are_still_voted():
    labels, items, truth = _pairwise_study(seed=1)
    wide = audit(
        labels,
        items,
        task="pairwise",
        resamples=0,
        config=config_from_mapping(
            {"task": "pairwise", "aggregate": {"judges": "mean_score", "judge_margin": 0.2}}
        ),
    )
    assert wide.metric("tie_rate", "llm")["value"] == pytest.approx(1.0)  # every lean is 0.15 +- noise < 0.2
    assert wide.metric("win_rate", "human")["value"] == pytest.approx(np.mean(truth == "b"))


def test_verdicts_without_probabilities_are_voted():
    labels, items, _ = _pairwise_study(seed=2, n=60)
    labels.loc[labels["item_id"].isin(["i0", "i1"]) & (labels["judge"] == "llm"), "score"] = np.nan
    result = audit(labels, items, task="pairwise", resamples=0, judge_aggregate="mean_score")
    cases = {c["item_id"]: c for c in result.cases["items"]}
    for item in ("i0", "i1"):  # voted: a and b in the two orders, a tie
        if item in cases:
            assert all(d["judge_label"] == "tie" for d in cases[item]["disagreements"])


def test_likert_mean_score_rounds_the_expected_rating():
    labels = pd.DataFrame(
        {
            "item_id": ["x", "x", "y", "y", "x", "y"],
            "judge": ["llm", "llm", "llm", "llm", "human", "human"],
            "order": ["ab", "ba", "ab", "ba", None, None],
            "label": ["5", "1", "4", "4", "4", "2"],
            "score": [4.6, 2.8, 2.2, 2.5, np.nan, np.nan],
        }
    )
    items = pd.DataFrame({"item_id": ["x", "y"], "user_id": ["u1", "u2"]})
    result = audit(labels, items, task="likert", resamples=0, judge_aggregate="mean_score")
    # x: mean 3.7 -> 4; y: mean 2.35 -> 2; both match the humans
    assert result.metric("agreement", "llm")["value"] == pytest.approx(1.0)
    voted = audit(labels, items, task="likert", resamples=0)
    assert voted.metric("agreement", "llm")["value"] < 1.0


@pytest.mark.parametrize(
    "mapping, column",
    [
        ({"task": "pairwise", "aggregate": {"judges": "average"}}, "aggregate.judges"),
        ({"task": "binary", "aggregate": {"judges": "mean_score"}}, "aggregate.judges"),
        ({"task": "pairwise", "aggregate": {"judge_margin": -1}}, "aggregate.judge_margin"),
        ({"task": "pairwise", "aggregate": {"judge_margin": "wide"}}, "aggregate.judge_margin"),
    ],
)
def test_bad_judge_aggregation_settings_are_named(mapping, column):
    with pytest.raises(ConfigError) as err:
        config_from_mapping(mapping, "audit.toml")
    assert err.value.column == column
