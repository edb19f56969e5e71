"""Intraclass correlations (two-way, single rater) from sufficient statistics, for score tasks.

McGraw and Wong (1996): ICC(A,1), absolute agreement, is Shrout and Fleiss' (1979) ICC(2,1); ICC(C,1), consistency,
is their ICC(3,1).  Both come from the two-way ANOVA of ``n`` items by ``k`` raters with every rater on every item
(items missing a rating are left out by the caller, as pingouin's ``intraclass_corr`` with ``nan_policy="omit"``).

The statistics are sums over items, so that one call evaluates a point estimate and the bootstrap replicates alike:
per item ``[1, R_i**2, sum_j x_ij**2, x_i1, ..., x_ik]`` with ``R_i = sum_j x_ij`` (see :func:`icc_item_stats`).
"""

from __future__ import annotations

import numpy as np

_ERR = {"divide": "ignore", "invalid": "ignore"}


def icc_item_stats(values: np.ndarray) -> np.ndarray:
    """Per-item sums of an ``(items, k)`` table of complete ratings: ``[1, R_i**2, sum_j x_ij**2, x_i1..x_ik]``."""
    x = np.asarray(values, dtype=float)
    return np.column_stack([np.ones(x.shape[0]), x.sum(axis=1) ** 2, (x * x).sum(axis=1), x])


def _mean_squares(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    s = np.asarray(stats, dtype=float)
    n, rows_sq, total_sq, cols = s[..., 0], s[..., 1], s[..., 2], s[..., 3:]
    k = cols.shape[-1]
    grand = cols.sum(axis=-1)
    with np.errstate(**_ERR):
        correction = grand**2 / (n * k)
        ss_rows = rows_sq / k - correction
        ss_cols = (cols**2).sum(axis=-1) / n - correction
        ss_error = total_sq - correction - ss_rows - ss_cols
        ms_rows = ss_rows / (n - 1.0)
        ms_cols = ss_cols / (k - 1.0)
        ms_error = ss_error / ((n - 1.0) * (k - 1.0))
    return n, ms_rows, ms_cols, ms_error, k


def icc_a1(stats: np.ndarray) -> np.ndarray:
    """ICC(A,1) ``= (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)``: raters' systematic offsets count
    as disagreement (a judge that scores everything one point higher loses)."""
    n, msr, msc, mse, k = _mean_squares(stats)
    with np.errstate(**_ERR):
        return (msr - mse) / (msr + (k - 1.0) * mse + k * (msc - mse) / n)


def icc_c1(stats: np.ndarray) -> np.ndarray:
    """ICC(C,1) ``= (MSR - MSE) / (MSR + (k - 1) MSE)``: consistency, raters' systematic offsets removed."""
    _, msr, _, mse, k = _mean_squares(stats)
    with np.errstate(**_ERR):
        return (msr - mse) / (msr + (k - 1.0) * mse)
