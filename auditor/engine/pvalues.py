"""Multiple-testing adjustment of the metric rows' p-values, and which adjusted p-values are bounds; the metric
table of a result (:func:`result_metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from auditor.contract import METRIC_COLUMNS
from auditor.engine.integrity import interval_reliability
from auditor.stats import multitest


def result_metrics(
    rows: Sequence[dict[str, Any]], cluster: str, correction: str
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The metric table of an audit's result, from its rows, whichever engine computed them: the rows on one
    cluster without interval and p-value (:func:`~auditor.engine.integrity.interval_reliability`, which also gives
    the ``single_cluster`` and ``few_clusters`` warnings, returned second; ``cluster`` names the cluster column), then
    the p-values adjusted by ``correction`` (:func:`adjust_p_values`)."""
    reliable, warnings = interval_reliability(pd.DataFrame(rows, columns=METRIC_COLUMNS), cluster)
    return adjust_p_values(reliable, correction), warnings


def adjust_p_values(metrics: pd.DataFrame, method: str) -> pd.DataFrame:
    """A copy of ``metrics`` with ``p_adjusted`` filled: the p-values of one metric within one slice (all judges)
    form a family, adjusted by ``method`` (``holm``, ``bonferroni``, ``fdr_bh``, ``fdr_by``, ``none``); NaN
    p-values stay NaN and do not count toward the family.

    ``p_adjusted_at_floor`` marks the adjusted p-values that depend on a resampling p-value at its floor
    (``p_at_floor``): every correction is monotone in each p-value, so the true adjusted value lies between the
    adjustment with those p-values at 0 and with them at the floor; where the two differ, the adjusted value is
    only an upper bound (e.g. Holm's ``6 / (B + 1)`` for the smallest of six floored p-values)."""
    metrics = metrics.copy()
    metrics["p_adjusted"] = metrics["p_adjusted"].astype(object)
    at_floor = metrics["p_at_floor"].fillna(False).astype(bool)
    metrics["p_at_floor"] = at_floor
    metrics["p_adjusted_at_floor"] = False
    tested = metrics[metrics["p_value"].notna()]
    for _, group in tested.groupby([tested["metric"], tested["slice"].fillna("")]):
        p = group["p_value"].astype(float).to_numpy()
        floor = at_floor[group.index].to_numpy()
        finite = np.isfinite(p)
        adjusted = np.full(p.shape, np.nan)
        bound = np.zeros(p.shape, dtype=bool)
        if finite.any():
            adjusted[finite] = multitest.adjust(p[finite], method)
            if floor[finite].any():
                lowest = multitest.adjust(np.where(floor[finite], 0.0, p[finite]), method)
                bound[finite] = lowest != adjusted[finite]
        metrics.loc[group.index, "p_adjusted"] = adjusted
        metrics.loc[group.index, "p_adjusted_at_floor"] = bound
    return metrics
