"""One judge against one reference: per-cluster sufficient statistics and the metrics built on them.

A :class:`Pairing` holds, for the items both sides labelled, the reference and judge codes / values and the cluster
of each item.  Every metric is evaluated through a :class:`~auditor.stats.bootstrap.Resampler`, so the point
estimate, the bootstrap replicates and the jackknife come from the same sums.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from auditor.stats import agreement as ag
from auditor.stats import analytic as an
from auditor.stats import correlation as co
from auditor.stats import icc
from auditor.stats.bootstrap import Estimate, Resampler

# Statistics whose distinct values exceed this are ranked with weights instead of a contingency table.
MAX_TABLE_VALUES = 64
#: Gwet's agreement weights of the weighted coefficients (``gwet_ac2``, ``scott_pi_weighted``,
#: ``fleiss_kappa_weighted``) on ordered labels (pairwise ``a < tie < b``, likert): quadratic, the weights of
#: ``cohen_kappa_quadratic``; see :func:`auditor.stats.agreement.agreement_weights` for the others.
AUDIT_WEIGHTS: ag.WeightKind = "quadratic"


T = TypeVar("T")


@dataclass
class Pairing:
    ref_code: np.ndarray  # int codes (categorical tasks) or -1
    judge_code: np.ndarray
    ref_value: np.ndarray  # numeric values
    judge_value: np.ndarray
    cluster: np.ndarray  # cluster index per item, 0..G-1
    n_clusters: int
    k: int  # number of categories (0 for score tasks)
    _confusion: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        return int(self.cluster.size)

    def confusion_by_cluster(self) -> np.ndarray:
        """``(clusters, k, k)`` confusion tables (reference by judge), counted once however often asked for (the
        agreement family and the category-wise kappas read them), read-only."""
        if self._confusion is None:
            k = self.k
            flat = np.bincount(
                self.cluster * k * k + self.ref_code * k + self.judge_code, minlength=self.n_clusters * k * k
            )
            self._confusion = flat.reshape(self.n_clusters, k, k).astype(float)
            self._confusion.flags.writeable = False
        return self._confusion

    def sums_by_cluster(self, columns: list[np.ndarray]) -> np.ndarray:
        return np.stack(
            [np.bincount(self.cluster, weights=c, minlength=self.n_clusters) for c in columns], axis=1
        )


def agreement_metrics(
    p: Pairing, rs: Resampler, *, weighted: bool, alpha_level: str, metrics: Collection[str] | None = None
) -> dict[str, Estimate]:
    """Raw agreement, Cohen's kappa (plain, and linear / quadratic when ``weighted``), Scott's pi, Fleiss' kappa
    (two ratings per item, i.e. judge and reference), Krippendorff's alpha, Gwet's AC1 and Brennan-Prediger's
    free-marginal kappa (chance 1/q over the task's q categories); when ``weighted``, Gwet's AC2 and weighted
    Scott's pi / Fleiss' kappa too (:data:`AUDIT_WEIGHTS`; with two ratings per item Fleiss' weighted kappa is
    Scott's weighted pi).  ``metrics``: only these (all when None)."""
    return confusion_metrics(
        p.confusion_by_cluster(), p.n, rs, weighted=weighted, alpha_level=alpha_level, metrics=metrics
    )


def confusion_metrics(
    per_cluster: np.ndarray,
    n: int,
    rs: Resampler,
    *,
    weighted: bool,
    alpha_level: str,
    metrics: Collection[str] | None = None,
) -> dict[str, Estimate]:
    """:func:`agreement_metrics` from the ``(clusters, k, k)`` confusion tables of ``n`` paired items (what the
    in-memory and the out-of-core engines share), each with its analytic standard error; ``metrics``: only these
    (all when None)."""
    fns = only_named(agreement_functions(weighted, alpha_level), metrics)
    if not fns:
        return {}
    out = rs.sums_many(per_cluster, fns, n, defer=True, view=ag.ConfusionTable)
    for name, se in analytic_errors(per_cluster.sum(axis=0), weighted, alpha_level).items():
        if name in out:
            out[name].analytic = se
    return out


def only_named(found: dict[str, T], names: Collection[str] | None) -> dict[str, T]:
    """The entries of ``found`` named in ``names`` (all when None), in their order: the statistics not asked for
    are never computed."""
    return found if names is None else {name: value for name, value in found.items() if name in names}


def analytic_errors(confusion: np.ndarray, weighted: bool, alpha_level: str) -> dict[str, an.Analytic]:
    """Analytic standard errors (independent items) of :func:`agreement_metrics`' coefficients from the summed
    ``(k, k)`` confusion matrix: Fleiss-Cohen-Everitt for Cohen's kappas (linear / quadratic: Gwet's agreement
    weights ``1 - |i - j| / (k - 1)``, ``1 - (i - j)**2 / (k - 1)**2``, the same kappas), Gwet's for the others
    (two ratings per item; Krippendorff's alpha at the nominal level only: Gwet gives none for Krippendorff's
    ordinal metric).  Raw agreement has none."""
    k = confusion.shape[-1]
    cohen = {"cohen_kappa": None}
    gwet: dict[str, tuple[an.GwetCoefficient, np.ndarray | None]] = {
        "scott_pi": ("fleiss", None),
        "fleiss_kappa": ("fleiss", None),
        "gwet_ac1": ("gwet", None),
        "brennan_prediger": ("brennan_prediger", None),
    }
    if alpha_level == "nominal":
        gwet["krippendorff_alpha"] = ("krippendorff", None)
    if weighted:
        cohen["cohen_kappa_linear"] = ag.agreement_weights("linear", k)
        cohen["cohen_kappa_quadratic"] = ag.agreement_weights("quadratic", k)
        w = ag.agreement_weights(AUDIT_WEIGHTS, k)
        gwet |= {
            "gwet_ac2": ("gwet", w),
            "scott_pi_weighted": ("fleiss", w),
            "fleiss_kappa_weighted": ("fleiss", w),
        }
    out = {name: an.kappa_error(*an.cohen_kappa_variance(confusion, w)[1:]) for name, w in cohen.items()}
    for name, (coefficient, w) in gwet.items():
        out[name] = an.gwet_error(*an.gwet_from_confusion(confusion, coefficient, w)[1:])
    return out


def multi_rater_errors(
    counts: np.ndarray | ag.RatingTable,
    weights: np.ndarray | None,
    level: str,
    metrics: Collection[str] | None = None,
) -> dict[str, an.Analytic]:
    """Gwet's analytic standard errors (independent items) of the multi-rater coefficients from an ``(items, k)``
    table of rating counts (Gwet's missing-data convention): ``fleiss_kappa``, ``gwet_ac1``, nominal
    ``krippendorff_alpha`` and, with ``weights``, ``fleiss_kappa_weighted`` and ``gwet_ac2`` (their per-item
    terms computed once, :class:`~auditor.stats.agreement.RatingTable`); ``metrics``: only these (all when
    None)."""
    counts = ag.rating_table(counts)
    specs: dict[str, tuple[an.GwetCoefficient, np.ndarray | None]] = {
        "fleiss_kappa": ("fleiss", None),
        "gwet_ac1": ("gwet", None),
    }
    if level == "nominal":
        specs["krippendorff_alpha"] = ("krippendorff", None)
    if weights is not None:
        specs |= {"fleiss_kappa_weighted": ("fleiss", weights), "gwet_ac2": ("gwet", weights)}
    specs = only_named(specs, metrics)
    return {name: an.gwet_error(*an.gwet_variance(counts, c, w)[1:]) for name, (c, w) in specs.items()}


def conger_error(codes: np.ndarray, k: int) -> an.Analytic:
    """Gwet's analytic standard error (independent items) of Conger's kappa from an ``(items, raters)`` table of
    category codes (``-1``: not rated), :func:`auditor.stats.analytic.conger_variance`."""
    return an.gwet_error(*an.conger_variance(codes, k)[1:])


def category_kappas(per_cluster: np.ndarray, n: int, rs: Resampler) -> list[Estimate]:
    """Category-wise kappa (:func:`auditor.stats.analytic.category_kappa`, one versus rest) of every category, in
    category order, from the ``(clusters, k, k)`` confusion tables of ``n`` paired items, each with its
    Fleiss-Cohen-Everitt analytic standard error."""
    fns = {str(i): (lambda c, i=i: an.category_kappa_of(c, i)) for i in range(per_cluster.shape[-1])}
    found = rs.sums_many(per_cluster, fns, n, defer=True, view=ag.ConfusionTable)
    _, var, var0 = an.cohen_kappa_variance(an.one_vs_rest(per_cluster.sum(axis=0)))
    for i, est in enumerate(found.values()):
        est.analytic = an.kappa_error(var[i], var0[i])
    return list(found.values())


def agreement_functions(weighted: bool, alpha_level: str) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The coefficients of :func:`agreement_metrics` as functions of a ``(..., k, k)`` confusion matrix or a
    :class:`~auditor.stats.agreement.ConfusionTable` (whose margins they then share)."""

    def fleiss(confusion: np.ndarray | ag.ConfusionTable) -> np.ndarray:
        c = ag.confusion_table(confusion)
        return ag.fleiss_kappa(c.total, c.trace, c.rows + c.cols, 2 * c.total)

    fns = {"agreement": ag.percent_agreement, "cohen_kappa": ag.cohen_kappa}
    if weighted:
        fns["cohen_kappa_linear"] = lambda c: ag.cohen_kappa(c, "linear")
        fns["cohen_kappa_quadratic"] = lambda c: ag.cohen_kappa(c, "quadratic")
    fns["scott_pi"] = ag.scott_pi
    fns["fleiss_kappa"] = fleiss
    fns["krippendorff_alpha"] = lambda c: ag.krippendorff_alpha_from_coincidence(
        ag.coincidence_from_confusion(ag.confusion_table(c).counts), alpha_level
    )
    fns["gwet_ac1"] = ag.gwet_ac1
    fns["brennan_prediger"] = ag.brennan_prediger
    if weighted:
        fns["gwet_ac2"] = lambda c: ag.gwet_ac2(c, ag.agreement_weights(AUDIT_WEIGHTS, _categories(c)))
        fns["scott_pi_weighted"] = lambda c: ag.scott_pi_weighted(
            c, ag.agreement_weights(AUDIT_WEIGHTS, _categories(c))
        )
        fns["fleiss_kappa_weighted"] = fns["scott_pi_weighted"]
    return fns


def _categories(confusion: np.ndarray | ag.ConfusionTable) -> int:
    return ag.confusion_table(confusion).k


def icc_metrics(p: Pairing, rs: Resampler, metrics: Collection[str] | None = None) -> dict[str, Estimate]:
    """ICC(A,1) and ICC(C,1) of the reference's and the judge's values (two raters on every paired item);
    ``metrics``: only these (all when None)."""
    fns = only_named({"icc_a1": icc.icc_a1, "icc_c1": icc.icc_c1}, metrics)
    if not fns:
        return {}
    sums = p.sums_by_cluster(list(icc.icc_item_stats(np.column_stack([p.ref_value, p.judge_value])).T))
    return rs.sums_many(sums, fns, p.n)


def _table_plan(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    uniq, inverse = np.unique(values, return_inverse=True)
    if uniq.size > MAX_TABLE_VALUES:
        return None
    return inverse, uniq.size


def correlation_metrics(
    p: Pairing, rs: Resampler, metrics: Collection[str] | None = None
) -> dict[str, Estimate]:
    """Pearson (from sums), Spearman and Kendall's tau-b (from the joint table of distinct values when both sides
    have few; otherwise Spearman by weighted re-ranking and Kendall by explicit resampling); ``metrics``: only
    these (all when None)."""
    x, y = p.ref_value, p.judge_value
    n = p.n
    out = {}
    if metrics is None or "pearson" in metrics:
        sums = p.sums_by_cluster([np.ones_like(x), x, y, x * x, y * y, x * y])
        out["pearson"] = rs.sums(sums, lambda s: co.pearson_from_sums(*np.moveaxis(s, -1, 0)), n)
    ranked = only_named(
        {"spearman": co.spearman_from_table, "kendall_tau_b": co.kendall_tau_b_from_table}, metrics
    )
    if not ranked:
        return out
    px, py = _table_plan(x), _table_plan(y)
    if px is not None and py is not None:
        (ix, kx), (iy, ky) = px, py
        flat = np.bincount(p.cluster * kx * ky + ix * ky + iy, minlength=p.n_clusters * kx * ky)
        tables = flat.reshape(p.n_clusters, kx, ky).astype(float)
        out.update(rs.sums_many(tables, ranked, n))
        return out
    cluster = p.cluster

    def spearman(weights: np.ndarray) -> np.ndarray:
        return co.spearman_weighted(x, y, weights[:, cluster])

    occupied = np.unique(cluster)
    if "spearman" in ranked:
        out["spearman"] = rs.weighted(spearman, n, occupied, chunk=64)

    def kendall(weights: np.ndarray) -> np.ndarray:
        from scipy import stats as sps  # scipy.stats costs ~0.6 s to import: only where it is used

        res = np.empty(weights.shape[0])
        for i, w in enumerate(weights[:, cluster].astype(np.int64)):
            idx = np.repeat(np.arange(x.size), w)
            res[i] = sps.kendalltau(x[idx], y[idx]).statistic if idx.size > 1 else np.nan
        return res

    if "kendall_tau_b" in ranked:
        out["kendall_tau_b"] = rs.weighted(kendall, n, occupied, chunk=64)
    return out


def krippendorff_interval_pairs(p: Pairing, rs: Resampler) -> Estimate:
    """Interval alpha for continuous judge and reference values (two values per unit)."""
    x, y = p.ref_value, p.judge_value
    pair_term = 2.0 * (2.0 * (x * x + y * y) - (x + y) ** 2)  # m = 2: 2 (m sum x^2 - (sum x)^2) / (m - 1)
    sums = p.sums_by_cluster([pair_term, np.full_like(x, 2.0), x + y, x * x + y * y])
    return rs.sums(sums, lambda s: ag.krippendorff_alpha_interval_from_sums(*np.moveaxis(s, -1, 0)), p.n)


def rate_estimates(
    indicators: dict[str, np.ndarray], values: np.ndarray, cluster: np.ndarray, n_clusters: int, rs: Resampler
) -> dict[str, Estimate]:
    """Outcome rates (share of items with each 0/1 indicator) and the mean value, clustered."""
    names = list(indicators)
    cols = [np.ones_like(values)] + [indicators[k].astype(float) for k in names] + [values]
    sums = np.stack([np.bincount(cluster, weights=c, minlength=n_clusters) for c in cols], axis=1)
    return rates_from_sums(sums, names, int(values.size), rs)


def rates_from_sums(sums: np.ndarray, names: list[str], n: int, rs: Resampler) -> dict[str, Estimate]:
    """:func:`rate_estimates` from its ``(clusters, 2 + len(names))`` per-cluster sums: the items, each indicator
    of ``names``, the values (as an engine that aggregates elsewhere computes them)."""
    fns = {name: (lambda s, i=i: _ratio(s, i)) for i, name in enumerate(names, start=1)}
    fns["mean_score"] = lambda s: _ratio(s, len(names) + 1)
    return rs.sums_many(sums, fns, n, defer=True)


def _ratio(s: np.ndarray, column: int) -> np.ndarray:
    """A column of the sums over the first (the items)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return s[..., column] / s[..., 0]


def mcnemar_exact(judge: np.ndarray, reference: np.ndarray) -> float:
    """Exact McNemar test of paired 0/1 outcomes: a two-sided binomial test on the discordant pairs."""
    return mcnemar_exact_counts(
        int(np.sum((judge == 1) & (reference == 0))), int(np.sum((judge == 0) & (reference == 1)))
    )


def mcnemar_exact_counts(b: int, c: int) -> float:
    """:func:`mcnemar_exact` from its discordant counts: ``b`` pairs judge 1 / reference 0, ``c`` the reverse."""
    if b + c == 0:
        return 1.0
    from scipy import stats as sps  # scipy.stats costs ~0.6 s to import: only where it is used

    return float(sps.binomtest(b, b + c, 0.5).pvalue)
