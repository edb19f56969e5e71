"""Agreement coefficients against scikit-learn, krippendorff, statsmodels, irrCAC and hand-derived values."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from auditor.stats import agreement as ag


def confusion(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    c = np.zeros((k, k))
    np.add.at(c, (x, y), 1)
    return c


@pytest.fixture(params=[0, 1, 2])
def pair(request):
    rng = np.random.default_rng(request.param)
    k = 3 + request.param
    x = rng.integers(0, k, 400)
    y = np.where(rng.random(400) < 0.55, x, rng.integers(0, k, 400))
    return x, y, k


def test_hand_derived_two_by_two():
    # 50 items: both yes 20, both no 15, ref yes / judge no 10, ref no / judge yes 5
    c = np.array([[15.0, 5.0], [10.0, 20.0]])
    po = 35 / 50
    pe_cohen = (20 / 50) * (25 / 50) + (30 / 50) * (25 / 50)
    assert ag.percent_agreement(c) == pytest.approx(po)
    assert ag.cohen_kappa(c) == pytest.approx((po - pe_cohen) / (1 - pe_cohen))
    pooled = np.array([(20 + 25) / 100, (30 + 25) / 100])
    pe_scott = (pooled**2).sum()
    assert ag.scott_pi(c) == pytest.approx((po - pe_scott) / (1 - pe_scott))
    pe_gwet = (pooled * (1 - pooled)).sum() / 1
    assert ag.gwet_ac1(c) == pytest.approx((po - pe_gwet) / (1 - pe_gwet))
    # Krippendorff's alpha (nominal) = 1 - (n - 1) * D_o / D_e with n = 100 pairable values
    o = c + c.T
    n_c = o.sum(1)
    expected = 1 - (100 - 1) * (o[0, 1] + o[1, 0]) / (2 * n_c[0] * n_c[1])
    assert ag.krippendorff_alpha_from_coincidence(o, "nominal") == pytest.approx(expected)


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(pair, weights):
    x, y, k = pair
    expected = cohen_kappa_score(x, y, weights=None if weights == "none" else weights)
    assert ag.cohen_kappa(confusion(x, y, k), weights) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_two_raters_matches_package(pair, level):
    x, y, k = pair
    expected = krippendorff.alpha(
        reliability_data=np.vstack([x, y]).astype(float), level_of_measurement=level
    )
    got = ag.krippendorff_alpha_from_coincidence(ag.coincidence_from_confusion(confusion(x, y, k)), level)
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_many_raters_with_missing_matches_package(level):
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 4, 150)
    data = np.where(rng.random((6, 150)) < 0.6, truth, rng.integers(0, 4, (6, 150))).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    counts = np.stack([(data == v).sum(0) for v in range(4)], axis=1)
    got = ag.krippendorff_alpha_from_coincidence(ag.coincidence_from_counts(counts).sum(0), level)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert got == pytest.approx(expected, abs=1e-10)


def test_krippendorff_custom_distance_matches_package():
    """A custom distance (here |c - k|**1.5 over the category values 1, 2, 4, 8) given as the (K, K) matrix of
    squared differences equals the package's alpha with the same distance as a function."""
    values = np.array([1.0, 2.0, 4.0, 8.0])
    matrix = np.abs(values[:, None] - values[None, :]) ** 1.5

    def distance(v1, v2, i1, i2, n_v, dtype=np.float64):
        return (np.abs(v1 - v2) ** 1.5).astype(dtype)

    rng = np.random.default_rng(11)
    truth = rng.integers(0, 4, 120)
    codes = np.where(rng.random((5, 120)) < 0.55, truth, rng.integers(0, 4, (5, 120))).astype(float)
    codes[rng.random(codes.shape) < 0.25] = np.nan
    counts = np.stack([(codes == v).sum(0) for v in range(4)], axis=1)
    got = ag.krippendorff_alpha_from_coincidence(ag.coincidence_from_counts(counts).sum(0), matrix)
    data = np.where(np.isnan(codes), np.nan, values[np.nan_to_num(codes).astype(int)])
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement=distance)
    assert got == pytest.approx(expected, abs=1e-10)
    # the ratio level over these values is the custom distance ((c - k) / (c + k))**2
    ratio = ((values[:, None] - values[None, :]) / (values[:, None] + values[None, :])) ** 2
    coincidence = ag.coincidence_from_counts(counts).sum(0)
    assert ag.krippendorff_alpha_from_coincidence(coincidence, "ratio", values) == pytest.approx(
        ag.krippendorff_alpha_from_coincidence(coincidence, ratio), abs=1e-15
    )
    with pytest.raises(ValueError, match="custom distance must be a 4x4 matrix"):
        ag.krippendorff_alpha_from_coincidence(coincidence, -matrix)


def test_krippendorff_interval_from_sums_matches_package():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(4, 80)) + rng.normal(size=80)
    data[rng.random(data.shape) < 0.25] = np.nan
    m = np.sum(~np.isnan(data), axis=0).astype(float)
    sx = np.nansum(data, axis=0)
    sxx = np.nansum(data**2, axis=0)
    ok = m > 1
    term = 2 * (m[ok] * sxx[ok] - sx[ok] ** 2) / (m[ok] - 1)
    got = ag.krippendorff_alpha_interval_from_sums(term.sum(), m[ok].sum(), sx[ok].sum(), sxx[ok].sum())
    assert got == pytest.approx(
        krippendorff.alpha(reliability_data=data, level_of_measurement="interval"), abs=1e-10
    )


def test_fleiss_matches_statsmodels():
    rng = np.random.default_rng(11)
    ratings = np.where(rng.random((300, 5)) < 0.5, rng.integers(0, 3, (300, 1)), rng.integers(0, 3, (300, 5)))
    table, _ = aggregate_raters(ratings)
    p_i = ag.fleiss_item_terms(table)
    got = ag.fleiss_kappa(len(p_i), p_i.sum(), table.sum(0), table.sum())
    assert got == pytest.approx(sm_fleiss(table), abs=1e-12)


def test_fleiss_with_two_ratings_is_scott_pi(pair):
    x, y, k = pair
    c = confusion(x, y, k)
    n = c.sum()
    got = ag.fleiss_kappa(n, np.trace(c), c.sum(0) + c.sum(1), 2 * n)
    assert got == pytest.approx(ag.scott_pi(c))


def test_gwet_ac1_three_categories_by_hand():
    # 3 categories; pooled shares pi = (0.45, 0.35, 0.20); p_o = 0.7
    c = np.array([[40.0, 3.0, 2.0], [5.0, 20.0, 5.0], [3.0, 3.0, 19.0]])
    n = c.sum()
    pi = (c.sum(0) + c.sum(1)) / (2 * n)
    pe = (pi * (1 - pi)).sum() / 2
    po = np.trace(c) / n
    assert ag.gwet_ac1(c) == pytest.approx((po - pe) / (1 - pe))
    assert ag.gwet_ac1(c) > ag.cohen_kappa(c)  # AC1 is less affected by skewed margins than kappa


def test_batch_shapes_evaluate_many_tables_at_once(pair):
    x, y, k = pair
    c = confusion(x, y, k)
    stacked = np.stack([c, c * 2, c.T])
    got = ag.cohen_kappa(stacked)
    assert got.shape == (3,)
    assert got[0] == pytest.approx(got[1])
    assert got[2] == pytest.approx(cohen_kappa_score(y, x))


def test_undefined_kappa_is_nan_not_an_error():
    c = np.array([[10.0, 0.0], [0.0, 0.0]])  # both raters always say category 0
    assert np.isnan(ag.cohen_kappa(c))


def test_brennan_prediger_by_hand():
    # two categories: 35 of 50 items agree, chance is a coin flip -> (0.7 - 1/2) / (1 - 1/2) = 0.4
    assert ag.brennan_prediger(np.array([[15.0, 5.0], [10.0, 20.0]])) == pytest.approx(0.4, abs=1e-12)
    # three categories, one of them never used: chance is still 1/3; p_o = 60 / 100 -> (0.6 - 1/3) / (2/3) = 0.4
    c = np.array([[40.0, 20.0, 0.0], [20.0, 20.0, 0.0], [0.0, 0.0, 0.0]])
    assert ag.brennan_prediger(c) == pytest.approx(0.4, abs=1e-12)
    # perfect agreement is 1 whatever the margins; agreement at the chance rate is 0; below chance is negative
    assert ag.brennan_prediger(np.diag([90.0, 5.0, 5.0])) == pytest.approx(1.0)
    assert ag.brennan_prediger(np.full((4, 4), 5.0)) == pytest.approx(0.0, abs=1e-12)
    assert ag.brennan_prediger(np.array([[0.0, 10.0], [10.0, 0.0]])) == pytest.approx(-1.0)
    # undefined for an empty table or a single category: NaN, not an error
    assert np.isnan(ag.brennan_prediger(np.zeros((3, 3))))
    assert np.isnan(ag.brennan_prediger(np.array([[7.0]])))


def test_brennan_prediger_is_randolphs_free_marginal_kappa_for_two_ratings(pair):
    """statsmodels' Fleiss kappa with uniform chance (Randolph's kappa) reduces to Brennan-Prediger for two
    ratings per item."""
    x, y, k = pair
    table, _ = aggregate_raters(np.column_stack([x, y]), n_cat=k)
    assert ag.brennan_prediger(confusion(x, y, k)) == pytest.approx(
        sm_fleiss(table, method="randolph"), abs=1e-12
    )


def test_brennan_prediger_equals_kappa_when_both_margins_are_uniform():
    # each rater uses each of 3 categories 30 times: Cohen's chance term is then 1/3 too
    c = np.array([[20.0, 6.0, 4.0], [4.0, 20.0, 6.0], [6.0, 4.0, 20.0]])
    assert ag.brennan_prediger(c) == pytest.approx(ag.cohen_kappa(c), abs=1e-12)
    assert ag.brennan_prediger(c) == pytest.approx(ag.scott_pi(c), abs=1e-12)


def test_brennan_prediger_evaluates_a_batch_of_tables(pair):
    x, y, k = pair
    c = confusion(x, y, k)
    batch = np.stack([c, c * 2, np.eye(k) * 3])
    np.testing.assert_allclose(ag.brennan_prediger(batch), [ag.brennan_prediger(c)] * 2 + [1.0])


def test_brennan_prediger_row_in_an_audit_by_hand():
    """End to end: a pairwise audit (q = 3 categories a / tie / b) where the judge matches the one human rater on
    4 of 6 items: (4/6 - 1/3) / (1 - 1/3) = 0.5, whatever the label shares."""
    import pandas as pd

    import auditor

    human = ["a", "b", "b", "tie", "b", "a"]
    judge = ["a", "b", "b", "tie", "a", "b"]
    labels = pd.DataFrame(
        [{"item_id": f"i{i}", "judge": "human", "rater": "r1", "label": h} for i, h in enumerate(human)]
        + [{"item_id": f"i{i}", "judge": "llm", "label": j} for i, j in enumerate(judge)]
    )
    result = auditor.audit(labels, task="pairwise", resamples=0)
    row = result.metric("brennan_prediger", "llm")
    assert row["value"] == pytest.approx(0.5, abs=1e-12)
    assert row["n"] == 6


@pytest.mark.parametrize("rows", [1, 2, 4097, 100_001])
@pytest.mark.parametrize("k", [3, 7])
def test_weighted_counts_equals_the_plain_product_bit_for_bit(rows, k):
    """The contiguous layout of the transposed weights (a speed fix for OpenBLAS) changes no bit: integer counts
    and fractional values, Gwet's non-dyadic weights (7 categories: multiples of 1/36), stacks of tables too."""
    rng = np.random.default_rng(rows * 10 + k)
    weights = [ag.agreement_weights("quadratic", k), rng.random((k, k))]
    tables = [rng.integers(0, 5, (rows, k)).astype(float), rng.random((rows, k)) * 3]
    for w in weights:
        for x in tables + [t.reshape(rows, 1, k) for t in tables]:
            assert np.array_equal(ag.weighted_counts(x, w), x @ w.T)
    stacked = rng.random((rows, 3, k))  # (items, raters, categories), as Conger's variance uses it
    assert np.array_equal(ag.weighted_counts(stacked, weights[1]), stacked @ weights[1].T)
