"""Cluster bootstrap on sufficient statistics.

Resampling clusters (users, else items) with replacement is the same as giving every cluster a multinomial
weight; a statistic that is a function of per-cluster sums is then evaluated on ``W @ S`` for all resamples at once.
Intervals are bias-corrected and accelerated (BCa, Efron 1987) with the acceleration from the leave-one-cluster-out
jackknife, or plain percentile intervals.
"""

from __future__ import annotations

import warnings
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy.special import ndtr, ndtri, stdtrit

from auditor.stats.analytic import Analytic

Method = Literal["bca", "percentile"]


def cluster_weights(
    n_clusters: int, resamples: int, rng: np.random.Generator, *, out32: np.ndarray | None = None
) -> np.ndarray:
    """``(resamples, n_clusters)`` multinomial counts: how often each cluster is drawn in each resample.

    The draws are ``rng.integers(0, n_clusters, (resamples, n_clusters))``, made and counted a block of rows at a
    time (the bit generator keeps its state between calls, so the blocks continue one stream: the same counts as
    one call, without its ``resamples x n_clusters`` temporary).  ``out32``: a float32 array of the same shape that
    receives the counts too (exact: a count is at most ``n_clusters``)."""
    if n_clusters == 0 or resamples == 0:
        return np.zeros((resamples, n_clusters))
    # int32 draws are the same stream as int64 ones (numpy draws bounded integers below 2**32 from 32-bit halves
    # either way) at half the memory
    dtype = np.int32 if n_clusters <= np.iinfo(np.int32).max else np.int64
    out = np.empty((resamples, n_clusters))
    block = max(1, _COUNT_BLOCK // n_clusters)
    for start in range(0, resamples, block):
        rows = rng.integers(0, n_clusters, size=(min(block, resamples - start), n_clusters), dtype=dtype)
        offsets = (np.arange(rows.shape[0])[:, None] * n_clusters + rows).ravel()
        counts = np.bincount(offsets, minlength=rows.size).reshape(rows.shape)
        out[start : start + rows.shape[0]] = counts
        if out32 is not None:
            out32[start : start + rows.shape[0]] = counts
    return out


_COUNT_BLOCK = 1 << 20  # draws counted at a time by :func:`cluster_weights`
_RECENT_SUMS = 16  # resample sums kept by :meth:`Resampler.resample` for reuse
_EXACT_FLOAT32 = float(1 << 24)  # integers below this are exact in float32, whatever the order of summation
_DYADIC_BITS = 4  # :meth:`Resampler._exact32` tries the scales 1, 2, 4, 8


class Estimate:
    """A statistic's point value with its bootstrap replicates and leave-one-cluster-out jackknife values.

    ``value``, ``boot`` (the replicates), ``jack`` (leave-one-cluster-out values, one per cluster; NaN: the cluster
    holds no data; None: no jackknife), ``n`` and ``clusters`` (clusters that hold data: the sample size the
    interval's expansion uses), ``analytic`` (an analytic standard error beside the bootstrap, assuming
    independent items, or None).  ``boot`` may be given as a function of nothing that returns it: it is then computed
    on first use (see :meth:`Resampler.sums_many`'s ``defer``), so that many statistics share one weights product.
    """

    __slots__ = ("value", "_boot", "jack", "n", "clusters", "analytic")

    def __init__(
        self,
        value: float,
        boot: np.ndarray | Callable[[], np.ndarray],
        jack: np.ndarray | None,
        n: int,
        clusters: int | None = None,
        analytic: Analytic | None = None,
    ) -> None:
        self.value = value
        self._boot = boot
        self.jack = jack
        self.n = n
        self.clusters = clusters
        self.analytic = analytic

    @property
    def boot(self) -> np.ndarray:
        if callable(self._boot):
            self._boot = self._boot()
        return self._boot

    @boot.setter
    def boot(self, boot: np.ndarray) -> None:
        self._boot = boot

    def __repr__(self) -> str:
        return (
            f"Estimate(value={self.value!r}, boot={self.boot!r}, jack={self.jack!r}, n={self.n!r}, "
            f"clusters={self.clusters!r}, analytic={self.analytic!r})"
        )

    def filled_jack(self) -> np.ndarray | None:
        """Jackknife values with the clusters this estimate holds no data for set to the full-sample value (leaving
        such a cluster out changes nothing)."""
        if self.jack is None:
            return None
        return np.where(np.isnan(self.jack), self.value, self.jack)

    def __sub__(self, other: Estimate) -> Estimate:
        jack = None
        if self.jack is not None and other.jack is not None:
            jack = self.filled_jack() - other.filled_jack()
            jack[np.isnan(self.jack) & np.isnan(other.jack)] = np.nan  # neither side has data there
        clusters = (
            None if self.clusters is None or other.clusters is None else min(self.clusters, other.clusters)
        )
        return Estimate(
            self.value - other.value, lambda: self.boot - other.boot, jack, min(self.n, other.n), clusters
        )

    @staticmethod
    def mean(estimates: list[Estimate]) -> Estimate:
        """Element-wise mean: the point, every replicate and every jackknife value are averaged."""

        def quiet_nanmean(arrays: list[np.ndarray]) -> np.ndarray:
            with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", RuntimeWarning
                )  # a cluster no rater covers: NaN, not a warning
                return np.nanmean(np.vstack(arrays), axis=0)

        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            value = float(np.nanmean([e.value for e in estimates])) if estimates else float("nan")
        jacks = [e.jack for e in estimates]
        jack = None if any(j is None for j in jacks) else quiet_nanmean(jacks)
        clusters = [e.clusters for e in estimates if e.clusters is not None]
        return Estimate(
            value,
            lambda: quiet_nanmean([e.boot for e in estimates]),
            jack,
            int(sum(e.n for e in estimates)),
            max(clusters) if clusters else None,
        )


def expanded_tail(alpha: float, clusters: int | None) -> float:
    """Hesterberg's small-sample expansion: the tail probability whose normal quantile is the Student-t quantile
    with ``G - 1`` degrees of freedom scaled by ``sqrt(G / (G - 1))``, so that a percentile-type interval from
    ``G`` clusters is as wide as a t interval would be (percentile intervals are too narrow for small ``G``)."""
    if clusters is None or clusters < 3:
        return alpha
    return _expanded_tail(float(alpha), float(clusters))


@lru_cache(maxsize=256)
def _expanded_tail(alpha: float, clusters: float) -> float:
    g = float(clusters)
    # ``stdtrit(df, p)`` is the Student-t quantile (what ``scipy.stats.t.ppf`` computes for 0 < p < 1), without
    # importing scipy.stats
    return float(ndtr(np.sqrt(g / (g - 1.0)) * stdtrit(g - 1.0, alpha)))


def boundary_interval(value: float, units: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of a proportion observed at 0 or 1 in ``units`` independent units.

    Every bootstrap replicate of a rate that is 0 (or 1) in the sample is 0 (or 1) too, and a zero-width interval
    would claim certainty that no rare event was missed.  The units are the clusters holding data (users), not the
    items: with nothing observed, the items' correlation within a user cannot be estimated, so the bound takes the
    least favourable case, one independent unit per cluster.  0 of ``G`` gives ``[0, 1 - (alpha / 2) ** (1 / G)]``
    (scipy's ``binomtest(0, G).proportion_ci(method="exact")``); 1 mirrors it."""
    alpha = (1.0 - level) / 2.0
    bound = float(alpha ** (1.0 / max(int(units), 1)))
    return (0.0, 1.0 - bound) if value == 0.0 else (bound, 1.0)


def interval(
    est: Estimate, level: float = 0.95, method: Method = "bca", expand: bool = True, proportion: bool = False
) -> tuple[float, float]:
    """Two-sided interval at ``level`` from the replicates (NaN replicates, e.g. an undefined kappa, are dropped).

    ``bca``: bias-corrected and accelerated, the acceleration from the leave-one-cluster-out jackknife;
    ``percentile``: plain quantiles.  With ``expand`` the tail probabilities follow :func:`expanded_tail`.  A
    ``proportion`` observed at exactly 0 or 1 (no event, or only events: every replicate is that value) gets
    :func:`boundary_interval`'s exact interval instead of a zero-width one; any other statistic whose replicates
    are all equal keeps its zero width.
    """
    boot = est.boot[np.isfinite(est.boot)]
    theta = est.value
    if boot.size < 10 or not np.isfinite(theta):
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    if expand:
        alpha = expanded_tail(alpha, est.clusters)
    if np.all(boot == boot[0]):
        if proportion and theta in (0.0, 1.0) and boot[0] == theta:
            return boundary_interval(theta, est.clusters or est.n, level)
        return float(boot[0]), float(boot[0])
    quantiles = np.array([alpha, 1.0 - alpha])
    if method == "bca" and est.jack is not None:
        jack = est.jack[np.isfinite(est.jack)]
        if jack.size == 0:  # no cluster holds data on its own: no acceleration to estimate
            jack = np.zeros(1)
        below = np.mean(boot < theta) + 0.5 * np.mean(boot == theta)
        below = min(max(below, 1.0 / (boot.size + 1)), boot.size / (boot.size + 1))
        z0 = ndtri(below)
        d = jack.mean() - jack
        denom = 6.0 * (np.sum(d**2) ** 1.5)
        accel = float(np.sum(d**3) / denom) if denom > 0 else 0.0
        z = ndtri(quantiles)
        adjusted = ndtr(z0 + (z0 + z) / (1.0 - accel * (z0 + z)))
        if np.all(np.isfinite(adjusted)):
            quantiles = adjusted
    lo, hi = np.quantile(boot, quantiles)
    return float(lo), float(hi)


def bootstrap_p_value(est: Estimate, null: float = 0.0) -> float:
    """Two-sided bootstrap p-value for ``H0: value == null``: the share of centred replicates at least as far
    from the observed value as the observed value is from ``null`` (Hall & Wilson's guideline)."""
    return bootstrap_test(est, null)[0]


def bootstrap_test(est: Estimate, null: float = 0.0) -> tuple[float, bool]:
    """:func:`bootstrap_p_value` and whether it sits at its floor ``1 / (B + 1)`` (``B`` finite replicates): no
    centred replicate was as far out as the observed value, so the p-value is only known to lie below the floor.

    >>> est = Estimate(1.0, np.array([0.9, 1.1, 1.0]), None, 10)
    >>> bootstrap_test(est)
    (0.25, True)
    """
    boot = est.boot[np.isfinite(est.boot)]
    if boot.size == 0 or not np.isfinite(est.value):
        return float("nan"), False
    centred = boot - est.value
    distance = abs(est.value - null)
    beyond = int(np.sum(np.abs(centred) >= distance - 1e-12))
    p = (beyond + 1) / (boot.size + 1)
    return float(min(1.0, p)), beyond == 0


_Key = tuple[tuple[int, ...], int, int]


def _key(flat: np.ndarray) -> _Key:
    """A C-ordered array's shape and two 32-bit checksums of its bytes (CRC-32, Adler-32): several times faster than
    a cryptographic digest, and a shared key is still only a candidate (:func:`_same_sums` decides)."""
    return flat.shape, zlib.crc32(flat), zlib.adler32(flat)


@dataclass
class _Pending:
    """A weights product waiting for :meth:`Resampler.flush`."""

    key: _Key
    flat: np.ndarray
    scale: float | None  # see :meth:`Resampler._exact32`
    out: np.ndarray | None = None


def _integers(values: np.ndarray) -> bool:
    return bool(np.array_equal(values, np.rint(values)))


def _same_sums(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two float64 arrays of per-cluster sums are the same: the same bits (``-0.0`` is not ``0.0``) and
    equal values (a NaN is equal to nothing, so sums holding one are never reused)."""
    return (
        a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64)) and np.array_equal(a, b)
    )


def _distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a C-ordered 2-D array, bit for bit (``-0.0`` is not ``0.0``), in order of first
    occurrence, and each row's position among them.  Rows are grouped by a sample of their entries (every
    :data:`_SAMPLE_STRIDE`-th), then compared in full within a group."""
    sample = rows[:, ::_SAMPLE_STRIDE]
    bits = rows.view(np.uint8)  # equal bits, not equal values
    # a sample's bytes -> the positions in ``order`` of the distinct rows with that sample
    groups: dict[bytes, list[int]] = {}
    order: list[int] = []
    where = np.empty(len(rows), dtype=np.intp)
    for i in range(len(rows)):
        group = groups.setdefault(sample[i].tobytes(), [])
        for j in group:
            if np.array_equal(bits[order[j]], bits[i]):
                where[i] = j
                break
        else:
            group.append(len(order))
            where[i] = len(order)
            order.append(i)
    return rows[order], where


_SAMPLE_STRIDE = 64  # :func:`_distinct_rows` groups rows by every 64th entry


class Resampler:
    """Evaluates statistics of per-cluster sums for the point, every bootstrap resample and the jackknife."""

    def __init__(self, n_clusters: int, resamples: int = 2000, seed: int = 0, jackknife: bool = True) -> None:
        self.n_clusters = n_clusters
        self.resamples = resamples
        self.seed = seed
        rng = np.random.default_rng(seed)
        # a float32 copy, for sums of integers (see :meth:`deferred`), filled as the weights are drawn
        self._weights32 = np.empty((resamples, n_clusters), dtype=np.float32)
        self.weights = cluster_weights(n_clusters, resamples, rng, out32=self._weights32)
        self.jackknife = jackknife and n_clusters > 2
        self._max_weight = float(self.weights.max()) if self.weights.size else 0.0
        # the same per-cluster sums recur (e.g. the reference's rates beside every judge that labelled the same
        # items): their resample sums are kept, keyed by content, and reused
        self._recent: OrderedDict[_Key, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._pending: list[_Pending] = []  # products not computed yet (see :meth:`deferred`)

    def resample(self, flat: np.ndarray) -> np.ndarray:
        """``weights @ flat``: the sums of every resample, ``(resamples, k)`` from ``(clusters, k)`` (computed at
        once, together with every product still pending, see :meth:`deferred`)."""
        return self.deferred(flat)()

    def deferred(self, flat: np.ndarray) -> Callable[[], np.ndarray]:
        """``weights @ flat``, as a function of nothing that returns it: the product is computed on the first call
        of any such function, for every flat then pending at once, so the weights are read once for all of them.

        Integer statistics (counts, indicators) whose weighted sums stay below 2**24 are summed in float32 at half
        the memory traffic: every partial sum is then an exactly representable integer, so the result equals the
        float64 product bit for bit, whatever else is in the product (so are multiples of 1/2, 1/4, 1/8 scaled to
        integers, :meth:`_exact32`).  Anything else takes its own float64 product.  The same per-cluster sums recur (e.g. the reference's rates beside every judge that
        labelled the same items): the last :data:`_RECENT_SUMS` results are kept, keyed by content, and reused.
        """
        flat = np.ascontiguousarray(flat, dtype=float)
        if not (flat.size and flat.shape[1] > 0 and self.resamples):
            empty = self.weights @ flat
            return lambda: empty.copy()
        key = _key(flat)
        hit = self._recent.get(key)
        if hit is not None and _same_sums(hit[0], flat):
            self._recent.move_to_end(key)
            done = hit[1]
            return lambda: done.copy()
        for pending in self._pending:
            if pending.key == key and _same_sums(pending.flat, flat):
                break
        else:
            pending = _Pending(key, flat.copy(), self._exact32(flat))  # the caller may reuse its array
            self._pending.append(pending)
        return lambda: self._result(pending)

    def _exact32(self, flat: np.ndarray) -> float | None:
        """A power of two ``2**j`` (``j`` < :data:`_DYADIC_BITS`) that turns ``flat`` into integers whose weighted
        sums stay below 2**24, so that its float32 product, divided by ``2**j``, is exact; None if there is none.

        Counts and indicators take 1, a mean of 0 / 0.5 / 1 values (pairwise) 2: the float64 product of such
        numbers is exact too (every partial sum is a multiple of ``2**-j`` below ``2**(24 - j)``), so the two are
        equal bit for bit."""
        magnitude = np.abs(flat).sum(axis=0).max() * self._max_weight
        for j in range(_DYADIC_BITS):
            scale = float(1 << j)
            if magnitude * scale >= _EXACT_FLOAT32:
                return None
            if _integers(flat * scale if j else flat):  # times 1: the same numbers
                return scale
            if j == 0 and not _integers(flat * float(1 << (_DYADIC_BITS - 1))):
                return None  # not integers at the largest scale: at none (most float statistics end here)
        return None

    def _result(self, pending: _Pending) -> np.ndarray:
        if pending.out is None:
            self.flush()
        return pending.out.copy()

    def flush(self) -> None:
        """Compute every pending product: one float32 product for all the exact ones (:meth:`_exact32`; each
        distinct column once), one float64 product for the others of two or more columns, and one for each other
        single column."""
        pending, self._pending = self._pending, []
        exact = [p for p in pending if p.scale is not None]
        if exact:
            # the same column recurs (every rate's item counts, a judge's and the reference's; empty slices):
            # each distinct one enters the product once, exact whatever its neighbours
            columns = np.empty((sum(p.flat.shape[1] for p in exact), self.n_clusters), dtype=np.float32)
            start = 0
            for p in exact:
                columns[start : start + p.flat.shape[1]] = (p.flat if p.scale == 1.0 else p.flat * p.scale).T
                start += p.flat.shape[1]
            distinct, where = _distinct_rows(columns)
            sums = (self._weights32 @ distinct.T).astype(float)[:, where]
            start = 0
            for p in exact:
                width = p.flat.shape[1]
                p.out = sums[:, start : start + width] / p.scale
                start += width
        # the others in float64: a one-column product goes to a matrix-vector kernel, so each single column takes
        # its own; every flat of two or more columns shares one matrix product (one pass over the weights, not one
        # per flat).  A column's last bits depend on where it falls in the product: OpenBLAS's kernel sums the
        # columns of a full block of its width in one order and the left-over columns of a narrower product in
        # another (with a 200 x 300 weights matrix, columns 8-11 of a 12-column product differ in the last bits from
        # the same columns inside a 40-column one).  So a statistic's last bits follow the set of statistics
        # computed with it (fixed for a given audit and configuration: a metric selection keeps the human
        # ceiling's sums in the product for that reason) and the BLAS thread count (OPENBLAS_NUM_THREADS=1 moves
        # four human-ceiling bounds of a 1M-row audit): audit.json is byte-identical for the same inputs and
        # configuration on one machine, and equal to ~1e-16 relative otherwise.
        wide = [p for p in pending if p.scale is None and p.flat.shape[1] > 1]
        if wide:
            sums = self.weights @ np.concatenate([p.flat for p in wide], axis=1)
            start = 0
            for p in wide:
                width = p.flat.shape[1]
                p.out = sums[:, start : start + width]
                start += width
        for p in pending:
            if p.scale is None and p.flat.shape[1] == 1:
                p.out = self.weights @ p.flat
        for p in pending:
            self._recent[p.key] = (p.flat, p.out)
            if len(self._recent) > _RECENT_SUMS:
                self._recent.popitem(last=False)

    def sums(
        self, per_cluster: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], n: int, *, defer: bool = False
    ) -> Estimate:
        """``fn`` maps summed statistics (leading axis = replicate) to values; ``per_cluster`` is ``(G, ...)``."""
        return self.sums_many(per_cluster, {"_": fn}, n, defer=defer)["_"]

    def sums_many(
        self,
        per_cluster: np.ndarray,
        fns: dict[str, Callable[[np.ndarray], np.ndarray]],
        n: int,
        *,
        defer: bool = False,
        view: Callable[[np.ndarray], Any] | None = None,
    ) -> dict[str, Estimate]:
        """Several statistics of the same per-cluster sums: one resampling product serves them all.

        ``defer``: the replicates are computed on first use (:meth:`deferred`), so that the weights product is
        shared with every other deferred statistic; ``fns`` must then not depend on anything that changes later
        (a closure over a loop variable).  ``view``: ``fns`` take ``view(sums)`` instead of the summed statistics,
        one view per evaluation (the point, the jackknife, the replicates) shared by every function (e.g.
        :class:`~auditor.stats.agreement.ConfusionTable`, which computes the margins once for all of them)."""
        per_cluster = np.asarray(per_cluster, dtype=float)
        total = per_cluster.sum(axis=0)
        flat = per_cluster.reshape(per_cluster.shape[0], -1)
        product = self.deferred(flat)
        shape = (self.resamples,) + per_cluster.shape[1:]
        occupied = np.flatnonzero(np.any(flat != 0, axis=1))
        # leaving out an empty cluster changes nothing: only occupied clusters enter the jackknife, the others
        # stay NaN so that estimates over different clusters still line up cluster by cluster
        jack_sums = total[None, ...] - per_cluster[occupied] if self.jackknife else None
        look = view or (lambda sums: sums)
        point = look(total[None, ...])
        jack_view = look(jack_sums) if jack_sums is not None else None
        shared: list[Any] = []

        def boot_sums() -> Any:
            if not shared:
                shared.append(look(product().reshape(shape)))
            return shared[0]

        out = {}
        for name, fn in fns.items():
            value = float(np.asarray(fn(point))[0])

            def boot(fn: Callable[[np.ndarray], np.ndarray] = fn) -> np.ndarray:
                return np.asarray(fn(boot_sums()), dtype=float)

            jack = None
            if jack_view is not None:
                jack = np.full(self.n_clusters, np.nan)
                jack[occupied] = np.asarray(fn(jack_view), dtype=float)
            out[name] = Estimate(value, boot if defer else boot(), jack, n, int(occupied.size))
        return out

    def weighted(
        self, fn: Callable[[np.ndarray], np.ndarray], n: int, occupied: np.ndarray, chunk: int = 256
    ) -> Estimate:
        """``fn`` maps a ``(R, G)`` matrix of cluster weights to ``R`` values (for statistics that re-rank);
        ``occupied`` lists the clusters that hold data (the others are left out of the jackknife)."""
        value = float(np.asarray(fn(np.ones((1, self.n_clusters))))[0])
        boot = (
            np.concatenate(
                [np.asarray(fn(self.weights[i : i + chunk]), float) for i in range(0, self.resamples, chunk)]
            )
            if self.resamples
            else np.zeros(0)
        )
        jack = None
        if self.jackknife:
            parts = []
            for i in range(0, occupied.size, chunk):
                block = np.ones((min(chunk, occupied.size - i), self.n_clusters))
                block[np.arange(block.shape[0]), occupied[i : i + chunk]] = 0.0
                parts.append(np.asarray(fn(block), float))
            jack = np.full(self.n_clusters, np.nan)
            if parts:
                jack[occupied] = np.concatenate(parts)
        return Estimate(value, boot, jack, n, int(occupied.size))
