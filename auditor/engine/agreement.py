"""Judge against reference: the agreement family, the outcome rates and their gaps, on the shared bootstrap."""

from __future__ import annotations

import numpy as np

from auditor.engine.context import AuditContext, Side
from auditor.stats import compare
from auditor.stats.bootstrap import Estimate, bootstrap_p_value


def agreement_family(ctx: AuditContext, p: compare.Pairing) -> dict[str, Estimate]:
    """Agreement, kappa, Krippendorff's alpha (and correlations for likert / score) on a pairing."""
    out: dict[str, Estimate] = {}
    if p.n == 0:
        return out
    if ctx.task != "score":
        level = {"likert": "ordinal"}.get(ctx.task, "nominal")
        out.update(
            compare.agreement_metrics(
                p, ctx.rs, weighted=ctx.task in ("pairwise", "likert"), alpha_level=level
            )
        )
    else:
        out["krippendorff_alpha"] = compare.krippendorff_interval_pairs(p, ctx.rs)
        out.update(compare.icc_metrics(p, ctx.rs))
    if ctx.task in ("likert", "score"):
        out.update(compare.correlation_metrics(p, ctx.rs))
    return out


def has_rates(task: str) -> bool:
    """Whether the task has outcome rates (every task kind but categorical)."""
    return task in ("likert", "pairwise", "binary") or (task == "score")


def reference_rates(
    ctx: AuditContext, ref: Side, items: np.ndarray | None = None, slice: str | None = None
) -> dict[str, Estimate]:
    """Add the reference's own outcome rates and mean, over the items it labelled (within ``items``)."""
    ok = ctx.usable(ref) if items is None else ctx.usable(ref) & items
    idx = np.flatnonzero(ok)
    if not idx.size or not has_rates(ctx.task):
        return {}
    rates = compare.rate_estimates(
        ctx.indicators(ref, idx) or {}, ref.value[idx], ctx.cluster[idx], ctx.n_clusters, ctx.rs
    )
    for name, est in rates.items():
        ctx.add(name, ctx.cfg.reference, ctx.cfg.reference, est, slice=slice)
    return rates


def judge_metrics(
    ctx: AuditContext,
    judge: str,
    ref: Side,
    side: Side,
    items: np.ndarray | None = None,
    slice: str | None = None,
) -> tuple[compare.Pairing, dict[str, Estimate]]:
    """Add the agreement family, outcome rates and gaps of one judge against the reference (within ``items``).

    A gap's p-value is McNemar's exact test when every cluster holds one item, else the bootstrap's."""
    p, idx = ctx.pairing(ref, side, items)
    found = agreement_family(ctx, p)
    for name, est in found.items():
        ctx.add(name, judge, ctx.cfg.reference, est, slice=slice)
    if p.n and has_rates(ctx.task):
        j_ind = ctx.indicators(side, idx) or {}
        r_ind = ctx.indicators(ref, idx) or {}
        j_rates = compare.rate_estimates(j_ind, side.value[idx], p.cluster, ctx.n_clusters, ctx.rs)
        r_rates = compare.rate_estimates(r_ind, ref.value[idx], p.cluster, ctx.n_clusters, ctx.rs)
        singletons = np.all(np.bincount(p.cluster, minlength=ctx.n_clusters) <= 1)
        for name in j_rates:
            ctx.add(name, judge, ctx.cfg.reference, j_rates[name], slice=slice)
            gap = j_rates[name] - r_rates[name]
            if singletons and name in j_ind:
                pval = compare.mcnemar_exact(j_ind[name].astype(int), r_ind[name].astype(int))
            else:
                pval = bootstrap_p_value(gap) if ctx.cfg.resamples else None
            ctx.add(f"{name}_gap", judge, ctx.cfg.reference, gap, p_value=pval, slice=slice)
            found[name] = j_rates[name]
            found[f"{name}_gap"] = gap
    return p, found
