"""Coverage of the corrected estimates' intervals by simulation, vectorised over studies: stratified PPI (Fisch et al.
2024, Wald interval from its per-stratum PPI++ variances) and the Rogan-Gladen rate (Lee et al. 2025's interval).

The default run checks 3,000 studies per setting (Monte-Carlo SE of a 95% coverage 0.4 points, band 93-97%, 92.5%
for stratified PPI, measured about a point short);
``-m full`` runs 20,000 studies over a grid of settings (band 93.5-96%; the Wald interval runs a little short with
few labelled positives per stratum, shown by its own test)."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import misclassification as mc
from auditor.stats import ppi

Z95 = 1.959963984540054


def _stratified_coverage(studies: int, seed: int, rates, accuracy, n_k, big_n_k) -> float:
    """Disjoint labelled / unlabelled samples per stratum (the paper's design), fixed stratum sizes."""
    rng = np.random.default_rng(seed)
    rates, weights = np.asarray(rates), np.asarray(big_n_k) / np.sum(big_n_k)
    truth = float(np.sum(weights * rates))
    per_stratum = []
    for k in range(len(rates)):
        y = rng.random((studies, n_k[k])) < rates[k]
        yhat = np.where(rng.random(y.shape) < accuracy[k], y, ~y)
        truth_u = rng.random((studies, big_n_k[k])) < rates[k]
        yhat_u = np.where(rng.random(truth_u.shape) < accuracy[k], truth_u, ~truth_u)
        per_stratum.append(ppi.singleton_sums(y, yhat, yhat_u))
    out = ppi.stratified_from_sums(np.stack(per_stratum, 1), tuning="ppi_py")
    return float(np.mean(np.abs(out["value"] - truth) <= Z95 * np.sqrt(out["variance"])))


def _rogan_gladen_coverage(studies: int, seed: int, theta, q0, q1, n, m) -> float:
    """Test sample of ``n`` judged items, an independent calibration sample of ``m`` human-labelled items (its
    positives ``m1`` drawn too)."""
    rng = np.random.default_rng(seed)
    m1 = rng.binomial(m, theta, studies)
    m0 = m - m1
    p = rng.binomial(n, theta * q1 + (1 - theta) * (1 - q0), studies) / n
    q1_hat = rng.binomial(m1, q1) / np.maximum(m1, 1)
    q0_hat = rng.binomial(m0, q0) / np.maximum(m0, 1)
    low, high, _ = mc.rogan_gladen_interval(p, q0_hat, q1_hat, n, m0, m1)
    return float(np.mean((low <= theta) & (theta <= high)))


STRATIFIED = [
    ((0.2, 0.5, 0.8), (0.9, 0.75, 0.85), (40, 60, 100), (300, 500, 700)),
    ((0.2, 0.4), (0.8, 0.95), (150, 200), (2000, 400)),
]
ROGAN_GLADEN = [(0.3, 0.85, 0.75, 2000, 200), (0.6, 0.9, 0.9, 1000, 300)]


@pytest.mark.parametrize("setting", STRATIFIED)
def test_stratified_ppi_interval_covers(setting):
    """Measured 93.2% and 94.3%: the per-stratum PPI++ Wald interval (ppi_py's) runs about a point short."""
    assert 0.925 <= _stratified_coverage(3000, 11, *setting) <= 0.97


@pytest.mark.parametrize("setting", ROGAN_GLADEN)
def test_rogan_gladen_interval_covers(setting):
    assert 0.93 <= _rogan_gladen_coverage(3000, 12, *setting) <= 0.97


@pytest.mark.full
@pytest.mark.parametrize(
    "setting",
    STRATIFIED + [((0.4, 0.6), (0.6, 0.6), (200, 200), (2000, 2000))],
)
def test_stratified_ppi_interval_covers_full(setting):
    assert 0.935 <= _stratified_coverage(20_000, 21, *setting) <= 0.96


@pytest.mark.full
def test_stratified_ppi_wald_interval_undercovers_a_little_with_few_labelled_positives():
    """Strata at rates 0.05 and 0.95 with 50 labels each (about 2.5 positives or negatives): the Wald interval,
    as in the paper, covers about 93.9%, not 95% (README says so)."""
    setting = ((0.05, 0.5, 0.5, 0.95), (0.7, 0.8, 0.9, 0.95), (50, 50, 50, 50), (500, 500, 500, 500))
    assert 0.925 <= _stratified_coverage(20_000, 21, *setting) <= 0.95


@pytest.mark.full
@pytest.mark.parametrize(
    "setting",
    ROGAN_GLADEN + [(0.1, 0.95, 0.8, 5000, 500), (0.5, 0.7, 0.7, 2000, 400), (0.85, 0.8, 0.95, 500, 150)],
)
def test_rogan_gladen_interval_covers_full(setting):
    assert 0.94 <= _rogan_gladen_coverage(20_000, 22, *setting) <= 0.96


def _users_as_strata_coverage(studies: int, seed: int, per_user: int = 40, users: int = 30) -> float:
    """The audit's design with users as strata: ``users`` users with their own rates (fixed: the estimand is these users'
    mean), every item judged (85% accurate), 30% labelled at random and also among the judged items (item ids as
    units; users inside the pool); users with fewer than 10 labels pooled."""
    rng = np.random.default_rng(seed)
    user = np.repeat(np.arange(users), per_user)
    rate = 1 / (1 + np.exp(-(np.log(0.45 / 0.55) + rng.normal(size=users))))
    truth = float(rate.mean())  # equal shares: every user has per_user items
    ids = np.arange(user.size)
    hits = 0
    for _ in range(studies):
        y = rng.random(user.size) < rate[user]
        yhat = np.where(rng.random(user.size) < 0.85, y, ~y).astype(float)
        lab = rng.random(user.size) < 0.3
        r = ppi.stratified_ppi_mean(
            y[lab].astype(float),
            yhat[lab],
            yhat,
            user[lab],
            user,
            cluster=ids[lab],
            cluster_unlabelled=ids,
            pooled_cluster=user[lab],  # as the audit does: users are the units inside the pool
            pooled_cluster_unlabelled=user,
        )
        hits += r.ci_low <= truth <= r.ci_high
    return hits / studies


def test_stratified_ppi_with_users_as_strata_covers_in_the_audit_design():
    """200 studies: a loose check (2 labels a stratum would give about 83%); ``-m full`` runs 3,000."""
    assert 0.89 <= _users_as_strata_coverage(200, 31) <= 0.99


@pytest.mark.full
@pytest.mark.parametrize("per_user", [40, 80])
def test_stratified_ppi_with_users_as_strata_covers_in_the_audit_design_full(per_user):
    """About 12 and 24 labels a user: measured 95.3% and 93.3% (each stratum's lam is tuned on its own few labels,
    so with most users kept the interval runs a point or two short; README says so)."""
    assert 0.925 <= _users_as_strata_coverage(3000, 32, per_user) <= 0.965
