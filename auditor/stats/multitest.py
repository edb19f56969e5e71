"""p-value adjustment across judges: Holm, Bonferroni, Benjamini-Hochberg, Benjamini-Yekutieli.

The same numbers as ``statsmodels.stats.multitest.multipletests`` (tested against it), without its
``gc.collect()`` per call, which costs a third of a second when a million label rows are alive.
"""

from __future__ import annotations

import numpy as np

METHODS = ("holm", "bonferroni", "fdr_bh", "fdr_by", "none")


def adjust(p_values: np.ndarray, method: str = "holm") -> np.ndarray:
    """Adjusted p-values (capped at 1) for one family of tests."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="mergesort")
    ranked = p[order]
    if method == "holm":
        stepped = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method in ("fdr_bh", "fdr_by"):
        factor = np.sum(1.0 / np.arange(1, m + 1)) if method == "fdr_by" else 1.0
        stepped = np.minimum.accumulate((ranked * m * factor / np.arange(1, m + 1))[::-1])[::-1]
    else:
        raise ValueError(f"unknown correction {method!r}; expected one of {', '.join(METHODS)}")
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out
