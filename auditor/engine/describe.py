"""audit.json's description of a run (``meta``), assembled once from the context, by either engine."""

from __future__ import annotations

from typing import Any

import numpy as np

from auditor.engine.context import AuditContext as Context


def selection(ctx: Context) -> dict[str, Any]:
    """audit.json's ``selection`` when the config selects metrics (``metrics``: as given, ``computed``: with what
    they need, :func:`auditor.engine.selection.computed`); nothing without one, so such an audit.json is unchanged."""
    if ctx.metrics is None:
        return {}
    return {"selection": {"metrics": list(ctx.cfg.metrics), "computed": sorted(ctx.metrics)}}


def meta(
    ctx: Context,
    *,
    cluster: str | None = None,
    judges: list[str] | None = None,
    n_items_with_reference: int | None = None,
) -> dict[str, Any]:
    """audit.json's description of the run, then the steps' sections (which may restate ``description`` and
    ``policy``: a stand-in reference, the core's split-tie count, the extraction stage's policy).  An engine that
    aggregates elsewhere (no ``ctx.t``) passes the cluster column, the judges and the reference's item count."""
    cfg, task = ctx.cfg, ctx.task
    if ctx.t is not None:
        cluster = cfg.cluster if cfg.cluster in ctx.t.items.columns else "item_id"
        judges = list(ctx.t.judges)
        n_items_with_reference = int(ctx.usable(ctx.ref).sum())
    ind = ctx.indicators(ctx.ref, np.flatnonzero(ctx.usable(ctx.ref)))
    return {
        "title": cfg.title or "Judge audit",
        "description": cfg.description,
        "simulated": bool(cfg.simulated),
        "task": task,
        "scale": (
            {"min": cfg.scale.min, "max": cfg.scale.max, "neutral": cfg.scale.neutral}
            if task == "likert"
            else None
        ),
        "categories": list(ctx.categories) if ctx.categories else None,
        "reference": cfg.reference,
        "policy": {"text": cfg.policy_text()},
        "n_items": ctx.n_items,
        "n_items_with_reference": n_items_with_reference,
        "n_clusters": ctx.n_clusters,
        "cluster": cluster,
        "judges": judges,
        "rates": list(ind) if ind else [],
        "bootstrap": {
            "resamples": cfg.resamples,
            "seed": cfg.seed,
            "level": cfg.level,
            "method": cfg.method,
            "cluster": cluster,
        },
        "aggregation": {
            "rule": cfg.aggregate_rule,
            "tie_break": cfg.tie_break_rule,
            "judges": cfg.judge_aggregate,
            "judge_margin": cfg.judge_margin,
        },
        "p_value_correction": cfg.correction,
        "arms": dict(cfg.arms) if cfg.arms else None,
        "slice_by": list(cfg.slice_by),
        **selection(ctx),
        **ctx.sections,
    }
