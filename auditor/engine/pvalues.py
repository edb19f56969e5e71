"""Multiple-testing adjustment of the metric rows' p-values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditor.stats import multitest


def adjust_p_values(metrics: pd.DataFrame, method: str) -> pd.DataFrame:
    """A copy of ``metrics`` with ``p_adjusted`` filled: the p-values of one metric within one slice (all judges)
    form a family, adjusted by ``method`` (``holm``, ``bonferroni``, ``fdr_bh``, ``fdr_by``, ``none``); NaN
    p-values stay NaN and do not count toward the family."""
    metrics = metrics.copy()
    metrics["p_adjusted"] = metrics["p_adjusted"].astype(object)
    tested = metrics[metrics["p_value"].notna()]
    for _, group in tested.groupby([tested["metric"], tested["slice"].fillna("")]):
        p = group["p_value"].astype(float).to_numpy()
        finite = np.isfinite(p)
        adjusted = np.full(p.shape, np.nan)
        if finite.any():
            adjusted[finite] = multitest.adjust(p[finite], method)
        metrics.loc[group.index, "p_adjusted"] = adjusted
    return metrics
