"""The human ceiling: how far the reference's raters agree with each other.

Rows with judge = reference = the reference's name:

- multi-rater coefficients over all raters at once (:func:`multi_rater`): Krippendorff's alpha, and for labels
  Fleiss' kappa, Gwet's AC1, Conger's kappa (up to :data:`MAX_CONGER_RATERS` raters; Gwet's conventions for
  missing ratings, as irrCAC), Light's kappa (up to :data:`MAX_RATER_PAIRS_RATERS` raters) and, on ordered labels, Fleiss' weighted kappa and Gwet's AC2; for
  scores ICC(A,1) and ICC(C,1) on the items every rater scored;
- every other coefficient of the agreement family (raw agreement, Cohen's and Scott's, the correlations, ...): the
  mean over raters of that rater against the others' aggregate (leave one rater out);
- each pair of raters as slice ``raters=r1~r2`` (up to :data:`MAX_RATER_PAIRS_RATERS` raters).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.agreement import agreement_family
from auditor.engine.context import AuditContext, Side
from auditor.engine.selection import agreement_names
from auditor.stats import compare
from auditor.stats.bootstrap import Estimate

MAX_RATER_PAIRS_RATERS = 8
#: Conger's kappa resamples one category count per rater and cluster: beyond this many raters (crowds, where each
#: rater labels a few items) it is left out.
MAX_CONGER_RATERS = 64
PAIR_METRICS = ("agreement", "cohen_kappa", "krippendorff_alpha", "pearson", "spearman")


def human_ceiling(ctx: AuditContext, ref_mask: np.ndarray) -> list[dict[str, Any]]:
    """Add the reference's rows against itself (judge = reference = its name) and, for up to
    :data:`MAX_RATER_PAIRS_RATERS` raters, each pair's as slice ``raters=r1~r2`` (r1 before r2 in sorted order, whatever
    the order of the rows); returns its warnings."""
    warnings: list[dict[str, Any]] = []
    labels = ctx.t.labels
    name = ctx.cfg.reference
    raters = labels["rater"][ref_mask]
    missing = raters.isna()
    if missing.all():
        items = labels["item_id"][ref_mask]
        slots = items.groupby(items).cumcount().map(lambda i: f"slot{i + 1}")
        rater_ids = slots.to_numpy()
        if len(items) > items.nunique():
            warnings.append(
                {
                    "code": "no_rater_ids",
                    "message": f"{name} labels carry no rater ids: the "
                    "human ceiling treats the n-th label of each item as rater 'slot n'",
                    "count": int(len(items)),
                }
            )
    else:
        rater_ids = (raters.fillna("unknown") if missing.any() else raters).to_numpy()
    all_raters, rater_index = _rater_positions(rater_ids)
    per_item = np.bincount(ctx.row_item[ref_mask], minlength=ctx.n_items)
    if len(all_raters) < 2 or per_item.max(initial=0) < 2:
        return warnings
    if ctx.metrics is not None and agreement_names().isdisjoint(ctx.metrics):  # no ceiling row selected
        return warnings
    rater_side, others_side = _rater_sides(ctx, ref_mask, rater_index, all_raters)
    loo: dict[str, list[Estimate]] = {}
    for r in all_raters:
        p, _ = ctx.pairing(others_side(r), rater_side(r))
        if p.n < 2:
            continue
        for metric, est in agreement_family(ctx, p).items():
            loo.setdefault(metric, []).append(est)
    multi = multi_rater(ctx, ref_mask, (all_raters, rater_index))
    for metric, ests in loo.items():
        ctx.add(metric, name, name, multi.pop(metric, None) or Estimate.mean(ests))
    for metric, est in multi.items():  # multi-rater coefficients with no judge-against-reference counterpart
        ctx.add(metric, name, name, est)
    pair_metrics = ctx.selected(PAIR_METRICS)
    if pair_metrics and len(all_raters) <= MAX_RATER_PAIRS_RATERS:  # every pair of raters, as slices
        for r1, r2 in combinations(all_raters, 2):
            p, _ = ctx.pairing(rater_side(r1), rater_side(r2))
            if p.n < 2:
                continue
            for metric, est in agreement_family(ctx, p, pair_metrics).items():
                ctx.add(metric, name, name, est, slice=f"raters={r1}~{r2}")
    return warnings


def _rater_positions(rater_ids: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The distinct rater ids, sorted by their text so that pair slices are named canonically (``raters=r1~r2``
    with r1 < r2) whatever the order of the rows, and each row's position among them (one hash pass over the
    rows, then a look-up per distinct id)."""
    codes, distinct = pd.factorize(rater_ids, use_na_sentinel=False)
    all_raters = sorted(distinct.tolist(), key=str)
    index = {r: i for i, r in enumerate(all_raters)}
    return all_raters, np.array([index[r] for r in distinct.tolist()], dtype=np.int64)[codes]


#: Up to this many cells (raters x items x categories) the raters' verdicts come from one count table.
MAX_RATER_TABLE_CELLS = 50_000_000


def _rater_sides(
    ctx: AuditContext, ref_mask: np.ndarray, rater_index: np.ndarray, all_raters: list[Any]
) -> tuple[Callable[[Any], Side], Callable[[Any], Side]]:
    """Per rater ``r``: ``mine(r)``, the verdicts of ``r``'s labels, and ``others(r)``, those of the other raters'
    labels, each as ``ctx.side`` of the matching rows would give them (``rater_index``: per row of ``ref_mask``,
    its rater's position in ``all_raters``).

    A labelled task takes them from one ``(raters, items, k)`` count table built in one pass over the reference's
    rows (the others' votes are the item's total minus the rater's own), so no per-rater pass over the label rows;
    a score task, or a table above :data:`MAX_RATER_TABLE_CELLS`, takes ``ctx.side`` of row masks.  A rater's own
    verdicts, read for the leave-one-out and for each of its pairs, are aggregated once."""
    n_raters, n_items = len(all_raters), ctx.n_items
    if ctx.task == "score" or n_raters * n_items * max(ctx.k, 1) > MAX_RATER_TABLE_CELLS:
        positions = np.flatnonzero(ref_mask)
        masks = {}
        for i, r in enumerate(all_raters):
            m = np.zeros_like(ref_mask)
            m[positions[rater_index == i]] = True
            masks[r] = m
        return cache(lambda r: ctx.side(masks[r])), (lambda r: ctx.side(ref_mask & ~masks[r]))
    index = {r: i for i, r in enumerate(all_raters)}
    codes = ctx.t.labels["code"].to_numpy(np.int64)[ref_mask]
    cell = (rater_index * n_items + ctx.row_item[ref_mask]) * ctx.k + codes
    counts = np.bincount(cell, minlength=n_raters * n_items * ctx.k).reshape(n_raters, n_items, ctx.k)
    total = ctx.vote_counts(ref_mask)  # every rater's votes: the same counts, summed over the raters

    def verdicts(votes: np.ndarray) -> Side:
        # every label row has a category: an item with a vote is an item with a label
        return ctx.from_counts(votes, compare.ag.row_sums(votes) > 0)

    def mine(r: Any) -> Side:
        return verdicts(counts[index[r]])

    def others(r: Any) -> Side:
        return verdicts(total - counts[index[r]])

    return cache(mine), others


def multi_rater(
    ctx: AuditContext, ref_mask: np.ndarray, rater_positions: tuple[list[Any], np.ndarray] | None = None
) -> dict[str, Estimate]:
    """Multi-rater coefficients over all reference raters at once (see the module docstring);
    ``rater_positions``, the distinct rater ids and each row's position among them (:func:`_rater_positions`, one
    per row of ``ref_mask``), enable Conger's and Light's kappa and the ICCs.

    With a metric selection (:meth:`AuditContext.wants`) only the selected coefficients are evaluated (their
    replicates, jackknife, analytic errors), but every per-cluster sum is still made and its weights product
    registered (:func:`_evaluate`)."""
    items = ctx.row_item[ref_mask]
    out: dict[str, Estimate] = {}
    raters = None
    if rater_positions is not None:
        # the raters as text in sorted order (ids with the same text are one rater), and each row's position there
        all_raters, rater_index = rater_positions
        names, text_index = np.unique(np.asarray(all_raters, dtype=str), return_inverse=True)
        raters = text_index[rater_index]
        n_raters = len(names)
    if ctx.task == "score":
        x = ctx.t.labels["value"].to_numpy(float)[ref_mask]
        m = np.bincount(items, minlength=ctx.n_items).astype(float)
        sx = np.bincount(items, weights=x, minlength=ctx.n_items)
        sxx = np.bincount(items, weights=x * x, minlength=ctx.n_items)
        ok = m > 1
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(ok, 2.0 * (m * sxx - sx**2) / (m - 1), 0.0)
        cols = [term, np.where(ok, m, 0), np.where(ok, sx, 0), np.where(ok, sxx, 0)]
        sums = np.stack([np.bincount(ctx.cluster, weights=c, minlength=ctx.n_clusters) for c in cols], 1)
        alpha = {
            "krippendorff_alpha": lambda s: compare.ag.krippendorff_alpha_interval_from_sums(
                *np.moveaxis(s, -1, 0)
            )
        }
        out.update(_evaluate(ctx, sums, alpha, int(ok.sum())))
        if raters is not None and 2 <= n_raters <= MAX_RATER_PAIRS_RATERS:
            out.update(_icc(ctx, items, raters, n_raters, x))
        return out
    codes = ctx.t.labels["code"].to_numpy(np.int64)[ref_mask]
    counts = ctx.vote_counts(ref_mask)  # the reference's votes per item, as its verdicts were voted
    n_i = counts.sum(1)
    ok = n_i > 1
    n = int(ok.sum())
    level = "ordinal" if ctx.task == "likert" else "nominal"
    cells = compare.ag.coincidence_cells(counts[ok]).reshape(ctx.k * ctx.k, -1)  # a cell per row
    per_cluster = _column_sums(ctx, cells, ctx.cluster[ok]).reshape(-1, ctx.k, ctx.k)
    alpha = {"krippendorff_alpha": lambda o: compare.ag.krippendorff_alpha_from_coincidence(o, level)}
    out.update(_evaluate(ctx, per_cluster, alpha, n))
    table = compare.ag.RatingTable(counts)  # per-item terms shared by Gwet's coefficients and their variances
    gwet = _column_sums(ctx, compare.ag.gwet_item_columns(table))
    out.update(_evaluate(ctx, gwet, {"gwet_ac1": compare.ag.gwet_ac}, n))
    rated = n_i[n_i > 0]
    if rated.size and np.all(rated == rated[0]):  # complete data: both conventions are Fleiss (1971) exactly;
        # the pooled form keeps the numbers of audits without missing ratings identical to the last bit
        p_i = compare.ag.fleiss_item_terms(counts[ok])
        columns = np.vstack([np.ones(n), p_i, counts[ok].T, n_i[ok]]).astype(float, copy=False)
        sums = _column_sums(ctx, columns, ctx.cluster[ok])
        k = ctx.k
        fleiss = {
            "fleiss_kappa": lambda s: compare.ag.fleiss_kappa(
                s[..., 0], s[..., 1], s[..., 2 : 2 + k], s[..., 2 + k]
            )
        }
        out.update(_evaluate(ctx, sums, fleiss, n))
    else:  # Gwet's convention for missing ratings (irrCAC)
        out.update(_evaluate(ctx, gwet, {"fleiss_kappa": compare.ag.fleiss_kappa_gwet}, n))
    if ctx.task in ("pairwise", "likert"):
        w = compare.ag.agreement_weights(compare.AUDIT_WEIGHTS, ctx.k)
        weighted = _column_sums(ctx, compare.ag.gwet_item_columns(table, w))
        fns = {
            "fleiss_kappa_weighted": lambda s: compare.ag.fleiss_kappa_gwet(s, w),
            "gwet_ac2": lambda s: compare.ag.gwet_ac(s, w),
        }
        out.update(_evaluate(ctx, weighted, fns, n))
    weights = (
        compare.ag.agreement_weights(compare.AUDIT_WEIGHTS, ctx.k)
        if ctx.task in ("pairwise", "likert")
        else None
    )
    for metric, se in compare.multi_rater_errors(table, weights, level, out).items():  # those computed
        out[metric].analytic = se
    if raters is not None and 2 <= n_raters <= MAX_CONGER_RATERS:
        k = ctx.k
        by_rater = _cell_counts((ctx.cluster[items], raters, codes), (ctx.n_clusters, n_raters, k))
        both = np.concatenate([gwet, by_rater.reshape(ctx.n_clusters, -1)], axis=1)
        width = gwet.shape[1]
        conger = {
            "conger_kappa": lambda s: compare.ag.conger_kappa(
                s[..., :width], s[..., width:].reshape(s.shape[:-1] + (n_raters, k))
            )
        }
        out.update(_evaluate(ctx, both, conger, n))
        light = n_raters <= MAX_RATER_PAIRS_RATERS
        if "conger_kappa" in out or light:
            rated = _wide(ctx, items, raters, n_raters, codes, NO_RATING)  # each rater's category per item
            if "conger_kappa" in out:
                out["conger_kappa"].analytic = compare.conger_error(rated, k)
            if light:
                out.update(_light(ctx, rated, n))
    return out


def _evaluate(
    ctx: AuditContext, per_cluster: np.ndarray, fns: dict[str, Callable[[np.ndarray], np.ndarray]], n: int
) -> dict[str, Estimate]:
    """``ctx.rs.sums_many`` (deferred) of the ``fns`` the audit computes.  The weights product of ``per_cluster``
    is registered even when none is: a float64 product's last bits depend on the other columns computed with it
    (OpenBLAS treats a column by its place in the matrix), so a selected coefficient keeps the full audit's bits
    only if the ceiling's products hold the same columns in the same order."""
    return ctx.rs.sums_many(per_cluster, compare.only_named(fns, ctx.selected(None)), n, defer=True)


def _cluster_sums(ctx: AuditContext, per_item: np.ndarray, cluster: np.ndarray | None = None) -> np.ndarray:
    """``(items, ...)`` per-item statistics summed per cluster (``cluster``: each row's, by default
    ``ctx.cluster``), one ``bincount`` per column: the same sums, added in the same order, as ``np.add.at``
    (several times faster)."""
    columns = per_item.reshape(len(per_item), -1).T
    return _column_sums(ctx, columns, cluster).reshape((ctx.n_clusters,) + per_item.shape[1:])


def _column_sums(ctx: AuditContext, columns: np.ndarray, cluster: np.ndarray | None = None) -> np.ndarray:
    """:func:`_cluster_sums` of statistics laid out a statistic per row, ``(statistics, items)`` (each row
    contiguous, as ``bincount`` reads it): ``(clusters, statistics)``."""
    cluster = ctx.cluster if cluster is None else cluster
    sums = np.zeros((ctx.n_clusters, len(columns)))
    for j, column in enumerate(columns):
        sums[:, j] = np.bincount(cluster, weights=column, minlength=ctx.n_clusters)
    return sums


def _cell_counts(index: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> np.ndarray:
    """How many rows fall in each cell of a table of ``shape`` (``index``: each row's position along every
    axis), as floats: one ``bincount`` of the flat cell."""
    cells = np.ravel_multi_index(index, shape) if len(index[0]) else np.zeros(0, dtype=np.int64)
    return np.bincount(cells, minlength=int(np.prod(shape))).reshape(shape).astype(float)


#: In the ``(items, raters)`` table of category codes: the rater gave the item none.
NO_RATING = -1


def _wide(
    ctx: AuditContext,
    items: np.ndarray,
    raters: np.ndarray,
    n_raters: int,
    values: np.ndarray,
    none: float = np.nan,
) -> np.ndarray:
    """``(items, raters)`` table of one value per item and rater, of ``values``' dtype (``none`` where the rater
    gave none; of repeated labels by one rater on one item, the last)."""
    wide = np.full((ctx.n_items, n_raters), none, dtype=values.dtype)
    wide[items, raters] = values
    return wide


def _light(ctx: AuditContext, rated: np.ndarray, n: int) -> dict[str, Estimate]:
    """Light's kappa: Cohen's kappa of every pair of raters on the items both labelled, averaged over pairs
    (``rated``: the ``(items, raters)`` table of category codes, :data:`NO_RATING` for none)."""
    pairs = list(combinations(range(rated.shape[1]), 2))
    k = ctx.k
    per_cluster = np.zeros((ctx.n_clusters, len(pairs), k, k))
    for p, (a, b) in enumerate(pairs):
        on = np.flatnonzero((rated[:, a] != NO_RATING) & (rated[:, b] != NO_RATING))
        cells = (ctx.cluster[on], rated[on, a], rated[on, b])
        per_cluster[:, p] = _cell_counts(cells, (ctx.n_clusters, k, k))
    return _evaluate(ctx, per_cluster, {"light_kappa": compare.ag.light_kappa}, n)


def _icc(
    ctx: AuditContext, items: np.ndarray, raters: np.ndarray, n_raters: int, x: np.ndarray
) -> dict[str, Estimate]:
    """ICC(A,1) and ICC(C,1) over the items every rater scored (none when fewer than two)."""
    wide = _wide(ctx, items, raters, n_raters, x)
    complete = np.all(np.isfinite(wide), axis=1)
    if complete.sum() < 2:
        return {}
    stats = np.zeros((ctx.n_items, n_raters + 3))
    stats[complete] = compare.icc.icc_item_stats(wide[complete])
    fns = {"icc_a1": compare.icc.icc_a1, "icc_c1": compare.icc.icc_c1}
    return _evaluate(ctx, _cluster_sums(ctx, stats), fns, int(complete.sum()))
