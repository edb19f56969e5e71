"""Coverage by simulation: the cluster bootstrap's 95% BCa intervals (the audit's, through the same Resampler and
:func:`~auditor.stats.bootstrap.interval`) of the issue-19 coefficients cover their population values.

Categorical model: an item's true class ``c`` has prevalence ``prev``; each of 4 exchangeable raters gives ``c`` with
probability ``a`` and otherwise a uniform draw over the 3 categories, and skips the item with probability 0.25
(missing completely at random).  With ``M[c, k] = P(rating k | class c)``, two raters' joint distribution is
``J = M^T diag(prev) M``, the category shares ``pi = prev M``; the population coefficients follow from ``J`` and
``pi`` (Fleiss, Conger and Light coincide for exchangeable raters).  Score model: ``x_ij = t_i + b_j + e_ij`` with
``t ~ N(0, 1)``, ``e ~ N(0, 0.5)`` and fixed rater offsets ``b``: ICC(C,1) = 1 / 1.5 and ICC(A,1) =
1 / (1 + 0.5 + sum((b - mean b)^2) / (k - 1)).  300 studies of 60 items, 300 resamples each: a few seconds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from auditor.stats import agreement as ag
from auditor.stats import icc
from auditor.stats.bootstrap import Resampler, interval

STUDIES, ITEMS, RESAMPLES, RATERS, K = 300, 60, 300, 4, 3
PREV, ACCURACY, SKIP = np.array([0.5, 0.3, 0.2]), 0.6, 0.25
W = ag.agreement_weights("quadratic", K)


def population() -> dict[str, float]:
    m = ACCURACY * np.eye(K) + (1 - ACCURACY) / K
    joint = m.T @ np.diag(PREV) @ m
    pi = PREV @ m
    out = {}
    for name, w in (("", np.eye(K)), ("_weighted", W)):
        pa = float((w * joint).sum())
        pe_fleiss = float(pi @ w @ pi)
        pe_gwet = float(w.sum() * (pi * (1 - pi)).sum() / (K * (K - 1)))
        out["fleiss" + name] = (pa - pe_fleiss) / (1 - pe_fleiss)
        out["gwet" + name] = (pa - pe_gwet) / (1 - pe_gwet)
    out["conger"] = out["light"] = out["fleiss"]
    return out


def simulate(rng: np.random.Generator) -> np.ndarray:
    """``(items, raters)`` codes, -1 where the rater skipped the item (every item keeps two ratings or more)."""
    truth = rng.choice(K, size=ITEMS, p=PREV)
    guess = rng.integers(0, K, size=(ITEMS, RATERS))
    codes = np.where(rng.random((ITEMS, RATERS)) < ACCURACY, truth[:, None], guess)
    skip = rng.random((ITEMS, RATERS)) < SKIP
    skip[:, :2] = False  # two raters on every item
    return np.where(skip, -1, codes)


def estimates(codes: np.ndarray, rs: Resampler) -> dict[str, object]:
    counts = np.stack([(codes == k).sum(axis=1) for k in range(K)], axis=1).astype(float)
    plain, weighted = ag.gwet_item_stats(counts), ag.gwet_item_stats(counts, W)
    by_rater = np.stack(
        [[codes[i] == k for k in range(K)] for i in range(ITEMS)], axis=0
    )  # (items, K, raters)
    both = np.concatenate([plain, by_rater.transpose(0, 2, 1).reshape(ITEMS, -1).astype(float)], axis=1)
    width = plain.shape[1]
    pairs = list(itertools.combinations(range(RATERS), 2))
    confusions = np.zeros((ITEMS, len(pairs), K, K))
    for p, (a, b) in enumerate(pairs):
        on = np.flatnonzero((codes[:, a] >= 0) & (codes[:, b] >= 0))
        confusions[on, p, codes[on, a], codes[on, b]] = 1.0
    out = rs.sums_many(plain, {"fleiss": ag.fleiss_kappa_gwet, "gwet": ag.gwet_ac}, ITEMS)
    out |= rs.sums_many(
        weighted,
        {
            "fleiss_weighted": lambda s: ag.fleiss_kappa_gwet(s, W),
            "gwet_weighted": lambda s: ag.gwet_ac(s, W),
        },
        ITEMS,
    )
    out["conger"] = rs.sums(
        both,
        lambda s: ag.conger_kappa(s[..., :width], s[..., width:].reshape(s.shape[:-1] + (RATERS, K))),
        ITEMS,
    )
    out["light"] = rs.sums(confusions, ag.light_kappa, ITEMS)
    return out


def test_population_values_are_the_estimators_limits():
    rng = np.random.default_rng(1)
    big = np.concatenate([simulate(rng) for _ in range(500)])  # 30,000 items
    counts = np.stack([(big == k).sum(axis=1) for k in range(K)], axis=1).astype(float)
    truth = population()
    assert ag.fleiss_kappa_gwet(ag.gwet_item_stats(counts).sum(0)) == pytest.approx(truth["fleiss"], abs=0.01)
    assert ag.gwet_ac(ag.gwet_item_stats(counts, W).sum(0), W) == pytest.approx(
        truth["gwet_weighted"], abs=0.01
    )


def test_bootstrap_intervals_of_the_new_coefficients_cover():
    truth = population()
    rng = np.random.default_rng(2026)
    hits = {name: 0 for name in truth}
    for study in range(STUDIES):
        rs = Resampler(ITEMS, RESAMPLES, seed=study)
        for name, est in estimates(simulate(rng), rs).items():
            lo, hi = interval(est)
            hits[name] += lo <= truth[name] <= hi
    coverage = {name: hits[name] / STUDIES for name in hits}
    assert all(0.91 <= c <= 0.99 for c in coverage.values()), coverage


def test_icc_bootstrap_intervals_cover():
    offsets, k = np.array([0.0, 0.5, -0.5]), 3
    truth = {"a1": 1 / (1 + 0.5 + np.sum((offsets - offsets.mean()) ** 2) / (k - 1)), "c1": 1 / 1.5}
    rng = np.random.default_rng(7)
    hits = {"a1": 0, "c1": 0}
    for study in range(STUDIES):
        x = rng.normal(size=(ITEMS, 1)) + offsets + rng.normal(0, np.sqrt(0.5), size=(ITEMS, k))
        found = Resampler(ITEMS, RESAMPLES, seed=study).sums_many(
            icc.icc_item_stats(x), {"a1": icc.icc_a1, "c1": icc.icc_c1}, ITEMS
        )
        for name, est in found.items():
            lo, hi = interval(est)
            hits[name] += lo <= truth[name] <= hi
    coverage = {name: hits[name] / STUDIES for name in hits}
    assert all(0.91 <= c <= 0.99 for c in coverage.values()), coverage
