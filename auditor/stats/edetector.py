"""The flip-rate change detector of ``auditor monitor`` (:mod:`auditor.monitor`): an e-detector (Shin, Ramdas &
Rinaldo 2022, "E-detectors: a nonparametric framework for sequential change detection") for "every re-judgment from
some batch on flips with chance above ``R``", from each batch's counts of re-judged and flipped anchors.

:func:`flip_log_evidence` gives ``log M_t`` after each batch (a nonnegative supermartingale starting at 1 while no
re-judgment flips with chance above ``R`` given the past, so ``P(M_t >= 1 / alpha for some t) <= alpha``, Ville);
:func:`flip_top_starts` names the start batch that contributes most.
"""

from __future__ import annotations

import numpy as np

#: The bets of the flip-rate detector as fractions ``c`` of the largest one, ``lambda = c / R``: ``1/2, 1/4, ...,
#: 1/1024``.  Bet ``c`` is the likelihood ratio of a flip rate ``q = R + c (1 - R)`` against ``R`` (a flip multiplies
#: the capital by ``q / R``, a kept verdict by ``(1 - q) / (1 - R)``), so the grid covers excess rates from half the
#: way to 1 down to a thousandth of it; averaging them costs at most ``log 10`` of evidence against the best one.
#: A fixed mixture rather than a predictable bet chosen from earlier batches: for a start at a change, such a bet
#: would come from the quiet batches before it (a small one) or be guessed, while every bet of the grid is in play
#: from the change's first batch; and an average of test supermartingales is one, with no estimate to carry.
BET_FRACTIONS = 0.5 ** np.arange(1, 11)


def _log_bets(limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Per bet of :data:`BET_FRACTIONS`: the log factor of a flip, ``log(1 + lambda (1 - R))`` (infinite when
    ``R = 0``: a flip refutes a flip chance of 0), and of a kept verdict, ``log(1 - lambda R)``."""
    with np.errstate(divide="ignore"):
        flip = (
            np.log1p(BET_FRACTIONS * (1 - limit) / limit)
            if limit > 0
            else np.full(BET_FRACTIONS.shape, np.inf)
        )
    return flip, np.log1p(-BET_FRACTIONS)


def _log_capital(flips: np.ndarray, kept: np.ndarray, limit: float) -> np.ndarray:
    """``log prod (1 + lambda (x - R))`` over ``flips`` flipped and ``kept`` kept re-judgments, per bet (a new
    last axis); a count of 0 contributes nothing (also where a flip's factor is infinite)."""
    flip, keep = _log_bets(limit)
    flips, kept = np.asarray(flips, float)[..., None], np.asarray(kept, float)[..., None]
    with np.errstate(invalid="ignore"):  # 0 x inf where R = 0: no flip, no factor
        return np.where(flips > 0, flips * flip, 0.0) + kept * keep


def _start_weights(batches: int) -> np.ndarray:
    """``log w_s`` with ``w_s = 1 / (s (s + 1))`` for the starts ``s = 1 ... batches`` (``sum_s w_s = 1``)."""
    s = np.arange(1, batches + 1, dtype=float)
    return -np.log(s) - np.log(s + 1)


def flip_log_evidence(n: object, flips: object, limit: float) -> np.ndarray:
    """``log M_t`` of the flip-rate change detector after each batch ``t`` of re-judged anchors (last axis; leading
    axes: independent streams), from the batches' counts ``n`` (re-judged) and ``flips`` (flipped).

    ``M_t = sum_s w_s E_{s,t}``, ``w_s = 1 / (s (s + 1))``, ``E_{s,t} = 1`` for ``t < s`` and else the average over
    the bets ``lambda`` of :data:`BET_FRACTIONS` of ``prod_{k=s..t} (1 + lambda (1 - R))^f_k (1 - lambda R)^(n_k -
    f_k)``: an e-detector (Shin, Ramdas & Rinaldo 2022) whose every ``E_{s,t}`` is a test supermartingale for "each
    re-judgment from batch ``s`` on flips with chance ``<= R`` given the past" (the bets are fixed in advance: an
    average of test supermartingales is one).  If no re-judgment ever flips with chance above ``R``, ``M`` is a
    nonnegative supermartingale with ``M_0 = 1``, so ``P(M_t >= 1 / alpha for some t) <= alpha`` (Ville).  Computed
    in ``O(batches x bets)``: ``E_{s,t} = exp(L(t) - L(s - 1))`` with ``L`` the cumulated log capital, and ``sum_{s
    <= t} w_s exp(-L(s - 1))`` a running log-sum-exp.

    >>> [round(float(np.exp(v)), 3) for v in flip_log_evidence([40, 40, 40], [0, 8, 8], 0.05)]
    [0.718, 8.703, 1274.077]
    """
    n, flips = np.asarray(n, float), np.asarray(flips, float)
    log_capital = np.cumsum(_log_capital(flips, n - flips, limit), axis=-2)  # (..., t, bet)
    before = np.concatenate([np.zeros_like(log_capital[..., :1, :]), log_capital[..., :-1, :]], axis=-2)
    log_w = _start_weights(n.shape[-1])[:, None]
    started = np.logaddexp.accumulate(log_w - before, axis=-2)  # log sum_{s <= t} w_s exp(-L(s - 1))
    mixture = _logmeanexp(log_capital + started, axis=-1)
    not_started = -np.log(np.arange(2, n.shape[-1] + 2, dtype=float))  # sum_{s > t} w_s = 1 / (t + 1)
    return np.logaddexp(mixture, not_started)


def _logmeanexp(values: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.mean(np.exp(values - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def flip_top_starts(n: object, flips: object, limit: float) -> np.ndarray:
    """For each batch ``t`` of one stream, the start ``s`` (0-based) whose term ``w_s E_{s,t}`` of
    :func:`flip_log_evidence` is the largest: the batch since which the flips say most clearly that the rate is
    above ``R`` (the earliest such start on a tie; with ``R = 0``, where every start before a flip has infinite
    evidence, the first batch with a flip).  ``O(batches^2 x bets)``, in blocks of ``t``."""
    n, flips = np.asarray(n, float), np.asarray(flips, float)
    batches = n.size
    cum_flips = np.concatenate([[0.0], np.cumsum(flips)])
    cum_kept = np.concatenate([[0.0], np.cumsum(n - flips)])
    log_w = _start_weights(batches)
    top = np.zeros(batches, dtype=int)
    block = max(1, 4_000_000 // max(1, batches * BET_FRACTIONS.size))
    for first in range(0, batches, block):
        t = np.arange(first, min(batches, first + block))
        flipped = cum_flips[t + 1][:, None] - cum_flips[None, :batches]  # (t, s): flips in batches s..t
        kept = cum_kept[t + 1][:, None] - cum_kept[None, :batches]
        terms = log_w + _logmeanexp(_log_capital(flipped, kept, limit), axis=-1)
        terms = np.where(np.arange(batches)[None, :] <= t[:, None], terms, -np.inf)
        infinite = np.isposinf(terms) & (flips > 0)[None, :]
        top[t] = np.where(infinite.any(axis=1), np.argmax(infinite, axis=1), np.argmax(terms, axis=1))
    return top
