"""Confidence-driven selection (Gligoric et al. 2025): the selection probabilities, the estimator by hand, its
variance formula against the simulated spread, and the interval's coverage (vectorised over selections)."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import confidence_driven as cd


def _population(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    confidence = np.clip(rng.beta(5, 1.5, n), 0.5, 1.0)
    y = rng.random(n) < 0.4
    yhat = np.where(rng.random(n) < confidence, y, ~y)  # calibrated: right with probability `confidence`
    return y.astype(float), yhat.astype(float), 1.0 - confidence


def test_probabilities_follow_the_square_root_of_the_uncertainty_and_sum_to_the_budget():
    u = np.array([0.0, 0.01, 0.04, 0.25])
    pi = cd.selection_probabilities(u, 1.0, uniform_share=0.0)
    assert pi == pytest.approx(np.array([0.0, 0.1, 0.2, 0.5]) / 0.8)
    mixed = cd.selection_probabilities(u, 1.0, uniform_share=0.2)
    assert mixed == pytest.approx(0.8 * pi + 0.2 / 4)


def test_probabilities_are_capped_at_one_with_the_rest_spread():
    u = np.array([0.25, 0.0001, 0.0001, 0.0001])
    pi = cd.selection_probabilities(u, 2.0, uniform_share=0.0)
    assert pi[0] == 1.0
    assert pi[1:] == pytest.approx([1 / 3] * 3)
    assert pi.sum() == pytest.approx(2.0)


def test_estimate_and_variance_by_hand():
    yhat = np.array([1.0, 0, 1, 0, 1])
    y = np.array([0.0, np.nan, 1, 1, np.nan])
    labelled = np.array([True, False, True, True, False])
    pi = np.array([0.5, 0.2, 0.25, 0.8, 0.1])
    r = cd.confidence_driven_mean(yhat, y, labelled, pi)
    assert r.value == pytest.approx(3 / 5 + (-1 / 0.5 + 0 + 1 / 0.8) / 5)
    assert r.se**2 == pytest.approx(((1 - 0.5) / 0.25 * 1 + (1 - 0.8) / 0.64 * 1) / 25)


@pytest.mark.parametrize("uniform_share", [0.1, 1.0])
def test_interval_covers_and_the_expected_variance_is_the_spread(uniform_share):
    """3,000 selections from one population of 2,000 judged items: 95% coverage of the items' human mean, and the
    spread of the estimate matches ``expected_variance`` computed from the realised errors."""
    y, yhat, u = _population()
    pi = cd.selection_probabilities(u, 200, uniform_share)
    rng = np.random.default_rng(1)
    chosen = rng.random((3000, y.size)) < pi
    resid = y - yhat
    values = yhat.mean() + (chosen * resid / pi).sum(1) / y.size
    se = np.sqrt((chosen * (1 - pi) / pi**2 * resid**2).sum(1)) / y.size
    assert 0.93 <= np.mean(np.abs(values - y.mean()) <= 1.959964 * se) <= 0.97
    assert values.std() == pytest.approx(np.sqrt(cd.expected_variance(resid**2, pi)), rel=0.05)


def test_confidence_driven_selection_beats_uniform_when_confidence_is_informative():
    _, _, u = _population(seed=2)
    driven = cd.expected_variance(u, cd.selection_probabilities(u, 200, 0.1))
    uniform = cd.expected_variance(u, np.full(u.size, 200 / u.size))
    assert driven < 0.9 * uniform
    assert cd.budget_for_half_width(u, 0.03) < cd.budget_for_half_width(u, 0.03, uniform_share=1.0)
