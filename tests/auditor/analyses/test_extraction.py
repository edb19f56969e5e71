"""Stage 1 (extraction): the problematic rate under the stated policy, by hand on the pilot, configurable, split
by source with the paired synthetic-minus-real difference, and covering the simulated population values."""

from __future__ import annotations

import pandas as pd
import pytest

from auditor.config import config_from_mapping
from auditor.datasets import recentering
from auditor.errors import ConfigError
from auditor.personalization import audit_stage
from auditor.simulate import extraction_truth, simulate_extraction_study


def _audit(study, resamples=400, **options):
    return audit_stage(
        study.labels,
        study.items,
        stage="extraction",
        config=config_from_mapping(study.config()),
        resamples=resamples,
        **options,
    )


@pytest.fixture(scope="module")
def pilot(data_root):
    return recentering.load_stage1(data_root)


def _majority(labels: pd.DataFrame) -> pd.Series:
    """The strict plurality label per item (a tie for the top leaves the item out), computed independently."""
    counts = labels.dropna(subset=["label"]).groupby(["item_id", "label"]).size().unstack(fill_value=0)
    top = counts.max(axis=1)
    single = counts.eq(top, axis=0).sum(axis=1) == 1
    return counts[single].idxmax(axis=1)


def test_pilot_problematic_rate_by_hand_with_uncertain_counted_as_problematic(pilot):
    result = _audit(pilot)
    majority = _majority(pilot.labels[pilot.labels["judge"] == "human"])
    row = result.metric("problematic_rate", "human")
    assert row["n"] == len(majority) == 78  # 4 of 82 attributes have no majority: counted exclusions
    assert row["value"] == pytest.approx(majority.isin(["uncertain", "reject"]).mean())
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    votes = pilot.labels.dropna(subset=["label"])
    vote_row = result.metric("problematic_vote_rate", "human")
    assert vote_row["value"] == pytest.approx(votes["label"].isin(["uncertain", "reject"]).mean())
    assert vote_row["n"] == len(votes)
    exclusions = result.exclusions.set_index("reason")["count"]
    assert exclusions["no majority among the reference labels"] == 4
    assert (
        "'uncertain' or 'reject'" in result.meta["policy"]["text"]
        and "default" in result.meta["policy"]["text"]
    )
    # agreement among the annotators comes from the core's human ceiling: multi-rater and per pair
    assert result.metric("fleiss_kappa", "human")["value"] < 0.2
    assert result.metric("krippendorff_alpha", "human")["n"] == 82
    assert result.metric("cohen_kappa", "human:Jiarui", "human:Lechen")["value"] == pytest.approx(
        result.metric("cohen_kappa", "human", slice="raters=Jiarui~Lechen")["value"]
    )


def test_the_policy_is_configurable(pilot):
    strict = _audit(pilot, resamples=0, problematic=("reject",))
    default = _audit(pilot, resamples=0)
    assert (
        strict.metric("problematic_rate", "human")["value"]
        < default.metric("problematic_rate", "human")["value"]
    )
    assert "does not count" in strict.meta["policy"]["text"]
    with pytest.raises(ConfigError, match="not among the categories"):
        _audit(pilot, resamples=0, problematic=("bad",))


@pytest.fixture(scope="module")
def simulated():
    study = simulate_extraction_study(seed=3, with_truth=False)
    return study, _audit(study, resamples=1000)


def test_split_by_source_with_the_paired_difference(simulated):
    study, result = simulated
    m = result.metrics
    items = study.items.set_index("item_id")
    for judge, reference in (("human", "human"), ("gpt-4o", "human"), ("gpt-4o", "gpt-4o")):
        real = result.metric("problematic_rate", judge, reference, slice="source=real")
        synthetic = result.metric("problematic_rate", judge, reference, slice="source=synthetic")
        diff = result.metric("problematic_rate", judge, reference, slice="source=synthetic - source=real")
        assert diff["value"] == pytest.approx(synthetic["value"] - real["value"])
        assert diff["ci_low"] < diff["value"] < diff["ci_high"] and diff["p_value"] is not None
    own = study.labels[study.labels["judge"] == "gpt-4o"].set_index("item_id")["label"]
    real_items = items.index[items["source"] == "real"]
    assert result.metric("problematic_rate", "gpt-4o", "gpt-4o", slice="source=real")[
        "value"
    ] == pytest.approx(own.loc[real_items].isin(["uncertain", "reject"]).mean())
    assert set(m.loc[m["metric"] == "problematic_kappa", "judge"]) == {"gpt-4o", "claude-3.5"}


def test_simulated_values_lie_in_their_intervals(simulated):
    _, result = simulated
    truth = extraction_truth()
    for metric, judge, reference in (
        ("problematic_rate", "human", "human"),
        ("problematic_rate", "gpt-4o", "gpt-4o"),
        ("problematic_rate_gap", "claude-3.5", "human"),
    ):
        row = result.metric(metric, judge, reference)
        assert row["ci_low"] <= truth[metric][judge] <= row["ci_high"], (metric, judge, row)
    diff = result.metric("problematic_rate", "human", slice="source=synthetic - source=real")
    assert diff["ci_low"] <= -truth["problematic_rate_source_difference"]["human"] <= diff["ci_high"]


def test_extraction_needs_a_categorical_task():
    from auditor.simulate import simulate_relevance_study

    study = simulate_relevance_study(seed=0, n_users=5, with_truth=False)
    with pytest.raises(ConfigError, match="categorical"):
        _audit(study, resamples=0)
