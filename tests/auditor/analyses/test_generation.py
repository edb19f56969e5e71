"""Stage 3 (generation): the attribute-mention effect by hand and against the simulated population values, and
an audit without human ratings that says what it can and cannot compare."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.config import config_from_mapping
from auditor.datasets import recentering
from auditor.errors import InputError
from auditor.personalization import audit_stage
from auditor.simulate import simulate_study, truth


@pytest.fixture(scope="module")
def simulated():
    study = simulate_study(seed=1)
    result = audit_stage(
        study.labels,
        study.items,
        stage="generation",
        config=config_from_mapping(study.config()),
        resamples=1000,
    )
    return study, result


def _medians(labels: pd.DataFrame, judge: str) -> pd.Series:
    """Per-item median rating of ``judge`` (three integer ratings or one: always an integer, no rounding)."""
    values = labels[labels["judge"] == judge].assign(v=lambda d: d["label"].astype(float))
    median = values.groupby("item_id")["v"].median()
    assert (median == median.round()).all()
    return median


def test_attribute_mention_effect_by_hand(simulated):
    study, result = simulated
    mention = study.items.set_index("item_id")["mentions_attribute"].astype(bool)
    for judge in ("human", "claude-3.5", "gpt-4o"):
        value = _medians(study.labels, judge)
        effect = value[mention.reindex(value.index)].mean() - value[~mention.reindex(value.index)].mean()
        row = result.metric("attribute_mention_effect", judge, judge)
        assert row["value"] == pytest.approx(effect)
        assert row["ci_low"] < row["value"] < row["ci_high"]
    human = result.metric("attribute_mention_effect", "human")
    claude = result.metric("attribute_mention_effect", "claude-3.5", "claude-3.5")
    gap = result.metric("attribute_mention_effect_gap", "claude-3.5")
    assert gap["value"] == pytest.approx(claude["value"] - human["value"])  # every item has both
    assert gap["ci_high"] < 0 and gap["p_value"] < 0.05  # the published pattern: one judge punishes mentions


def test_simulated_mention_effects_lie_in_their_intervals(simulated):
    _, result = simulated
    population = truth()["attribute_mention_effect"]
    for judge in ("human", "gpt-4o", "claude-3.5", "llama-3-70b"):
        row = result.metric("attribute_mention_effect", judge, judge)
        assert row["ci_low"] <= population[judge] <= row["ci_high"], (judge, row)


def test_mention_effect_is_split_by_source(simulated):
    _, result = simulated
    rows = result.metrics[result.metrics["metric"] == "attribute_mention_effect"]
    assert {"source=real", "source=synthetic", "source=synthetic - source=real"} <= set(
        rows["slice"].dropna()
    )
    # the core's own stage-3 metrics stay there: no-better rate, gaps, rank correlations
    for metric in ("no_better_rate_gap", "mean_score_gap", "spearman", "kendall_tau_b"):
        assert np.isfinite(result.metric(metric, "gpt-4o")["value"])


def test_without_a_mention_column_the_result_says_so():
    study = simulate_study(seed=2, n_users=10)
    result = audit_stage(
        study.labels,
        study.items.drop(columns="mentions_attribute"),
        stage="generation",
        config=config_from_mapping(study.config()),
        resamples=0,
    )
    assert "not computed" in result.meta["personalization"]["attribute_mention_effect"]
    assert not (result.metrics["metric"] == "attribute_mention_effect").any()


def _stage3_labels(items: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for judge in ("judge-full", "judge-none"):
        for item_id in items["item_id"]:
            rows.append({"item_id": item_id, "judge": judge, "label": str(rng.integers(1, 6))})
    return pd.DataFrame(rows)


def test_stage3_without_human_ratings_states_what_can_be_compared(data_root):
    items = recentering.load_stage3(data_root).items
    labels = _stage3_labels(items)
    with pytest.raises(InputError, match="no labels from the reference judge"):
        audit_stage(labels, items, stage="generation", task="likert", resamples=0)
    result = audit_stage(
        labels, items, stage="generation", task="likert", resamples=200, reference_fallback="judge-full"
    )
    assert result.meta["reference"] == "judge-full"
    comparisons = result.meta["comparisons"]
    assert comparisons["missing_reference"] == "human" and comparisons["reference_is_a_judge"]
    assert any("human" in text for text in comparisons["not_possible"])
    warning = next(w for w in result.warnings if w["code"] == "no_human_reference")
    assert (
        "not a ground truth" in warning["message"] and "No labels from 'human'" in result.meta["description"]
    )
    assert result.metric("agreement", "judge-none")["n"] == 308
    assert result.meta["personalization"]["attribute_mention_effect"].startswith("not computed")
    # a study that has human labels is audited against them, fallback or not
    study = simulate_study(seed=2, n_users=10)
    plain = audit_stage(
        study.labels,
        study.items,
        stage="generation",
        config=config_from_mapping(study.config()),
        resamples=0,
        reference_fallback="gpt-4o",
    )
    assert plain.meta["reference"] == "human" and "comparisons" not in plain.meta
