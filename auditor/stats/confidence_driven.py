"""Confidence-driven selection of the items humans label (Gligoric, Zrnic, Lee, Candès & Jurafsky 2025, "Can
Unconfident LLM Annotations Be Used for Confident Conclusions?"; the active inference of Zrnic & Candès 2024).

The judge labelled all ``N`` items, with a verdict ``yhat_i`` (0/1, e.g. "no better") and a confidence ``c_i`` in
that verdict.  Each item is sent to humans independently with probability ``pi_i`` (Poisson sampling), larger where
the judge is unsure.  The estimate of the human rate over the ``N`` items is the judge's rate corrected by the
inverse-probability-weighted errors on the labelled items (``lam = 1``):

    theta = (1/N) sum_i yhat_i + (1/N) sum_{i labelled} (y_i - yhat_i) / pi_i,

unbiased for the human mean of the ``N`` items whatever the judge's confidences are worth; its variance over the
selection is ``(1/N^2) sum_i (1 - pi_i) / pi_i * (y_i - yhat_i)^2``, estimated without bias by
``(1/N^2) sum_{i labelled} (1 - pi_i) / pi_i^2 (y_i - yhat_i)^2`` (Wald interval).  The estimand is the mean over the
judged items (a finite population); the randomness is the selection.

The selection that minimises the expected variance for an expected budget ``n = sum_i pi_i`` is
``pi_i ∝ sqrt(E[(y_i - yhat_i)^2])``, and for a 0/1 verdict ``E[(y_i - yhat_i)^2] = P(wrong) = 1 - c_i`` when the
confidences are calibrated.  As in the paper, the rule is mixed with uniform sampling (share ``uniform_share``) so
that overconfident verdicts still get labelled sometimes, and capped at 1 (the excess is spread over the others).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri


def selection_probabilities(uncertainty: np.ndarray, budget: float, uniform_share: float = 0.1) -> np.ndarray:
    """``pi_i``: ``(1 - uniform_share) * budget * sqrt(u_i) / sum_j sqrt(u_j) + uniform_share * budget / N``, capped at
    1 with the excess redistributed, so that ``sum_i pi_i = budget`` (for ``budget <= N``).  ``u_i``: the expected
    squared error of the judge's verdict on item ``i`` (``1 - confidence`` for a 0/1 verdict)."""
    u = np.clip(np.asarray(uncertainty, float), 0.0, None)
    big_n = u.size
    if not 0 < budget <= big_n:
        raise ValueError(f"the budget must lie in (0, {big_n}], got {budget}")
    if not 0 <= uniform_share <= 1:
        raise ValueError(f"uniform_share must lie in [0, 1], got {uniform_share}")
    root = np.sqrt(u)
    shape = root / root.sum() if root.sum() > 0 else np.full(big_n, 1.0 / big_n)
    shape = (1.0 - uniform_share) * shape + uniform_share / big_n
    pi = np.zeros(big_n)
    capped = np.zeros(big_n, bool)
    for _ in range(big_n):  # each pass caps at least one more item, or stops
        left = budget - capped.sum()
        pi[~capped] = left * shape[~capped] / shape[~capped].sum()
        pi[capped] = 1.0
        over = ~capped & (pi > 1.0)
        if not over.any():
            break
        capped |= over
    return np.clip(pi, 0.0, 1.0)


def expected_variance(uncertainty: np.ndarray, pi: np.ndarray) -> float:
    """``(1/N^2) sum_i (1 - pi_i) / pi_i * u_i``: the variance of the estimate over the selection, with ``u_i`` the
    expected squared error of the judge's verdict."""
    u, pi = np.asarray(uncertainty, float), np.asarray(pi, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(pi > 0, (1.0 - pi) / pi * u, np.where(u > 0, np.inf, 0.0))
    return float(terms.sum() / u.size**2)


def budget_for_half_width(
    uncertainty: np.ndarray, half_width: float, level: float = 0.95, uniform_share: float = 0.1
) -> int | None:
    """The smallest expected budget whose expected half-width ``z sqrt(expected_variance)`` is at most
    ``half_width`` (bisection on whole labels; the variance falls as the budget grows); None if even every item
    labelled misses it (it cannot: labelling all gives 0)."""
    u = np.asarray(uncertainty, float)
    z = float(ndtri(0.5 + level / 2.0))

    def width(n: int) -> float:
        return z * np.sqrt(expected_variance(u, selection_probabilities(u, n, uniform_share)))

    low, high = 0, u.size  # width(high) == 0
    while high - low > 1:
        mid = (low + high) // 2
        if width(mid) <= half_width:
            high = mid
        else:
            low = mid
    return high


@dataclass
class ConfidenceDrivenMean:
    value: float
    ci_low: float
    ci_high: float
    se: float
    judge_rate: float
    n_labelled: int
    n_items: int


def confidence_driven_mean(
    yhat: np.ndarray, y: np.ndarray, labelled: np.ndarray, pi: np.ndarray, level: float = 0.95
) -> ConfidenceDrivenMean:
    """The inverse-probability-weighted estimate of the human mean over all items (module docstring).  ``yhat``,
    ``pi``, ``labelled`` per item; ``y`` per item (read only where ``labelled``).

    Examples
    --------
    >>> yhat = np.array([1.0, 1, 0, 0])
    >>> y = np.array([1.0, np.nan, 1, np.nan])
    >>> r = confidence_driven_mean(yhat, y, np.array([True, False, True, False]), np.array([0.5, 0.5, 0.5, 0.5]))
    >>> r.value  # 2/4 + (0 + (1 - 0) / 0.5) / 4
    1.0
    """
    yhat, pi = np.asarray(yhat, float), np.asarray(pi, float)
    labelled = np.asarray(labelled, bool)
    resid = np.where(labelled, np.asarray(y, float) - yhat, 0.0)
    if not np.all(np.isfinite(resid)):
        raise ValueError("every labelled item needs a human value")
    if np.any(labelled & (pi <= 0)):
        raise ValueError("a labelled item has selection probability 0")
    big_n = yhat.size
    with np.errstate(divide="ignore", invalid="ignore"):
        correction = np.where(labelled, resid / pi, 0.0)
        var_terms = np.where(labelled, (1.0 - pi) / pi**2 * resid**2, 0.0)
    value = float(yhat.mean() + correction.sum() / big_n)
    se = float(np.sqrt(var_terms.sum()) / big_n)
    z = float(ndtri(0.5 + level / 2.0))
    return ConfidenceDrivenMean(
        value, value - z * se, value + z * se, se, float(yhat.mean()), int(labelled.sum()), big_n
    )
