"""Analytic standard errors (auditor.stats.analytic) against irrCAC, R's irrCAC and statsmodels.

Gwet's linearised variances: irrCAC 0.4.4 (the Python port of Gwet's R package), unrounded
(``CAC(data, weights=W, categories=sorted categories, digits=20)``) on Gwet's datasets with missing ratings; rounded
to 5 digits they are the values printed in irrCAC's own docstring (raw_4raters: AC1 se 0.14295, interval
(0.46081, 1); Fleiss se 0.15302, (0.42438, 1)).  irrCAC's Python ``bp()`` halves its p-value (a one-sided tail);
the value below is doubled, as R's ``bp.coeff.raw`` reports it.  Two raters: R irrCAC's vignette (``overview``)
prints the table functions' SEs for cont3x3abstractors (``kappa2.table`` 0.05891072, ``scott2.table`` and
``krippen2.table`` 0.05905473, ``gwet.ac1.table`` 0.04321747, ``bp2.table`` 0.04693346); the table functions divide
by ``n**2`` where the raw ones (and the audit) divide by ``n (n - 1)``.  Cohen's kappa: statsmodels'
``cohens_kappa`` (``std_kappa``, ``std_kappa0``), plain and weighted.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import t as student_t
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from auditor.stats import agreement as ag
from auditor.stats import analytic as an
from tests.auditor.stats.test_gwet_family import RAW, tables

# (dataset, weights, coefficient): (se, ci_low, ci_high, p_value) from irrCAC 0.4.4, 95%
IRRCAC_SE = {
    ("raw_4raters", "identity", "fleiss"): (
        0.15301920346949238,
        0.42437627937701544,
        1.0,
        0.00041917303853056254,
    ),
    ("raw_4raters", "identity", "gwet"): (
        0.1429499506407653,
        0.4608133481308383,
        1.0,
        0.00020872098406310435,
    ),
    ("raw_4raters", "identity", "brennan_prediger"): (
        0.14471661989948315,
        0.4542081399098879,
        1.0,
        0.00023756086962434253,
    ),
    ("raw_4raters", "identity", "krippendorff"): (
        0.14557388698483495,
        0.41906221920600917,
        1.0,
        0.000459425698154714,
    ),
    ("raw_4raters", "quadratic", "fleiss"): (
        0.1460336107569122,
        0.543517254784503,
        1.0,
        9.97608132073946e-05,
    ),
    ("raw_4raters", "quadratic", "gwet"): (
        0.10396224464505996,
        0.6851813658780116,
        1.0,
        2.6344384658205655e-06,
    ),
    ("raw_4raters", "quadratic", "brennan_prediger"): (
        0.11089437497397325,
        0.657438277859799,
        1.0,
        5.605479725279139e-06,
    ),
    ("raw_4raters", "quadratic", "krippendorff"): (
        0.12912996571488855,
        0.5613876492921438,
        1.0,
        6.267448311314539e-05,
    ),
    ("raw_5observers", "identity", "fleiss"): (
        0.12045007194006525,
        0.19928197591637598,
        0.7159613976279635,
        0.001953643994779819,
    ),
    ("raw_5observers", "identity", "gwet"): (
        0.12197336800529655,
        0.23501519889435496,
        0.758228910850874,
        0.0011439711445893064,
    ),
    ("raw_5observers", "identity", "brennan_prediger"): (
        0.1208915862340429,
        0.2281207425713649,
        0.7466940722434499,
        0.0012366027806607338,
    ),
    ("raw_5observers", "identity", "krippendorff"): (
        0.11350752905599114,
        0.2370808029673872,
        0.7239796775628534,
        0.0008344904384085527,
    ),
    ("raw_5observers", "quadratic", "fleiss"): (
        0.09732069087154196,
        0.5419870060644404,
        0.9594512505449343,
        2.0871067945016364e-06,
    ),
    ("raw_5observers", "quadratic", "gwet"): (
        0.05824640516452387,
        0.7055074582386387,
        0.9553596870705139,
        9.945981815917548e-10,
    ),
    ("raw_5observers", "quadratic", "brennan_prediger"): (
        0.0585954353520111,
        0.6805475125064808,
        0.9318969319379642,
        1.5862162694446624e-09,
    ),
    ("raw_5observers", "quadratic", "krippendorff"): (
        0.08608133186798153,
        0.5872387141068903,
        0.956490903444253,
        3.5432931655421385e-07,
    ),
    ("raw_g1g2", "identity", "fleiss"): (
        0.149918557033983,
        0.33336593220540306,
        0.9811246354820955,
        0.0007391126826037375,
    ),
    ("raw_g1g2", "identity", "gwet"): (
        0.1335331734693052,
        0.39612293618667277,
        0.9730847013088642,
        0.00019438446809427745,
    ),
    ("raw_g1g2", "identity", "brennan_prediger"): (
        0.13623752614855328,
        0.3851638981618148,
        0.9738104608125437,
        0.0002483738368139754,
    ),
    ("raw_g1g2", "identity", "krippendorff"): (
        0.14969850992347358,
        0.3056406847589093,
        0.9579707527655715,
        0.001187804883514998,
    ),
    ("raw_gender", "identity", "fleiss"): (
        0.14050133467014364,
        -0.17245650334631932,
        0.43023428112409723,
        0.3744925169825586,
    ),
    ("raw_gender", "identity", "gwet"): (
        0.09069681594331756,
        0.01355548460904932,
        0.4026061315525668,
        0.037759879036350696,
    ),
    ("raw_gender", "identity", "brennan_prediger"): (
        0.10196482431125645,
        -0.035359464485327174,
        0.4020261311519938,
        0.09376885569344595,
    ),
    ("raw_gender", "identity", "krippendorff"): (
        0.14050133467014364,
        -0.1579379848278008,
        0.4447527996426158,
        0.3247191906021998,
    ),
    ("raw_ben_gerry", "identity", "fleiss"): (
        0.1912955427559929,
        0.2283119985530334,
        1.0,
        0.00598715790502502,
    ),
    ("raw_ben_gerry", "identity", "gwet"): (
        0.1839621515303127,
        0.25654404073284487,
        1.0,
        0.004202682570681571,
    ),
    ("raw_ben_gerry", "identity", "brennan_prediger"): (
        0.18527194867596883,
        0.25131009947384203,
        1.0,
        0.004493121331761163,
    ),
    ("raw_ben_gerry", "identity", "krippendorff"): (
        0.18007142612019167,
        0.26366947635030147,
        1.0,
        0.004160415140858964,
    ),
}
# (dataset, weights): Conger's kappa (se, ci_low, ci_high, p_value), irrCAC 0.4.4 ``CAC.conger``
IRRCAC_CONGER_SE = {
    ("raw_4raters", "identity"): (0.1491681524801737, 0.4345005513361571, 1.0, 0.00033670657720907826),
    ("raw_4raters", "quadratic"): (0.14367066382873345, 0.5414936571949767, 1.0, 9.31997899367154e-05),
    ("raw_5observers", "identity"): (
        0.11666345485981727,
        0.21905605364282077,
        0.7194925035424922,
        0.0012593642748883749,
    ),
    ("raw_5observers", "quadratic"): (
        0.09250482135281728,
        0.5633849511033739,
        0.9601911699148482,
        9.759132035824791e-07,
    ),
    ("raw_g1g2", "identity"): (
        0.14599748829662618,
        0.3431805960348281,
        0.9739973913114768,
        0.0005854324178404813,
    ),
    ("raw_g1g2", "quadratic"): (0.14155744055454486, 0.5035044782413407, 1.0, 7.085839402432015e-05),
    ("raw_gender", "identity"): (
        0.12120596165007014,
        -0.09424016119317609,
        0.42568170489351653,
        0.19309410870766652,
    ),
    ("raw_gender", "quadratic"): (
        0.13579343580501815,
        -0.16290030309277523,
        0.41959560374967236,
        0.36060083671622967,
    ),
    ("raw_ben_gerry", "identity"): (0.17943035411641575, 0.26221931046263847, 1.0, 0.0037389967391803225),
    ("raw_ben_gerry", "quadratic"): (0.30438553228618087, -0.1040565666402614, 1.0, 0.08994618509079544),
}
ABSTRACTORS = np.array([[13, 0, 0], [0, 20, 7], [0, 4, 56]], float)  # cont3x3abstractors
R_TABLE_SE = {
    "fleiss": 0.05905473,
    "gwet": 0.04321747,
    "brennan_prediger": 0.04693346,
    "krippendorff": 0.05905473,
}


@pytest.mark.parametrize("key", sorted(IRRCAC_SE))
def test_gwet_variances_match_irrcac_on_gwets_datasets(key):
    name, weights, coefficient = key
    counts, _, values = tables(name)
    w = ag.agreement_weights(weights, counts.shape[1], values)
    value, var, n = an.gwet_variance(counts, coefficient, w)
    lo, hi, p = an.analytic_interval(float(value), an.Analytic(float(np.sqrt(var)), float(n) - 1, an.GWET))
    assert np.allclose([np.sqrt(var), lo, hi, p], IRRCAC_SE[key], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("key", sorted(IRRCAC_CONGER_SE))
def test_conger_variance_matches_irrcac(key):
    name, weights = key
    rows = [[None if v in (None, "N") else v for v in row] for row in RAW[name]]
    cats = sorted({v for row in rows for v in row if v is not None})
    codes = np.array([[-1 if v is None else cats.index(v) for v in row] for row in rows])
    counts, per_rater, values = tables(name)
    w = ag.agreement_weights(weights, len(cats), values)
    kappa, var, n = an.conger_variance(codes, len(cats), w)
    assert kappa == pytest.approx(
        float(ag.conger_kappa(ag.gwet_item_stats(counts, w).sum(0), per_rater, w)), abs=1e-12
    )
    lo, hi, p = an.analytic_interval(kappa, an.Analytic(float(np.sqrt(var)), n - 1.0, an.GWET))
    assert np.allclose([np.sqrt(var), lo, hi, p], IRRCAC_CONGER_SE[key], rtol=1e-9, atol=1e-12)


def test_coefficients_are_the_projects():
    for name in RAW:
        counts, _, _ = tables(name)
        stats = ag.gwet_item_stats(counts).sum(axis=0)
        assert an.gwet_variance(counts, "fleiss")[0] == pytest.approx(ag.fleiss_kappa_gwet(stats), abs=1e-12)
        assert an.gwet_variance(counts, "gwet")[0] == pytest.approx(ag.gwet_ac(stats), abs=1e-12)
        pairable = counts[counts.sum(axis=1) >= 2]
        alpha = ag.krippendorff_alpha_from_coincidence(ag.coincidence_from_counts(pairable).sum(axis=0))
        assert an.gwet_variance(counts, "krippendorff")[0] == pytest.approx(alpha, abs=1e-12)


def test_published_five_digit_values():
    counts, _, _ = tables("raw_4raters")
    value, var, n = an.gwet_variance(counts, "gwet")
    lo, hi, _ = an.analytic_interval(float(value), an.Analytic(float(np.sqrt(var)), n - 1.0, an.GWET))
    assert (round(float(np.sqrt(var)), 5), round(lo, 5), hi) == (0.14295, 0.46081, 1.0)
    value, var, n = an.gwet_variance(counts, "fleiss")
    assert round(float(np.sqrt(var)), 5) == 0.15302


def test_finite_population_correction_scales_the_variance():
    counts, _, _ = tables("raw_5observers")
    _, var, n = an.gwet_variance(counts, "gwet")
    _, var_finite, _ = an.gwet_variance(counts, "gwet", population=60)
    assert var_finite == pytest.approx(var * (1 - n / 60), rel=1e-12)
    assert an.gwet_variance(counts, "gwet", population=n)[1] == 0.0  # the whole population rated: no error


@pytest.mark.parametrize("coefficient", sorted(R_TABLE_SE))
def test_two_raters_from_a_confusion_matrix_match_r_irrcacs_tables(coefficient):
    value, var, n = an.gwet_from_confusion(ABSTRACTORS, coefficient)
    assert n == 100
    table_se = np.sqrt(var * (n - 1) / n)  # R's table functions: 1 / n**2 instead of 1 / (n (n - 1))
    assert table_se == pytest.approx(R_TABLE_SE[coefficient], abs=5e-9)


def test_two_raters_from_a_confusion_matrix_equal_the_raw_formula():
    rng = np.random.default_rng(3)
    pairs = rng.integers(0, 4, size=(50, 2))
    counts = np.stack([(pairs == k).sum(axis=1) for k in range(4)], axis=1).astype(float)
    confusion = np.zeros((4, 4))
    np.add.at(confusion, (pairs[:, 0], pairs[:, 1]), 1.0)
    w = ag.agreement_weights("quadratic", 4)
    for coefficient in ("fleiss", "gwet", "brennan_prediger", "krippendorff"):
        raw = an.gwet_variance(counts, coefficient, w)
        table = an.gwet_from_confusion(confusion, coefficient, w)
        assert np.allclose(raw, table, rtol=1e-12), coefficient
    assert an.gwet_from_confusion(confusion, "fleiss")[0] == pytest.approx(ag.scott_pi(confusion), abs=1e-12)
    assert an.gwet_from_confusion(confusion, "gwet", w)[0] == pytest.approx(
        ag.gwet_ac2(confusion, w), abs=1e-12
    )


def test_kernels_evaluate_batches():
    rng = np.random.default_rng(5)
    batch = rng.integers(0, 30, size=(6, 3, 3)).astype(float)
    for coefficient in ("fleiss", "gwet", "brennan_prediger", "krippendorff"):
        together = np.array(an.gwet_from_confusion(batch, coefficient))
        one_by_one = np.array([an.gwet_from_confusion(c, coefficient) for c in batch]).T
        assert np.allclose(together, one_by_one, rtol=1e-12), coefficient
    together = np.array(an.cohen_kappa_variance(batch))
    assert np.allclose(together, np.array([an.cohen_kappa_variance(c) for c in batch]).T, rtol=1e-12)


TABLES = {
    "abstractors": ABSTRACTORS,
    "diagnosis": np.array([[40, 6, 4, 15], [4, 25, 1, 5], [4, 2, 21, 9], [17, 13, 12, 45]], float),
    "binary": np.array([[30, 5], [10, 55]], float),
}


@pytest.mark.parametrize("wt", [None, "linear", "quadratic"])
@pytest.mark.parametrize("name", sorted(TABLES))
def test_cohen_kappa_variance_matches_statsmodels(name, wt):
    table = TABLES[name]
    k = table.shape[0]
    i, j = np.indices((k, k))
    w = {None: None, "linear": 1 - np.abs(i - j) / (k - 1), "quadratic": 1 - (i - j) ** 2 / (k - 1) ** 2}[wt]
    ref = sm_cohens_kappa(table, wt=wt) if wt else sm_cohens_kappa(table)
    kappa, var, var0 = an.cohen_kappa_variance(table, w)
    assert kappa == pytest.approx(ref.kappa, abs=1e-12)
    assert np.sqrt(var) == pytest.approx(ref.std_kappa, abs=1e-12)
    assert np.sqrt(var0) == pytest.approx(ref.std_kappa0, abs=1e-12)
    lo, hi, p = an.analytic_interval(
        float(kappa), an.Analytic(float(np.sqrt(var)), None, an.FLEISS_COHEN_EVERITT, float(np.sqrt(var0)))
    )
    assert (lo, hi) == pytest.approx((ref.kappa_low, min(1.0, ref.kappa_upp)), abs=1e-12)
    assert p == pytest.approx(ref.pvalue_two_sided, rel=1e-9, abs=1e-300)


def test_cohen_kappa_se_matches_r_irrcacs_kappa2_table():
    assert np.sqrt(an.cohen_kappa_variance(ABSTRACTORS)[1]) == pytest.approx(0.05891072, abs=5e-9)


def test_category_kappa_is_one_vs_rest_cohen_kappa():
    confusion = TABLES["diagnosis"]
    got = an.category_kappa(confusion)
    for k in range(4):
        collapsed = np.array(
            [
                [confusion[k, k], confusion[k].sum() - confusion[k, k]],
                [confusion[:, k].sum() - confusion[k, k], 0.0],
            ]
        )
        collapsed[1, 1] = confusion.sum() - collapsed.sum()
        assert got[k] == pytest.approx(sm_cohens_kappa(collapsed).kappa, abs=1e-12)
    assert np.allclose([an.category_kappa_of(confusion, k) for k in range(4)], got, rtol=1e-12)
    batch = np.stack([confusion, confusion.T, confusion + 1])
    assert np.allclose(an.category_kappa_of(batch, 2), an.category_kappa(batch)[:, 2], rtol=1e-12)
    two = TABLES["binary"]
    assert np.allclose(an.category_kappa(two), ag.cohen_kappa(two), atol=1e-12)


def test_interval_conventions():
    lo, hi, p = an.analytic_interval(0.9, an.Analytic(0.2, 9, an.GWET))
    assert hi == 1.0 and lo == pytest.approx(0.9 - student_t.ppf(0.975, 9) * 0.2, abs=1e-12)
    assert np.isnan(an.analytic_interval(float("nan"), an.Analytic(0.1, 9, an.GWET))[0])
    assert an.analytic_interval(0.0, an.Analytic(0.0, None, an.GWET))[2] == 1.0


def test_degenerate_ratings_give_nan_not_an_error():
    constant = np.zeros((5, 3), dtype=int)  # every rater says category 0: chance agreement 1
    assert np.isnan(an.conger_variance(constant, 2)[1])
    assert np.isnan(an.conger_variance(np.array([[0, 1]]), 2)[1])  # one item
    counts = np.array([[3.0, 0.0]] * 4)
    for coefficient in ("fleiss", "gwet", "krippendorff"):
        value, var, _ = an.gwet_variance(counts, coefficient)
        assert np.isnan(var) or np.isnan(value) or var == 0.0, coefficient


def test_undefined_cases_give_nan_not_a_bound():
    assert all(np.isnan(an.analytic_interval(0.5, an.Analytic(0.1, 0.0, an.GWET))))  # one item: no df
    assert all(np.isnan(an.analytic_interval(0.5, an.Analytic(float("nan"), 9.0, an.GWET))))
    one_category = np.array([[5.0, 0, 0], [0, 0, 0], [0, 0, 0]])  # kappa undefined
    assert np.isnan(an.standard_error(an.cohen_kappa_variance(one_category)[1]))
    assert an.standard_error(-1e-17) == 0.0 and np.isnan(an.standard_error(-0.5))
