"""Chance-corrected agreement from sufficient statistics.

Every function takes counts with any leading batch shape (``(..., K, K)`` confusion matrices, ``(..., K, K)``
coincidence matrices, ...) so that one call evaluates a point estimate and thousands of bootstrap resamples alike.
Categories are integer codes ``0..K-1`` in their natural order (pairwise ``a < tie < b``; likert ``min..max``).

Conventions
-----------
confusion ``C[i, j]``: number of items the reference put in category ``i`` and the judge in category ``j``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Weights = Literal["none", "linear", "quadratic"]
Level = Literal["nominal", "ordinal", "interval"]

_ERR = {"divide": "ignore", "invalid": "ignore"}


def percent_agreement(confusion: np.ndarray) -> np.ndarray:
    """Raw agreement: ``trace(C) / sum(C)``."""
    c = np.asarray(confusion, dtype=float)
    with np.errstate(**_ERR):
        return np.trace(c, axis1=-2, axis2=-1) / c.sum(axis=(-2, -1))


def _disagreement_weights(k: int, weights: Weights) -> np.ndarray:
    i, j = np.indices((k, k))
    if weights == "none":
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j).astype(float)
    if weights == "quadratic":
        return ((i - j) ** 2).astype(float)
    raise ValueError(f"unknown weights {weights!r}")


def cohen_kappa(confusion: np.ndarray, weights: Weights = "none") -> np.ndarray:
    """Cohen's kappa, ``1 - sum(w * C) / sum(w * E)`` with ``E`` the product of the margins / N.

    ``weights`` are disagreement weights: ``none`` (0 on the diagonal, 1 off it; plain kappa), ``linear``
    ``|i - j|`` or ``quadratic`` ``(i - j)**2``; the same as scikit-learn's ``cohen_kappa_score``.
    """
    c = np.asarray(confusion, dtype=float)
    k = c.shape[-1]
    w = _disagreement_weights(k, weights)
    n = c.sum(axis=(-2, -1))
    rows = c.sum(axis=-1)
    cols = c.sum(axis=-2)
    with np.errstate(**_ERR):
        expected = rows[..., :, None] * cols[..., None, :] / n[..., None, None]
        return 1.0 - (w * c).sum(axis=(-2, -1)) / (w * expected).sum(axis=(-2, -1))


def scott_pi(confusion: np.ndarray) -> np.ndarray:
    """Scott's pi: chance agreement from the pooled margins, ``p_e = sum(((r + c) / 2N)**2)``."""
    c = np.asarray(confusion, dtype=float)
    n = c.sum(axis=(-2, -1))
    with np.errstate(**_ERR):
        pooled = (c.sum(axis=-1) + c.sum(axis=-2)) / (2.0 * n[..., None])
        pe = (pooled**2).sum(axis=-1)
        po = np.trace(c, axis1=-2, axis2=-1) / n
        return (po - pe) / (1.0 - pe)


def gwet_ac1(confusion: np.ndarray) -> np.ndarray:
    """Gwet's AC1 for two raters: ``p_e = sum(pi_k (1 - pi_k)) / (K - 1)``, ``pi_k`` the pooled share."""
    c = np.asarray(confusion, dtype=float)
    k = c.shape[-1]
    n = c.sum(axis=(-2, -1))
    with np.errstate(**_ERR):
        pooled = (c.sum(axis=-1) + c.sum(axis=-2)) / (2.0 * n[..., None])
        pe = (pooled * (1.0 - pooled)).sum(axis=-1) / (k - 1)
        po = np.trace(c, axis1=-2, axis2=-1) / n
        return (po - pe) / (1.0 - pe)


def brennan_prediger(confusion: np.ndarray) -> np.ndarray:
    """Brennan and Prediger's free-marginal kappa: ``(p_o - 1/q) / (1 - 1/q)`` for ``q`` categories.

    Chance is a uniform guess over the ``q`` categories of the task (the matrix's size, whether or not every
    category was used), not the raters' own label shares; undefined (NaN) for ``q < 2`` or an empty matrix.

    >>> round(float(brennan_prediger(np.array([[20, 5], [10, 15]]))), 12)  # p_o = 0.7, chance 1/2
    0.4
    """
    c = np.asarray(confusion, dtype=float)
    q = c.shape[-1]
    with np.errstate(**_ERR):
        po = np.trace(c, axis1=-2, axis2=-1) / c.sum(axis=(-2, -1))
        if q < 2:
            return np.full_like(po, np.nan)
        chance = 1.0 / q
        return (po - chance) / (1.0 - chance)


def fleiss_kappa(
    n_items: np.ndarray, sum_p_i: np.ndarray, category_totals: np.ndarray, n_ratings: np.ndarray
) -> np.ndarray:
    """Fleiss' kappa from sufficient statistics.

    ``P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1))`` per item, ``P_bar`` its mean over items,
    ``p_j = sum_i n_ij / sum_i n_i`` and ``P_e = sum_j p_j**2``; kappa ``= (P_bar - P_e) / (1 - P_e)``.
    With the same number of raters on every item this is Fleiss (1971) exactly (statsmodels' ``fleiss_kappa``);
    with two ratings per item it equals Scott's pi.

    Arguments are sums over items: the item count, ``sum_i P_i``, ``sum_i n_ij`` (shape ``(..., K)``) and
    ``sum_i n_i``.
    """
    with np.errstate(**_ERR):
        p_bar = np.asarray(sum_p_i, float) / np.asarray(n_items, float)
        p_j = np.asarray(category_totals, float) / np.asarray(n_ratings, float)[..., None]
        pe = (p_j**2).sum(axis=-1)
        return (p_bar - pe) / (1.0 - pe)


def fleiss_item_terms(counts: np.ndarray) -> np.ndarray:
    """``P_i`` per item from an ``(items, K)`` table of rating counts (items with < 2 ratings give NaN)."""
    counts = np.asarray(counts, dtype=float)
    n_i = counts.sum(axis=1)
    with np.errstate(**_ERR):
        return (counts * (counts - 1)).sum(axis=1) / (n_i * (n_i - 1))


def coincidence_from_counts(counts: np.ndarray) -> np.ndarray:
    """Per-unit coincidence matrices ``(n n^T - diag(n)) / (m - 1)`` from ``(units, K)`` counts.

    Units with fewer than two values are not pairable and contribute zero.
    """
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    idx = np.arange(counts.shape[1])
    outer[:, idx, idx] -= counts
    with np.errstate(**_ERR):
        scale = np.where(m > 1, 1.0 / (m - 1.0), 0.0)
    return outer * scale[:, None, None]


def coincidence_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Two values per unit: the coincidence matrix is ``C + C^T``."""
    c = np.asarray(confusion, dtype=float)
    return c + np.swapaxes(c, -1, -2)


def _delta_squared(margins: np.ndarray, level: Level, values: np.ndarray | None) -> np.ndarray:
    k = margins.shape[-1]
    if level == "nominal":
        return np.broadcast_to((~np.eye(k, dtype=bool)).astype(float), margins.shape[:-1] + (k, k))
    if level == "interval":
        v = np.arange(k, dtype=float) if values is None else np.asarray(values, float)
        d = (v[:, None] - v[None, :]) ** 2
        return np.broadcast_to(d, margins.shape[:-1] + (k, k))
    if level == "ordinal":
        # delta^2_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, for c <= k (symmetric).
        cum = np.cumsum(margins, axis=-1)
        lo = np.minimum.outer(np.arange(k), np.arange(k))
        hi = np.maximum.outer(np.arange(k), np.arange(k))
        cum_before = np.concatenate([np.zeros(margins.shape[:-1] + (1,)), cum[..., :-1]], axis=-1)
        between = cum[..., hi] - cum_before[..., lo]
        d = between - (margins[..., lo] + margins[..., hi]) / 2.0
        return d**2
    raise ValueError(f"unknown level {level!r}")


def krippendorff_alpha_from_coincidence(
    coincidence: np.ndarray, level: Level = "nominal", values: np.ndarray | None = None
) -> np.ndarray:
    """Krippendorff's alpha ``1 - (n - 1) sum(o_ck d_ck) / sum(n_c n_k d_ck)`` from a coincidence matrix.

    ``values`` are the numeric values of the categories for the interval level (default ``0..K-1``).
    Matches the ``krippendorff`` package for ``nominal``, ``ordinal`` and ``interval``.
    """
    o = np.asarray(coincidence, dtype=float)
    margins = o.sum(axis=-1)
    n = margins.sum(axis=-1)
    d = _delta_squared(margins, level, values)
    observed = (o * d).sum(axis=(-2, -1))
    expected = (margins[..., :, None] * margins[..., None, :] * d).sum(axis=(-2, -1))
    with np.errstate(**_ERR):
        return 1.0 - (n - 1.0) * observed / expected


def krippendorff_alpha_interval_from_sums(
    pair_term: np.ndarray, n_values: np.ndarray, sum_x: np.ndarray, sum_x2: np.ndarray
) -> np.ndarray:
    """Interval alpha for continuous values from sums over pairable units.

    ``pair_term = sum_u 2 (m_u sum x^2 - (sum x)^2) / (m_u - 1)`` (the within-unit squared differences),
    ``n_values = sum_u m_u``; the expected term is ``2 (n sum x^2 - (sum x)^2)`` over all pairable values.
    """
    with np.errstate(**_ERR):
        expected = 2.0 * (n_values * sum_x2 - sum_x**2)
        return 1.0 - (n_values - 1.0) * pair_term / expected
