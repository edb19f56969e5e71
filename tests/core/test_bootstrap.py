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
    naive = Resampler(400, 2000, 0).sums(np.column_stack([np.ones(400), x]), lambda s: s[..., 1] / s[..., 0], 400)
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
