"""Judge against reference: the agreement family, the outcome rates and their gaps, on the shared bootstrap."""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

from auditor.engine.context import AuditContext, Side
from auditor.engine.selection import CATEGORY_KAPPA_TASKS, agreement_names
from auditor.metrics import OUTCOME_RATES, task_outcome_rates
from auditor.stats import compare
from auditor.stats.bootstrap import Estimate


def agreement_family(
    ctx: AuditContext, p: compare.Pairing, metrics: Collection[str] | None = None
) -> dict[str, Estimate]:
    """Agreement, kappa, Krippendorff's alpha (and correlations for likert / score) on a pairing; ``metrics``:
    only these (all when None; the others are not computed), within the audit's selection (:meth:`AuditContext.
    wants`)."""
    out: dict[str, Estimate] = {}
    metrics = ctx.selected(metrics)
    if p.n == 0 or (metrics is not None and agreement_names().isdisjoint(metrics)):
        return out
    if ctx.task != "score":
        level = {"likert": "ordinal"}.get(ctx.task, "nominal")
        weighted = ctx.task in ("pairwise", "likert")
        out.update(
            compare.agreement_metrics(p, ctx.rs, weighted=weighted, alpha_level=level, metrics=metrics)
        )
    else:
        if metrics is None or "krippendorff_alpha" in metrics:
            out["krippendorff_alpha"] = compare.krippendorff_interval_pairs(p, ctx.rs)
        out.update(compare.icc_metrics(p, ctx.rs, metrics))
    if ctx.task in ("likert", "score"):
        out.update(compare.correlation_metrics(p, ctx.rs, metrics))
    return out


#: The slice of a category-wise kappa row: ``category=<label>``.
CATEGORY_SLICE = "category="


def category_kappas(ctx: AuditContext, judge: str, confusion: Callable[[], np.ndarray], n: int) -> None:
    """Add ``category_kappa`` per category (one versus rest, slice ``category=<label>``) for the tasks of
    :data:`CATEGORY_KAPPA_TASKS` with three or more categories, from the ``(clusters, k, k)`` confusion tables
    (``confusion()``, asked only for those tasks) of ``n`` paired items; for two categories both would equal
    Cohen's kappa."""
    if ctx.task not in CATEGORY_KAPPA_TASKS or ctx.k < 3 or n == 0 or not ctx.wants("category_kappa"):
        return
    for label, est in zip(ctx.categories, compare.category_kappas(confusion(), n, ctx.rs), strict=True):
        ctx.add("category_kappa", judge, ctx.cfg.reference, est, slice=f"{CATEGORY_SLICE}{label}")


def has_rates(task: str) -> bool:
    """Whether the task has outcome rates, ``mean_score`` at least (every task kind but categorical:
    :func:`auditor.metrics.task_outcome_rates`)."""
    return bool(task_outcome_rates(task))


def wanted_rates(ctx: AuditContext, rates: Collection[str] | None = None) -> Collection[str] | None:
    """Of the outcome rates ``rates`` (None: all), those the audit computes (None: all); empty when the task has
    none or the selection asks for none, so that no rate is computed."""
    if not has_rates(ctx.task):
        return ()
    wanted = ctx.selected(rates)
    if wanted is not None and not any(name in wanted for name in OUTCOME_RATES):
        return ()
    return wanted


def reference_rates(
    ctx: AuditContext,
    ref: Side,
    items: np.ndarray | None = None,
    slice: str | None = None,
    rates: tuple[str, ...] | None = None,
) -> dict[str, Estimate]:
    """Add the reference's own outcome rates and mean, over the items it labelled (within ``items``); ``rates``:
    only these (all when None)."""
    ok = ctx.usable(ref) if items is None else ctx.usable(ref) & items
    idx = np.flatnonzero(ok)
    rates = wanted_rates(ctx, rates)
    if not idx.size or rates == ():
        return {}
    found = compare.rate_estimates(
        compare.only_named(ctx.indicators(ref, idx) or {}, rates),
        ref.value[idx],
        ctx.cluster[idx],
        ctx.n_clusters,
        ctx.rs,
    )
    rates = {name: est for name, est in found.items() if rates is None or name in rates}
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
    rates: tuple[str, ...] | None = None,
    agreement: bool = True,
) -> tuple[compare.Pairing, dict[str, Estimate]]:
    """Add the agreement family (unless ``agreement`` is false), outcome rates and gaps of one judge against the
    reference (within ``items``; ``rates``: only these outcome rates and their gaps, all when None).

    A gap's p-value is McNemar's exact test when every cluster holds one item, else the bootstrap's."""
    p, idx = ctx.pairing(ref, side, items)
    found = agreement_family(ctx, p) if agreement else {}
    for name, est in found.items():
        ctx.add(name, judge, ctx.cfg.reference, est, slice=slice)
    if agreement and slice is None:
        category_kappas(ctx, judge, p.confusion_by_cluster, p.n)
    rates = wanted_rates(ctx, rates)
    if p.n and rates != ():
        # only the rates asked for: their per-cluster sums are counts, exact in any product, so leaving the
        # others' columns out changes no number
        j_ind = compare.only_named(ctx.indicators(side, idx) or {}, rates)
        j_rates = compare.rate_estimates(j_ind, p.judge_value, p.cluster, ctx.n_clusters, ctx.rs)
        gaps = [r for r in j_rates if (rates is None or r in rates) and ctx.wants(f"{r}_gap")]
        if gaps:  # the reference's rates on the same items: only for the gaps
            r_ind = compare.only_named(ctx.indicators(ref, idx) or {}, rates)
            r_rates = compare.rate_estimates(r_ind, p.ref_value, p.cluster, ctx.n_clusters, ctx.rs)
        singletons = np.all(np.bincount(p.cluster, minlength=ctx.n_clusters) <= 1)
        for name in [r for r in j_rates if rates is None or r in rates]:
            ctx.add(name, judge, ctx.cfg.reference, j_rates[name], slice=slice)
            found[name] = j_rates[name]
            if name not in gaps:
                continue
            gap = j_rates[name] - r_rates[name]
            if singletons and name in j_ind:
                test = {"p_value": compare.mcnemar_exact(j_ind[name].astype(int), r_ind[name].astype(int))}
            else:
                test = ctx.test(gap)
            ctx.add(f"{name}_gap", judge, ctx.cfg.reference, gap, slice=slice, **test)
            found[f"{name}_gap"] = gap
    return p, found


#: The slice of the rows computed with ties left out (:func:`without_ties`).
TIES_EXCLUDED = "ties=excluded"
#: The outcome rates reported with ties left out (the others follow: no tie, and no better = a better).
RATES_WITHOUT_TIES = ("win_rate", "loss_rate")


def tie_items(ctx: AuditContext, side: Side) -> np.ndarray | None:
    """Per item: whether ``side``'s verdict is a tie (None for a task without ties: binary, categorical, a score
    without a neutral point)."""
    ind = ctx.indicators(side, np.arange(ctx.n_items))
    if not ind or "tie_rate" not in ind:
        return None
    return ind["tie_rate"] & ctx.usable(side)


def without_ties(ctx: AuditContext, ref: Side, sides: dict[str, Side]) -> None:
    """Add the main rates and the agreement family with ties left out, in the slice :data:`TIES_EXCLUDED`, beside
    the rows with ties included (MT-Bench's "with / without ties").

    Convention: a judge's rows leave out every item on which the reference *or* that judge says tie, so both sides
    are compared on the same decisive items (MT-Bench's "w/o tie" setup); the reference's own rates leave out the
    items on which it says tie.  Only :data:`RATES_WITHOUT_TIES` are reported (no tie is left, and "no better"
    equals "a better").  Nothing is added for a task without ties."""
    ref_tie = tie_items(ctx, ref)
    if ref_tie is None:
        return
    reference_rates(ctx, ref, ~ref_tie, TIES_EXCLUDED, RATES_WITHOUT_TIES)
    for judge, side in sides.items():
        judge_tie = tie_items(ctx, side)
        judge_metrics(ctx, judge, ref, side, ~(ref_tie | judge_tie), TIES_EXCLUDED, RATES_WITHOUT_TIES)
