"""The alternative annotator test: hand-derived indicators, scipy / statsmodels agreement, known answers, and
its type-I error at the boundary of the null."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import brentq
from statsmodels.stats.multitest import multipletests

import auditor
from auditor.config import config_from_mapping
from auditor.simulate import simulate_study
from auditor.stats.alt_test import alignment_scores, alt_test, one_sided_test, percentile_ranks


def test_indicators_and_p_values_by_hand():
    # 3 raters, 4 distinct item patterns repeated; the judge copies rater A except on pattern 3
    base = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 1]], float)
    judge_base = np.array([0, 1, 0, 0], float)
    h, f = np.tile(base, (10, 1)), np.tile(judge_base, 10)
    r = alt_test(h, f, alignment="accuracy", epsilon=0.2, min_items=10, raters=["A", "B", "C"])
    # leave A out: others (B, C); pattern by pattern S_f vs S_A:
    #  [0,0,0] f=0: S_f = 1, S_A = 1 -> W_f = W_h = 1, d = 0
    #  [1,1,0] f=1: S_f = 1/2, S_A = 1/2 -> d = 0
    #  [1,1,1] f=0: S_f = 0, S_A = 1 -> d = 1
    #  [0,1,1] f=0: S_f = 0, S_A = 0 -> d = 0
    d_a = np.tile([0, 0, 1, 0], 10).astype(float)
    # leave B out: others (A, C)
    #  [0,0,0]: S_f = 1, S_B = 1 -> 0;  [1,1,0]: S_f = 1/2 (A), S_B = 1/2 -> 0
    #  [1,1,1]: S_f = 0, S_B = 1 -> 1;  [0,1,1]: f=0: S_f = 1/2 (A), S_B = 1/2 (C) -> 0
    d_b = d_a
    # leave C out: others (A, B)
    #  [0,0,0]: 1 vs 1 -> 0;  [1,1,0]: S_f = 1, S_C = 0 -> -1
    #  [1,1,1]: S_f = 0, S_C = 1 -> 1;  [0,1,1]: S_f = 1/2, S_C = 1/2 -> 0
    d_c = np.tile([0, -1, 1, 0], 10).astype(float)
    frame = r.to_frame().set_index("rater")
    for name, d in (("A", d_a), ("B", d_b), ("C", d_c)):
        assert frame.loc[name, "mean_difference"] == pytest.approx(d.mean())
        expected = stats.ttest_1samp(d, 0.2, alternative="less")
        assert frame.loc[name, "p_value"] == pytest.approx(expected.pvalue)
        assert frame.loc[name, "statistic"] == pytest.approx(expected.statistic)
    reject, adjusted, _, _ = multipletests(frame["p_value"].to_numpy(), alpha=0.05, method="fdr_by")
    assert frame["p_adjusted"].to_numpy() == pytest.approx(adjusted)
    assert r.winning_rate == pytest.approx(reject.mean())
    assert r.passed == (reject.mean() >= 0.5)
    # A: W_f = 1 on patterns 0, 1, 3 -> 0.75; C: W_f = 1 on 0, 1, 3 -> 0.75; B likewise
    assert r.advantage_probability == pytest.approx(0.75)


def test_clustered_t_test_reduces_to_the_paired_t_test_with_singleton_clusters():
    rng = np.random.default_rng(0)
    d = rng.choice([-1.0, 0.0, 1.0], size=57, p=[0.2, 0.5, 0.3])
    stat, p, g = one_sided_test(d, 0.2)
    ref = stats.ttest_1samp(d, 0.2, alternative="less")
    assert (stat, p, g) == pytest.approx((ref.statistic, ref.pvalue, 57))


def test_clustered_t_test_uses_cluster_totals():
    d = np.array([1.0, 0.0, 1.0, -1.0, 0.0, 0.0, 1.0])
    cluster = np.array([0, 0, 1, 1, 1, 2, 3])
    stat, p, g = one_sided_test(d, 0.1, cluster)
    mean = d.mean()
    totals = np.array([1 - 2 * mean, 0 - 3 * mean, 0 - mean, 1 - mean])  # sum of (d - mean) per cluster
    se = np.sqrt(4 / 3 * np.sum(totals**2)) / 7
    assert stat == pytest.approx((mean - 0.1) / se)
    assert p == pytest.approx(stats.t.cdf((mean - 0.1) / se, 3))
    assert g == 4


def test_neg_rmse_and_rank_alignment_by_hand():
    others = np.array([[1.0, 3.0], [2.0, np.nan]])
    x = np.array([2.0, 5.0])
    assert alignment_scores(x, others, "neg_rmse") == pytest.approx([-1.0, -3.0])
    r = percentile_ranks(np.array([3.0, 1.0, np.nan, 3.0]))
    assert r[[0, 1, 3]] == pytest.approx([2.0 / 3, 0.5 / 3, 2.0 / 3])
    assert np.isnan(r[2])


def _likert_raters(rng, n, n_raters=3, noise=0.6):
    gain = rng.normal(size=n)
    cuts = np.array([-1.5, -0.5, 0.5, 1.5])
    raters = np.column_stack(
        [np.searchsorted(cuts, gain + noise * rng.normal(size=n)) + 1 for _ in range(n_raters)]
    ).astype(float)
    return gain, raters, cuts


def test_a_judge_that_is_one_more_human_passes_and_a_lenient_one_fails():
    rng = np.random.default_rng(1)
    gain, h, cuts = _likert_raters(rng, 300)
    human_like = (np.searchsorted(cuts, gain + 0.6 * rng.normal(size=300)) + 1).astype(float)
    lenient = np.minimum(human_like + 1, 5)
    ok = alt_test(h, human_like, alignment="neg_rmse")
    assert ok.passed and ok.winning_rate == 1.0
    bad = alt_test(h, lenient, alignment="neg_rmse")
    assert not bad.passed and bad.winning_rate == 0.0
    assert ok.advantage_probability > bad.advantage_probability


def test_rank_alignment_ignores_leniency_but_not_a_poor_ordering():
    rng = np.random.default_rng(4)
    gain = rng.normal(size=400)
    h = np.column_stack([gain + 0.5 * rng.normal(size=400) for _ in range(3)])  # continuous scores
    lenient_but_ordered = 2.0 + gain + 0.5 * rng.normal(size=400)
    assert alt_test(h, lenient_but_ordered, alignment="neg_rmse_rank").passed
    assert not alt_test(h, lenient_but_ordered, alignment="neg_rmse").passed
    poorly_ordered = gain + 2.0 * rng.normal(size=400)
    assert not alt_test(h, poorly_ordered, alignment="neg_rmse_rank").passed


@pytest.mark.parametrize("task", ["binary", "pairwise"])
def test_categorical_tasks_noisy_copy_passes_and_biased_judge_fails(task):
    rng = np.random.default_rng(2)
    k = 2 if task == "binary" else 3
    truth = rng.integers(0, k, 300)

    def noisy(flip):
        return np.where(rng.random(300) < flip, rng.integers(0, k, 300), truth).astype(float)

    h = np.column_stack([noisy(0.3) for _ in range(4)])
    assert alt_test(h, noisy(0.3)).passed
    biased = np.where(rng.random(300) < 0.6, k - 1, noisy(0.3)).astype(float)  # says "b" / "1" too often
    assert not alt_test(h, biased).passed


def test_fewer_than_three_raters_is_an_error_and_thin_raters_are_skipped():
    h = np.ones((40, 2))
    with pytest.raises(ValueError, match="at least 3"):
        alt_test(h, np.ones(40))
    h = np.ones((40, 3))
    h[10:, 2] = np.nan
    r = alt_test(h, np.ones(40))
    assert "C" not in r.skipped and "rater3" in r.skipped
    assert len(r.raters) == 2


# -- type-I error at the boundary of the null ---------------------------------------------------------------
FLIP_HUMAN = 0.15


def _expected_difference(flip_judge: float) -> float:
    """E[d] for rater 1 left out: truth z ~ Bern(1/2), raters flip z with FLIP_HUMAN, the judge with
    ``flip_judge``; enumerated over all 2^5 outcomes."""
    total = 0.0
    for z, h1, h2, h3, f in itertools.product((0, 1), repeat=5):
        prob = 0.5
        for h in (h1, h2, h3):
            prob *= FLIP_HUMAN if h != z else 1 - FLIP_HUMAN
        prob *= flip_judge if f != z else 1 - flip_judge
        s_f = ((f == h2) + (f == h3)) / 2
        s_h = ((h1 == h2) + (h1 == h3)) / 2
        total += prob * np.sign(s_h - s_f)
    return total


def boundary_flip(epsilon: float = 0.2) -> float:
    """The judge's flip rate at which E[W_h - W_f] = epsilon exactly: the least favourable null."""
    return brentq(lambda q: _expected_difference(q) - epsilon, 0.0, 0.5)


def type_one_error(
    reps: int, n: int = 100, seed: int = 0, epsilon: float = 0.2, level: float = 0.05
) -> tuple[float, float]:
    """(per-rater rejection rate, pass rate) over ``reps`` simulated datasets at the boundary."""
    flip = boundary_flip(epsilon)
    rng = np.random.default_rng(seed)
    rejections, passes = [], []
    for _ in range(reps):
        z = rng.integers(0, 2, n)
        h = np.column_stack([np.where(rng.random(n) < FLIP_HUMAN, 1 - z, z) for _ in range(3)]).astype(float)
        f = np.where(rng.random(n) < flip, 1 - z, z).astype(float)
        r = alt_test(h, f, epsilon=epsilon, level=level)
        rejections += [c.p_value <= level for c in r.raters]
        passes.append(r.passed)
    return float(np.mean(rejections)), float(np.mean(passes))


def test_boundary_judge_has_the_null_difference():
    flip = boundary_flip()
    assert _expected_difference(flip) == pytest.approx(0.2)
    assert 0.15 < flip < 0.5  # worse than a human (0.15), better than a coin


def test_type_one_error_at_the_boundary_is_at_most_the_level():
    per_rater, passed = type_one_error(reps=400)
    # 1,200 one-sided tests at the boundary: about the level (3 binomial standard errors of slack)
    assert per_rater <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1200)
    assert passed <= 0.05


def test_audit_rows_for_the_simulated_study_and_a_human_like_judge():
    study = simulate_study(seed=10, with_truth=False)
    labels = study.labels[study.labels["judge"].isin(["human", "gpt-4o"])]
    rater1 = labels[(labels["judge"] == "human") & (labels["rater"] == "rater1")].copy()
    rng = np.random.default_rng(3)
    value = rater1["label"].astype(int).to_numpy()
    value = np.clip(value + np.where(rng.random(value.size) < 0.2, rng.choice([-1, 1], value.size), 0), 1, 5)
    rater1["label"] = value.astype(str)
    rater1["judge"], rater1["rater"] = "human-like", "0"
    labels = pd.concat([labels, rater1], ignore_index=True)
    config = config_from_mapping(study.config()).with_overrides(resamples=200, max_cases=0)
    result = auditor.audit(labels, items=study.items, config=config)
    assert result.metric("alt_test_pass", "human-like")["value"] == 1.0
    assert result.metric("alt_test_winning_rate", "human-like")["value"] >= 0.5
    assert result.metric("alt_test_pass", "gpt-4o")["value"] == 0.0  # lenient, Spearman about 0.36
    section = result.meta["alt_test"]
    assert section["epsilon"] == 0.2 and section["alignment"] == "neg_rmse"
    judges = {j["judge"]: j for j in section["judges"]}
    assert {r["rater"] for r in judges["gpt-4o"]["raters"]} == {"rater1", "rater2", "rater3"}
    assert all(r["clusters"] == 50 for r in judges["gpt-4o"]["raters"])


def test_epsilon_is_configurable():
    study = simulate_study(seed=10, with_truth=False)
    labels = study.labels[study.labels["judge"].isin(["human", "gpt-4o"])]
    config = (
        config_from_mapping(study.config())
        .with_overrides(resamples=0, max_cases=0)
        .with_options(alt_test={"epsilon": 0.6}, jury={"enabled": False}, ppi={"enabled": False})
    )
    result = auditor.audit(labels, items=study.items, config=config)
    assert result.meta["alt_test"]["epsilon"] == 0.6
    assert result.metric("alt_test_pass", "gpt-4o")["value"] == 1.0  # a generous enough margin lets it pass


def test_audit_json_stays_strict_when_a_judge_copies_a_rater():
    """A judge identical to one rater gives d = 0 on every item for that rater: a zero standard error, an
    infinite t statistic, which audit.json (strict JSON) must carry as null."""
    rng = np.random.default_rng(5)
    ids = [f"i{i:03d}" for i in range(60)]
    truth = rng.integers(0, 2, 60)
    rows = [
        pd.DataFrame(
            {
                "item_id": ids,
                "judge": "human",
                "rater": f"r{r}",
                "label": np.where(rng.random(60) < 0.2, 1 - truth, truth).astype(str),
            }
        )
        for r in range(3)
    ]
    rows.append(rows[0].assign(judge="copy", rater="0"))
    result = auditor.audit(pd.concat(rows), task="binary", resamples=200)
    doc = json.loads(result.to_json())
    copy = next(j for j in doc["alt_test"]["judges"] if j["judge"] == "copy")
    assert copy["raters"][0]["statistic"] is None and copy["raters"][0]["p_value"] == 0.0
    assert result.metric("alt_test_pass", "copy")["value"] == 1.0


def test_cluster_robust_test_holds_its_level_where_the_item_level_t_test_does_not():
    """d at the null boundary (E[d] = epsilon = 0.2) with user-level dependence: half the users have
    P(d = 1, 0, -1) = (0.6, 0.2, 0.2), the others (0.2, 0.6, 0.2); 40 users x 6 items.  Over 10,000 runs the
    item-level t-test rejects 8.0% and the cluster-robust one 5.25% at level 5%."""
    rng = np.random.default_rng(9)
    cluster = np.repeat(np.arange(40), 6)
    item_level, clustered = [], []
    for _ in range(2000):
        kind = rng.random(40) < 0.5
        p_one = np.where(kind, 0.6, 0.2)[cluster]
        u = rng.random(cluster.size)
        d = np.where(u < p_one, 1.0, np.where(u < p_one + np.where(kind, 0.2, 0.6)[cluster], 0.0, -1.0))
        item_level.append(one_sided_test(d, 0.2)[1] <= 0.05)
        clustered.append(one_sided_test(d, 0.2, cluster)[1] <= 0.05)
    assert np.mean(clustered) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 2000)
    assert np.mean(item_level) > np.mean(clustered) + 0.01
