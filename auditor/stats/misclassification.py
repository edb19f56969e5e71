"""The misclassification-corrected rate (Rogan & Gladen 1978) with the interval of Lee et al. (2025).

A judge calls each test item positive (1) or not; its positive rate ``p`` is biased for the true rate ``theta`` by
its sensitivity ``q1 = P(judge 1 | human 1)`` and specificity ``q0 = P(judge 0 | human 0)``:
``E[p] = (q0 + q1 - 1) theta + (1 - q0)``.  With ``q0``, ``q1`` measured on a human-labelled *calibration* sample
(``m1`` human positives, ``m0`` human negatives) the Rogan-Gladen estimate inverts it,

    theta = (p + q0 - 1) / (q0 + q1 - 1),   clipped to [0, 1]   (needs q0 + q1 > 1: a judge better than chance).

Interval (Lee, Zeng, Jeong, Sohn & Lee 2025, "How to Correctly Report LLM-as-a-Judge Evaluations", their
reference implementation's ``confidence_interval``): uncertainty from the test sample and from both calibration
rates, with Agresti-Coull-type smoothing ``p~ = (n p + z^2/2) / (n + z^2)``, ``q~_j = (m_j q_j + 1) / (m_j + 2)``
(and ``n~ = n + z^2``, ``m~_j = m_j + 2``), ``theta~`` from the smoothed rates, a bias shift
``d = 2 z^2 (theta~ q~1 (1 - q~1) / m~1 - (1 - theta~) q~0 (1 - q~0) / m~0)`` and the delta-method standard error

    se = sqrt(p~(1-p~)/n~ + (1-theta~)^2 q~0(1-q~0)/m~0 + theta~^2 q~1(1-q~1)/m~1) / (q~0 + q~1 - 1),

    [theta~ + d - z se, theta~ + d + z se]   clipped to [0, 1].

The test and calibration samples are independent samples of the same population (in an audit: the calibration
sample is the items with a reference label, the test sample the judged items without one); items are independent
(no clustering).  Pairwise outcomes enter as their binary indicators (b better; no better), for which the same
identity holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri


def _z(level: float) -> float:
    return float(ndtri(0.5 + level / 2.0))


def rogan_gladen_point(p: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """``clip((p + q0 - 1) / (q0 + q1 - 1), 0, 1)``, NaN where ``q0 + q1 <= 1`` (vectorised)."""
    p, q0, q1 = (np.asarray(x, float) for x in (p, q0, q1))
    denom = q0 + q1 - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(denom > 0, (p + q0 - 1.0) / denom, np.nan)
    return np.clip(theta, 0.0, 1.0)


def rogan_gladen_interval(
    p: np.ndarray,
    q0: np.ndarray,
    q1: np.ndarray,
    n: np.ndarray,
    m0: np.ndarray,
    m1: np.ndarray,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lee et al.'s interval (module docstring), vectorised: ``(low, high, se)``; NaN where the smoothed
    ``q~0 + q~1 <= 1`` or a sample is empty."""
    z = _z(level)
    p, q0, q1, n, m0, m1 = (np.asarray(x, float) for x in (p, q0, q1, n, m0, m1))
    with np.errstate(divide="ignore", invalid="ignore"):
        pt = (n * p + z**2 / 2.0) / (n + z**2)
        q0t, q1t = (m0 * q0 + 1.0) / (m0 + 2.0), (m1 * q1 + 1.0) / (m1 + 2.0)
        nt, m0t, m1t = n + z**2, m0 + 2.0, m1 + 2.0
        denom = q0t + q1t - 1.0
        theta = (pt + q0t - 1.0) / denom
        shift = 2.0 * z**2 * (theta * q1t * (1 - q1t) / m1t - (1 - theta) * q0t * (1 - q0t) / m0t)
        se = (
            np.sqrt(
                pt * (1 - pt) / nt
                + (1 - theta) ** 2 * q0t * (1 - q0t) / m0t
                + theta**2 * q1t * (1 - q1t) / m1t
            )
            / denom
        )
        bad = (denom <= 0) | (n <= 0) | (m0 <= 0) | (m1 <= 0)
        low = np.where(bad, np.nan, np.clip(theta + shift - z * se, 0.0, 1.0))
        high = np.where(bad, np.nan, np.clip(theta + shift + z * se, 0.0, 1.0))
    return low, high, np.where(bad, np.nan, se)


@dataclass
class CorrectedRate:
    """A Rogan-Gladen corrected rate with Lee et al.'s interval, and what went into it."""

    value: float
    ci_low: float
    ci_high: float
    se: float
    judge_rate: float  # p: the judge's positive rate on the test sample
    sensitivity: float  # q1
    specificity: float  # q0
    n_test: int
    n_calibration_positive: int  # m1
    n_calibration_negative: int  # m0

    @property
    def identified(self) -> bool:
        """``q0 + q1 > 1``: the judge tells the classes apart better than chance (else no correction exists)."""
        return bool(self.sensitivity + self.specificity > 1)


def calibration_counts(truth: np.ndarray, judged: np.ndarray) -> tuple[int, int, float, float]:
    """``(m0, m1, q0, q1)`` from a calibration sample's human (``truth``) and judge 0/1 calls."""
    truth, judged = np.asarray(truth, bool), np.asarray(judged, bool)
    if truth.shape != judged.shape:
        raise ValueError("the calibration sample needs a human and a judge call on every item")
    m1, m0 = int(truth.sum()), int((~truth).sum())
    q1 = float(judged[truth].mean()) if m1 else float("nan")
    q0 = float((~judged[~truth]).mean()) if m0 else float("nan")
    return m0, m1, q0, q1


def rogan_gladen(
    test_judged: np.ndarray,
    calibration_truth: np.ndarray,
    calibration_judged: np.ndarray,
    *,
    level: float = 0.95,
) -> CorrectedRate:
    """The corrected positive rate of the test sample (judge calls ``test_judged``) from a calibration sample with
    human (``calibration_truth``) and judge (``calibration_judged``) calls; 0/1 or booleans.

    Examples
    --------
    A judge with sensitivity 0.9 and specificity 0.8 that calls 50% of 1,000 test items positive: the true rate is
    ``(0.5 + 0.8 - 1) / (0.9 + 0.8 - 1) = 0.4286``.

    >>> truth = np.r_[np.ones(100), np.zeros(100)]
    >>> judged = np.r_[np.ones(90), np.zeros(10), np.zeros(80), np.ones(20)]
    >>> r = rogan_gladen(np.r_[np.ones(500), np.zeros(500)], truth, judged)
    >>> round(r.value, 4), r.ci_low < r.value < r.ci_high
    (0.4286, True)
    """
    test = np.asarray(test_judged, bool)
    m0, m1, q0, q1 = calibration_counts(calibration_truth, calibration_judged)
    p = float(test.mean()) if test.size else float("nan")
    low, high, se = rogan_gladen_interval(p, q0, q1, test.size, m0, m1, level)
    return CorrectedRate(
        float(rogan_gladen_point(p, q0, q1)),
        float(low),
        float(high),
        float(se),
        p,
        q1,
        q0,
        int(test.size),
        m1,
        m0,
    )
