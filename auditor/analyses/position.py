"""The position probe: pairwise and likert judges that saw pairs in both orders.

Position (pairwise and likert judges that saw pairs in both orders, label ``order`` ``ab`` / ``ba``; labels are in
the original a/b numbering)
    ``agreement_original_order`` / ``agreement_swapped_order`` [J / reference]: share of items whose verdict in that
    order equals the reference label (items with a usable verdict in that order and a reference label);
    ``agreement_both_orders`` [J / reference]: an item counts only when the verdicts in *both* orders equal the
    reference (items with both verdicts); ``position_consistency`` [J / J]: same verdict in both orders (items with
    both); ``first_position_rate`` [J / J]: share of decisive verdicts (not a tie / the neutral rating) that favour
    the response shown first (0.5 = no position preference).  Unparsed verdicts are the core's exclusions; an item
    lacking a verdict in one order leaves the metrics that need that order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from auditor.config import AuditConfig
from auditor.engine.context import AuditContext, Side
from auditor.engine.slicing import Key, cluster_sums, over_slices, ratio
from auditor.engine.step import StepOutput
from auditor.stats.bootstrap import Estimate


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.probes.position:
        return StepOutput()
    return StepOutput(sections={"probes.position": position_probe(ctx)})


def neutral_value(ctx: AuditContext) -> float | None:
    """The value of "no difference": 0.5 for pairwise (a = 0, tie = 0.5, b = 1), the likert neutral point."""
    if ctx.task == "pairwise":
        return 0.5
    if ctx.task == "likert":
        return float(ctx.cfg.scale.neutral)
    return None


def order_sides(ctx: AuditContext) -> dict[str, tuple[Side, Side]]:
    """Per judge that has verdicts in both orders: its aggregated verdict in ``ab`` and in ``ba``."""
    orders = ctx.label_orders if ctx.task in ("pairwise", "likert") else None
    if orders is None:
        return {}
    in_ab, in_ba = orders == "ab", orders == "ba"
    if not (in_ab.any() and in_ba.any()):
        return {}
    out = {}
    for judge in ctx.sides:
        mine = ctx.judge_rows(judge)
        ab, ba = mine & in_ab, mine & in_ba
        if ab.any() and ba.any():
            out[judge] = (ctx.side(ab), ctx.side(ba))
    return out


def position_probe(ctx: AuditContext) -> dict[str, Any]:
    """Accuracy in each order and in both, position consistency and first-position preference, per judge."""
    sides = order_sides(ctx)
    if not sides:
        return {}
    neutral = neutral_value(ctx)
    ref_name = ctx.cfg.reference
    ref_ok = ctx.usable(ctx.ref)

    def compute(mask: np.ndarray) -> dict[Key, Estimate]:
        out: dict[Key, Estimate] = {}
        for judge, (ab, ba) in sides.items():
            ok_ab, ok_ba = ctx.usable(ab) & mask, ctx.usable(ba) & mask
            hit_ab = ok_ab & ref_ok & (ab.code == ctx.ref.code)
            hit_ba = ok_ba & ref_ok & (ba.code == ctx.ref.code)
            groups = {
                ("agreement_original_order", ref_name): (ok_ab & ref_ok, hit_ab),
                ("agreement_swapped_order", ref_name): (ok_ba & ref_ok, hit_ba),
                ("agreement_both_orders", ref_name): (ok_ab & ok_ba & ref_ok, hit_ab & hit_ba),
                ("position_consistency", judge): (ok_ab & ok_ba, ok_ab & ok_ba & (ab.code == ba.code)),
            }
            decisive_ab = ok_ab & (ab.value != neutral)
            decisive_ba = ok_ba & (ba.value != neutral)
            first = (decisive_ab & (ab.value < neutral)).astype(float) + (decisive_ba & (ba.value > neutral))
            decisive = decisive_ab.astype(float) + decisive_ba
            for (metric, reference), (den, num) in groups.items():
                idx = np.flatnonzero(den)
                if idx.size:
                    s = cluster_sums(ctx, idx, [np.ones(idx.size), num[idx]])
                    out[(metric, judge, reference)] = ctx.rs.sums(
                        s, lambda s: ratio(s, 1, 0), idx.size, defer=True
                    )
            idx = np.flatnonzero(decisive > 0)
            if idx.size:
                s = cluster_sums(ctx, idx, [decisive[idx], first[idx]])
                out[("first_position_rate", judge, judge)] = ctx.rs.sums(
                    s, lambda s: ratio(s, 1, 0), int(decisive[idx].sum()), defer=True
                )
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        over_slices(ctx, compute)
    note = (
        "first_position_rate counts decisive verdicts only (ties / the neutral rating excluded); 0.5 means no "
        "preference for the response shown first"
    )
    return {"judges": list(sides), "note": note}
