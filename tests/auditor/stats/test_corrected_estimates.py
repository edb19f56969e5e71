"""Corrected estimates: PPI++ against ppi_py with its tuned lambda, stratified PPI against ppi_py stratum by stratum
and a hand-derived small case, and the Rogan-Gladen rate against the values of Lee et al.'s reference code."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri

from auditor.stats import misclassification as mc
from auditor.stats import ppi

ppi_py = pytest.importorskip("ppi_py")


def _binary(seed: int, n: int = 200, big_n: int = 2000, accuracy: float = 0.8):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    yhat = np.where(rng.random(n) < accuracy, y, 1 - y)
    truth_u = rng.random(big_n) < 0.4
    return y, yhat, np.where(rng.random(big_n) < accuracy, truth_u, ~truth_u).astype(float)


def _ratings(seed: int, n: int = 150, big_n: int = 900):
    rng = np.random.default_rng(seed)
    y = rng.integers(1, 6, n).astype(float)
    yhat = np.clip(y + rng.normal(0, 1, n).round(), 1, 5)
    truth_u = rng.integers(1, 6, big_n)
    return y, yhat, np.clip(truth_u + rng.normal(0, 1, big_n).round(), 1, 5)


@pytest.mark.parametrize("make", [_binary, _ratings], ids=["binary", "ratings"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_tuned_ppi_without_clusters_is_ppi_py_to_1e9(make, seed, level):
    y, yhat, yhat_u = make(seed)
    ours = ppi.ppi_mean(y, yhat, yhat_u, level=level)
    lo, hi = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=1 - level)
    assert ours.tuning == "ppi_py"
    assert ours.value == pytest.approx(float(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u)[0]), abs=1e-9)
    assert ours.ci_low == pytest.approx(float(lo[0]), abs=1e-9)
    assert ours.ci_high == pytest.approx(float(hi[0]), abs=1e-9)


def test_ppi_py_lambda_is_cov_over_one_plus_n_over_big_n_times_the_pooled_variance():
    y, yhat, yhat_u = _ratings(3)
    n, big_n = y.size, yhat_u.size
    cov = np.mean((y - y.mean()) * (yhat - yhat.mean()))
    pooled = np.var(np.concatenate([yhat, yhat_u]), ddof=1)
    assert ppi.ppi_mean(y, yhat, yhat_u).lam == pytest.approx(cov / ((1 + n / big_n) * pooled), abs=1e-12)


def test_with_cluster_ids_lambda_minimises_the_sandwich_instead():
    """Singleton cluster ids give the same data ppi_py sees; the cluster rule then centres each set on its own mean:
    ``lam = Cov_n / (Var_n(Yhat) + (n/N) Var_N(Yhat_u))`` (ddof 0), the project's rule before ppi_py's."""
    y, yhat, yhat_u = _binary(4)
    n, big_n = y.size, yhat_u.size
    r = ppi.ppi_mean(y, yhat, yhat_u, cluster=np.arange(n), cluster_unlabelled=n + np.arange(big_n))
    cov = np.mean((y - y.mean()) * (yhat - yhat.mean()))
    assert r.tuning == "cluster"
    assert r.lam == pytest.approx(cov / (np.var(yhat) + n / big_n * np.var(yhat_u)), abs=1e-12)
    assert r.lam == pytest.approx(ppi.ppi_mean(y, yhat, yhat_u).lam, abs=0.02)  # O(1/n) apart


def test_singleton_sums_are_the_cluster_sums_of_one_row_clusters():
    y, yhat, yhat_u = _ratings(5, 40, 90)
    expected = ppi.cluster_sums(y, yhat, np.arange(40), yhat_u, 40 + np.arange(90), 130).sum(0)
    assert np.allclose(ppi.singleton_sums(y, yhat, yhat_u), expected, atol=1e-9)


# -- stratified PPI ------------------------------------------------------------------------------------------------
def _strata_study(seed: int = 0):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 3, 2400)
    truth = rng.random(2400) < np.array([0.2, 0.5, 0.8])[s]
    judge = np.where(rng.random(2400) < np.array([0.9, 0.75, 0.85])[s], truth, ~truth)
    lab = np.zeros(2400, bool)
    lab[:300] = True
    return truth.astype(float), judge.astype(float), s, lab


def test_stratified_ppi_combines_ppi_py_stratum_by_stratum():
    y, yhat, s, lab = _strata_study()
    r = ppi.stratified_ppi_mean(y[lab], yhat[lab], yhat[~lab], s[lab], s[~lab], level=0.9)
    z = float(ndtri(0.95))
    value = variance = 0.0
    for k in range(3):
        lo, hi = ppi_py.ppi_mean_ci(y[lab & (s == k)], yhat[lab & (s == k)], yhat[~lab & (s == k)], alpha=0.1)
        w = np.sum(~lab & (s == k)) / np.sum(~lab)
        value += w * (lo[0] + hi[0]) / 2
        variance += (w * (hi[0] - lo[0]) / (2 * z)) ** 2
    assert r.value == pytest.approx(value, abs=1e-9)
    assert r.se == pytest.approx(np.sqrt(variance), abs=1e-9)
    assert (r.ci_low, r.ci_high) == pytest.approx(
        (value - z * np.sqrt(variance), value + z * np.sqrt(variance))
    )
    assert r.tuning == "ppi_py" and r.n_strata == 3 and r.n_pooled == 0
    assert r.strata["weight"].sum() == pytest.approx(1.0)


def test_stratified_ppi_with_one_stratum_is_ppi():
    y, yhat, _, lab = _strata_study(1)
    one = ppi.stratified_ppi_mean(y[lab], yhat[lab], yhat[~lab], np.zeros(lab.sum()), np.zeros((~lab).sum()))
    plain = ppi.ppi_mean(y[lab], yhat[lab], yhat[~lab])
    assert (one.value, one.se) == pytest.approx((plain.value, plain.se), abs=1e-12)


def test_stratified_ppi_small_case_by_hand():
    """Two strata, written out: stratum a (3 labelled, 4 unlabelled), stratum b (2 labelled, 2 unlabelled)."""
    y = np.array([1.0, 0, 1, 0, 1])
    yhat = np.array([1.0, 0, 0, 0, 1])
    s = np.array(["a", "a", "a", "b", "b"])
    yhat_u = np.array([1.0, 1, 0, 0, 1, 0])
    s_u = np.array(["a", "a", "a", "a", "b", "b"])
    # stratum a: n=3, N=4; cov_n(Y, Yhat) = mean((1-2/3)(1-1/3), (-2/3)(-1/3), (1/3)(-1/3)) = 1/9 * (2+2-1)/3 = 1/9
    # pooled Yhat over the 7 rows: 1,0,0,1,1,0,0 -> mean 3/7, var (ddof 1) = (3 (4/7)^2 + 4 (3/7)^2) / 6 = 2/7
    lam_a = (1 / 9) / ((1 + 3 / 4) * (2 / 7))
    theta_a = lam_a * 0.5 + (2 / 3 - lam_a * 1 / 3)
    var_a = np.var(y[:3] - lam_a * yhat[:3]) / 3 + lam_a**2 * np.var(yhat_u[:4]) / 4
    # stratum b: Y = (0, 1), Yhat = (0, 1): cov_n = 1/4; pooled Yhat 0,1,1,0 -> var 1/3; lam = (1/4)/((2) (1/3)) = 3/8
    lam_b = 3 / 8
    theta_b = lam_b * 0.5 + (0.5 - lam_b * 0.5)
    var_b = np.var(y[3:] - lam_b * yhat[3:]) / 2 + lam_b**2 * np.var(yhat_u[4:]) / 2
    r = ppi.stratified_ppi_mean(y, yhat, yhat_u, s, s_u, min_labelled=2)
    assert list(r.strata["lam"]) == pytest.approx([lam_a, lam_b], abs=1e-12)
    assert r.value == pytest.approx(4 / 6 * theta_a + 2 / 6 * theta_b, abs=1e-12)
    assert r.se**2 == pytest.approx((4 / 6) ** 2 * var_a + (2 / 6) ** 2 * var_b, abs=1e-12)


def test_strata_with_too_few_labels_are_pooled_and_said_so():
    y, yhat, s, lab = _strata_study(2)
    s = s.astype(object)
    s[np.flatnonzero(lab)[:1]] = "lonely"  # one labelled item
    s[np.flatnonzero(~lab)[:5]] = "lonely"
    s[np.flatnonzero(~lab)[5:9]] = "unlabelled-only"
    r = ppi.stratified_ppi_mean(y[lab], yhat[lab], yhat[~lab], s[lab], s[~lab])
    assert r.n_pooled == 2
    # the pool has one labelled item: it joins the kept stratum with the fewest labelled items
    assert ppi.POOLED not in set(r.strata["stratum"])
    assert r.strata["n_unlabelled"].sum() == (~lab).sum() and r.strata["n_labelled"].sum() == lab.sum()
    assert np.isfinite(r.value) and np.isfinite(r.se)


def test_stratified_ppi_in_the_audit_design_counts_each_item_once_per_set():
    """Labelled items among the unlabelled ones, item ids as units: each stratum's term is the clustered PPI++."""
    y, yhat, s, lab = _strata_study(3)
    ids = np.arange(y.size)
    r = ppi.stratified_ppi_mean(y[lab], yhat[lab], yhat, s[lab], s, cluster=ids[lab], cluster_unlabelled=ids)
    for k, row in r.strata.iterrows():
        part = ppi.ppi_mean(
            y[lab & (s == k)],
            yhat[lab & (s == k)],
            yhat[s == k],
            cluster=ids[lab & (s == k)],
            cluster_unlabelled=ids[s == k],
        )
        assert (row["value"], row["lam"], row["se"]) == pytest.approx(
            (part.value, part.lam, part.se), abs=1e-12
        )
    assert r.tuning == "cluster"


def test_the_pool_of_small_strata_takes_its_own_units():
    """Users as strata: items are the units inside a kept user, users inside the pool; the pool's term is then the
    user-clustered PPI++ of its rows."""
    rng = np.random.default_rng(6)
    user = np.repeat(np.arange(40), 10)
    y = (rng.random(400) < np.repeat(rng.random(40), 10)).astype(float)
    yhat = np.where(rng.random(400) < 0.8, y, 1 - y)
    lab = rng.random(400) < np.where(user < 5, 1.0, 0.3)  # users 0-4 fully labelled (kept), the rest pooled
    ids = np.arange(400)
    r = ppi.stratified_ppi_mean(
        y[lab],
        yhat[lab],
        yhat,
        user[lab],
        user,
        cluster=ids[lab],
        cluster_unlabelled=ids,
        pooled_cluster=user[lab],
        pooled_cluster_unlabelled=user,
    )
    assert r.n_strata == 6 and r.n_pooled == 35
    pool = r.strata.set_index("stratum").loc[ppi.POOLED]
    small = user >= 5
    part = ppi.ppi_mean(
        y[lab & small],
        yhat[lab & small],
        yhat[small],
        cluster=user[lab & small],
        cluster_unlabelled=user[small],
    )
    assert (pool["value"], pool["lam"], pool["se"]) == pytest.approx(
        (part.value, part.lam, part.se), abs=1e-12
    )


# -- Rogan-Gladen ---------------------------------------------------------------------------------------------------
# (p, q0, q1, n, m0, m1) -> interval, from the authors' reference implementation (UW-Madison-Lee-Lab/
# LLM-judge-reporting, llm_judge_reporting/calibration.py, confidence_interval, commit 082884d)
LEE_REFERENCE = [
    ((0.5, 0.8, 0.9, 1000, 100, 100), (0.33681397647763256, 0.5124664742768934)),
    ((0.3, 0.95, 0.7, 200, 40, 15), (0.22191012159311188, 0.6071210062532745)),
    ((0.9, 0.6, 0.99, 5000, 30, 300), (0.7916727081350438, 0.8915686833485758)),
]


@pytest.mark.parametrize(("args", "expected"), LEE_REFERENCE)
def test_interval_equals_lee_et_al_reference_code(args, expected):
    low, high, _ = mc.rogan_gladen_interval(*args)
    assert (float(low), float(high)) == pytest.approx(expected, abs=1e-12)


def test_rogan_gladen_from_samples():
    """q1 = 45/50, q0 = 120/150, p = 0.5: theta = (0.5 + 0.8 - 1) / (0.9 + 0.8 - 1) = 3/7."""
    truth = np.r_[np.ones(50), np.zeros(150)]
    judged = np.r_[np.ones(45), np.zeros(5), np.zeros(120), np.ones(30)]
    r = mc.rogan_gladen(np.r_[np.ones(400), np.zeros(400)], truth, judged, level=0.9)
    assert (r.sensitivity, r.specificity, r.judge_rate) == pytest.approx((0.9, 0.8, 0.5))
    assert r.value == pytest.approx(3 / 7)
    assert (r.n_test, r.n_calibration_positive, r.n_calibration_negative) == (800, 50, 150)
    low, high, _ = mc.rogan_gladen_interval(0.5, 0.8, 0.9, 800, 150, 50, level=0.9)
    assert (r.ci_low, r.ci_high) == pytest.approx((float(low), float(high)))
    assert r.identified


def test_a_judge_no_better_than_chance_has_no_correction():
    truth = np.r_[np.ones(10), np.zeros(10)]
    judged = np.r_[np.ones(4), np.zeros(6), np.ones(6), np.zeros(4)]  # q1 = 0.4, q0 = 0.4
    r = mc.rogan_gladen(np.ones(50), truth, judged)
    assert not r.identified
    assert np.isnan(r.value) and np.isnan(r.ci_low)


def test_the_corrected_rate_is_clipped_to_the_unit_interval():
    assert float(mc.rogan_gladen_point(0.05, 0.9, 0.9)) == 0.0  # (0.05 + 0.9 - 1) / 0.8 < 0
    assert float(mc.rogan_gladen_point(0.98, 0.9, 0.9)) == 1.0
