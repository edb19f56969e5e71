"""Correlations from sufficient statistics and contingency tables.

Pearson comes from per-cluster sums; Spearman and Kendall's tau-b come from the joint table of the distinct
values, which makes a resample as cheap as re-weighting the table.  Ratings (likert) have few distinct values,
so this is exact and fast; continuous scores take :func:`spearman_weighted`, which ranks once and re-weights.
"""

from __future__ import annotations

import numpy as np

_ERR = {"divide": "ignore", "invalid": "ignore"}


def pearson_from_sums(n, sx, sy, sxx, syy, sxy) -> np.ndarray:
    """Pearson's r from ``n, sum x, sum y, sum x^2, sum y^2, sum xy`` (any matching shapes)."""
    n = np.asarray(n, float)
    with np.errstate(**_ERR):
        cov = sxy - sx * sy / n
        vx = sxx - sx**2 / n
        vy = syy - sy**2 / n
        r = cov / np.sqrt(vx * vy)
    return np.clip(r, -1.0, 1.0)


def _midranks(margins: np.ndarray) -> np.ndarray:
    """Mid-ranks of each distinct value given its count (1-based, ties share the average rank)."""
    cum = np.cumsum(margins, axis=-1)
    return cum - (margins - 1.0) / 2.0


def spearman_from_table(table: np.ndarray) -> np.ndarray:
    """Spearman's rho (with mid-ranks for ties) from a joint count table ``(..., Vx, Vy)``.

    ``table[i, j]`` counts the observations with the ``i``-th distinct x value and the ``j``-th distinct y value
    (values in ascending order).  Equal to ``scipy.stats.spearmanr`` on the expanded data.
    """
    t = np.asarray(table, float)
    rx = t.sum(axis=-1)
    ry = t.sum(axis=-2)
    n = rx.sum(axis=-1)
    ranks_x = _midranks(rx)
    ranks_y = _midranks(ry)
    sx = (rx * ranks_x).sum(-1)
    sy = (ry * ranks_y).sum(-1)
    sxx = (rx * ranks_x**2).sum(-1)
    syy = (ry * ranks_y**2).sum(-1)
    sxy = np.einsum("...ij,...i,...j->...", t, ranks_x, ranks_y)
    return pearson_from_sums(n, sx, sy, sxx, syy, sxy)


def kendall_tau_b_from_table(table: np.ndarray) -> np.ndarray:
    """Kendall's tau-b from a joint count table ``(..., Vx, Vy)`` (values ascending).

    Concordant pairs ``P = sum_ij t_ij * sum_{i'>i, j'>j} t_i'j'``, discordant ``Q = sum_ij t_ij *
    sum_{i'>i, j'<j} t_i'j'``; ``tau_b = (P - Q) / sqrt((n0 - n1)(n0 - n2))`` with ``n0 = n(n-1)/2`` and
    ``n1``, ``n2`` the pairs tied in x and in y.  Equal to ``scipy.stats.kendalltau`` (variant ``b``).
    """
    t = np.asarray(table, float)
    # below_right[i, j] = sum over i' > i, j' > j; below_left[i, j] = sum over i' > i, j' < j
    rev = t[..., ::-1, ::-1]
    cum = np.cumsum(np.cumsum(rev, axis=-2), axis=-1)[..., ::-1, ::-1]  # sum over i' >= i, j' >= j
    below_right = np.zeros_like(t)
    below_right[..., :-1, :-1] = cum[..., 1:, 1:]
    rev_rows = t[..., ::-1, :]
    cum_l = np.cumsum(np.cumsum(rev_rows, axis=-2), axis=-1)[..., ::-1, :]  # sum over i' >= i, j' <= j
    below_left = np.zeros_like(t)
    below_left[..., :-1, 1:] = cum_l[..., 1:, :-1]
    concordant = (t * below_right).sum(axis=(-2, -1))
    discordant = (t * below_left).sum(axis=(-2, -1))
    rx = t.sum(-1)
    ry = t.sum(-2)
    n = rx.sum(-1)
    n0 = n * (n - 1) / 2.0
    n1 = (rx * (rx - 1) / 2.0).sum(-1)
    n2 = (ry * (ry - 1) / 2.0).sum(-1)
    with np.errstate(**_ERR):
        tau = (concordant - discordant) / np.sqrt((n0 - n1) * (n0 - n2))
    return np.clip(tau, -1.0, 1.0)


def weighted_midranks(order: np.ndarray, group_start: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mid-ranks of values whose rows carry integer weights (rows repeated ``w`` times).

    ``order`` sorts the values ascending and ``group_start`` marks the first sorted position of each run of equal
    values.  ``weights`` has shape ``(R, n)``; the result ``(R, n)`` gives each row the mid-rank of its value
    among the ``sum(w)`` weighted observations.
    """
    w_sorted = weights[:, order]
    group_totals = np.add.reduceat(w_sorted, group_start, axis=1)
    cum = np.cumsum(group_totals, axis=1)
    mid = cum - (group_totals - 1.0) / 2.0
    group_of_sorted = np.cumsum(np.isin(np.arange(len(order)), group_start)) - 1
    ranks_sorted = mid[:, group_of_sorted]
    ranks = np.empty_like(ranks_sorted)
    ranks[:, order] = ranks_sorted
    return ranks


def rank_plan(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort order and run starts of equal values, computed once for :func:`weighted_midranks`."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    return order, starts


def spearman_weighted(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Spearman's rho of ``x`` and ``y`` with rows repeated by integer ``weights`` of shape ``(R, n)``."""
    weights = np.asarray(weights, float)
    ox, sx = rank_plan(np.asarray(x, float))
    oy, sy = rank_plan(np.asarray(y, float))
    rx = weighted_midranks(ox, sx, weights)
    ry = weighted_midranks(oy, sy, weights)
    n = weights.sum(1)
    return pearson_from_sums(
        n,
        (weights * rx).sum(1),
        (weights * ry).sum(1),
        (weights * rx * rx).sum(1),
        (weights * ry * ry).sum(1),
        (weights * rx * ry).sum(1),
    )
