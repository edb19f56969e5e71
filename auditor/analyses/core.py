"""The core step: the reference's and every judge's aggregated verdicts, the reference's outcome rates, the human
ceiling, each judge against the reference (agreement family, outcome rates and gaps, confusion tables, score
pairs), the same with ties left out (slice ``ties=excluded``), the slices (every metric per ``slice_by`` column; the outcome rates and gaps per ``source`` when it holds two
or more values) and audit.json's
``policy`` with the count of reference ties made from split votes.  Every later step reads ``context.ref`` and ``context.sides`` from here."""

from __future__ import annotations

from typing import Any

import numpy as np

from auditor.config import AuditConfig
from auditor.engine.aggregation import split_ties
from auditor.engine.agreement import judge_metrics, reference_rates, tie_items, without_ties
from auditor.engine.ceiling import human_ceiling
from auditor.engine.context import AuditContext, Side
from auditor.engine.integrity import items_without_reference, judge_exclusions, reference_exclusions
from auditor.engine.slicing import core_slices, slice_columns
from auditor.engine.step import StepOutput

MAX_SCORE_PAIRS = 2000


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    out = StepOutput()
    ref_name = config.reference
    ctx.ref_mask = ctx.judge_rows(ref_name)
    ref = ctx.side(ctx.ref_mask, calibrate=True)
    ctx.ref = ref
    ref_ok = ctx.usable(ref)
    out.exclusions.extend(reference_exclusions(ref_name, int(np.sum(ref.has & ~ref_ok))))
    out.warnings.extend(items_without_reference(int(np.sum(~ref.has)), ref_name))

    reference_rates(ctx, ref)
    out.warnings.extend(human_ceiling(ctx, ctx.ref_mask))

    sides: dict[str, Side] = {}
    ctx.sides = sides
    for judge in ctx.t.judges:
        side = ctx.side(ctx.judge_rows(judge), calibrate=True)
        sides[judge] = side
        usable = ctx.usable(side)
        lost, unref = int(np.sum(side.has & ~usable)), int(np.sum(usable & ~ref_ok))
        out.exclusions.extend(judge_exclusions(judge, lost, unref))
        p, _ = judge_metrics(ctx, judge, ref, side)
        if ctx.k and p.n:
            k = ctx.k
            conf = np.bincount(p.ref_code * k + p.judge_code, minlength=k * k).reshape(k, k)
            out.confusion.append(
                {
                    "judge": judge,
                    "reference": ref_name,
                    "categories": list(ctx.categories),
                    "counts": conf.tolist(),
                }
            )
        if ctx.task in ("likert", "score") and p.n:
            sel = np.arange(p.n)
            sampled = p.n > MAX_SCORE_PAIRS
            if sampled:
                sel = np.sort(np.random.default_rng(config.seed).choice(p.n, MAX_SCORE_PAIRS, replace=False))
            out.score_pairs.append(
                {
                    "judge": judge,
                    "reference": ref_name,
                    "x": p.ref_value[sel].tolist(),
                    "y": p.judge_value[sel].tolist(),
                    "sampled": bool(sampled),
                }
            )

    without_ties(ctx, ref, sides)
    out.sections["policy"] = reference_policy(ctx)
    for column in config.slice_by:  # every metric (an unknown column is an error)
        out.warnings.extend(core_slices(ctx, column))
    for column in slice_columns(
        ctx
    ):  # ``source`` when it holds two or more values: the outcome rates and gaps
        if column not in config.slice_by:
            out.warnings.extend(core_slices(ctx, column, agreement=False))
    return out


def reference_policy(ctx: AuditContext) -> dict[str, Any]:
    """audit.json's ``policy``: the policy in words (``text``), the tie-break, and for a task with ties the
    reference's ties (``reference_ties``) and how many of them the rule made from split votes
    (``reference_split_ties``: no strict majority of the item's reference labels said tie, e.g. one rater ``a``
    and one ``b``; :func:`auditor.engine.aggregation.split_ties`); ``None`` for a task without ties."""
    policy: dict[str, Any] = {
        "text": ctx.cfg.policy_text(),
        "tie_break": ctx.cfg.tie_break_rule,
        "reference_ties": None,
        "reference_split_ties": None,
    }
    ties = tie_items(ctx, ctx.ref)
    tie_code = ctx.neutral_code()
    if ties is not None and tie_code is not None:
        split = split_ties(ctx.vote_counts(ctx.ref_mask), ctx.ref.code, tie_code)
        policy["reference_ties"] = int(ties.sum())
        policy["reference_split_ties"] = int((split & ties).sum())
    return policy
