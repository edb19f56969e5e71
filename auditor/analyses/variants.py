"""The persona and profile-view variants probe.

Persona sensitivity and profile views (judges named ``"<judge>|persona=<variant>"`` or
``"<judge>|profile_view=<view>@<place>"``, as :func:`run_variants` writes them)
    ``persona_flip_rate`` [judge / judge, slice ``persona=removed`` or ``persona=swapped``]: share of verdicts
    that change against the judge's verdict with the user's own profile, compared verdict by verdict in the same
    presentation order when both runs have orders (else the aggregated verdict per item; clustered as the items);
    ``persona_shift``: mean value with the variant minus with the own profile.  Every row of a ``profile_view`` variant is repeated under
    the base judge's name with slice ``profile_view=<view>@<place>``, and ``mean_prompt_tokens`` (per request,
    from the labels' ``prompt_tokens``) gives its token cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.contract import split_variant
from auditor.engine.context import AuditContext, Side
from auditor.engine.slicing import cluster_sums, ratio
from auditor.engine.step import StepOutput


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.probes.variants:
        return StepOutput()
    return StepOutput(sections={"probes.variants": variant_probe(ctx)})


def variant_probe(ctx: AuditContext) -> dict[str, Any]:
    """Persona flip rates and per-view slices of judges named ``base|key=value`` (see the module docstring)."""
    variants = {j: split_variant(j) for j in ctx.sides}
    variants = {j: v for j, v in variants.items() if v[1] is not None}
    if not variants:
        return {}
    persona: dict[str, Any] = {}
    views: dict[str, Any] = {}
    raw = ctx.t.raw_labels
    for judge, (base, key, value) in variants.items():
        if key == "persona":
            base_mask = ctx.t.labels["judge"].to_numpy() == base
            if not base_mask.any():
                persona[judge] = f"no judge {base!r} with the users' own profiles to compare with"
                continue
            pairs = _verdict_pairs(ctx, base_mask, ctx.t.labels["judge"].to_numpy() == judge)
            compared = np.zeros(ctx.n_items)
            flips = np.zeros(ctx.n_items)
            shift = np.zeros(ctx.n_items)
            for own, other, _ in pairs:
                both = ctx.usable(own) & ctx.usable(other)
                if ctx.task == "score":
                    flip = np.sign(other.value) != np.sign(own.value)
                else:
                    flip = other.code != own.code
                compared += both
                flips += both & flip
                shift += np.where(both, other.value - own.value, 0.0)
            idx = np.flatnonzero(compared > 0)
            if not idx.size:
                continue
            s = cluster_sums(ctx, idx, [compared[idx], flips[idx], shift[idx]])
            ests = ctx.rs.sums_many(
                s,
                {"persona_flip_rate": lambda s: ratio(s, 1, 0), "persona_shift": lambda s: ratio(s, 2, 0)},
                int(compared.sum()),
            )
            label = f"persona={value}"
            ctx.add("persona_flip_rate", base, base, ests["persona_flip_rate"], slice=label)
            ctx.add(
                "persona_shift",
                base,
                base,
                ests["persona_shift"],
                slice=label,
                **ctx.test(ests["persona_shift"]),
            )
            persona[judge] = {
                "flip_rate": ests["persona_flip_rate"].value,
                "verdicts": int(compared.sum()),
                "compared": "verdict by verdict in the same presentation order"
                if len(pairs) > 1 or pairs[0][2]
                else "aggregated verdict per item",
            }
        elif key == "profile_view":
            label = f"profile_view={value}"
            copies = [
                dict(
                    row,
                    judge=base,
                    slice=label,
                    reference=base if row["reference"] == judge else row["reference"],
                )
                for row in ctx.rows
                if row["judge"] == judge and row["slice"] is None
            ]
            # the kappa table names each pair of judges once, in sorted order: the pairs where this view is the
            # second name are its rows too (kappa is symmetric), so the slice does not depend on the names' order
            copies += [
                dict(row, judge=base, slice=label, reference=row["judge"])
                for row in ctx.rows
                if row["metric"] == "cohen_kappa"
                and row["reference"] == judge
                and row["judge"] not in (judge, base)
                and row["judge"] in ctx.sides
                and row["slice"] is None
            ]
            ctx.add_direct(copies)
            entry: dict[str, Any] = {"rows": len(copies)}
            if "prompt_tokens" in raw.columns:
                mine = raw[
                    (raw["judge"] == judge) & pd.to_numeric(raw["prompt_tokens"], errors="coerce").notna()
                ]
                if len(mine):
                    pos = ctx.item_pos.get_indexer(mine["item_id"])
                    tokens = pd.to_numeric(mine["prompt_tokens"]).to_numpy(float)
                    cl = ctx.cluster[pos]
                    s = np.stack(
                        [
                            np.bincount(cl, minlength=ctx.n_clusters).astype(float),
                            np.bincount(cl, weights=tokens, minlength=ctx.n_clusters),
                        ],
                        axis=1,
                    )
                    est = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), len(mine))
                    ctx.add("mean_prompt_tokens", base, base, est, slice=label)
                    entry.update(requests=int(len(mine)), prompt_tokens=int(tokens.sum()))
                    if "cost" in mine.columns and pd.to_numeric(mine["cost"], errors="coerce").notna().any():
                        entry["cost"] = float(pd.to_numeric(mine["cost"], errors="coerce").sum())
            views[judge] = entry
    return {k: v for k, v in {"persona": persona, "profile_views": views}.items() if v}


def _verdict_pairs(
    ctx: AuditContext, own_mask: np.ndarray, other_mask: np.ndarray
) -> list[tuple[Side, Side, bool]]:
    """Matched verdicts of two judges: per presentation order both have (``True``), else the aggregates (always
    the aggregates when the judges' orders are combined by balanced position calibration)."""
    order = ctx.label_orders
    if order is not None and ctx.cfg.judge_aggregate != "mean_score":  # calibrated: compare aggregates
        shared = sorted(set(order[own_mask]) & set(order[other_mask]) - {""})
        if shared:
            return [
                (ctx.side(own_mask & (order == o)), ctx.side(other_mask & (order == o)), True) for o in shared
            ]
    return [(ctx.side(own_mask, calibrate=True), ctx.side(other_mask, calibrate=True), False)]
