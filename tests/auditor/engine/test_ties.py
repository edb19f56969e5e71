"""Ties made visible: the reference's split-vote ties counted with the policy, and every rate and agreement also
with ties left out (slice ``ties=excluded``), on the 30-item tie-heavy case (values derived by hand in
:mod:`tie_heavy`)."""

from __future__ import annotations

import pytest

import auditor
from auditor.engine.agreement import TIES_EXCLUDED
from tests.auditor.engine.tie_heavy import tie_heavy_items, tie_heavy_labels


@pytest.fixture(scope="module")
def tie_heavy():
    return auditor.audit(tie_heavy_labels(), tie_heavy_items(), task="pairwise", resamples=200)


def test_split_votes_are_counted_as_the_policy_makes_them_ties(tie_heavy):
    policy = tie_heavy.meta["policy"]
    assert policy["reference_ties"] == 19
    assert policy["reference_split_ties"] == 13  # one rater a, one b: a tie only because of the tie-break
    assert policy["tie_break"] == "tie"
    assert "counts as a tie" in policy["text"]


def test_exclude_policy_makes_no_split_ties_and_excludes_the_split_items():
    config = auditor.AuditConfig(tie_break="exclude")
    result = auditor.audit(tie_heavy_labels(), tie_heavy_items(), task="pairwise", resamples=0, config=config)
    assert result.meta["policy"]["reference_ties"] == 6
    assert result.meta["policy"]["reference_split_ties"] == 0
    excluded = result.exclusions.set_index("reason")["count"]
    assert excluded["no majority among the reference labels"] == 13


def test_gaps_split_into_win_tie_and_loss(tie_heavy):
    gap = {m: tie_heavy.metric(f"{m}_gap", "judge")["value"] for m in ("win_rate", "tie_rate", "loss_rate")}
    assert gap == pytest.approx({"win_rate": 10 / 30, "tie_rate": -19 / 30, "loss_rate": 9 / 30})
    assert tie_heavy.metric("no_better_rate_gap", "judge")["value"] == pytest.approx(-10 / 30)
    assert tie_heavy.metric("mean_score_gap", "judge")["value"] == pytest.approx(0.5 / 30)


def test_rows_without_ties_beside_the_rows_with_ties(tie_heavy):
    def value(metric: str, judge: str, slice_: str | None = None) -> float:
        return tie_heavy.metric(metric, judge, slice=slice_)["value"]

    assert value("agreement", "judge") == pytest.approx(9 / 30)
    assert value("agreement", "judge", TIES_EXCLUDED) == pytest.approx(9 / 11)
    assert tie_heavy.metric("agreement", "judge", slice=TIES_EXCLUDED)["n"] == 11
    # 2 x 2 table [[4, 1], [1, 5]]: p_o = 9/11, p_e = (25 + 36) / 121
    assert value("cohen_kappa", "judge", TIES_EXCLUDED) == pytest.approx((9 / 11 - 61 / 121) / (1 - 61 / 121))
    assert value("win_rate", "human", TIES_EXCLUDED) == pytest.approx(6 / 11)
    assert value("loss_rate", "human", TIES_EXCLUDED) == pytest.approx(5 / 11)
    assert value("win_rate", "judge", TIES_EXCLUDED) == pytest.approx(6 / 11)
    assert value("win_rate_gap", "judge", TIES_EXCLUDED) == pytest.approx(0.0)
    rows = tie_heavy.metrics[tie_heavy.metrics["slice"] == TIES_EXCLUDED]
    # no tie is left, and no better equals a better: those rows are not repeated
    assert not set(rows["metric"]) & {"tie_rate", "no_better_rate", "tie_rate_gap", "no_better_rate_gap"}


def test_no_rows_without_ties_for_a_task_without_ties():
    labels = tie_heavy_labels()
    labels = labels[labels["label"] != "tie"].assign(label=lambda d: d["label"].map({"a": "0", "b": "1"}))
    result = auditor.audit(labels, task="binary", resamples=0)
    assert TIES_EXCLUDED not in set(result.metrics["slice"].dropna())
    assert result.meta["policy"]["reference_split_ties"] is None
