"""The cluster bootstrap: weights, BCa against scipy, p-values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from auditor.stats.bootstrap import Estimate, Resampler, bootstrap_p_value, cluster_weights, interval


def test_cluster_weights_are_multinomial_counts():
    w = cluster_weights(50, 300, np.random.default_rng(0))
    assert w.shape == (300, 50)
    assert np.all(w.sum(axis=1) == 50)
    assert w.mean() == pytest.approx(1.0)
    # each cluster is drawn Binomial(50, 1/50) times: variance 49/50
    assert w.var() == pytest.approx(49 / 50, rel=0.1)


def test_bca_mean_interval_agrees_with_scipy_for_singleton_clusters():
    rng = np.random.default_rng(1)
    x = rng.exponential(size=200)  # skewed: BCa differs from percentile
    rs = Resampler(200, resamples=4000, seed=3)
    est = rs.sums(np.column_stack([np.ones(200), x]), lambda s: s[..., 1] / s[..., 0], 200)
    lo, hi = interval(est, 0.95, "bca")
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method="BCa", random_state=4).confidence_interval
    assert est.value == pytest.approx(x.mean())
    assert lo == pytest.approx(ref.low, abs=0.03)
    assert hi == pytest.approx(ref.high, abs=0.03)


def test_clustered_interval_is_wider_than_naive_when_clusters_correlate():
    rng = np.random.default_rng(2)
    cluster = np.repeat(np.arange(40), 10)
    x = rng.normal(size=40)[cluster] + 0.1 * rng.normal(size=400)
    per_cluster = np.column_stack([np.bincount(cluster, minlength=40), np.bincount(cluster, weights=x)])
    clustered = Resampler(40, 2000, 0).sums(per_cluster, lambda s: s[..., 1] / s[..., 0], 400)
    naive = Resampler(400, 2000, 0).sums(
        np.column_stack([np.ones(400), x]), lambda s: s[..., 1] / s[..., 0], 400
    )
    w_clustered = np.subtract(*interval(clustered)[::-1])
    w_naive = np.subtract(*interval(naive)[::-1])
    assert w_clustered > 2.5 * w_naive


def test_bootstrap_p_value_small_for_clear_effect_and_large_for_none():
    rng = np.random.default_rng(4)
    clear = Estimate(0.5, rng.normal(0.5, 0.1, 2000), None, 100)
    none = Estimate(0.01, rng.normal(0.01, 0.1, 2000), None, 100)
    assert bootstrap_p_value(clear) < 0.01
    assert bootstrap_p_value(none) > 0.5


def test_estimate_difference_is_paired():
    a = Estimate(1.0, np.array([1.0, 2.0]), np.array([1.0]), 10)
    b = Estimate(0.5, np.array([0.5, 1.5]), np.array([0.5]), 8)
    d = a - b
    assert d.value == 0.5 and d.boot.tolist() == [0.5, 0.5] and d.n == 8


@pytest.mark.parametrize("method", ["holm", "bonferroni", "fdr_bh", "fdr_by"])
def test_p_value_adjustment_matches_statsmodels(method):
    from statsmodels.stats.multitest import multipletests

    from auditor.stats.multitest import adjust

    rng = np.random.default_rng(8)
    for m in (1, 2, 5, 17):
        p = np.concatenate([rng.uniform(size=m - 1) ** 3, [0.5]])
        np.testing.assert_allclose(adjust(p, method), multipletests(p, method=method)[1], rtol=1e-12)
    ties = np.array([0.01, 0.01, 0.04, 0.2, 0.2])
    np.testing.assert_allclose(adjust(ties, method), multipletests(ties, method=method)[1], rtol=1e-12)


def test_difference_of_estimates_over_disjoint_clusters_keeps_its_jackknife():
    # slice A holds clusters 0-1, slice B clusters 2-3: leaving out a cluster of A leaves B unchanged
    a = Estimate(0.5, np.zeros(20), np.array([0.4, 0.6, np.nan, np.nan]), 10, 2)
    b = Estimate(0.2, np.zeros(20), np.array([np.nan, np.nan, 0.1, 0.3]), 10, 2)
    d = a - b
    np.testing.assert_allclose(d.jack, [0.2, 0.4, 0.4, 0.2])


@pytest.mark.parametrize("units", [1, 7, 40, 300])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_boundary_interval_is_scipys_exact_binomial_interval(units, level):
    from auditor.stats.bootstrap import boundary_interval

    for events, value in ((0, 0.0), (units, 1.0)):
        ref = stats.binomtest(events, units).proportion_ci(confidence_level=level, method="exact")
        assert boundary_interval(value, units, level) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_a_rate_with_no_event_gets_the_exact_interval_over_its_clusters_not_zero_width():
    rs = Resampler(30, 500, seed=1)
    none = rs.sums(np.column_stack([np.full(30, 4.0), np.zeros(30)]), lambda s: s[..., 1] / s[..., 0], 120)
    every = rs.sums(
        np.column_stack([np.full(30, 4.0), np.full(30, 4.0)]), lambda s: s[..., 1] / s[..., 0], 120
    )
    assert np.all(none.boot == 0) and none.clusters == 30
    ref = stats.binomtest(0, 30).proportion_ci(method="exact")
    assert interval(none, proportion=True) == pytest.approx((0.0, ref.high))
    assert interval(every, proportion=True) == pytest.approx((1.0 - ref.high, 1.0))
    # a statistic that is not a proportion (a difference, a mean rating at the scale's 1) keeps its zero width,
    # as does a proportion's constant away from 0 and 1
    assert interval(none) == (0.0, 0.0) and interval(every) == (1.0, 1.0)
    half = rs.sums(
        np.column_stack([np.full(30, 4.0), np.full(30, 2.0)]), lambda s: s[..., 1] / s[..., 0], 120
    )
    assert interval(half, proportion=True) == (0.5, 0.5)


@pytest.mark.parametrize("p", [0.003, 0.01])
def test_rare_event_rates_cover_at_the_nominal_level(p):
    """Clustered rare events (60 users x 2 items, the users' rates vary): 30-75% of the samples hold no event, whose
    zero-width bootstrap interval never covered; with the exact bound the coverage is at least nominal."""
    rng = np.random.default_rng(11)
    sims, covered, empty = 300, 0, 0
    for sim in range(sims):
        events = rng.binomial(2, rng.beta(p * 20, (1 - p) * 20, 60))
        rs = Resampler(60, 400, seed=sim)
        est = rs.sums(np.column_stack([np.full(60, 2.0), events]), lambda s: s[..., 1] / s[..., 0], 120)
        lo, hi = interval(est, proportion=True)
        covered += lo <= p <= hi
        empty += events.sum() == 0
    assert empty / sims > 0.25  # the case this is about is common here
    assert covered / sims >= 0.95


def test_an_audit_gives_rates_at_0_or_1_the_exact_interval_and_keeps_other_metrics_as_they_were():
    """A judge that never prefers b: its win rate is 0 of 120 items from 40 users, so [0, exact bound over 40]; its
    agreement, the gaps to the humans and the mean ratings keep their bootstrap intervals."""
    import pandas as pd

    from auditor import audit

    rng = np.random.default_rng(5)
    items = pd.DataFrame(
        {"item_id": [f"i{i}" for i in range(120)], "user_id": [f"u{i % 40}" for i in range(120)]}
    )
    human = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "judge": "human",
            "rater": "h",
            "label": rng.choice(["a", "tie", "b"], 120),
        }
    )
    judge = pd.DataFrame({"item_id": items["item_id"], "judge": "never-b", "rater": "0", "label": "a"})
    result = audit(pd.concat([human, judge]), items, task="pairwise", resamples=400)
    win = result.metric("win_rate", "never-b")
    assert win["value"] == 0 and win["ci_low"] == 0
    assert win["ci_high"] == pytest.approx(stats.binomtest(0, 40).proportion_ci(method="exact").high)
    loss = result.metric("loss_rate", "never-b")
    assert loss["value"] == 1 and loss["ci_high"] == 1
    assert loss["ci_low"] == pytest.approx(stats.binomtest(40, 40).proportion_ci(method="exact").low)
    gap = result.metric("win_rate_gap", "never-b")  # a difference: its bootstrap interval, not a binomial one
    assert gap["ci_low"] < gap["value"] < gap["ci_high"] < 0
