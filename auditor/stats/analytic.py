"""Analytic (large-sample) standard errors of the agreement coefficients, beside the cluster bootstrap.

Both families **assume independent items** (simple random sampling of items); items clustered within users make
them too narrow, and only the cluster bootstrap (:mod:`auditor.stats.bootstrap`) accounts for that.

- Gwet's linearisation (Gwet 2014, *Handbook of Inter-Rater Reliability*, 4th ed., ch. 5; irrCAC's ``raw``
  functions, whose Python port these formulas follow line by line) for Fleiss' kappa (Scott's pi with two ratings
  per item), Gwet's AC1 / AC2, Brennan-Prediger and Krippendorff's alpha, with any agreement weights and missing
  ratings: ``var = (1 - f) / (n (n - 1)) * sum_i (c*_i - c)**2`` over the ``n`` rated items, ``c*_i`` the item's
  linearised contribution and ``f = n / N`` the sampling fraction of a finite population of ``N`` items (``N``
  infinite by default: ``f = 0``).  Interval ``c -+ t_{n-1} se`` (upper bound capped at 1), p-value two-sided from
  Student's t with ``n - 1`` degrees of freedom, as irrCAC.
- Fleiss, Cohen and Everitt (1969) for Cohen's kappa, plain or weighted (the delta method; statsmodels'
  ``cohens_kappa`` ``std_kappa``): interval ``kappa -+ z se`` (upper bound capped at 1); the p-value tests
  ``kappa = 0`` with the variance under that hypothesis (statsmodels' ``std_kappa0``), two-sided normal.

Kernels take counts with any leading batch shape where they say so, so that a simulation evaluates thousands of
studies in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import ndtr, ndtri, stdtr, stdtrit

from auditor.stats.agreement import (
    ConfusionTable,
    RatingTable,
    confusion_table,
    item_agreement,
    rating_table,
    row_sums,
    weighted_counts,
)

GwetCoefficient = Literal["fleiss", "gwet", "brennan_prediger", "krippendorff"]

#: Method names written beside the analytic columns of a metric row.
GWET = "gwet_2014_independent_items"
FLEISS_COHEN_EVERITT = "fleiss_cohen_everitt_1969_independent_items"

_ERR = {"divide": "ignore", "invalid": "ignore"}


@dataclass(frozen=True)
class Analytic:
    """An analytic standard error: ``df`` degrees of freedom of Student's t (``None``: normal), ``se_null`` the
    standard error under ``value = 0`` for the p-value (``None``: ``se`` itself) and the ``method``'s name."""

    se: float
    df: float | None
    method: str
    se_null: float | None = None


def analytic_interval(value: float, a: Analytic, level: float = 0.95) -> tuple[float, float, float]:
    """``(ci_low, ci_high, p_value)`` of an analytic standard error at ``level``: ``value -+ q se`` with ``q``
    Student's t quantile (``df``) or the normal one, the upper bound capped at 1 (no coefficient exceeds it); the
    two-sided p-value of ``value = 0`` (with ``se_null`` when given).  NaN where the SE is not finite or there
    are fewer than 1 degree of freedom.

    >>> lo, hi, p = analytic_interval(0.5, Analytic(0.1, None, "x"))
    >>> round(lo, 6), round(hi, 6), round(p, 8)
    (0.304004, 0.695996, 5.7e-07)
    """
    if not (np.isfinite(value) and np.isfinite(a.se)) or (a.df is not None and not a.df >= 1):
        return float("nan"), float("nan"), float("nan")
    tail = (1.0 + level) / 2.0
    quantile = ndtri(tail) if a.df is None else stdtrit(a.df, tail)
    half = float(quantile) * a.se
    se0 = a.se if a.se_null is None else a.se_null
    with np.errstate(**_ERR):
        z = abs(value) / se0 if se0 > 0 else (0.0 if value == 0 else np.inf)
    p = float(2.0 * (ndtr(-z) if a.df is None else stdtr(a.df, -z)))
    return float(value - half), float(min(1.0, value + half)), p


def standard_error(variance: float | np.ndarray) -> float:
    """``sqrt(variance)`` as a float; NaN for an undefined variance (an undefined coefficient), 0 for a rounding
    error below 0."""
    v = float(variance)
    if not np.isfinite(v) or v < -1e-12:
        return float("nan")
    return float(np.sqrt(max(v, 0.0)))


def gwet_error(variance: float | np.ndarray, n: float | np.ndarray) -> Analytic:
    """Gwet's standard error of a coefficient over ``n`` items: Student's t with ``n - 1`` degrees of freedom."""
    return Analytic(standard_error(variance), float(n) - 1.0, GWET)


def kappa_error(variance: float | np.ndarray, variance_null: float | np.ndarray) -> Analytic:
    """Fleiss, Cohen and Everitt's standard error of Cohen's kappa: normal, the p-value from the null variance."""
    return Analytic(standard_error(variance), None, FLEISS_COHEN_EVERITT, standard_error(variance_null))


# -- Gwet's linearised variances ---------------------------------------------------------------------------------
def gwet_variance(
    counts: np.ndarray | RatingTable,
    coefficient: GwetCoefficient,
    weights: np.ndarray | None = None,
    freq: np.ndarray | None = None,
    population: float = np.inf,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coefficient, variance, n)`` of one of Gwet's coefficients from a ``(P, K)`` table of rating counts.

    Each row is an item, or an item *pattern* with ``freq`` (``(..., P)``, any batch shape) items of that pattern:
    the two-rater case passes the ``K * K`` cells of a confusion matrix as patterns (:func:`gwet_from_confusion`).
    ``n`` counts the items rated at least once (Krippendorff's alpha: twice or more); ``population`` is ``N`` of
    the finite-population correction ``1 - n / N``.  The coefficient equals
    :func:`auditor.stats.agreement.fleiss_kappa_gwet` / ``gwet_ac`` (Gwet's missing-data convention) and, for
    ``krippendorff`` with identity weights, the nominal alpha.  The variance is irrCAC's (``CAC.fleiss``,
    ``gwet``, ``bp``, ``krippendorff``); an item rated once adds nothing to ``p_a`` (irrCAC divides its zero
    agreement by -1 instead, which differs only for a custom weight matrix whose diagonal is not 1).  ``counts``
    may be a :class:`~auditor.stats.agreement.RatingTable`, whose per-item terms other calls share.
    """
    table = rating_table(counts)
    counts = table.counts
    q = counts.shape[1]
    w = np.eye(q) if weights is None else np.asarray(weights, float)
    f = np.ones(counts.shape[0]) if freq is None else np.asarray(freq, dtype=float)
    r = table.ratings
    sum_q = table.agreement(w)  # sum_k r_ik (r*_ik - 1)
    if coefficient == "krippendorff":
        return _krippendorff(counts, r, sum_q, w, np.where(r >= 2, f, 0.0), population)
    f = np.where(r >= 1, f, 0.0)
    two = r >= 2
    with np.errstate(**_ERR):
        pa_i = np.where(two, sum_q / np.where(two, r * (r - 1.0), 1.0), 0.0)
        shares = table.shares
        n = f.sum(axis=-1)
        n2 = (f * two).sum(axis=-1)
        pa = (f * pa_i).sum(axis=-1) / n2
        pi = (f @ shares) / n[..., None]  # (..., K)
        if coefficient == "fleiss":
            pe = np.einsum("...k,kl,...l->...", pi, w, pi)
            pi_w = (pi @ w.T + pi @ w) / 2.0
            pe_i = np.einsum("pk,...k->...p", shares, pi_w)
        elif coefficient == "gwet":
            scale = w.sum() / (q * (q - 1.0))
            pe = scale * (pi * (1.0 - pi)).sum(axis=-1)
            pe_i = scale * np.einsum("pk,...k->...p", shares, 1.0 - pi)
        elif coefficient == "brennan_prediger":
            pe = np.broadcast_to(w.sum() / q**2, n.shape)
            pe_i = None
        else:
            raise ValueError(f"unknown coefficient {coefficient!r}")
        pe_ = pe[..., None]
        value = (pa - pe) / (1.0 - pe)
        c_i = (n / n2)[..., None] * (pa_i - pe_ * two) / (1.0 - pe_)
        if pe_i is not None:
            c_i = c_i - 2.0 * (1.0 - value[..., None]) * (pe_i - pe_) / (1.0 - pe_)
        var = (1.0 - n / population) / (n * (n - 1.0)) * (f * (c_i - value[..., None]) ** 2).sum(axis=-1)
    return value, var, n


def _krippendorff(
    counts: np.ndarray, r: np.ndarray, sum_q: np.ndarray, w: np.ndarray, f: np.ndarray, population: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Krippendorff's alpha and Gwet's variance of it (irrCAC ``CAC.krippendorff``), over items rated twice or
    more: ``pa = (1 - eps) pa' + eps`` with ``eps = 1 / sum r_i``, ``pa'`` the mean of
    ``sum_q / (rbar (r_i - 1))``; the variance is built around ``alpha' = (pa' - pe) / (1 - pe)``."""
    with np.errstate(**_ERR):
        n = f.sum(axis=-1)
        rbar = (f * r).sum(axis=-1) / n
        eps = 1.0 / (f * r).sum(axis=-1)
        rb = rbar[..., None]
        term = sum_q / (rb * (r - 1.0))  # (..., P); NaN for r < 2, whose f is 0
        term = np.where(f > 0, term, 0.0)
        paprime = (f * term).sum(axis=-1) / n
        pa = (1.0 - eps) * paprime + eps
        pi = (f @ counts) / (rbar * n)[..., None]
        pe = np.einsum("...k,kl,...l->...", pi, w, pi)
        value = (pa - pe) / (1.0 - pe)
        prime = (paprime - pe) / (1.0 - pe)
        pe_ = pe[..., None]
        pa_i = term - pa[..., None] * (r - rb) / rb
        k_i = (pa_i - pe_) / (1.0 - pe_)
        pi_w = (pi @ w.T + pi @ w) / 2.0
        pe_i = np.einsum("pk,...k->...p", counts, pi_w) / rb - pe_ * (r - rb) / rb
        x_i = k_i - 2.0 * (1.0 - prime[..., None]) * (pe_i - pe_) / (1.0 - pe_)
        var = (1.0 - n / population) / (n * (n - 1.0)) * (f * (x_i - prime[..., None]) ** 2).sum(axis=-1)
    return value, var, n


def conger_variance(
    codes: np.ndarray, q: int, weights: np.ndarray | None = None, population: float = np.inf
) -> tuple[float, float, int]:
    """``(kappa, variance, n)`` of Conger's kappa from an ``(items, raters)`` table of category codes ``0..q-1``
    (``-1``: the rater did not rate the item), Gwet's linearisation as irrCAC's ``CAC.conger``: ``p_a`` as Fleiss',
    the chance term's item contribution from ``lambda_ig = sum_k (n / n_g) sum_l w_kl (d_igl - (e_ig - n_g / n)
    p_gl) (r pbar_k - p_gk)``, ``pe_i = sum_g lambda_ig / (r (r - 1))`` (``d_igl``: rater ``g`` put item ``i`` in
    ``l``; ``e_ig``: it rated the item; ``n_g`` its items, ``p_gl`` its share of ``l``).  Items nobody rated are
    left out; a rater who rated nothing is left out (as the audit's :func:`~auditor.stats.agreement.conger_kappa`).
    """
    codes = np.asarray(codes, dtype=np.int64)
    state = np.where(codes >= 0, codes, q)  # the category each rater gave each item; q: none
    counts = _state_counts(state, q, axis=1)
    by_rater = _state_counts(state, q, axis=0)
    rated_items = row_sums(counts) > 0
    if not rated_items.all():
        state, counts = state[rated_items], counts[rated_items]
    raters = by_rater.sum(axis=1) > 0
    if not raters.all():
        state, by_rater = state[:, raters], by_rater[raters]
    n, r = state.shape
    w = np.eye(q) if weights is None else np.asarray(weights, float)
    n_g = by_rater.sum(axis=1)
    p_g = by_rater / n_g[:, None]
    p_bar = p_g.mean(axis=0)
    with np.errstate(**_ERR):
        s2 = (p_g.T @ p_g - r * np.outer(p_bar, p_bar)) / (r - 1.0)
        pe = np.float64((w * (np.outer(p_bar, p_bar) - s2 / r)).sum())  # numpy scalars: 0 / 0 is NaN
        ri = row_sums(counts)
        two = ri >= 2
        sum_q = item_agreement(counts, w)
        pa_i = np.where(two, sum_q / np.where(two, ri * (ri - 1.0), 1.0), 0.0)
        n2 = np.float64(two.sum())
        pa = pa_i.sum() / n2
        kappa = (pa - pe) / (1.0 - pe)
        centred = r * p_bar[None, :] - p_g  # (r, q): r pbar_k - p_gk
        # rater g's terms of lambda_ig depend on item i only through g's rating of it (a category, or none: state
        # q): computed once per rater and state, then looked up per item
        onehot = np.vstack([np.eye(q), np.zeros((1, q))])[:, None, :]  # (q + 1, 1, q)
        e = np.append(np.ones(q), 0.0)[:, None]  # (q + 1, 1): rated or not
        term = onehot - (e - n_g / n)[:, :, None] * p_g[None, :, :]  # (q + 1, r, q)
        by_k = weighted_counts(term, w) * (n / n_g)[None, :, None]  # sum_l w_kl term_l, scaled per rater
        terms = by_k * centred[None, :, :]
        lam = _rater_term_sums(terms, state, r)
        pe_i = lam / (r * (r - 1.0))
        c_i = (n / n2) * (pa_i - pe * two) / (1.0 - pe)
        x_i = c_i - 2.0 * (1.0 - kappa) * (pe_i - pe) / (1.0 - pe)
        m = np.float64(n)
        var = (1.0 - m / population) / (m * (m - 1.0)) * ((x_i - kappa) ** 2).sum()
    return float(kappa), float(var), n


#: :func:`_rater_term_sums` sums the terms once per combination of states up to this many combinations.
MAX_STATE_COMBINATIONS = 1 << 16


def _rater_term_sums(terms: np.ndarray, state: np.ndarray, r: int) -> np.ndarray:
    """Per item, ``sum_g sum_k terms[state_ig, g, k]`` (``terms``: ``(states, raters, K)``; ``state``: ``(items,
    raters)``), numpy's sum over each item's ``(raters, K)`` terms.  An item's sum depends only on its raters'
    states: with few raters (at most :data:`MAX_STATE_COMBINATIONS` combinations, and no more than the items) it
    is computed once per combination, the same sum of the same terms, and looked up per item; otherwise a block of
    items at a time."""
    n, n_states = len(state), terms.shape[0]
    raters = np.arange(r)
    if n_states**r <= min(n, MAX_STATE_COMBINATIONS):
        shape = (n_states,) * r
        # every combination of states, in the order of ravel_multi_index
        combinations = np.indices(shape).reshape(r, -1).T
        per_combination = terms[combinations, raters].sum(axis=(1, 2))
        return per_combination[np.ravel_multi_index(tuple(state.T), shape)]
    lam = np.empty(n)
    block = max(1, 2_000_000 // max(1, r * terms.shape[2]))
    for start in range(0, n, block):
        lam[start : start + block] = terms[state[start : start + block], raters].sum(axis=(1, 2))
    return lam


def _state_counts(state: np.ndarray, q: int, axis: int) -> np.ndarray:
    """From an ``(items, raters)`` table of rating states (a category ``0..q-1``, or ``q``: not rated), how many
    ratings of each category every item (``axis=1``: ``(items, q)``) or every rater (``axis=0``: ``(raters,
    q)``) has, as floats: one ``bincount``."""
    owner = np.arange(state.shape[1 - axis]) * (q + 1)
    cells = (owner[:, None] + state) if axis == 1 else (owner[None, :] + state)
    table = np.bincount(cells.ravel(), minlength=owner.size * (q + 1)).reshape(owner.size, q + 1)
    return table[:, :q].astype(float)


def confusion_patterns(k: int) -> np.ndarray:
    """The ``(k * k, k)`` rating counts of an item rated ``i`` by one rater and ``j`` by the other, cell by cell
    in the order of a flattened ``(k, k)`` confusion matrix."""
    eye = np.eye(k)
    return (eye[:, None, :] + eye[None, :, :]).reshape(k * k, k)


def gwet_from_confusion(
    confusion: np.ndarray,
    coefficient: GwetCoefficient,
    weights: np.ndarray | None = None,
    population: float = np.inf,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`gwet_variance` of two raters from ``(..., K, K)`` confusion matrices (every item rated twice)."""
    c = np.asarray(confusion, dtype=float)
    k = c.shape[-1]
    return gwet_variance(
        confusion_patterns(k), coefficient, weights, c.reshape(c.shape[:-2] + (k * k,)), population
    )


# -- Fleiss, Cohen and Everitt (1969) ------------------------------------------------------------------------------
def cohen_kappa_variance(
    confusion: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(kappa, variance, variance under kappa = 0)`` of Cohen's kappa from ``(..., K, K)`` confusion matrices
    (rows the reference, columns the judge), Fleiss, Cohen and Everitt (1969) with agreement weights ``w``
    (identity: plain kappa; ``1 - |i - j| / (K - 1)``, ``1 - (i - j)**2 / (K - 1)**2``: linear, quadratic):

    ``var = [sum_ij p_ij (w_ij - (wbar_i. + wbar_.j)(1 - kappa))**2 - (kappa - p_e (1 - kappa))**2]
    / (N (1 - p_e)**2)`` with ``wbar_i. = sum_j w_ij p_.j``, ``wbar_.j = sum_i w_ij p_i.``;
    ``var0 = [sum_ij p_i. p_.j (w_ij - (wbar_i. + wbar_.j))**2 - p_e**2] / (N (1 - p_e)**2)``.
    """
    c = np.asarray(confusion, dtype=float)
    k = c.shape[-1]
    w = np.eye(k) if weights is None else np.asarray(weights, float)
    with np.errstate(**_ERR):
        n = c.sum(axis=(-2, -1))
        p = c / n[..., None, None]
        rows, cols = p.sum(axis=-1), p.sum(axis=-2)
        expected = rows[..., :, None] * cols[..., None, :]
        po = (w * p).sum(axis=(-2, -1))
        pe = (w * expected).sum(axis=(-2, -1))
        kappa = (po - pe) / (1.0 - pe)
        w_row = cols @ w.T  # wbar_i. = sum_j w_ij p_.j
        w_col = rows @ w  # wbar_.j = sum_i w_ij p_i.
        both = w_row[..., :, None] + w_col[..., None, :]
        one = (1.0 - kappa)[..., None, None]
        scale = n * (1.0 - pe) ** 2
        var = ((p * (w - both * one) ** 2).sum(axis=(-2, -1)) - (kappa - pe * (1.0 - kappa)) ** 2) / scale
        var0 = ((expected * (w - both) ** 2).sum(axis=(-2, -1)) - pe**2) / scale
    return kappa, var, var0


def one_vs_rest(confusion: np.ndarray) -> np.ndarray:
    """``(..., K, 2, 2)``: for each category ``k`` the confusion matrix of "``k`` or not" (index 0: ``k``)."""
    c = np.asarray(confusion, dtype=float)
    hit = np.diagonal(c, axis1=-2, axis2=-1)
    row_k = c.sum(axis=-1) - hit  # the reference says k, the judge another category
    col_k = c.sum(axis=-2) - hit
    rest = c.sum(axis=(-2, -1))[..., None] - hit - row_k - col_k
    return np.stack([np.stack([hit, row_k], -1), np.stack([col_k, rest], -1)], -2)


def category_kappa(confusion: np.ndarray) -> np.ndarray:
    """Category-wise kappa, ``(..., K)``: Cohen's kappa of each category against all the others together (one
    versus rest: the ``2 x 2`` table of :func:`one_vs_rest`).  For two categories both equal Cohen's kappa.

    >>> category_kappa(np.array([[20.0, 5.0, 0.0], [5.0, 10.0, 5.0], [0.0, 5.0, 50.0]])).round(4)
    array([0.7333, 0.375 , 0.798 ])
    """
    from auditor.stats.agreement import cohen_kappa

    return cohen_kappa(one_vs_rest(confusion))


def category_kappa_of(confusion: np.ndarray | ConfusionTable, k: int) -> np.ndarray:
    """:func:`category_kappa` of category ``k`` alone, ``(...)`` from ``(..., K, K)`` (for the bootstrap, which
    evaluates one category per function): ``p_o = (a + d) / N``, ``p_e = ((a + b)(a + c) + (c + d)(b + d)) / N**2``
    for the one-versus-rest cells ``a = C_kk``, ``b`` the rest of row ``k``, ``c`` of column ``k``.  ``confusion``
    may be a :class:`~auditor.stats.agreement.ConfusionTable` whose margins every category shares (row ``k``'s
    sum is the same addition, so the same number, as ``rows[..., k]``)."""
    c = confusion_table(confusion)
    n = c.total
    a = c.counts[..., k, k]
    row, col = c.rows[..., k], c.cols[..., k]
    with np.errstate(**_ERR):
        po = (n - row - col + 2.0 * a) / n
        pe = (row * col + (n - row) * (n - col)) / n**2
        return (po - pe) / (1.0 - pe)
