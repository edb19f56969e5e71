"""ICC(A,1) and ICC(C,1) against Shrout and Fleiss (1979) and an independent two-way ANOVA (statsmodels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.stats import icc

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges; published ICC(2,1) = .29, ICC(3,1) = .71
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float
)


def anova_iccs(x: np.ndarray) -> tuple[float, float]:
    """ICC(A,1), ICC(C,1) from statsmodels' two-way ANOVA table (targets + raters, no interaction)."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    n, k = x.shape
    df = pd.DataFrame({"y": x.ravel(), "t": np.repeat(np.arange(n), k), "r": np.tile(np.arange(k), n)})
    table = anova_lm(smf.ols("y ~ C(t) + C(r)", df).fit())
    msr, msc, mse = (
        table.loc["C(t)", "mean_sq"],
        table.loc["C(r)", "mean_sq"],
        table.loc["Residual", "mean_sq"],
    )
    return (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n), (msr - mse) / (msr + (k - 1) * mse)


def test_shrout_fleiss_published_values():
    stats = icc.icc_item_stats(SHROUT_FLEISS).sum(axis=0)
    assert round(float(icc.icc_a1(stats)), 2) == 0.29
    assert round(float(icc.icc_c1(stats)), 2) == 0.71
    a1, c1 = anova_iccs(SHROUT_FLEISS)
    assert icc.icc_a1(stats) == pytest.approx(a1, abs=1e-12)
    assert icc.icc_c1(stats) == pytest.approx(c1, abs=1e-12)


def test_two_raters_random_scores_match_the_anova():
    rng = np.random.default_rng(11)
    truth = rng.normal(size=40)
    x = np.column_stack([truth + rng.normal(0, 0.5, 40), truth + 0.8 + rng.normal(0, 0.5, 40)])
    stats = icc.icc_item_stats(x).sum(axis=0)
    a1, c1 = anova_iccs(x)
    assert icc.icc_a1(stats) == pytest.approx(a1, abs=1e-12)
    assert icc.icc_c1(stats) == pytest.approx(c1, abs=1e-12)
    assert icc.icc_a1(stats) < icc.icc_c1(stats)  # the judge's +0.8 offset costs absolute agreement only


def test_an_offset_leaves_consistency_unchanged_and_batches_work():
    x = SHROUT_FLEISS.copy()
    shifted = x + np.array([3, 0, 0, 0])  # the most lenient judge, more lenient still
    s, t = icc.icc_item_stats(x).sum(0), icc.icc_item_stats(shifted).sum(0)
    assert icc.icc_c1(t) == pytest.approx(icc.icc_c1(s), abs=1e-12)
    assert icc.icc_a1(t) < icc.icc_a1(s)
    batch = np.stack([s, t])
    assert np.allclose(icc.icc_a1(batch), [icc.icc_a1(s), icc.icc_a1(t)])
