"""Anytime-valid confidence sequences for a bounded mean, observed in batches.

A *confidence sequence* ``(L_k, U_k)`` covers the mean ``mu`` at every time at once:
``P(exists k: mu not in [L_k, U_k]) <= alpha``, so it may be looked at after every batch, for ever, and a decision
taken whenever it excludes a value keeps its type-I error at ``alpha`` (a fixed-n interval looked at after every
batch does not: its miscoverage grows with the number of looks).

The sequence is the predictable-mixture empirical-Bernstein one (PrPl-EB, Waudby-Smith & Ramdas 2023, "Estimating
means of bounded random variables by betting", JRSS-B, Theorem 2), with the conventions of its reference
implementation (``confseq.predmix.predmix_empbern_cs``, Howard & Waudby-Smith): observations ``x`` in ``[0, 1]``,
``alpha / 2`` on each side, the bet

    lambda_t = min(sqrt(2 log(2 / alpha) / (sigma2_{t-1} t log(1 + t))), 1/2),
    sigma2_t = (1/4 + sum_{i <= t} (x_i - mu~_i)^2) / (t + 1),   mu~_t = (1/2 + sum_{i <= t} x_i) / (t + 1),

the variance increments ``v_i = (x_i - xbar_{i-1})^2`` around the previous plain mean (0 before the first
observation for the lower bound, computed on ``1 - x`` for the upper one, so 1 there), ``psi(l) = -log(1 - l) - l``
and

    L_t = sum lambda_i x_i / sum lambda_i - (log(2 / alpha) + sum v_i psi(lambda_i)) / sum lambda_i.

``exp(sum lambda_i (x_i - mu) - sum v_i psi(lambda_i))`` is a nonnegative supermartingale whenever ``lambda_i`` and
the centre of ``v_i`` are fixed before ``x_i`` is seen (Fan et al. 2015), so Ville's inequality gives the
guarantee, for any dependence, as long as every ``x_i`` has conditional mean ``mu`` given the past.

**Batches.**  Here the observations arrive in batches (an audit, a judged batch with its spot checks), and within a
batch their order means nothing.  Every item of batch ``k`` gets the same bet ``lambda`` (the formula above at
``t = N_k``, the count at the batch's end, with ``sigma2`` of the earlier batches) and the same centre (the mean of
the earlier batches); both are fixed before the batch is seen, so the guarantee holds, and the sequence depends
only on each batch's count, sum and sum of squares (order-free, and what the state of ``auditor monitor`` keeps).
``sigma2`` adds each batch's ``sum (x_i - mu~_k)^2`` around the regularised mean after that batch.  With batches of
one observation this is exactly ``confseq``'s item-by-item sequence (tested).  The batch sizes must not depend on
the batch's own outcomes.  Bounds are clipped to ``[0, 1]`` and intersected over time (running intersection).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: The bets are truncated here (``confseq``'s default for the empirical-Bernstein sequence).
TRUNCATION = 0.5


@dataclass(frozen=True)
class BatchSums:
    """Per-batch sufficient statistics of observations in ``[low, high]``: counts, sums and sums of squares,
    arrays whose last axis is the batch (leading axes: independent streams, e.g. simulated ones)."""

    n: np.ndarray
    sums: np.ndarray
    squares: np.ndarray

    @classmethod
    def of(cls, n: object, sums: object, squares: object) -> BatchSums:
        return cls(np.asarray(n, float), np.asarray(sums, float), np.asarray(squares, float))

    def rescaled(self, low: float, high: float) -> BatchSums:
        """The sums of ``(x - low) / (high - low)``, observations mapped onto ``[0, 1]``."""
        width = high - low
        sums = (self.sums - self.n * low) / width
        squares = (self.squares - 2 * low * self.sums + self.n * low * low) / width**2
        return BatchSums(self.n, sums, squares)

    def three_point_counts(self, low: float, high: float) -> np.ndarray:
        """Observations that take only the values ``low``, the midpoint and ``high`` (a gap in {-1, 0, 1}, a flip
        in {0, 1}): their counts per batch, ``[..., k, (low, mid, high)]``, from the sums (for ``x`` rescaled to
        ``[0, 1]``: ``mid = 4 (S - Q)``, ``high = 2 Q - S``); the input to :func:`betting_sequence`."""
        unit = self.rescaled(low, high)
        mid = 4 * (unit.sums - unit.squares)
        top = 2 * unit.squares - unit.sums
        return np.stack([unit.n - mid - top, mid, top], axis=-1)


def _shift(values: np.ndarray, first: float) -> np.ndarray:
    """``values`` moved one batch later along the last axis, ``first`` in front (the value before batch 1)."""
    pad = np.full(values.shape[:-1] + (1,), first)
    return np.concatenate([pad, values[..., :-1]], axis=-1)


def _centred_squares(b: BatchSums, centre: np.ndarray) -> np.ndarray:
    """Per batch ``sum_i (x_i - c)^2 = Q - 2 c S + n c^2``."""
    return np.maximum(b.squares - 2 * centre * b.sums + b.n * centre * centre, 0.0)


def bets(b: BatchSums, alpha: float, truncation: float = TRUNCATION) -> np.ndarray:
    """The bet of each batch (the same for every item of it): ``lambda`` at ``t = N_k`` with the regularised
    variance of the batches before, ``0`` for an empty batch."""
    total = np.cumsum(b.n, axis=-1)
    mean_after = np.minimum((0.5 + np.cumsum(b.sums, axis=-1)) / (total + 1), 1.0)
    spread = np.cumsum(_centred_squares(b, mean_after), axis=-1)
    sigma2_before = _shift((0.25 + spread) / (total + 1), 0.25)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.sqrt(2 * np.log(1 / alpha) / (total * np.log1p(total) * sigma2_before))
    lam = np.where(np.isfinite(lam), lam, 0.0)
    return np.where(b.n > 0, np.minimum(lam, truncation), 0.0)


def _lower(b: BatchSums, lam: np.ndarray, alpha: float, first_centre: float) -> np.ndarray:
    """confseq's ``predmix_lower_cs`` in batches, for observations in ``[0, 1]`` (no running intersection)."""
    total_before = _shift(np.cumsum(b.n, axis=-1), 0.0)
    sums_before = _shift(np.cumsum(b.sums, axis=-1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = np.where(total_before > 0, sums_before / total_before, first_centre)
    psi = -np.log1p(-lam) - lam
    weight = np.cumsum(lam * b.n, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.cumsum(lam * b.sums, axis=-1) / weight
        margin = (np.log(1 / alpha) + np.cumsum(_centred_squares(b, centre) * psi, axis=-1)) / weight
    return np.where(weight > 0, mean - margin, -np.inf)


def confidence_sequence(
    b: BatchSums,
    alpha: float = 0.05,
    *,
    low: float = 0.0,
    high: float = 1.0,
    running_intersection: bool = True,
    truncation: float = TRUNCATION,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``1 - alpha`` empirical-Bernstein confidence sequence for the mean of observations in ``[low, high]``,
    after each batch: arrays ``(lower, upper)`` shaped like ``b.n``; before any observation ``[low, high]``.

    >>> lo, hi = confidence_sequence(BatchSums.of([40, 40], [30.0, 31.0], [30.0, 31.0]))
    >>> bool(lo[1] < 61 / 80 < hi[1]) and bool(hi[1] - lo[1] < hi[0] - lo[0])
    True
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if not high > low:
        raise ValueError(f"the observations' range must have high > low, got [{low}, {high}]")
    unit = b.rescaled(low, high)
    lam = bets(unit, alpha / 2, truncation)
    lower = _lower(unit, lam, alpha / 2, 0.0)
    mirrored = BatchSums(unit.n, unit.n - unit.sums, unit.n - 2 * unit.sums + unit.squares)  # 1 - x
    upper = 1 - _lower(mirrored, lam, alpha / 2, 0.0)
    lower, upper = np.clip(lower, 0.0, 1.0), np.clip(upper, 0.0, 1.0)
    if running_intersection:
        lower, upper = np.maximum.accumulate(lower, axis=-1), np.minimum.accumulate(upper, axis=-1)
        upper = np.maximum(upper, lower)  # an empty intersection (probability <= alpha) shows as one point
    return low + (high - low) * lower, low + (high - low) * upper


# -- betting: the hedged capital process -------------------------------------------------------------------------
#: The grid of candidate means a betting sequence is read on (``confseq``'s default: 1,000 steps over [0, 1]).
BREAKS = 1000


#: The values of three-point observations rescaled to [0, 1] (:meth:`BatchSums.three_point_counts`).
THREE_POINTS = np.array([0.0, 0.5, 1.0])


def hedged_log_capital(
    values: np.ndarray,
    counts: np.ndarray,
    grid: np.ndarray,
    alpha: float = 0.05,
    *,
    theta: float = 0.5,
    trunc_scale: float = 0.5,
) -> Iterator[np.ndarray]:
    """After each batch, the log of the hedged capital ``max(theta K+(m), (1 - theta) K-(m))`` at every candidate
    mean ``m`` of ``grid``, shaped ``counts.shape[:-2] + grid.shape`` (see :func:`betting_sequence`); ``m`` is in
    the sequence while it is below ``log(1 / alpha)``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    values, counts, grid = np.asarray(values, float), np.asarray(counts, float), np.asarray(grid, float)
    n = counts.sum(-1)
    sums = (counts * values).sum(-1)
    squares = (counts * values * values).sum(-1)
    lam = bets(BatchSums(n, sums, squares), alpha, truncation=np.inf)  # (..., K)
    with np.errstate(divide="ignore"):
        cap_plus, cap_minus = trunc_scale / grid, trunc_scale / (1 - grid)
    log_plus = np.zeros(counts.shape[:-2] + grid.shape)
    log_minus = np.zeros_like(log_plus)
    deviation = values[:, None] - grid[None, :]  # (V, G)
    for k in range(counts.shape[-2]):
        bet = lam[..., k, None]  # (..., 1)
        l_plus, l_minus = np.minimum(bet, cap_plus), np.minimum(bet, cap_minus)  # (..., G)
        c = counts[..., k, :, None]  # (..., V, 1)
        log_plus = log_plus + np.sum(c * np.log1p(l_plus[..., None, :] * deviation), axis=-2)
        log_minus = log_minus + np.sum(c * np.log1p(-l_minus[..., None, :] * deviation), axis=-2)
        yield np.maximum(np.log(theta) + log_plus, np.log(1 - theta) + log_minus)


def betting_sequence(
    values: np.ndarray,
    counts: np.ndarray,
    alpha: float = 0.05,
    *,
    breaks: int = BREAKS,
    running_intersection: bool = True,
    theta: float = 0.5,
    trunc_scale: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """The hedged-capital betting confidence sequence (Waudby-Smith & Ramdas 2023, Section 4.3) for the mean of
    observations taking the ``values`` (in ``[0, 1]``), in batches: ``counts[..., k, v]`` observations of value
    ``v`` in batch ``k``.  Returns ``(lower, upper)`` shaped ``counts.shape[:-1]``.

    For a candidate mean ``m`` the two capital processes bet that the mean is above / below it,

        K+_t(m) = prod (1 + l+_i(m) (x_i - m)),   K-_t(m) = prod (1 - l-_i(m) (x_i - m)),
        l+(m) = min(lambda, trunc_scale / m),     l-(m) = min(lambda, trunc_scale / (1 - m)),

    with ``lambda`` the predictable plug-in bet of :func:`bets` (at ``alpha``, untruncated) fixed per batch; ``m``
    is in the sequence while ``max(theta K+, (1 - theta) K-) < 1 / alpha``.  Read on the grid ``j / breaks``: the
    sequence runs from the first grid point in it minus ``1 / breaks`` to the last plus ``1 / breaks`` (``[0, 1]``
    when none is), as ``confseq.betting.betting_cs`` with ``lambda_predmix_eb`` bets on both sides and
    ``m_trunc=True`` reads it; with batches of one it is that sequence (tested).  Each capital process is a
    nonnegative martingale at the true mean (the bets are fixed before each batch), so Ville's inequality bounds
    the chance that the hedged capital at the true mean ever reaches ``1 / alpha``, hence that the sequence ever
    misses it, by ``alpha``.
    """
    grid = np.arange(breaks + 1) / breaks
    shape = np.shape(counts)[:-1]
    lower, upper = np.zeros(shape), np.ones(shape)
    threshold = np.log(1 / alpha)
    for k, capital in enumerate(
        hedged_log_capital(values, counts, grid, alpha, theta=theta, trunc_scale=trunc_scale)
    ):
        inside = capital < threshold  # (..., G)
        any_in = inside.any(-1)
        first = np.argmax(inside, axis=-1)
        last = grid.size - 1 - np.argmax(inside[..., ::-1], axis=-1)
        lower[..., k] = np.where(any_in, np.maximum(grid[first] - 1 / breaks, 0.0), 0.0)
        upper[..., k] = np.where(any_in, np.minimum(grid[last] + 1 / breaks, 1.0), 1.0)
    if running_intersection:
        lower, upper = np.maximum.accumulate(lower, axis=-1), np.minimum.accumulate(upper, axis=-1)
        upper = np.maximum(upper, lower)
    return lower, upper


#: The sequences :func:`three_point_sequence` offers.
METHODS = ("betting", "empirical-bernstein")


def three_point_sequence(
    b: BatchSums, alpha: float, low: float, high: float, method: str = "betting"
) -> tuple[np.ndarray, np.ndarray]:
    """The ``1 - alpha`` confidence sequence of the mean of observations taking only ``low``, the midpoint and
    ``high``, by ``method``: ``betting`` (:func:`betting_sequence`, the narrower) or ``empirical-bernstein``
    (:func:`confidence_sequence`, closed form)."""
    if method == "empirical-bernstein":
        return confidence_sequence(b, alpha, low=low, high=high)
    if method != "betting":
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    lower, upper = betting_sequence(THREE_POINTS, b.three_point_counts(low, high), alpha)
    return low + (high - low) * lower, low + (high - low) * upper
