"""The Alternative Annotator Test (Calderon, Reichart & Dror 2025, ACL): may the judge replace the humans?

Leave one human rater ``j`` out at a time.  On every item ``i`` that ``j``, the judge ``f`` and at least one other
rater labelled, score how well the judge and how well rater ``j`` align with the *remaining* raters ``H_-j``:

* ``accuracy`` (pairwise, binary, categorical): ``S(x) = mean_k 1[x == h_k]`` over the remaining raters ``k``;
* ``neg_rmse`` (likert, score): ``S(x) = -sqrt(mean_k (x - h_k)^2)``;
* ``neg_rmse_rank``: the same on percentile mid-ranks (each rater's, and the judge's, values ranked over the items
  that rater labelled, ``(rank - 1/2) / count``), for when the ordering matters rather than the scale.

``W_f = 1[S(f) >= S(h_j)]``, ``W_h = 1[S(h_j) >= S(f)]`` and ``d = W_h - W_f``.  The judge "wins" against rater
``j`` when the one-sided test of ``H0: E[d] >= epsilon`` against ``H1: E[d] < epsilon`` rejects: a t-test with the
cluster-robust standard error ``se^2 = G/(G-1) sum_g (sum_{i in g} (d_i - mean d))^2 / n^2`` and ``G - 1``
degrees of freedom, which is exactly the paper's one-sample t-test when every item is its own cluster (with
several items per user it does not pretend they are independent).  ``epsilon`` (default 0.2, the paper's value
for expert annotators; 0.15 skilled, 0.1 crowd) is the cost-benefit margin granted to the judge.  The p-values
across raters are adjusted by Benjamini-Yekutieli (statsmodels ``fdr_by``) at ``level``; the winning rate
``omega`` is the share of raters the judge wins against, and the judge passes when ``omega >= 0.5``.  The advantage
probability ``rho`` (mean of ``W_f`` over items, averaged over raters) compares judges.

If every ``d_i`` is equal the standard error is zero: the test then rejects exactly when ``mean d < epsilon``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import stdtr

Alignment = Literal["accuracy", "neg_rmse", "neg_rmse_rank"]
Test = Literal["t", "wilcoxon"]
ALIGNMENTS = ("accuracy", "neg_rmse", "neg_rmse_rank")
DEFAULT_EPSILON = 0.2
DEFAULT_LEVEL = 0.05
MIN_ITEMS = 30
MIN_RATERS = 3


@dataclass
class RaterComparison:
    """The judge against one left-out rater."""

    rater: str
    n: int  # items compared
    clusters: int
    judge_advantage: float  # mean W_f: the judge aligns at least as well as the rater
    rater_advantage: float  # mean W_h
    mean_difference: float  # mean d = mean(W_h - W_f)
    statistic: float
    p_value: float
    p_adjusted: float = float("nan")
    judge_wins: bool = False


@dataclass
class AltTestResult:
    winning_rate: float  # omega
    passed: bool  # omega >= 0.5
    advantage_probability: float  # rho
    epsilon: float
    level: float
    alignment: str
    test: str
    raters: list[RaterComparison]
    skipped: dict[str, str] = field(default_factory=dict)  # rater -> why it was left out

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.raters])

    def to_dict(self) -> dict:
        return {
            "winning_rate": self.winning_rate,
            "passed": self.passed,
            "advantage_probability": self.advantage_probability,
            "epsilon": self.epsilon,
            "level": self.level,
            "alignment": self.alignment,
            "test": self.test,
            "raters": [asdict(r) for r in self.raters],
            "skipped": dict(self.skipped),
        }


def percentile_ranks(x: np.ndarray) -> np.ndarray:
    """Mid-ranks of the finite entries scaled to ``(rank - 1/2) / count``; NaN stays NaN."""
    from scipy import stats as sps  # scipy.stats costs ~0.6 s to import: only where it is used

    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if ok.any():
        out[ok] = (sps.rankdata(x[ok]) - 0.5) / ok.sum()
    return out


def alignment_scores(x: np.ndarray, others: np.ndarray, alignment: Alignment) -> np.ndarray:
    """Per item, the alignment of ``x`` (``(n,)``) with the finite entries of ``others`` (``(n, k)``)."""
    present = np.isfinite(others)
    count = present.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if alignment == "accuracy":
            hits = np.where(present, others == x[:, None], False).sum(axis=1)
            return hits / count
        sq = np.where(present, (others - x[:, None]) ** 2, 0.0).sum(axis=1)
        return -np.sqrt(sq / count)


def one_sided_test(
    d: np.ndarray, epsilon: float, cluster: np.ndarray | None = None, test: Test = "t"
) -> tuple[float, float, int]:
    """``H0: E[d] >= epsilon`` vs ``H1: E[d] < epsilon``: (statistic, p-value, clusters)."""
    d = np.asarray(d, float)
    n = d.size
    if cluster is None:
        cluster = np.arange(n)
    _, cluster = np.unique(cluster, return_inverse=True)
    g = int(cluster.max()) + 1 if n else 0
    if n == 0:
        return float("nan"), float("nan"), 0
    mean = float(d.mean())
    if test == "wilcoxon":
        shifted = d - epsilon
        if np.all(shifted == 0):
            return float("nan"), 1.0, g
        from scipy import stats as sps

        res = sps.wilcoxon(shifted, alternative="less")
        return float(res.statistic), float(res.pvalue), g
    if g < 2:
        return float("nan"), float("nan"), g
    resid = np.bincount(cluster, weights=d - mean, minlength=g)
    se = float(np.sqrt(g / (g - 1.0) * np.sum(resid**2)) / n)
    if se == 0.0:
        return (-np.inf if mean < epsilon else np.inf), (0.0 if mean < epsilon else 1.0), g
    t = (mean - epsilon) / se
    return float(t), float(stdtr(g - 1, t)), g  # the Student-t cdf (scipy.stats.t.cdf) from scipy.special


def alt_test(
    human: pd.DataFrame | np.ndarray,
    judge: pd.Series | np.ndarray,
    *,
    alignment: Alignment = "accuracy",
    epsilon: float = DEFAULT_EPSILON,
    level: float = DEFAULT_LEVEL,
    cluster: np.ndarray | None = None,
    raters: list[str] | None = None,
    min_items: int = MIN_ITEMS,
    min_raters: int = MIN_RATERS,
    test: Test = "t",
) -> AltTestResult:
    """Run the alt-test of one judge against human raters.

    Parameters
    ----------
    human
        Items x raters: each rater's numeric label (a category code for ``accuracy``), NaN where the rater did not
        label the item.  A DataFrame's columns name the raters.
    judge
        The judge's numeric label per item (same order), NaN where it gave none.
    cluster
        Cluster (user) per item; default: every item its own cluster (the paper's t-test).
    min_items
        Raters with fewer comparable items are left out (listed in ``skipped``); the paper asks for 30, below
        which a t-test's normal approximation is doubtful (use ``test="wilcoxon"``, which ignores clusters).

    Examples
    --------
    >>> h = np.array([[0, 0, 0], [1, 1, 0], [1, 1, 1], [0, 1, 0]] * 10, float)
    >>> r = alt_test(h, h[:, 0], min_items=10)
    >>> r.winning_rate, r.passed
    (1.0, True)
    """
    if alignment not in ALIGNMENTS:
        raise ValueError(f"unknown alignment {alignment!r}; expected one of {', '.join(ALIGNMENTS)}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if isinstance(human, pd.DataFrame):
        raters = raters or [str(c) for c in human.columns]
        h = human.to_numpy(float)
    else:
        h = np.asarray(human, float)
        raters = raters or [f"rater{j + 1}" for j in range(h.shape[1])]
    f = np.asarray(judge, float)
    if h.ndim != 2 or f.shape != (h.shape[0],):
        raise ValueError("human must be items x raters and judge one value per item")
    if len(raters) < min_raters:
        raise ValueError(f"the alt-test needs at least {min_raters} human raters, got {len(raters)}")
    if alignment == "neg_rmse_rank":
        h = np.column_stack([percentile_ranks(h[:, j]) for j in range(h.shape[1])])
        f = percentile_ranks(f)
    cl = np.arange(h.shape[0]) if cluster is None else np.asarray(cluster)
    present = np.isfinite(h)
    comparisons: list[RaterComparison] = []
    skipped: dict[str, str] = {}
    for j, name in enumerate(raters):
        others = np.delete(h, j, axis=1)
        rows = present[:, j] & np.isfinite(f) & (np.delete(present, j, axis=1).sum(axis=1) >= 1)
        n = int(rows.sum())
        if n < min_items:
            skipped[name] = f"{n} comparable items < {min_items}"
            continue
        s_judge = alignment_scores(f[rows], others[rows], alignment)
        s_rater = alignment_scores(h[rows, j], others[rows], alignment)
        w_judge = (s_judge >= s_rater).astype(float)
        w_rater = (s_rater >= s_judge).astype(float)
        d = w_rater - w_judge
        stat, p, g = one_sided_test(d, epsilon, cl[rows], test)
        comparisons.append(
            RaterComparison(
                name, n, g, float(w_judge.mean()), float(w_rater.mean()), float(d.mean()), stat, p
            )
        )
    if comparisons:
        from statsmodels.stats.multitest import multipletests

        p = np.array([c.p_value for c in comparisons])
        p_for_test = np.where(np.isfinite(p), p, 1.0)
        reject, adjusted, _, _ = multipletests(p_for_test, alpha=level, method="fdr_by")
        for c, r, a in zip(comparisons, reject, adjusted, strict=True):
            c.p_adjusted, c.judge_wins = float(a), bool(r)
        omega = float(np.mean(reject))
        rho = float(np.mean([c.judge_advantage for c in comparisons]))
    else:
        omega, rho = float("nan"), float("nan")
    return AltTestResult(
        omega, bool(omega >= 0.5), rho, float(epsilon), float(level), alignment, test, comparisons, skipped
    )
