"""Prediction-powered inference for a mean (PPI++, Angelopoulos, Duchi & Zrnic 2023), clustered.

A judge labelled ``N`` items (the *unlabelled* set, judge verdicts ``Yhat``); humans labelled ``n`` of them, or
other items (the *labelled* set, human values ``Y`` beside the judge's ``Yhat``).  The power-tuned estimate of
the human mean is

    theta(lam) = lam * mean_unlabelled(Yhat) + mean_labelled(Y - lam * Yhat),

unbiased for every ``lam`` when the labelled items are a random sample of the same population; ``lam = 0`` is the
human-only mean, ``lam = 1`` plain PPI.  ``lam`` is tuned to minimise the estimated variance and clipped to
``[0, 1]`` (as ``ppi_py`` does), so the estimate is asymptotically never worse than the human-only mean.

Clusters (users).  Everything is computed from per-cluster sums ``v_g = (N_g, S_g, n_g, T_g, U_g)``: items of
cluster ``g`` in the unlabelled set and the sum of their ``Yhat``; items in the labelled set and the sums of their
``Y`` and ``Yhat``; plus the outer products ``v_g v_g^T``.  With ``A = S/N``, ``B = T/n``, ``C = U/n`` and the
per-cluster influence terms ``a_g = (S_g - A N_g)/N``, ``b_g = (T_g - B n_g)/n``, ``c_g = (U_g - C n_g)/n``,
``d_g = c_g - a_g``:

    theta = B - lam (C - A),   Var(theta) = sum_g (b_g - lam d_g)^2   (cluster-robust sandwich),
    lam* = sum_g b_g d_g / sum_g d_g^2,   Var(human-only) = sum_g b_g^2.

A labelled item that is also in the unlabelled set (the audit's design: every judged item is "unlabelled", the
human-labelled ones also "labelled") shares its cluster with itself, so the covariance between the two means is
counted; without cluster ids every labelled and every unlabelled row is its own cluster (``ppi_py``'s design of
disjoint sets), and then the interval is exactly ``ppi_py.ppi_mean_ci`` for a given ``lam``.

Because the statistic is a function of per-cluster sums it runs through the project's cluster bootstrap
(:class:`~auditor.stats.bootstrap.Resampler`), re-tuning ``lam`` in every resample; that is what the audit reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from auditor.stats.bootstrap import Estimate, Resampler

N_STATS = 5  # N_g, S_g, n_g, T_g, U_g
N_COLUMNS = N_STATS + N_STATS * N_STATS


def cluster_sums(
    y: np.ndarray,
    yhat: np.ndarray,
    cluster: np.ndarray,
    yhat_unlabelled: np.ndarray,
    cluster_unlabelled: np.ndarray,
    n_clusters: int,
) -> np.ndarray:
    """``(G, 30)`` per-cluster sufficient statistics: ``v_g`` (5) and the flattened ``v_g v_g^T`` (25).

    ``y`` / ``yhat`` / ``cluster``: the labelled rows; ``yhat_unlabelled`` / ``cluster_unlabelled``: the unlabelled
    rows; cluster codes in ``0..n_clusters-1``.
    """
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    yhat_u = np.asarray(yhat_unlabelled, float)
    cluster, cluster_u = np.asarray(cluster, np.int64), np.asarray(cluster_unlabelled, np.int64)
    if y.shape != yhat.shape or y.shape != cluster.shape or yhat_u.shape != cluster_u.shape:
        raise ValueError(
            "y, yhat and cluster must have the same length; so must yhat_unlabelled and its clusters"
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(yhat)) and np.all(np.isfinite(yhat_u))):
        raise ValueError("PPI needs finite values: drop the items without a label first")
    v = np.column_stack(
        [
            np.bincount(cluster_u, minlength=n_clusters).astype(float),
            np.bincount(cluster_u, weights=yhat_u, minlength=n_clusters),
            np.bincount(cluster, minlength=n_clusters).astype(float),
            np.bincount(cluster, weights=y, minlength=n_clusters),
            np.bincount(cluster, weights=yhat, minlength=n_clusters),
        ]
    )
    return with_outer(v)


def with_outer(v: np.ndarray) -> np.ndarray:
    """``(G, 30)`` from the ``(G, 5)`` per-cluster sums ``v_g``: ``v_g`` and the flattened ``v_g v_g^T``."""
    outer = (v[:, :, None] * v[:, None, :]).reshape(v.shape[0], N_STATS * N_STATS)
    return np.hstack([v, outer])


def from_sums(sums: np.ndarray, lam: float | None = None) -> dict[str, np.ndarray]:
    """PPI++ from summed statistics (leading axes = replicates): ``value``, ``lam``, ``variance`` (sandwich),
    ``classical_value`` (human-only mean of the labelled set) and ``classical_variance``."""
    s = np.asarray(sums, float)
    v = s[..., :N_STATS]
    m = s[..., N_STATS:].reshape(s.shape[:-1] + (N_STATS, N_STATS))
    big_n, big_s, n, t, u = np.moveaxis(v, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_mean, b_mean, c_mean = big_s / big_n, t / n, u / n
        zero = np.zeros_like(big_n)
        a = np.stack([-a_mean / big_n, 1.0 / big_n, zero, zero, zero], -1)
        b = np.stack([zero, zero, -b_mean / n, 1.0 / n, zero], -1)
        c = np.stack([zero, zero, -c_mean / n, zero, 1.0 / n], -1)
        d = c - a

        def quad(x: np.ndarray, z: np.ndarray) -> np.ndarray:
            return np.einsum("...i,...ij,...j->...", x, m, z)

        bmb, bmd, dmd = quad(b, b), quad(b, d), quad(d, d)
        if lam is None:
            tuned = np.where(dmd > 0, bmd / dmd, 0.0)
            lam_arr = np.clip(np.nan_to_num(tuned, nan=0.0), 0.0, 1.0)
        else:
            lam_arr = np.full_like(big_n, float(lam))
        value = b_mean - lam_arr * (c_mean - a_mean)
        variance = bmb - 2.0 * lam_arr * bmd + lam_arr**2 * dmd
    return {
        "value": value,
        "lam": lam_arr,
        "variance": np.maximum(variance, 0.0),
        "classical_value": b_mean,
        "classical_variance": np.maximum(bmb, 0.0),
    }


def point(per_cluster: np.ndarray, lam: float | None = None) -> dict[str, float]:
    """:func:`from_sums` of the totals of ``(G, 30)`` per-cluster statistics, as plain floats."""
    out = from_sums(np.asarray(per_cluster, float).sum(axis=0)[None, :], lam)
    return {k: float(v[0]) for k, v in out.items()}


def ppi_estimate(sums: np.ndarray, rs: Resampler, n: int, lam: float | None = None) -> Estimate:
    """The PPI++ mean through the cluster bootstrap (``lam`` re-tuned in every resample when ``None``)."""
    return rs.sums(sums, lambda s: from_sums(s, lam)["value"], n)


def classical_estimate(sums: np.ndarray, rs: Resampler, n: int) -> Estimate:
    """The human-only mean of the labelled set, from the same sums and resamples (paired with the PPI one)."""
    return rs.sums(sums, lambda s: from_sums(s, 0.0)["classical_value"], n)


def effective_labels(n_labelled: int, width_classical: float, width_ppi: float) -> float:
    """Human labels a human-only estimate would need for an interval as narrow as the PPI one:
    ``n * (width_classical / width_ppi)**2`` (interval half-widths shrink as ``1 / sqrt(n)``)."""
    if not (np.isfinite(width_classical) and np.isfinite(width_ppi)) or width_ppi <= 0:
        return float("nan")
    return float(n_labelled * (width_classical / width_ppi) ** 2)


@dataclass
class PPIMean:
    """A PPI++ mean with its Wald interval, beside the human-only mean of the same labelled items."""

    value: float
    ci_low: float
    ci_high: float
    se: float
    lam: float
    classical_value: float
    classical_ci_low: float
    classical_ci_high: float
    classical_se: float
    n_labelled: int
    n_unlabelled: int
    n_clusters: int

    @property
    def effective_labels(self) -> float:
        """``n * Var(human-only) / Var(PPI)``: the human labels the judge's verdicts are worth, in all."""
        return effective_labels(self.n_labelled, self.classical_se, self.se)

    @property
    def extra_labels(self) -> float:
        """The judge was worth this many extra human labels."""
        return self.effective_labels - self.n_labelled


def _codes(
    labelled: np.ndarray | None, unlabelled: np.ndarray | None, n: int, big_n: int
) -> tuple[np.ndarray, np.ndarray, int]:
    if labelled is None and unlabelled is None:
        return np.arange(n), n + np.arange(big_n), n + big_n
    if labelled is None or unlabelled is None:
        raise ValueError("give cluster ids for both the labelled and the unlabelled rows, or for neither")
    codes, uniques = pd.factorize(
        pd.Series(np.concatenate([np.asarray(labelled, object), np.asarray(unlabelled, object)]))
    )
    return codes[:n].astype(np.int64), codes[n:].astype(np.int64), len(uniques)


def ppi_mean(
    y: np.ndarray,
    yhat: np.ndarray,
    yhat_unlabelled: np.ndarray,
    *,
    cluster: np.ndarray | None = None,
    cluster_unlabelled: np.ndarray | None = None,
    lam: float | None = None,
    level: float = 0.95,
) -> PPIMean:
    """PPI++ estimate of the mean of ``y`` with a Wald interval ``value +- z * se`` (cluster-robust sandwich).

    Parameters
    ----------
    y, yhat
        Human value and judge value on each labelled item (e.g. 0/1 "no better" indicators, or ratings).
    yhat_unlabelled
        Judge value on each unlabelled item.  In an audit the unlabelled set is every judged item, the labelled
        items included; pass the same cluster id for an item in both sets (an item id will do).
    cluster, cluster_unlabelled
        Cluster (user) of each row; without them every row is its own cluster and the two sets are independent,
        which is ``ppi_py``'s setting.
    lam
        Power-tuning parameter; ``None`` tunes it (clipped to ``[0, 1]``), ``0`` gives the human-only mean,
        ``1`` plain PPI.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(200) < 0.5
    >>> yhat = np.where(rng.random(200) < 0.8, y, ~y)
    >>> yhat_u = rng.random(2000) < 0.5
    >>> r = ppi_mean(y, yhat, yhat_u)
    >>> bool(r.ci_high - r.ci_low < r.classical_ci_high - r.classical_ci_low)
    True
    """
    y = np.asarray(y, float)
    yhat = np.asarray(yhat, float)
    yhat_u = np.asarray(yhat_unlabelled, float)
    c_l, c_u, g = _codes(cluster, cluster_unlabelled, y.size, yhat_u.size)
    out = point(cluster_sums(y, yhat, c_l, yhat_u, c_u, g), lam)
    z = float(ndtri(0.5 + level / 2.0))
    se, se_c = np.sqrt(out["variance"]), np.sqrt(out["classical_variance"])
    return PPIMean(
        out["value"],
        out["value"] - z * se,
        out["value"] + z * se,
        float(se),
        out["lam"],
        out["classical_value"],
        out["classical_value"] - z * se_c,
        out["classical_value"] + z * se_c,
        float(se_c),
        int(y.size),
        int(yhat_u.size),
        int(g),
    )
