"""Chance-corrected agreement from sufficient statistics.

Every function takes counts with any leading batch shape (``(..., K, K)`` confusion matrices, ``(..., K, K)``
coincidence matrices, ...) so that one call evaluates a point estimate and thousands of bootstrap resamples alike.
Categories are integer codes ``0..K-1`` in their natural order (pairwise ``a < tie < b``; likert ``min..max``).

Conventions
-----------
confusion ``C[i, j]``: number of items the reference put in category ``i`` and the judge in category ``j``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import numpy as np

Weights = Literal["none", "linear", "quadratic"]
Level = Literal["nominal", "ordinal", "interval", "ratio"]

_ERR = {"divide": "ignore", "invalid": "ignore"}


#: Below this many entries numpy sums along an axis left to right (from eight on, along the last axis, pairwise).
_LEFT_TO_RIGHT_COLUMNS = 8
_ROW_SUM_DTYPES = (np.dtype(np.float64), np.dtype(np.int64))


def axis_sums(table: np.ndarray, axis: int = -1) -> np.ndarray:
    """``table.sum(axis=axis)``, bit for bit, for an axis of fewer than :data:`_LEFT_TO_RIGHT_COLUMNS` entries:
    numpy adds them left to right starting from 0 (a -0.0 becomes 0.0), which adding the slices in turn repeats
    several times faster on a tall table (numpy reduces a short axis element by element).  Longer axes, and
    dtypes but float64 and int64 (whose sum would change dtype), take numpy's sum."""
    table = np.asarray(table)
    if (
        table.ndim == 0
        or not 1 <= table.shape[axis] < _LEFT_TO_RIGHT_COLUMNS
        or table.dtype not in _ROW_SUM_DTYPES
    ):
        return table.sum(axis=axis)
    parts = np.moveaxis(table, axis, 0)
    total = parts[0] + table.dtype.type(0)  # numpy's sum starts from 0
    for part in parts[1:]:
        total += part
    return total


def row_sums(table: np.ndarray) -> np.ndarray:
    """``table.sum(axis=1)`` of an ``(rows, K)`` table, bit for bit (:func:`axis_sums`); other shapes take
    numpy's sum."""
    table = np.asarray(table)
    return axis_sums(table, 1) if table.ndim == 2 else table.sum(axis=1)


class ConfusionTable:
    """A ``(..., K, K)`` stack of confusion matrices (``counts``, as floats) with the terms that the two-rater
    coefficients share, each computed once however many coefficients read it (the bootstrap evaluates a dozen of
    them on the same replicates): ``total`` (``N``), ``rows`` and ``cols`` (the margins), ``trace``, ``pooled``
    (``(rows + cols) / 2N``, the pooled shares), ``expected`` (``rows cols^T / N``) and :meth:`weighted_total`
    per weights.  Each is the expression the coefficients computed on their own, so sharing it changes no bit."""

    def __init__(self, confusion: np.ndarray) -> None:
        self.counts = np.asarray(confusion, dtype=float)
        self._weighted: dict[bytes, np.ndarray] = {}

    @property
    def k(self) -> int:
        return self.counts.shape[-1]

    @cached_property
    def total(self) -> np.ndarray:
        return self.counts.sum(axis=(-2, -1))

    @cached_property
    def rows(self) -> np.ndarray:
        return axis_sums(self.counts, -1)

    @cached_property
    def cols(self) -> np.ndarray:
        return axis_sums(self.counts, -2)

    @cached_property
    def trace(self) -> np.ndarray:
        return np.trace(self.counts, axis1=-2, axis2=-1)

    @cached_property
    def pooled(self) -> np.ndarray:
        with np.errstate(**_ERR):
            return (self.rows + self.cols) / (2.0 * self.total[..., None])

    @cached_property
    def expected(self) -> np.ndarray:
        with np.errstate(**_ERR):
            return self.rows[..., :, None] * self.cols[..., None, :] / self.total[..., None, None]

    def weighted_total(self, weights: np.ndarray) -> np.ndarray:
        """``sum_kl w_kl C_kl`` per matrix."""
        w = np.asarray(weights, dtype=float)
        key = w.tobytes()
        if key not in self._weighted:
            self._weighted[key] = (w * self.counts).sum(axis=(-2, -1))
        return self._weighted[key]


def confusion_table(confusion: np.ndarray | ConfusionTable) -> ConfusionTable:
    """``confusion`` as a :class:`ConfusionTable` (itself if it is one)."""
    return confusion if isinstance(confusion, ConfusionTable) else ConfusionTable(confusion)


def percent_agreement(confusion: np.ndarray | ConfusionTable) -> np.ndarray:
    """Raw agreement: ``trace(C) / sum(C)``."""
    c = confusion_table(confusion)
    with np.errstate(**_ERR):
        return c.trace / c.total


def _disagreement_weights(k: int, weights: Weights) -> np.ndarray:
    i, j = np.indices((k, k))
    if weights == "none":
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j).astype(float)
    if weights == "quadratic":
        return ((i - j) ** 2).astype(float)
    raise ValueError(f"unknown weights {weights!r}")


def cohen_kappa(confusion: np.ndarray | ConfusionTable, weights: Weights = "none") -> np.ndarray:
    """Cohen's kappa, ``1 - sum(w * C) / sum(w * E)`` with ``E`` the product of the margins / N.

    ``weights`` are disagreement weights: ``none`` (0 on the diagonal, 1 off it; plain kappa), ``linear``
    ``|i - j|`` or ``quadratic`` ``(i - j)**2``; the same as scikit-learn's ``cohen_kappa_score``.
    """
    c = confusion_table(confusion)
    w = _disagreement_weights(c.k, weights)
    with np.errstate(**_ERR):
        return 1.0 - c.weighted_total(w) / (w * c.expected).sum(axis=(-2, -1))


def scott_pi(confusion: np.ndarray | ConfusionTable) -> np.ndarray:
    """Scott's pi: chance agreement from the pooled margins, ``p_e = sum(((r + c) / 2N)**2)``."""
    c = confusion_table(confusion)
    with np.errstate(**_ERR):
        pe = (c.pooled**2).sum(axis=-1)
        po = c.trace / c.total
        return (po - pe) / (1.0 - pe)


def gwet_ac1(confusion: np.ndarray | ConfusionTable) -> np.ndarray:
    """Gwet's AC1 for two raters: ``p_e = sum(pi_k (1 - pi_k)) / (K - 1)``, ``pi_k`` the pooled share."""
    c = confusion_table(confusion)
    with np.errstate(**_ERR):
        pe = (c.pooled * (1.0 - c.pooled)).sum(axis=-1) / (c.k - 1)
        po = c.trace / c.total
        return (po - pe) / (1.0 - pe)


def brennan_prediger(confusion: np.ndarray | ConfusionTable) -> np.ndarray:
    """Brennan and Prediger's free-marginal kappa: ``(p_o - 1/q) / (1 - 1/q)`` for ``q`` categories.

    Chance is a uniform guess over the ``q`` categories of the task (the matrix's size, whether or not every
    category was used), not the raters' own label shares; undefined (NaN) for ``q < 2`` or an empty matrix.

    >>> round(float(brennan_prediger(np.array([[20, 5], [10, 15]]))), 12)  # p_o = 0.7, chance 1/2
    0.4
    """
    c = confusion_table(confusion)
    q = c.k
    with np.errstate(**_ERR):
        po = c.trace / c.total
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
    """Per-unit coincidence matrices ``(n n^T - diag(n)) / (m - 1)`` from ``(units, K)`` counts, ``(units, K, K)``
    (:func:`coincidence_cells` laid out unit by unit).

    Units with fewer than two values are not pairable and contribute zero.
    """
    return np.ascontiguousarray(np.moveaxis(coincidence_cells(counts), -1, 0))


def coincidence_cells(counts: np.ndarray) -> np.ndarray:
    """:func:`coincidence_from_counts` cell by cell, ``(K, K, units)``: each cell's values over the units in one
    row (what per-cluster sums read), computed with the same operations, so the same bits."""
    counts = np.asarray(counts, dtype=float)
    m = row_sums(counts)
    with np.errstate(**_ERR):
        scale = np.where(m > 1, 1.0 / (m - 1.0), 0.0)
    k = counts.shape[1]
    cells = np.empty((k, k, len(counts)))
    for i in range(k):
        for j in range(i, k):  # n_i n_j = n_j n_i: one product per pair of categories
            cell = counts[:, i] * counts[:, j]
            if i == j:
                cell -= counts[:, i]
            cell *= scale
            cells[i, j] = cell
            cells[j, i] = cell
    return cells


def coincidence_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Two values per unit: the coincidence matrix is ``C + C^T``."""
    c = np.asarray(confusion, dtype=float)
    return c + np.swapaxes(c, -1, -2)


def _delta_squared(margins: np.ndarray, level: Level | np.ndarray, values: np.ndarray | None) -> np.ndarray:
    k = margins.shape[-1]
    if not isinstance(level, str):  # a custom distance: the (k, k) matrix of squared differences itself
        d = np.asarray(level, dtype=float)
        if d.shape != (k, k) or not np.all(np.isfinite(d)) or np.any(d < 0) or np.any(np.diag(d) != 0):
            raise ValueError(
                f"a custom distance must be a {k}x{k} matrix of finite values >= 0, 0 on the diagonal"
            )
        return np.broadcast_to(d, margins.shape[:-1] + (k, k))
    if level == "ratio":  # ((c - k) / (c + k))**2 over the category values (0 where both are 0)
        v = np.arange(k, dtype=float) if values is None else np.asarray(values, float)
        total = v[:, None] + v[None, :]
        with np.errstate(**_ERR):
            d = np.where(total == 0, 0.0, ((v[:, None] - v[None, :]) / total) ** 2)
        return np.broadcast_to(d, margins.shape[:-1] + (k, k))
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
    coincidence: np.ndarray, level: Level | np.ndarray = "nominal", values: np.ndarray | None = None
) -> np.ndarray:
    """Krippendorff's alpha ``1 - (n - 1) sum(o_ck d_ck) / sum(n_c n_k d_ck)`` from a coincidence matrix.

    ``level``: ``nominal``, ``ordinal``, ``interval`` (``d = (c - k)**2``), ``ratio`` (``d = ((c - k) / (c +
    k))**2``, Krippendorff 2011), or a custom distance: a ``(K, K)`` matrix of the squared differences ``d_ck``
    (finite, non-negative, zero on the diagonal).  ``values`` are the numeric values of the categories for the
    interval and ratio levels (default ``0..K-1``).  Matches the ``krippendorff`` package for every level and for
    a custom distance function.
    """
    o = np.asarray(coincidence, dtype=float)
    margins = axis_sums(o, -1)
    n = axis_sums(margins, -1)
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


# -- Gwet's framework: agreement weights, many raters, missing ratings ------------------------------------------
WeightKind = Literal["identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular", "bipolar"]
MissingConvention = Literal["gwet", "pooled"]


def agreement_weights(kind: WeightKind | np.ndarray, k: int, values: np.ndarray | None = None) -> np.ndarray:
    """Gwet's ``(k, k)`` agreement weights (1 on the diagonal, in ``[0, 1]`` off it), as irrCAC defines them.

    ``values`` are the categories' numeric values in order (default ``1..k``, irrCAC's choice for labels that are
    not numbers); with ``d = |x_k - x_l|`` and ``R = max - min``: ``identity`` (plain agreement), ``linear``
    ``1 - d / R``, ``quadratic`` ``1 - d**2 / R**2``, ``radical`` ``1 - sqrt(d / R)``, ``ratio``
    ``1 - ((x_k - x_l) / (x_k + x_l))**2 / (R / (max + min))**2`` (values must be positive), ``ordinal``
    ``1 - C(m, 2) / max C(m, 2)`` with ``m = |k - l| + 1`` the number of ranks spanned, ``circular``
    ``1 - sin(pi d / (R + 1))**2 / max``, ``bipolar`` ``1 - d**2 / ((x_k + x_l - 2 min)(2 max - x_k - x_l)) / max``.
    A ``(k, k)`` array is taken as a custom matrix and returned as it is.

    >>> agreement_weights("linear", 3)
    array([[1. , 0.5, 0. ],
           [0.5, 1. , 0.5],
           [0. , 0.5, 1. ]])
    """
    if not isinstance(kind, str):
        w = np.asarray(kind, dtype=float)
        if w.shape != (k, k):
            raise ValueError(f"custom weights must be a {k}x{k} matrix, got shape {w.shape}")
        return w
    x = np.arange(1.0, k + 1.0) if values is None else np.asarray(values, dtype=float)
    lo, hi = x.min(), x.max()
    d = x[:, None] - x[None, :]
    if kind == "identity" or k < 2:
        return np.eye(k)
    with np.errstate(**_ERR):
        if kind == "linear":
            return 1.0 - np.abs(d) / (hi - lo)
        if kind == "quadratic":
            return 1.0 - (d / (hi - lo)) ** 2
        if kind == "radical":
            return 1.0 - np.sqrt(np.abs(d)) / np.sqrt(hi - lo)
        if kind == "ratio":
            if lo <= 0:
                raise ValueError("ratio weights need positive category values")
            s = x[:, None] + x[None, :]
            return 1.0 - (d / s) ** 2 / ((hi - lo) / (hi + lo)) ** 2
        if kind == "ordinal":
            m = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) + 1.0
            dis = m * (m - 1.0) / 2.0
        elif kind == "circular":
            dis = np.sin(np.pi * d / (hi - lo + 1.0)) ** 2
        elif kind == "bipolar":
            s = x[:, None] + x[None, :]
            dis = np.where(d == 0, 0.0, d**2 / ((s - 2.0 * lo) * (2.0 * hi - s)))
        else:
            raise ValueError(f"unknown weights {kind!r}")
    return 1.0 - dis / dis.max()


def weighted_counts(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``counts @ weights.T`` (``r*_ik = sum_l w_kl r_il`` per row ``i``), for tall tables of counts.

    Identity weights (plain agreement) return ``counts + 0.0`` without a product: every term but ``r_ik * 1`` is
    a zero, so the product is ``r_ik`` exactly, a negative zero made positive as ``+ 0.0`` does (a table with a
    non-finite entry, whose zero terms are NaN, takes the product).  Otherwise the transposed weights are first
    laid out in C order: OpenBLAS's threaded product of a tall matrix with a transposed small one is
    pathologically slow (about 40 ms for 100,000 x 3 rows on two threads, against 0.2 ms with the copy).  Both
    products run the same kernel and give the same numbers bit for bit, except for a single row, which numpy
    hands to a matrix-vector product whose order of summation follows the layout: a table of one row per matrix
    keeps the plain product."""
    k = weights.shape[-1]
    if counts.shape[-1] == k and np.array_equal(weights, np.eye(k)) and np.isfinite(counts).all():
        return counts + 0.0
    if _exact_sums(counts, weights):
        out = np.empty(counts.shape[:-1] + (k,))
        for i in range(k):
            out[..., i] = counts[..., 0] * weights[i, 0]
            for j in range(1, k):
                out[..., i] += counts[..., j] * weights[i, j]
        return out
    if counts.ndim < 2 or counts.shape[-2] < 2:
        return counts @ weights.T
    return counts @ np.ascontiguousarray(weights.T)


#: :func:`weighted_counts` sums a column at a time weights that are multiples of ``2**-_DYADIC_BITS``.
_DYADIC_BITS = 8


def _exact_sums(counts: np.ndarray, weights: np.ndarray) -> bool:
    """Whether every product ``r_il w_kl`` and every partial sum of them is exact in float64, so that any order of
    summation gives the same numbers bit for bit: integer counts, weights that are multiples of
    ``2**-_DYADIC_BITS``, and sums below ``2**53`` in those units (the weights of quadratic or linear agreement on
    three or five categories, e.g. 0.75, are; on seven they are not, 1 / 36)."""
    if counts.size == 0 or counts.ndim < 2 or weights.ndim != 2:
        return False
    scaled = weights * float(1 << _DYADIC_BITS)
    if not (np.isfinite(scaled).all() and np.array_equal(scaled, np.rint(scaled))):
        return False
    if not (np.isfinite(counts).all() and np.array_equal(counts, np.rint(counts))):
        return False
    bound = float(np.abs(counts).max()) * float(np.abs(scaled).sum(axis=1).max())
    return bound < float(1 << 53)


def item_agreement(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_k r_ik (r*_ik - 1)`` per row of an ``(items, K)`` table of rating counts (``r*_ik = sum_l w_kl
    r_il``): twice the agreeing (weighted) pairs of ratings of item ``i``, the numerator of Gwet's ``p_a,i``."""
    return row_sums(counts * (weighted_counts(counts, weights) - 1.0))


class RatingTable:
    """An ``(items, K)`` table of rating counts (``counts``, as floats) with the per-item terms that Gwet's
    coefficients and their variances read, each computed once however many of them read it: ``ratings``
    (``r_i``), ``shares`` (``r_ik / r_i``, 0 for an item nobody rated) and :meth:`agreement` per weights."""

    def __init__(self, counts: np.ndarray) -> None:
        self.counts = np.asarray(counts, dtype=float)
        self._agreement: dict[bytes, np.ndarray] = {}

    @cached_property
    def ratings(self) -> np.ndarray:
        return row_sums(self.counts)

    @cached_property
    def shares(self) -> np.ndarray:
        r = self.ratings
        with np.errstate(**_ERR):
            return np.where(r[:, None] > 0, self.counts / np.where(r > 0, r, 1.0)[:, None], 0.0)

    def agreement(self, weights: np.ndarray) -> np.ndarray:
        """:func:`item_agreement` with these weights."""
        w = np.asarray(weights, dtype=float)
        key = w.tobytes()
        if key not in self._agreement:
            self._agreement[key] = item_agreement(self.counts, w)
        return self._agreement[key]


def rating_table(counts: np.ndarray | RatingTable) -> RatingTable:
    """``counts`` as a :class:`RatingTable` (itself if it is one)."""
    return counts if isinstance(counts, RatingTable) else RatingTable(counts)


def gwet_item_stats(counts: np.ndarray | RatingTable, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-item terms of Gwet's generalised coefficients from an ``(items, K)`` table of rating counts.

    Columns: ``[r_i >= 2, p_a,i, r_i >= 1, r_ik / r_i for k = 1..K]`` with ``r_i`` the item's ratings,
    ``p_a,i = sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))`` (``r*_ik = sum_l w_kl r_il``; 0 below two ratings) and the
    shares 0 for an item nobody rated.  Sum the rows over items (or clusters) and pass the sums to
    :func:`fleiss_kappa_gwet` or :func:`gwet_ac`.  ``counts`` may be a :class:`RatingTable` whose terms other
    calls share.
    """
    return np.ascontiguousarray(gwet_item_columns(counts, weights).T)


def gwet_item_columns(counts: np.ndarray | RatingTable, weights: np.ndarray | None = None) -> np.ndarray:
    """:func:`gwet_item_stats` a term per row, ``(3 + K, items)`` (what per-cluster sums read): the same
    numbers."""
    table = rating_table(counts)
    k = table.counts.shape[1]
    w = np.eye(k) if weights is None else np.asarray(weights, float)
    r = table.ratings
    pairs = r * (r - 1.0)
    agree = table.agreement(w)
    columns = np.empty((3 + k, len(r)))
    with np.errstate(**_ERR):
        columns[1] = np.where(r >= 2, agree / np.where(pairs > 0, pairs, 1.0), 0.0)
    columns[0], columns[2], columns[3:] = r >= 2, r >= 1, table.shares.T
    return columns


def _gwet_pa_pi(stats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(stats, dtype=float)
    with np.errstate(**_ERR):
        pa = s[..., 1] / s[..., 0]
        pi = s[..., 3:] / s[..., 2:3]
    return pa, pi


def fleiss_kappa_gwet(stats: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Fleiss' generalised (weighted) kappa with Gwet's convention for missing ratings (irrCAC's
    ``fleiss.kappa.raw``): ``p_a`` is the mean of :func:`gwet_item_stats`' ``p_a,i`` over items with two or more
    ratings; ``pi_k`` the mean share ``r_ik / r_i`` over every item rated at least once;
    ``p_e = sum_kl w_kl pi_k pi_l``; kappa ``= (p_a - p_e) / (1 - p_e)``.  ``stats``: summed item stats
    ``(..., 3 + K)``.  Without missing ratings and with identity weights this is Fleiss (1971)."""
    pa, pi = _gwet_pa_pi(stats)
    k = pi.shape[-1]
    w = np.eye(k) if weights is None else np.asarray(weights, float)
    pe = np.einsum("...k,kl,...l->...", pi, w, pi)
    with np.errstate(**_ERR):
        return (pa - pe) / (1.0 - pe)


def gwet_ac(stats: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Gwet's AC1 (identity weights) or AC2 (other weights) for any number of raters, irrCAC's ``gwet.ac1.raw``:
    ``p_a`` and ``pi_k`` as in :func:`fleiss_kappa_gwet` (an item rated once enters the chance term),
    ``p_e = sum(w) / (q (q - 1)) * sum_k pi_k (1 - pi_k)`` for ``q = K`` categories."""
    pa, pi = _gwet_pa_pi(stats)
    q = pi.shape[-1]
    w = np.eye(q) if weights is None else np.asarray(weights, float)
    with np.errstate(**_ERR):
        pe = w.sum() * (pi * (1.0 - pi)).sum(axis=-1) / (q * (q - 1.0))
        return (pa - pe) / (1.0 - pe)


def fleiss_kappa_from_counts(
    counts: np.ndarray, missing: MissingConvention = "gwet", weights: np.ndarray | None = None
) -> float:
    """Fleiss' kappa of an ``(items, K)`` table of rating counts, some items possibly rated by fewer raters.

    ``missing="gwet"`` (the default; irrCAC, Gwet 2014): chance from the per-item shares averaged over every item
    rated at least once, see :func:`fleiss_kappa_gwet`.  ``missing="pooled"`` (the project's convention before
    issue 19): items with fewer than two ratings are dropped and chance comes from the category totals pooled over
    the remaining ratings, see :func:`fleiss_kappa` (no weights).  Both equal Fleiss (1971) on complete data.
    """
    counts = np.asarray(counts, dtype=float)
    if missing == "gwet":
        return float(fleiss_kappa_gwet(gwet_item_stats(counts, weights).sum(axis=0), weights))
    if missing != "pooled":
        raise ValueError(f"unknown missing-data convention {missing!r}")
    if weights is not None:
        raise ValueError("the pooled convention has no weights")
    ok = counts.sum(axis=1) > 1
    c = counts[ok]
    return float(fleiss_kappa(ok.sum(), fleiss_item_terms(c).sum(), c.sum(axis=0), c.sum()))


def gwet_ac_from_counts(
    counts: np.ndarray, missing: MissingConvention = "gwet", weights: np.ndarray | None = None
) -> float:
    """Gwet's AC1 (AC2 with ``weights``) of an ``(items, K)`` table of rating counts.

    ``missing="gwet"`` (the default; irrCAC): an item rated once enters the chance term, see :func:`gwet_ac`.
    ``missing="pooled"``: items with fewer than two ratings are dropped altogether (the chance term of the
    project's two-rater AC1, which sees paired items only).
    """
    counts = np.asarray(counts, dtype=float)
    if missing not in ("gwet", "pooled"):
        raise ValueError(f"unknown missing-data convention {missing!r}")
    if missing == "pooled":
        counts = counts[counts.sum(axis=1) > 1]
    return float(gwet_ac(gwet_item_stats(counts, weights).sum(axis=0), weights))


def conger_kappa(
    pa_stats: np.ndarray, rater_counts: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Conger's (1980) generalised kappa as irrCAC's ``conger.kappa.raw``: ``p_a`` as in :func:`fleiss_kappa_gwet`,
    chance the mean of the ``r (r - 1) / 2`` pairwise Cohen chance terms,
    ``p_e = sum_kl w_kl (pbar_k pbar_l - s_kl / r)`` with ``p_gk`` rater ``g``'s share of category ``k`` over the
    items it rated, ``pbar_k`` its mean over the ``r`` raters and ``s_kl`` the raters' covariance of ``p_gk`` and
    ``p_gl`` (divisor ``r - 1``).  ``rater_counts``: ``(..., r, K)`` ratings per rater and category (a rater
    with none is left out).  With two raters and no missing ratings this is Cohen's kappa."""
    pa, _ = _gwet_pa_pi(pa_stats)
    rc = np.asarray(rater_counts, dtype=float)
    k = rc.shape[-1]
    w = np.eye(k) if weights is None else np.asarray(weights, float)
    totals = rc.sum(axis=-1, keepdims=True)
    present = totals > 0  # a rater absent from a bootstrap replicate is left out of its chance term
    r = present.sum(axis=-2)[..., None]  # (..., 1, 1)
    with np.errstate(**_ERR):
        p = np.where(present, rc / np.where(present, totals, 1.0), 0.0)
        pbar = p.sum(axis=-2) / r[..., 0]
        outer = pbar[..., :, None] * pbar[..., None, :]
        s = (np.einsum("...gk,...gl->...kl", p, p) - r * outer) / (r - 1.0)
        pe = (w * (outer - s / r)).sum(axis=(-2, -1))
        return (pa - pe) / (1.0 - pe)


def light_kappa(pair_confusions: np.ndarray) -> np.ndarray:
    """Light's (1971) kappa: the mean of Cohen's kappa over every pair of raters, each on the items both rated
    (``pair_confusions``: ``(..., P, K, K)``); a pair whose kappa is undefined (no common item) is left out, as in
    R's ``irr::kappam.light`` on complete data."""
    kappas = cohen_kappa(pair_confusions)
    defined = np.isfinite(kappas)
    with np.errstate(**_ERR):
        return np.where(defined, kappas, 0.0).sum(axis=-1) / defined.sum(axis=-1)


def scott_pi_weighted(confusion: np.ndarray | ConfusionTable, weights: np.ndarray) -> np.ndarray:
    """Weighted Scott's pi for two raters (irrCAC's ``scott2.table``): ``p_a = sum_kl w_kl C_kl / N``,
    ``p_e = sum_kl w_kl pi_k pi_l`` with ``pi`` the pooled share ``(rows + columns) / 2N``.  With two ratings per
    item it is also Fleiss' weighted kappa."""
    c = confusion_table(confusion)
    w = np.asarray(weights, float)
    with np.errstate(**_ERR):
        pa = c.weighted_total(w) / c.total
        pe = np.einsum("...k,kl,...l->...", c.pooled, w, c.pooled)
        return (pa - pe) / (1.0 - pe)


def gwet_ac2(confusion: np.ndarray | ConfusionTable, weights: np.ndarray) -> np.ndarray:
    """Gwet's AC2 for two raters (irrCAC's ``gwet.ac1.table`` with weights): ``p_a = sum_kl w_kl C_kl / N``,
    ``p_e = sum(w) / (q (q - 1)) * sum_k pi_k (1 - pi_k)`` with ``pi`` the pooled share; identity weights give AC1."""
    c = confusion_table(confusion)
    w = np.asarray(weights, float)
    q = c.k
    with np.errstate(**_ERR):
        pa = c.weighted_total(w) / c.total
        pe = w.sum() * (c.pooled * (1.0 - c.pooled)).sum(axis=-1) / (q * (q - 1.0))
        return (pa - pe) / (1.0 - pe)
