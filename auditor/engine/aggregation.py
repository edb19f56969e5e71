"""Per-item aggregation of several labels (human raters, judge samples, both presentation orders).

Categorical labels are aggregated from an ``(items, K)`` table of counts, so one rule serves the reference and
every judge: ``majority`` (the most frequent category; without a strict winner the declared tie-break decides),
``median`` (likert; a median between two scale points is resolved by the tie-break: ``neutral`` rounds toward the
neutral point, ``lower`` / ``upper`` round down / up) and, for scores, ``mean``.
"""

from __future__ import annotations

import numpy as np

NONE = -1  # no aggregate label (nothing rated, or excluded by the tie-break)


def count_table(item_index: np.ndarray, codes: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """``(n_items, k)`` counts of each category per item."""
    flat = np.bincount(item_index * k + codes, minlength=n_items * k)
    return flat.reshape(n_items, k).astype(np.int64, copy=False)  # bincount's counts are int64 already


def majority(counts: np.ndarray, tie_break: str, tie_code: int | None = None) -> np.ndarray:
    """Most frequent category per item; rows without a strict winner follow ``tie_break``.

    ``tie`` gives ``tie_code`` (pairwise: the tie category), ``neutral`` likewise, ``exclude`` gives
    :data:`NONE`, ``lower`` / ``upper`` the lowest / highest of the tied categories.
    """
    counts = np.asarray(counts)
    top, n_winners, out = _winners(counts)
    empty = top == 0
    tied = (n_winners > 1) & ~empty
    if tied.any():
        if tie_break in ("tie", "neutral") and tie_code is not None:
            out[tied] = tie_code
        elif tie_break == "lower":
            pass  # the first of the tied categories, as it stands
        elif tie_break == "upper":
            k = counts.shape[1]
            winners = counts[tied] == top[tied, None]
            out[tied] = k - 1 - np.argmax(winners[:, ::-1], axis=1)
        else:
            out[tied] = NONE
    out[empty] = NONE
    return out


def _winners(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of an ``(items, K)`` table: the largest count, how many categories reach it and the first that
    does (``argmax``), a column at a time: numpy reduces a short last axis row by row, several times slower."""
    top = counts[:, 0].copy()
    for j in range(1, counts.shape[1]):
        np.maximum(top, counts[:, j], out=top)
    n_winners = np.zeros(len(counts), dtype=np.int64)
    first = np.zeros(len(counts), dtype=np.int64)
    for j in reversed(range(counts.shape[1])):
        reached = counts[:, j] == top
        n_winners += reached
        first[reached] = j
    return top, n_winners, first


def split_ties(counts: np.ndarray, code: np.ndarray, tie_code: int) -> np.ndarray:
    """Items whose aggregate is the tie (``tie_code``) although no strict majority of their votes said tie: ties
    that the aggregation rule made out of split votes (e.g. one rater ``a``, one ``b``; or ``a``, ``tie``, ``b``).

    >>> split_ties(np.array([[1, 0, 1], [0, 2, 1], [1, 1, 0], [0, 1, 0]]), np.array([1, 1, 1, 1]), 1).tolist()
    [True, False, True, False]
    """
    counts = np.asarray(counts)
    return (np.asarray(code) == tie_code) & (2 * counts[:, tie_code] <= counts.sum(axis=1))


def median(counts: np.ndarray, tie_break: str, neutral_code: int) -> np.ndarray:
    """Median category per item (ordinal codes); an even count between two codes follows ``tie_break``."""
    counts = np.asarray(counts)
    m = counts.sum(axis=1)
    cum = np.cumsum(counts, axis=1)
    lower_pos = (m + 1) // 2  # 1-based position of the lower median
    upper_pos = m // 2 + 1
    lower = np.argmax(cum >= lower_pos[:, None], axis=1)
    upper = np.argmax(cum >= upper_pos[:, None], axis=1)
    twice = lower + upper  # twice the median, an integer
    out = (twice // 2).astype(np.int64)
    split = twice % 2 == 1  # the median falls between two codes
    if split.any():
        lo = twice[split] // 2
        hi = lo + 1
        if tie_break == "upper":
            out[split] = hi
        elif tie_break == "lower":
            out[split] = lo
        elif tie_break == "exclude":
            out[split] = NONE
        else:  # neutral (and 'tie'): the point nearer the neutral one
            out[split] = np.where(np.abs(lo - neutral_code) <= np.abs(hi - neutral_code), lo, hi)
    out[m == 0] = NONE
    return out


def mean_values(item_index: np.ndarray, values: np.ndarray, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean value per item and the number of values (NaN where none)."""
    sums = np.bincount(item_index, weights=values, minlength=n_items)
    n = np.bincount(item_index, minlength=n_items)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, sums / np.maximum(n, 1), np.nan), n
