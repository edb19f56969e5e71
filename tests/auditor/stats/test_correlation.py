"""Correlations from tables and weighted ranks against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from auditor.stats import correlation as co


def table_of(x, y):
    vx, ix = np.unique(x, return_inverse=True)
    vy, iy = np.unique(y, return_inverse=True)
    t = np.zeros((vx.size, vy.size))
    np.add.at(t, (ix, iy), 1)
    return t


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_table_spearman_and_kendall_match_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, 250)
    y = np.clip(x + rng.integers(-2, 3, 250), 1, 5) + (rng.random(250) < 0.1) * 0.5
    t = table_of(x, y)
    assert co.spearman_from_table(t) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    assert co.kendall_tau_b_from_table(t) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)


def test_pearson_from_sums_matches_scipy():
    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    y = x + rng.normal(size=300)
    got = co.pearson_from_sums(300, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
    assert got == pytest.approx(stats.pearsonr(x, y).statistic, abs=1e-12)


def test_weighted_spearman_equals_spearman_of_repeated_rows():
    rng = np.random.default_rng(9)
    x = np.round(rng.normal(size=120), 1)  # some ties
    y = x + rng.normal(size=120)
    w = rng.integers(0, 3, size=(5, 120)).astype(float)
    got = co.spearman_weighted(x, y, w)
    for i in range(5):
        reps = w[i].astype(int)
        assert got[i] == pytest.approx(
            stats.spearmanr(np.repeat(x, reps), np.repeat(y, reps)).statistic, abs=1e-12
        )


def test_hand_derived_perfect_and_reversed_order():
    t = np.diag([3.0, 2.0, 1.0])
    assert co.spearman_from_table(t) == pytest.approx(1.0)
    assert co.kendall_tau_b_from_table(t) == pytest.approx(1.0)
    assert co.kendall_tau_b_from_table(t[:, ::-1]) == pytest.approx(-1.0)
