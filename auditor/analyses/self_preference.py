"""The self-preference probe.

Self-preference (item column ``generator``, or ``generator_a`` / ``generator_b``)
    ``self_preference`` [J / reference]: with one ``generator`` per item, the judge's mean value on items its own
    model family generated minus on the others, minus the same difference of the reference (on the items both
    labelled); with ``generator_a`` / ``generator_b``, the judge's mean preference for its own family's response
    (preference of b scaled to 0-1, ``1 - that`` when a is its own) minus the reference's, on items where exactly
    one response is its family's.  Families by :func:`model_family`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.contract import VARIANT_SEPARATOR
from auditor.engine.context import AuditContext, Side
from auditor.engine.slicing import cluster_sums, over_slices, ratio
from auditor.engine.step import StepOutput

FAMILY_ALIASES = {
    "chatgpt": "gpt",
    "o": "gpt",
    "openai": "gpt",
    "sonnet": "claude",
    "opus": "claude",
    "haiku": "claude",
    "palm": "gemini",
    "bard": "gemini",
}


def model_family(name: str) -> str:
    """A model's family from its name: the leading letters, lower case, after any ``provider:`` prefix and before
    any ``|variant`` suffix (``gpt-5.4`` and ``openai:gpt-4o`` -> ``gpt``; ``claude-sonnet-4-6`` -> ``claude``;
    ``ChatGPT-0301`` -> ``gpt`` through :data:`FAMILY_ALIASES`)."""
    base = name.split(VARIANT_SEPARATOR, 1)[0].rsplit(":", 1)[-1].rsplit("/", 1)[-1].strip().lower()
    match = re.match(r"[a-z]+", base)
    family = match.group(0) if match else base
    return FAMILY_ALIASES.get(family, family)


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.probes.self_preference:
        return StepOutput()
    return StepOutput(sections={"probes.self_preference": self_preference_probe(ctx)})


def self_preference_probe(ctx: AuditContext) -> dict[str, Any]:
    """``self_preference`` per judge whose model family generated some of the items (see the module docstring)."""
    items = ctx.t.items
    if ctx.task not in ("pairwise", "likert", "score", "binary"):
        return {}
    ref, ref_name = ctx.ref, ctx.cfg.reference
    lo_v, hi_v = (
        (0.0, 1.0)
        if ctx.task in ("pairwise", "binary")
        else ((float(ctx.cfg.scale.min), float(ctx.cfg.scale.max)) if ctx.task == "likert" else (0.0, 1.0))
    )
    two_sided = {"generator_a", "generator_b"} <= set(items.columns)
    if not two_sided and "generator" not in items.columns:
        return {}
    families = {}
    if two_sided:
        fam_a = items["generator_a"].map(lambda g: model_family(str(g)) if pd.notna(g) else None).to_numpy()
        fam_b = items["generator_b"].map(lambda g: model_family(str(g)) if pd.notna(g) else None).to_numpy()
    else:
        fam = items["generator"].map(lambda g: model_family(str(g)) if pd.notna(g) else None).to_numpy()
        has_family = np.array([f is not None for f in fam], dtype=bool)
    for judge, side in ctx.sides.items():
        family = model_family(judge)
        if two_sided:
            own_a, own_b = fam_a == family, fam_b == family
            one = own_a ^ own_b
            if not one.any():
                continue
            families[judge] = family

            def own_score(s: Side, own_b=own_b) -> np.ndarray:
                b = (s.value - lo_v) / (hi_v - lo_v)
                return np.where(own_b, b, 1.0 - b)

            def compute(mask: np.ndarray, side=side, one=one, own_score=own_score, judge=judge) -> dict:
                out = {}
                both = np.flatnonzero(ctx.usable(side) & mask & one & ctx.usable(ref))
                if both.size:
                    s = cluster_sums(
                        ctx, both, [np.ones(both.size), own_score(side)[both], own_score(ref)[both]]
                    )
                    out[("self_preference", judge, ref_name)] = ctx.rs.sums(
                        s, lambda s: ratio(s, 1, 0) - ratio(s, 2, 0), both.size
                    )
                return out
        else:
            own = fam == family
            if not own.any() or own.all():
                continue
            families[judge] = family

            def compute(mask: np.ndarray, side=side, own=own, judge=judge) -> dict:
                out = {}
                both = np.flatnonzero(ctx.usable(side) & mask & ctx.usable(ref) & has_family)
                if both.size:
                    o = own[both].astype(float)
                    jv, rv = side.value[both], ref.value[both]
                    s = cluster_sums(ctx, both, [o, o * jv, 1 - o, (1 - o) * jv, o * rv, (1 - o) * rv])

                    def diff(s: np.ndarray) -> np.ndarray:
                        judge_gap = ratio(s, 1, 0) - ratio(s, 3, 2)
                        ref_gap = s[..., 4] / s[..., 0] - s[..., 5] / s[..., 2]
                        return judge_gap - ref_gap

                    out[("self_preference", judge, ref_name)] = ctx.rs.sums(s, diff, both.size)
                return out

        with np.errstate(divide="ignore", invalid="ignore"):
            over_slices(ctx, compute, tested=frozenset({"self_preference"}))
    if not families:
        return {}
    return {
        "families": families,
        "definition": (
            "own-family response preference minus the reference's (generator_a / generator_b)"
            if two_sided
            else "judge's (own - other) mean minus the reference's (generator)"
        ),
    }
