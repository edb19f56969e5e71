"""The empirical-Bernstein confidence sequence (:mod:`auditor.stats.confseq`): equal to the reference
implementation's item-by-item sequence, order-free within a batch, and anytime-valid (simulated miscoverage at any
time at most alpha, where a fixed-n interval looked at after every batch is not)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtri

from auditor.stats.confseq import BatchSums, bets, betting_sequence, confidence_sequence, hedged_log_capital


def _reference_lower(x: np.ndarray, alpha: float, truncation: float = 0.5) -> np.ndarray:
    """The lower bound of ``confseq.predmix.predmix_empbern_lower_cs`` (confseq 0.0.11, Howard & Waudby-Smith),
    written out one observation at a time from its formulas (confseq needs Boost to build, so it is no test
    dependency): bets ``min(sqrt(2 log(1/alpha) / (t log(1+t) sigma2_{t-1})), truncation)`` with
    ``mu~_t = min((1/2 + S_t)/(t+1), 1)``, ``sigma2_t = (1/4 + sum (x_i - mu~_i)^2)/(t+1)`` (``sigma2_0 = 1/4``),
    ``v_t = (x_t - S_{t-1}/(t-1))^2`` (centre 0 at ``t = 1``), ``psi(l) = -log(1-l) - l``."""
    total = squares = weight = weighted = penalty = 0.0
    sigma2 = 0.25
    out = []
    for t, value in enumerate(x, start=1):
        lam = min(math.sqrt(2 * math.log(1 / alpha) / (t * math.log(1 + t) * sigma2)), truncation)
        centre = total / (t - 1) if t > 1 else 0.0
        penalty += (value - centre) ** 2 * (-math.log(1 - lam) - lam)
        weight += lam
        weighted += lam * value
        out.append(weighted / weight - (math.log(1 / alpha) + penalty) / weight)
        total += value
        squares += (value - min((0.5 + total) / (t + 1), 1.0)) ** 2
        sigma2 = (0.25 + squares) / (t + 1)
    return np.array(out)


def _reference_cs(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``predmix_empbern_cs``: ``alpha / 2`` per side, the upper bound ``1 - lower(1 - x)``."""
    return _reference_lower(x, alpha / 2), 1 - _reference_lower(1 - x, alpha / 2)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_batches_of_one_equal_the_reference_implementation(alpha):
    x = np.random.default_rng(3).beta(2, 5, 300)
    lo, hi = confidence_sequence(BatchSums.of(np.ones(300), x, x * x), alpha, running_intersection=False)
    ref_lo, ref_hi = _reference_cs(x, alpha)
    np.testing.assert_allclose(lo, np.clip(ref_lo, 0, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(hi, np.clip(ref_hi, 0, 1), rtol=0, atol=1e-12)
    assert 0 < lo[-1] < x.mean() < hi[-1] < 1


def test_first_bet_is_confseqs_closed_form():
    # confseq's own test: the first bet, untruncated, is sqrt(2 log(1/alpha) / (1/4 log 2))
    lam = bets(BatchSums.of([1.0, 1.0], [1.0, 0.0], [1.0, 0.0]), 0.05, truncation=math.inf)
    assert lam[0] == pytest.approx(math.sqrt(2 * math.log(1 / 0.05) / (0.25 * math.log(2))), rel=1e-15)


def test_batching_costs_little_width():
    """The same 400 Bernoulli(0.3) observations item by item, in 10 batches of 40 and in one batch: every
    sequence covers, and batching (one bet per batch, fixed before it) widens the final interval by at most 40%
    (measured: 0.17, 0.20, 0.23)."""
    x = np.random.default_rng(0).binomial(1, 0.3, 400).astype(float)
    widths = []
    for k in (400, 10, 1):
        sums = x.reshape(k, -1).sum(1)
        lo, hi = confidence_sequence(BatchSums.of(np.full(k, 400 / k), sums, sums))
        assert lo[-1] < 0.3 < hi[-1]
        assert np.all(np.diff(hi - lo) <= 0)  # the running intersection only narrows
        widths.append(hi[-1] - lo[-1])
    assert widths[0] < widths[1] < widths[2] < 1.4 * widths[0]


def test_range_rescaling_maps_the_sequence():
    """The sequence of a gap ``d`` in [-1, 1] is ``2 x - 1`` of the sequence of ``x = (d + 1) / 2``."""
    d = np.random.default_rng(1).choice([-1.0, 0.0, 1.0], size=(4, 25), p=[0.2, 0.5, 0.3])
    x = (d + 1) / 2
    n = np.full(4, 25.0)
    lo, hi = confidence_sequence(BatchSums.of(n, d.sum(1), (d * d).sum(1)), low=-1, high=1)
    lo_x, hi_x = confidence_sequence(BatchSums.of(n, x.sum(1), (x * x).sum(1)))
    np.testing.assert_allclose(lo, 2 * lo_x - 1, atol=1e-12)
    np.testing.assert_allclose(hi, 2 * hi_x - 1, atol=1e-12)


def _simulate(streams: int, batches: int, size: int, p: float, seed: int) -> tuple[BatchSums, float]:
    """Bernoulli(p) streams in batches of ``size`` (sums are all the sequence reads)."""
    rng = np.random.default_rng(seed)
    sums = rng.binomial(size, p, (streams, batches)).astype(float)
    return BatchSums.of(np.full((streams, batches), float(size)), sums, sums), p


@pytest.mark.parametrize("p", [0.5, 0.1])
def test_miscoverage_at_any_time_is_at_most_alpha(p):
    """2,000 streams of 40 batches of 25: the share of streams whose sequence ever misses ``p`` is <= alpha; a
    95% Wald interval recomputed after every batch (the fixed-n interval, monitored) misses far more often."""
    b, p = _simulate(2000, 40, 25, p, seed=11)
    lo, hi = confidence_sequence(b, 0.05)
    ever_missed = np.any((lo > p) | (hi < p), axis=1).mean()
    assert ever_missed <= 0.05
    total, hits = np.cumsum(b.n, axis=1), np.cumsum(b.sums, axis=1)
    mean = hits / total
    half = float(ndtri(0.975)) * np.sqrt(np.maximum(mean * (1 - mean), 1e-12) / total)
    wald_missed = np.any((mean - half > p) | (mean + half < p), axis=1).mean()
    assert wald_missed > 0.1  # the same simulation would catch a sequence that is not anytime-valid


@pytest.mark.full
def test_miscoverage_at_any_time_is_at_most_alpha_many_streams():
    """20,000 streams of 400 batches of 10 (4,000 observations each) at p = 0.3 and 0.05."""
    for p, seed in ((0.3, 21), (0.05, 22)):
        b, p = _simulate(20000, 400, 10, p, seed=seed)
        lo, hi = confidence_sequence(b, 0.05)
        assert np.any((lo > p) | (hi < p), axis=1).mean() <= 0.05


def test_width_shrinks_like_the_variance():
    """Low-variance data get a narrower sequence (empirical Bernstein, not Hoeffding)."""
    n = np.full(20, 50.0)
    narrow = confidence_sequence(BatchSums.of(n, n * 0.02, n * 0.02))
    wide = confidence_sequence(BatchSums.of(n, n * 0.5, n * 0.5))
    assert (narrow[1] - narrow[0])[-1] < 0.5 * (wide[1] - wide[0])[-1]


# -- the hedged-capital betting sequence ---------------------------------------------------------------------------
def _reference_betting(x: np.ndarray, alpha: float, breaks: int) -> tuple[np.ndarray, np.ndarray]:
    """``confseq.betting.betting_cs(x, [f], [f], alpha, breaks, running_intersection=True, theta=1/2,
    trunc_scale=1/2, m_trunc=True)`` with ``f = lambda x, m: lambda_predmix_eb(x, alpha=alpha)`` (confseq 0.0.11),
    written out one candidate mean and one observation at a time: bets ``min(lambda_t, 1/(2m))`` and
    ``min(lambda_t, 1/(2(1-m)))``, capital ``max(K+/2, K-/2)``, ``m`` in while it is below ``1/alpha``, the
    sequence from the first such grid point minus ``1/breaks`` to the last plus ``1/breaks``."""
    lam, total, squares, sigma2 = [], 0.0, 0.0, 0.25
    for t, value in enumerate(x, start=1):
        lam.append(math.sqrt(2 * math.log(1 / alpha) / (t * math.log(1 + t) * sigma2)))
        total += value
        squares += (value - min((0.5 + total) / (t + 1), 1.0)) ** 2
        sigma2 = (0.25 + squares) / (t + 1)
    lower, upper = np.zeros(len(x)), np.ones(len(x))
    inside = np.zeros((breaks + 1, len(x)), dtype=bool)
    for j in range(breaks + 1):
        m = j / breaks
        plus = minus = 1.0
        for t, value in enumerate(x):
            plus *= 1 + min(lam[t], 0.5 / m if m > 0 else math.inf) * (value - m)
            minus *= 1 - min(lam[t], 0.5 / (1 - m) if m < 1 else math.inf) * (value - m)
            inside[j, t] = max(plus / 2, minus / 2) < 1 / alpha
    for t in range(len(x)):
        where = np.flatnonzero(inside[:, t])
        if where.size:
            lower[t], upper[t] = (
                max(where[0] / breaks - 1 / breaks, 0),
                min(where[-1] / breaks + 1 / breaks, 1),
            )
    return np.maximum.accumulate(lower), np.minimum.accumulate(upper)


def test_betting_batches_of_one_equal_the_reference_implementation():
    x = np.random.default_rng(8).choice([0.0, 0.5, 1.0], size=60, p=[0.2, 0.3, 0.5])
    counts = np.stack([x == 0.0, x == 0.5, x == 1.0], axis=-1).astype(float)  # one observation per batch
    lo, hi = betting_sequence(np.array([0.0, 0.5, 1.0]), counts, 0.05, breaks=200)
    ref_lo, ref_hi = _reference_betting(x, 0.05, 200)
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)
    assert lo[-1] < x.mean() < hi[-1] and hi[-1] - lo[-1] < 0.6


def test_betting_is_narrower_than_empirical_bernstein_in_batches():
    """400 Bernoulli(0.3) observations in 10 batches of 40: the betting sequence is narrower (measured over 50
    samples: 0.144 against 0.195)."""
    x = np.random.default_rng(0).binomial(1, 0.3, 400).astype(float)
    sums = x.reshape(10, 40).sum(1)
    lo, hi = confidence_sequence(BatchSums.of(np.full(10, 40.0), sums, sums))
    b_lo, b_hi = betting_sequence(np.array([0.0, 1.0]), np.stack([40 - sums, sums], axis=-1))
    assert b_lo[-1] < 0.3 < b_hi[-1]
    assert b_hi[-1] - b_lo[-1] < 0.85 * (hi[-1] - lo[-1])


def _ever_rejected(counts: np.ndarray, values: np.ndarray, truth: float, alpha: float = 0.05) -> np.ndarray:
    """Per stream: whether the hedged capital at the true mean ever reached ``1 / alpha`` (the only way the
    betting sequence can miss it, whatever grid it is read on)."""
    grid = np.array([truth])
    capital = np.stack(list(hedged_log_capital(values, counts, grid, alpha)), axis=-1)[..., 0, :]
    return np.any(capital >= np.log(1 / alpha), axis=-1)


@pytest.mark.parametrize("p", [0.5, 0.1])
def test_betting_miscoverage_at_any_time_is_at_most_alpha(p):
    """2,000 Bernoulli(p) streams of 40 batches of 25: the share whose capital at ``p`` ever reaches 1 / alpha
    (the sequence ever misses ``p``) is <= alpha (measured 2.1% and 2.05%)."""
    b, p = _simulate(2000, 40, 25, p, seed=12)
    counts = np.stack([b.n - b.sums, b.sums], axis=-1)
    assert _ever_rejected(counts, np.array([0.0, 1.0]), p).mean() <= 0.05


@pytest.mark.full
def test_betting_miscoverage_at_any_time_is_at_most_alpha_many_streams():
    """20,000 streams of 400 batches of 10 at p = 0.3 and 0.05."""
    for p, seed in ((0.3, 31), (0.05, 32)):
        b, p = _simulate(20000, 400, 10, p, seed=seed)
        counts = np.stack([b.n - b.sums, b.sums], axis=-1)
        assert _ever_rejected(counts, np.array([0.0, 1.0]), p).mean() <= 0.05
