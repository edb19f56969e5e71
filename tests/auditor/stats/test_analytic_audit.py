"""End to end: the audit's analytic columns are the kernels' values on its rows (judge vs reference: two-rater
formulas on the confusion matrix; the human ceiling: Gwet's multi-rater formulas with missing ratings, as
irrCAC), the leave-one-out ceiling rows carry none, and category-wise kappa rows are one versus rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from auditor import metrics
from auditor.stats import analytic as an
from tests.auditor.stats.test_analytic import IRRCAC_CONGER_SE, IRRCAC_SE
from tests.auditor.stats.test_gwet_family import RAW
from tests.auditor.stats.test_human_ceiling_coefficients import run, study

JUDGE = list("aabbdcccedda") + list("ab")  # 14 verdicts for raw_g1g2's 14 items


@pytest.fixture(scope="module")
def result():
    return run(study(RAW["raw_g1g2"], judge=JUDGE), task="categorical", labels={"categories": list("abcde")})


def test_ceiling_rows_carry_irrcacs_multi_rater_standard_errors(result):
    for metric, coefficient in (
        ("fleiss_kappa", "fleiss"),
        ("gwet_ac1", "gwet"),
        ("krippendorff_alpha", "krippendorff"),
    ):
        row = result.metric(metric, "human")
        se, lo, hi, p = IRRCAC_SE[("raw_g1g2", "identity", coefficient)]
        got = [row["se_analytic"], row["ci_low_analytic"], row["ci_high_analytic"], row["p_analytic"]]
        assert np.allclose(got, [se, lo, hi, p], rtol=1e-9), metric
        assert row["analytic_method"] == an.GWET
    row = result.metric("conger_kappa", "human")
    got = [row["se_analytic"], row["ci_low_analytic"], row["ci_high_analytic"], row["p_analytic"]]
    assert np.allclose(got, IRRCAC_CONGER_SE[("raw_g1g2", "identity")], rtol=1e-9)


def test_leave_one_out_ceiling_rows_have_no_analytic_error_and_multi_rater_ones_are_listed(result):
    ceiling = result.metrics[
        (result.metrics["judge"] == "human")
        & (result.metrics["reference"] == "human")
        & result.metrics["slice"].isna()
    ]
    with_analytic = set(ceiling.loc[ceiling["se_analytic"].notna(), "metric"])
    assert with_analytic and with_analytic <= set(metrics.MULTI_RATER_CEILING)
    for name in ("agreement", "cohen_kappa", "scott_pi", "brennan_prediger"):  # leave one rater out, averaged
        assert pd.isna(ceiling.set_index("metric").loc[name, "analytic_method"]), name


def test_judge_rows_are_the_two_rater_formulas(result):
    rows = result.metrics[(result.metrics["judge"] == "llm") & result.metrics["slice"].isna()].set_index(
        "metric"
    )
    table = next(c for c in result.to_dict()["confusion"] if c["judge"] == "llm")
    confusion = np.asarray(table["counts"], float)
    ref = sm_cohens_kappa(confusion)
    assert rows.loc["cohen_kappa", "se_analytic"] == pytest.approx(ref.std_kappa, rel=1e-12)
    assert rows.loc["cohen_kappa", "p_analytic"] == pytest.approx(ref.pvalue_two_sided, rel=1e-9)
    assert rows.loc["cohen_kappa", "analytic_method"] == an.FLEISS_COHEN_EVERITT
    _, var, n = an.gwet_from_confusion(confusion, "gwet")
    assert rows.loc["gwet_ac1", "se_analytic"] == pytest.approx(np.sqrt(var), rel=1e-12)
    assert np.isnan(rows.loc["agreement", "se_analytic"])


def test_category_kappa_rows_are_one_vs_rest(result):
    table = next(c for c in result.to_dict()["confusion"] if c["judge"] == "llm")
    confusion = np.asarray(table["counts"], float)
    expected = an.category_kappa(confusion)
    rows = result.metrics[(result.metrics["metric"] == "category_kappa") & (result.metrics["judge"] == "llm")]
    assert list(rows["slice"]) == [f"category={c}" for c in table["categories"]]
    assert np.allclose(rows["value"].to_numpy(float), expected, equal_nan=True)
    defined = np.isfinite(expected)
    _, var, _ = an.cohen_kappa_variance(an.one_vs_rest(confusion))
    assert np.allclose(rows["se_analytic"].to_numpy(float)[defined], np.sqrt(var)[defined], rtol=1e-12)
