"""The human ceiling: how far the reference's raters agree with each other (leave-one-rater-out against the
others' aggregate, Fleiss' kappa and Krippendorff's alpha over all raters, and every pair of raters)."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from auditor.engine import aggregation as agg
from auditor.engine.agreement import agreement_family
from auditor.engine.context import AuditContext
from auditor.stats import compare
from auditor.stats.bootstrap import Estimate

MAX_RATER_PAIRS_RATERS = 8
PAIR_METRICS = ("agreement", "cohen_kappa", "krippendorff_alpha", "pearson", "spearman")


def human_ceiling(ctx: AuditContext, ref_mask: np.ndarray) -> list[dict[str, Any]]:
    """Add the reference's rows against itself (judge = reference = its name) and, for up to
    :data:`MAX_RATER_PAIRS_RATERS` raters, each pair's as slice ``raters=r1~r2`` (r1 before r2 in sorted order, whatever
    the order of the rows); returns its warnings."""
    warnings: list[dict[str, Any]] = []
    labels = ctx.t.labels
    name = ctx.cfg.reference
    sub = labels[ref_mask]
    raters = sub["rater"]
    if raters.isna().all():
        slots = sub.groupby("item_id").cumcount().map(lambda i: f"slot{i + 1}")
        rater_ids = slots.to_numpy()
        if len(sub) > sub["item_id"].nunique():
            warnings.append(
                {
                    "code": "no_rater_ids",
                    "message": f"{name} labels carry no rater ids: the "
                    "human ceiling treats the n-th label of each item as rater 'slot n'",
                    "count": int(len(sub)),
                }
            )
    else:
        rater_ids = raters.fillna("unknown").to_numpy()
    # sorted, so pair slices are named canonically (``raters=r1~r2`` with r1 < r2) whatever the order of the rows
    all_raters = sorted(dict.fromkeys(rater_ids.tolist()), key=str)
    per_item = np.bincount(ctx.row_item[ref_mask], minlength=ctx.n_items)
    if len(all_raters) < 2 or per_item.max(initial=0) < 2:
        return warnings
    positions = np.flatnonzero(ref_mask)
    full_mask_for = {}
    for r in all_raters:
        m = np.zeros_like(ref_mask)
        m[positions[rater_ids == r]] = True
        full_mask_for[r] = m
    loo: dict[str, list[Estimate]] = {}
    for r in all_raters:
        mine = ctx.side(full_mask_for[r])
        others = ctx.side(ref_mask & ~full_mask_for[r])
        p, _ = ctx.pairing(others, mine)
        if p.n < 2:
            continue
        for metric, est in agreement_family(ctx, p).items():
            loo.setdefault(metric, []).append(est)
    multi = multi_rater(ctx, ref_mask)
    for metric, ests in loo.items():
        est = multi.get(metric) or Estimate.mean(ests)
        ctx.add(metric, name, name, est)
    if len(all_raters) <= MAX_RATER_PAIRS_RATERS:  # every pair of raters, as slices
        for r1, r2 in combinations(all_raters, 2):
            p, _ = ctx.pairing(ctx.side(full_mask_for[r1]), ctx.side(full_mask_for[r2]))
            if p.n < 2:
                continue
            for metric, est in agreement_family(ctx, p).items():
                if metric in PAIR_METRICS:
                    ctx.add(metric, name, name, est, slice=f"raters={r1}~{r2}")
    return warnings


def multi_rater(ctx: AuditContext, ref_mask: np.ndarray) -> dict[str, Estimate]:
    """Fleiss' kappa and Krippendorff's alpha over all reference raters at once."""
    items = ctx.row_item[ref_mask]
    out: dict[str, Estimate] = {}
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
        out["krippendorff_alpha"] = ctx.rs.sums(
            sums,
            lambda s: compare.ag.krippendorff_alpha_interval_from_sums(*np.moveaxis(s, -1, 0)),
            int(ok.sum()),
        )
        return out
    counts = agg.count_table(items, ctx.t.labels["code"].to_numpy(np.int64)[ref_mask], ctx.n_items, ctx.k)
    n_i = counts.sum(1)
    ok = n_i > 1
    n = int(ok.sum())
    level = "ordinal" if ctx.task == "likert" else "nominal"
    coinc = compare.ag.coincidence_from_counts(counts[ok])
    per_cluster = np.zeros((ctx.n_clusters, ctx.k, ctx.k))
    np.add.at(per_cluster, ctx.cluster[ok], coinc)
    out["krippendorff_alpha"] = ctx.rs.sums(
        per_cluster, lambda o: compare.ag.krippendorff_alpha_from_coincidence(o, level), n
    )
    p_i = compare.ag.fleiss_item_terms(counts[ok])
    cols = np.column_stack([np.ones(n), p_i, counts[ok].astype(float), n_i[ok].astype(float)])
    sums = np.zeros((ctx.n_clusters, cols.shape[1]))
    np.add.at(sums, ctx.cluster[ok], cols)
    k = ctx.k
    out["fleiss_kappa"] = ctx.rs.sums(
        sums, lambda s: compare.ag.fleiss_kappa(s[..., 0], s[..., 1], s[..., 2 : 2 + k], s[..., 2 + k]), n
    )
    return out
