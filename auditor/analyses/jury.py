"""The jury step: several judges combined into one, audited like one judge, and how independent their errors are.

* ``jury:majority`` (pairwise, likert, binary, categorical): per item, the most frequent of the members'
  aggregated verdicts; without a strict winner the audit's declared tie-break decides (pairwise / likert ``tie`` /
  ``neutral``: the neutral category).  Members that gave no verdict on an item do not vote.  Where the tie-break
  excludes (``exclude``, the default for binary and categorical tasks) the jury is *undecided*: an outcome, not a
  silent exclusion.  The jury is scored on every item its members voted on (the same items as its members):
  ``undecided_rate`` is the share undecided, and agreement, Cohen's kappa, Scott's pi, Fleiss' kappa and nominal
  Krippendorff's alpha count an undecided item as a disagreement with the reference (an extra category the
  reference never uses).  Coefficients that need an ordered scale or a fixed number of categories (weighted kappas,
  ordinal alpha, correlations, Gwet's AC1, Brennan-Prediger) are then left out for the jury, and its outcome rates
  and gaps are over the items it decided (their ``n`` says how many).  A jury cannot look better than its members
  by abstaining on the hard items.
* ``jury:mean`` (likert, score): the mean of the members' values; on a likert scale rounded to the nearest scale
  point, halves rounded toward the neutral point.
* Error correlations: a member's error on an item is ``value - reference value`` (likert, score, pairwise with
  ``a = 0, tie = 0.5, b = 1``) or ``1[verdict != reference]`` (binary, categorical), on the items every member and
  the reference labelled.  From their Pearson correlation matrix ``R`` over ``k`` members, the effective number of
  independent judges is ``k^2 / sum_jl R_jl`` (= ``k / (1 + (k - 1) mean off-diagonal r)``): the number of judges
  with independent errors whose average would be as noisy as the jury's average, equal error variances assumed.
  ``1`` means the judges make the same errors; ``k`` independent ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.engine import aggregation as agg
from auditor.engine.agreement import judge_metrics
from auditor.engine.context import AuditContext, Side
from auditor.engine.step import StepOutput
from auditor.io import json_safe
from auditor.stats import compare

RULES = ("majority", "mean")


def effective_judges(correlation: np.ndarray) -> float:
    """``k^2 / sum(R)`` for a ``k x k`` correlation matrix ``R`` (NaN if any entry is undefined)."""
    r = np.asarray(correlation, float)
    total = r.sum(axis=(-2, -1))
    k = r.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return k * k / total


def _correlation_from_sums(s: np.ndarray, k: int) -> np.ndarray:
    """Correlation matrices from summed ``[count, sum e_j (k), sum e_j e_l (k*k)]`` (leading axes: replicates)."""
    n = s[..., 0]
    mean = s[..., 1 : 1 + k] / n[..., None]
    cross = s[..., 1 + k :].reshape(s.shape[:-1] + (k, k)) / n[..., None, None]
    cov = cross - mean[..., :, None] * mean[..., None, :]
    sd = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        return cov / (sd[..., :, None] * sd[..., None, :])


def error_correlation(errors: np.ndarray | pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of the judges' errors (items x judges, complete rows only)."""
    frame = pd.DataFrame(errors).dropna()
    return frame.corr(method="pearson")


def member_errors(ctx: AuditContext, members: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(items x members)`` errors on the items every member and the reference labelled, and those items."""
    ok = ctx.usable(ctx.ref).copy()
    for m in members:
        ok &= ctx.usable(ctx.sides[m])
    idx = np.flatnonzero(ok)
    if ctx.task in ("binary", "categorical"):
        errors = np.column_stack(
            [(ctx.sides[m].code[idx] != ctx.ref.code[idx]).astype(float) for m in members]
        )
    else:
        errors = np.column_stack([ctx.sides[m].value[idx] - ctx.ref.value[idx] for m in members])
    return errors, idx


def combine(ctx: AuditContext, members: Sequence[str], rule: str) -> Side | None:
    """The jury's verdict per item under ``rule`` (``None`` when the rule does not fit the task)."""
    sides = [ctx.sides[m] for m in members]
    has = np.zeros(ctx.n_items, dtype=bool)
    for s in sides:
        has |= ctx.usable(s)
    if rule == "majority":
        if ctx.task == "score":
            return None
        counts = np.zeros((ctx.n_items, ctx.k), dtype=np.int64)
        for s in sides:
            ok = s.code >= 0
            np.add.at(counts, (np.flatnonzero(ok), s.code[ok]), 1)
        neutral = ctx.neutral_code()
        code = agg.majority(counts, ctx.cfg.tie_break_rule, neutral)
        value = np.where(code >= 0, ctx.values[np.maximum(code, 0)], np.nan)
        code[(code < 0) & (counts.sum(axis=1) > 0)] = undecided_code(ctx)
        return Side(code, value, has)
    if rule == "mean":
        if ctx.task not in ("likert", "score"):
            return None
        values = np.column_stack([s.value for s in sides])
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(values, axis=1) if values.size else np.full(ctx.n_items, np.nan)
        if ctx.task == "score":
            return Side(np.full(ctx.n_items, agg.NONE), mean, has)
        neutral = float(ctx.cfg.scale.neutral)
        # nearest scale point, halves toward the neutral point
        toward = np.sign(neutral - mean)
        rounded = np.where(np.abs(mean - np.round(mean)) == 0.5, mean + 0.5 * toward, np.round(mean))
        code = np.where(np.isfinite(mean), rounded - ctx.cfg.scale.min, agg.NONE).astype(np.int64)
        value = np.where(code >= 0, ctx.values[np.maximum(code, 0)], np.nan)
        return Side(code, value, has)
    raise ValueError(f"unknown jury rule {rule!r}; expected one of {', '.join(RULES)}")


def undecided_code(ctx: AuditContext) -> int:
    """The code of a jury's "undecided" verdict: one past the task's categories (the reference never uses it)."""
    return ctx.k


#: The coefficients that stay defined with an extra, unordered "undecided" category.
NOMINAL_WITH_UNDECIDED = ("agreement", "cohen_kappa", "scott_pi", "fleiss_kappa", "krippendorff_alpha")


def audit_side(ctx: AuditContext, name: str, side: Side, can_abstain: bool = False) -> dict[str, int]:
    """The core's per-judge rows for a synthetic judge: agreement family, outcome rates and their gaps, scored on
    every item the members voted on (undecided items count as disagreements; see the module docstring).  Returns
    the items scored and the undecided count."""
    ref = ctx.ref
    undecided = side.code == undecided_code(ctx)
    decided = Side(np.where(undecided, agg.NONE, side.code), side.value, side.has)
    scored = np.flatnonzero(ctx.usable(ref) & (side.code >= 0))
    counts = {"n_items": int(scored.size), "undecided": int(undecided[scored].sum())}
    # with undecided items, the agreement family is computed below with "undecided" as its own category instead
    judge_metrics(ctx, name, ref, decided, agreement=not counts["undecided"])
    if counts["undecided"]:
        p = compare.Pairing(
            ref.code[scored],
            side.code[scored],
            ref.value[scored],
            np.nan_to_num(side.value[scored]),
            ctx.cluster[scored],
            ctx.n_clusters,
            ctx.k + 1,
        )
        found = compare.agreement_metrics(
            p, ctx.rs, weighted=False, alpha_level="nominal", metrics=ctx.selected(NOMINAL_WITH_UNDECIDED)
        )
        for metric in ctx.selected(NOMINAL_WITH_UNDECIDED):
            ctx.add(metric, name, ctx.cfg.reference, found[metric])
    if can_abstain and scored.size:
        share = compare.rate_estimates(
            {"undecided_rate": undecided[scored]},
            np.zeros(scored.size),
            ctx.cluster[scored],
            ctx.n_clusters,
            ctx.rs,
        )
        ctx.add("undecided_rate", name, ctx.cfg.reference, share["undecided_rate"])
    return counts


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    """Juries of the configured members and rules; their sides go to ``context.juries`` (the alt-test puts them
    to the test too) and the ``jury`` section to audit.json."""
    if not config.jury.enabled:
        return StepOutput()
    ctx.juries, section = jury_rows(ctx, rules=config.jury.rules, members=config.jury.members)
    return StepOutput(sections={"jury": json_safe(section)})


def jury_rows(
    ctx: AuditContext, rules: Sequence[str] = RULES, members: Sequence[str] | None = None
) -> tuple[dict[str, Side], dict[str, Any]]:
    """Audit each jury as a judge and add ``jury_effective_judges``; returns the juries' sides (name ->
    :class:`Side`) and the ``jury`` section (members, rules, the error correlations).  Needs 2 members."""
    if (
        members is None
    ):  # by default a judge's probe variants (``base|key=value``) are not separate jurors, nor
        # are the variants of the judge serving as the reference (a stand-in when there are no human labels)
        bases = set(ctx.sides) | {ctx.cfg.reference}
        members = [m for m in ctx.sides if "|" not in m or m.split("|", 1)[0] not in bases]
    members = [m for m in members if m in ctx.sides]
    section: dict[str, Any] = {"members": members, "rules": list(rules)}
    if len(members) < 2:
        section["note"] = "a jury needs at least 2 judges"
        return {}, section
    juries: dict[str, Side] = {}
    for rule in rules:
        side = combine(ctx, members, rule)
        if side is None:
            continue
        name = f"jury:{rule}"
        juries[name] = side
        section.setdefault("scored", {})[name] = audit_side(ctx, name, side, can_abstain=rule == "majority")
    errors, idx = member_errors(ctx, members)
    k = len(members)
    section["n_items"] = int(idx.size)
    if idx.size >= 3:
        cols = [np.ones(idx.size)] + [errors[:, j] for j in range(k)]
        cols += [errors[:, j] * errors[:, m] for j in range(k) for m in range(k)]
        per_cluster = np.stack(
            [np.bincount(ctx.cluster[idx], weights=c, minlength=ctx.n_clusters) for c in cols], axis=1
        )
        corr = _correlation_from_sums(per_cluster.sum(0), k)
        section["error_correlation"] = [
            [None if not np.isfinite(v) else float(v) for v in row] for row in corr
        ]
        est = ctx.rs.sums(
            per_cluster, lambda s: effective_judges(_correlation_from_sums(s, k)), int(idx.size)
        )
        section["effective_judges"] = est.value
        ctx.add("jury_effective_judges", "jury", ctx.cfg.reference, est)
    return juries, section
