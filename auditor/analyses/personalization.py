"""The personalization step: one audit per stage of the pipeline ("Re-Centering Humans in LLM Personalization").

After the core metrics it adds the rows of the audit's *stage*, taken from ``config.personalization.stage`` (the
TOML's ``stage``, or :func:`auditor.personalization.audit_stage`'s ``stage``), else from the items table's
``stage`` column (one value).  Every estimate comes from the audit's shared cluster bootstrap (``ctx.rs``), so
differences between judges, slices and metrics are paired.  Options: ``config.personalization``.

Stages and their metrics (``judge`` / ``reference`` of each row in brackets)
---------------------------------------------------------------------------
extraction (categorical, e.g. ``accept`` / ``uncertain`` / ``reject``)
    ``problematic_rate``: share of items whose label is problematic; by default ``uncertain`` and ``reject``
    count as problematic (``personalization.problematic`` changes it; the policy is stated in ``audit.json``).  Humans: the
    aggregated (majority) label [human / human]; a judge on every item it labelled [J / J] and on the items both
    labelled [J / human], with ``problematic_rate_gap`` (judge minus humans, paired).  ``problematic_vote_rate``
    [human / human]: share of single human votes that are problematic (no majority needed).
    ``problematic_agreement`` / ``problematic_kappa`` [J / human]: agreement and Cohen's kappa on the
    problematic-or-not dichotomy.
relevance (binary, ``1`` = the attribute should change the response)
    ``relevant_rate`` [human / human], [J / J] (every item the judge labelled: the published per-model rates) and
    [J / human] (items both labelled); ``over_identification`` = judge rate / human rate - 1 on the items both
    labelled; ``precision``, ``recall``, ``f1`` of the judge's ``1`` against the human aggregate.
generation (likert or pairwise, generic ``a`` vs personalized ``b``)
    The core's no-better rate, mean gap, Spearman / Kendall, plus ``attribute_mention_effect``: mean value when
    the personalized response names the user's attribute (item column ``mentions_attribute`` true) minus when it
    does not, per side on the items it labelled [J / J, human / human], and ``attribute_mention_effect_gap``
    (judge effect minus human effect on the items both labelled) [J / human].

Every stage also gets the pairwise Cohen's kappa table: each pair among the individual human raters (named
``human:<rater>``, at most 8) and the judges, rows ``cohen_kappa`` with ``judge`` and ``reference`` naming the
pair, and ``mean_pairwise_kappa`` per kind of pair (``judge`` = ``human~human``, ``human~judge``,
``judge~judge``; ``reference`` the same).

Slices: every row above is repeated per value of each ``slice_by`` column of the config and of ``source`` when
the items hold two or more sources, with the paired difference ``source=synthetic - source=real`` (later minus
earlier in sorted order, the core's convention).
"""

from __future__ import annotations

import warnings
from itertools import combinations
from typing import Any

import numpy as np

from auditor.config import STAGES, AuditConfig, PersonalizationConfig
from auditor.engine.context import AuditContext, Side
from auditor.engine.slicing import Key, cluster_sums, over_slices, ratio
from auditor.engine.step import StepOutput
from auditor.errors import ConfigError
from auditor.stats import agreement as ag
from auditor.stats.bootstrap import Estimate

MAX_TABLE_RATERS = 8
MAX_TABLE_JUDGES = 12


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    """Add the stage's rows (see the module docstring); without a stage only the stand-in statement, if any."""
    options = config.personalization
    out = StepOutput()
    if options.missing_reference:
        warning, out.sections = state_comparisons(ctx, options.missing_reference)
        out.warnings.append(warning)
    stage = stage_of(ctx, options.stage, out.warnings)
    if stage is None:
        return out
    section: dict[str, Any] = {"stage": stage}
    if stage == "extraction":
        part = extraction_metrics(ctx, options)
        out.sections["policy.text"] = ctx.cfg.policy_text() + " " + part["policy"]
        section.update(part)
    elif stage == "relevance":
        section.update(relevance_metrics(ctx, options))
    else:
        section.update(generation_metrics(ctx, options))
    if options.kappa_table:
        section["kappa_table"] = kappa_table(ctx)
    out.sections["personalization"] = section
    return out


def stage_of(ctx: AuditContext, stage: str | None, warnings: list[dict[str, Any]]) -> str | None:
    """The stage of an audit: the configured one, else the items' ``stage`` column when it holds one value (several
    values: a ``mixed_stages`` warning and no stage)."""
    if stage is None and "stage" in ctx.t.items.columns:
        values = ctx.t.items["stage"].dropna().astype(str).unique()
        if len(values) == 1 and values[0] in STAGES:
            stage = values[0]
        elif len(values) > 1:
            warnings.append(
                {
                    "code": "mixed_stages",
                    "message": "the items hold several stages ("
                    + ", ".join(sorted(values))
                    + "); audit each stage on its own for its metrics",
                    "count": len(values),
                }
            )
    if stage is not None and stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}", column="stage")
    return stage


def state_comparisons(ctx: AuditContext, missing: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Say, in a warning, the description and audit.json's ``comparisons``, that ``missing`` (the humans) left no
    labels and that the audit's reference is a judge: what can be compared and what cannot.  Returns the warning
    and the sections (``comparisons``, ``description``)."""
    stand_in = ctx.cfg.reference
    possible = [
        f"each judge against {stand_in!r} (agreement, kappa, correlations, outcome-rate gaps)",
        "the judges' own outcome rates and mean ratings",
        "position consistency and first-position preference (both orders)",
        "persona flip rates and profile-view differences between judge variants",
        "the pairwise kappa table among the judges",
    ]
    impossible = [
        f"any comparison with {missing!r}: agreement or correlation with {missing}, the {missing} "
        "no-better rate and mean rating, gaps to them, the human ceiling, accuracy against "
        f"{missing} in either order, length preference beyond {missing}'s"
    ]
    message = (
        f"No labels from {missing!r}: nothing here is compared with {missing}. The reference in this audit "
        f"is the judge {stand_in!r}, a stand-in for judge-vs-judge comparisons, not a ground truth. "
        f"Possible: {'; '.join(possible)}. Not possible: {'; '.join(impossible)}."
    )
    warning = {"code": "no_human_reference", "message": message, "count": ctx.n_items}
    sections = {
        "comparisons": {
            "missing_reference": missing,
            "reference": stand_in,
            "reference_is_a_judge": True,
            "possible": possible,
            "not_possible": impossible,
        },
        "description": ((ctx.cfg.description or "").rstrip() + "\n\n" + message).strip(),
    }
    return warning, sections


# -- stage 1 -------------------------------------------------------------------------------------------------------
def _problematic_codes(ctx: AuditContext, problematic: tuple[str, ...]) -> np.ndarray:
    if ctx.task != "categorical" or not ctx.categories:
        raise ConfigError(
            f"the extraction stage needs a categorical task (e.g. accept / uncertain / reject), "
            f"not {ctx.task!r}",
            column="task",
        )
    unknown = [p for p in problematic if p not in ctx.categories]
    if unknown:
        raise ConfigError(
            f"problematic label(s) {', '.join(map(repr, unknown))} are not among the categories "
            f"{', '.join(ctx.categories)}",
            column="problematic",
        )
    return np.array([ctx.categories.index(p) for p in problematic], dtype=np.int64)


def extraction_metrics(ctx: AuditContext, options: PersonalizationConfig) -> dict[str, Any]:
    """Stage 1 rows: problematic rates, their gaps, agreement on problematic-or-not (see the module docstring)."""
    problematic = options.problematic_labels
    bad = _problematic_codes(ctx, problematic)
    ref_name = ctx.cfg.reference
    labels = ctx.t.labels
    vote_rows = np.flatnonzero(labels["judge"].to_numpy() == ref_name)
    vote_item = ctx.row_item[vote_rows]
    vote_bad = np.isin(labels["code"].to_numpy(np.int64)[vote_rows], bad).astype(float)

    def is_bad(side: Side) -> np.ndarray:
        return np.isin(side.code, bad)

    def compute(mask: np.ndarray) -> dict[Key, Estimate]:
        out: dict[Key, Estimate] = {}
        ref_ok = ctx.usable(ctx.ref) & mask
        idx = np.flatnonzero(ref_ok)
        if idx.size:
            s = cluster_sums(ctx, idx, [np.ones(idx.size), is_bad(ctx.ref)[idx]])
            out[("problematic_rate", ref_name, ref_name)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), idx.size)
        in_mask = mask[vote_item]
        if in_mask.any():
            cl = ctx.cluster[vote_item[in_mask]]
            s = np.stack(
                [
                    np.bincount(cl, minlength=ctx.n_clusters).astype(float),
                    np.bincount(cl, weights=vote_bad[in_mask], minlength=ctx.n_clusters),
                ],
                axis=1,
            )
            out[("problematic_vote_rate", ref_name, ref_name)] = ctx.rs.sums(
                s, lambda s: ratio(s, 1, 0), int(in_mask.sum())
            )
        for judge, side in ctx.sides.items():
            own = np.flatnonzero(ctx.usable(side) & mask)
            if own.size:
                s = cluster_sums(ctx, own, [np.ones(own.size), is_bad(side)[own]])
                out[("problematic_rate", judge, judge)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), own.size)
            both = np.flatnonzero(ctx.usable(side) & ref_ok)
            if not both.size:
                continue
            j, r = is_bad(side)[both].astype(float), is_bad(ctx.ref)[both].astype(float)
            s = cluster_sums(ctx, both, [np.ones(both.size), j, r, j * r])
            # 2x2 table from (n, j, r, jr): [[n - j - r + jr, j - jr], [r - jr, jr]] (rows = reference)
            fns = {
                "problematic_rate": lambda s: ratio(s, 1, 0),
                "problematic_rate_gap": lambda s: ratio(s, 1, 0) - ratio(s, 2, 0),
                "problematic_agreement": _two_by_two_agreement,
                "problematic_kappa": lambda s: ag.cohen_kappa(_two_by_two(s)),
            }
            for name, est in ctx.rs.sums_many(s, fns, both.size).items():
                out[(name, judge, ref_name)] = est
        return out

    over_slices(ctx, compute, tested=frozenset({"problematic_rate_gap"}))
    policy = (
        f"Stage 1 (extraction): an attribute counts as problematic when its label is "
        f"{' or '.join(repr(p) for p in problematic)}"
        + (
            " (uncertain counts as problematic, the default policy)"
            if "uncertain" in problematic
            else " (uncertain does not count as problematic)"
        )
        + "."
    )
    return {"problematic": list(problematic), "policy": policy}


def _two_by_two_agreement(s: np.ndarray) -> np.ndarray:
    """The share of items where judge and reference agree, ``(n - j - r + 2 jr) / n`` from the sums ``(n, j, r, jr)``
    (NaN where a resample has no item)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (s[..., 0] - s[..., 1] - s[..., 2] + 2 * s[..., 3]) / s[..., 0]


def _two_by_two(s: np.ndarray) -> np.ndarray:
    n, j, r, jr = (s[..., i] for i in range(4))
    return np.stack([np.stack([n - j - r + jr, j - jr], -1), np.stack([r - jr, jr], -1)], -2)


# -- stage 2 -------------------------------------------------------------------------------------------------------
def relevance_metrics(ctx: AuditContext, options: PersonalizationConfig) -> dict[str, Any]:
    """Stage 2 rows: relevant rates, over-identification, precision / recall / F1 (see the module docstring)."""
    if ctx.task != "binary" or not ctx.categories or options.positive not in ctx.categories:
        raise ConfigError(
            f"the relevance stage needs a binary task with the label {options.positive!r}, not {ctx.task!r}",
            column="task",
        )
    pos = ctx.categories.index(options.positive)
    ref_name = ctx.cfg.reference

    def compute(mask: np.ndarray) -> dict[Key, Estimate]:
        out: dict[Key, Estimate] = {}
        ref_ok = ctx.usable(ctx.ref) & mask
        idx = np.flatnonzero(ref_ok)
        if idx.size:
            s = cluster_sums(ctx, idx, [np.ones(idx.size), ctx.ref.code[idx] == pos])
            out[("relevant_rate", ref_name, ref_name)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), idx.size)
        for judge, side in ctx.sides.items():
            own = np.flatnonzero(ctx.usable(side) & mask)
            if own.size:
                s = cluster_sums(ctx, own, [np.ones(own.size), side.code[own] == pos])
                out[("relevant_rate", judge, judge)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), own.size)
            both = np.flatnonzero(ctx.usable(side) & ref_ok)
            if not both.size:
                continue
            j = (side.code[both] == pos).astype(float)
            r = (ctx.ref.code[both] == pos).astype(float)
            s = cluster_sums(ctx, both, [np.ones(both.size), j, r, j * r])
            fns = {
                "relevant_rate": lambda s: ratio(s, 1, 0),
                "over_identification": lambda s: ratio(s, 1, 2) - 1.0,
                "precision": lambda s: ratio(s, 3, 1),
                "recall": lambda s: ratio(s, 3, 2),
                "f1": lambda s: 2 * s[..., 3] / (s[..., 1] + s[..., 2]),
            }
            with np.errstate(divide="ignore", invalid="ignore"):
                for name, est in ctx.rs.sums_many(s, fns, both.size).items():
                    out[(name, judge, ref_name)] = est
        return out

    over_slices(ctx, compute, tested=frozenset({"over_identification"}))
    return {"positive": options.positive}


# -- stage 3 -------------------------------------------------------------------------------------------------------
def _mention(ctx: AuditContext, column: str) -> np.ndarray | None:
    if column not in ctx.t.items.columns:
        return None
    raw = ctx.t.items[column]
    mapped = raw.map(
        lambda v: (
            None
            if v is None or (isinstance(v, float) and np.isnan(v))
            else {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0}.get(
                str(v).strip().lower()
            )
        )
    )
    bad = raw.notna() & mapped.isna()
    if bad.any():
        raise ConfigError(
            f"item column {column!r} must be true / false, got {raw[bad].iloc[0]!r}", column=column
        )
    return mapped.to_numpy(dtype=float)


def generation_metrics(ctx: AuditContext, options: PersonalizationConfig) -> dict[str, Any]:
    """Stage 3 rows: the attribute-mention effect per side and its judge-minus-human gap."""
    mention = _mention(ctx, options.mention_column)
    if mention is None:
        return {
            "attribute_mention_effect": f"not computed: the items have no {options.mention_column!r} column"
        }
    known = np.isfinite(mention)
    ref_name = ctx.cfg.reference

    def effect(s: np.ndarray) -> np.ndarray:  # columns: n1, sum1, n0, sum0
        return ratio(s, 1, 0) - ratio(s, 3, 2)

    def columns(values: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
        m = mention[idx]
        v = values[idx]
        return [m, m * v, 1 - m, (1 - m) * v]

    def compute(mask: np.ndarray) -> dict[Key, Estimate]:
        out: dict[Key, Estimate] = {}
        ref_ok = ctx.usable(ctx.ref) & mask & known
        idx = np.flatnonzero(ref_ok)
        if idx.size:
            s = cluster_sums(ctx, idx, columns(ctx.ref.value, idx))
            out[("attribute_mention_effect", ref_name, ref_name)] = ctx.rs.sums(s, effect, idx.size)
        for judge, side in ctx.sides.items():
            own = np.flatnonzero(ctx.usable(side) & mask & known)
            if own.size:
                s = cluster_sums(ctx, own, columns(side.value, own))
                out[("attribute_mention_effect", judge, judge)] = ctx.rs.sums(s, effect, own.size)
            both = np.flatnonzero(ctx.usable(side) & ref_ok)
            if both.size:
                s = np.concatenate(
                    [
                        cluster_sums(ctx, both, columns(side.value, both)),
                        cluster_sums(ctx, both, columns(ctx.ref.value, both)),
                    ],
                    axis=1,
                )
                out[("attribute_mention_effect_gap", judge, ref_name)] = ctx.rs.sums(
                    s, lambda s: effect(s[..., :4]) - effect(s[..., 4:]), both.size
                )
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        over_slices(
            ctx, compute, tested=frozenset({"attribute_mention_effect", "attribute_mention_effect_gap"})
        )
    return {
        "mention_column": options.mention_column,
        "items_with_mention": int(np.nansum(mention)),
        "items_without_mention": int(np.sum(mention == 0)),
    }


# -- the pairwise kappa table ------------------------------------------------------------------------------------
def kappa_table(ctx: AuditContext) -> dict[str, Any]:
    """Cohen's kappa of every pair among the individual reference raters and the judges, with the mean per kind
    of pair; rows ``cohen_kappa`` (``judge``, ``reference`` = the pair: a rater before a judge, two raters or two
    judges in sorted order, so a pair is named the same whatever the order of the input rows) and
    ``mean_pairwise_kappa``."""
    ref_name = ctx.cfg.reference
    if not ctx.k:
        return {"note": "no kappa table for score tasks"}
    labels = ctx.t.labels
    ref_mask = labels["judge"].to_numpy() == ref_name
    raters = labels.loc[ref_mask, "rater"]
    people: dict[str, Side] = {}
    if raters.notna().any():
        names = sorted(dict.fromkeys(raters.fillna("unknown").astype(str).tolist()))
        if len(names) <= MAX_TABLE_RATERS:
            rater_col = labels["rater"].fillna("unknown").astype(str).to_numpy()
            for r in names:
                people[f"{ref_name}:{r}"] = ctx.side(ref_mask & (rater_col == r))
    judges = dict(list(ctx.sides.items())[:MAX_TABLE_JUDGES])
    everyone = {**people, **judges}
    kinds: dict[str, list[Estimate]] = {
        f"{ref_name}~{ref_name}": [],
        f"{ref_name}~judge": [],
        "judge~judge": [],
    }
    pairs = []
    for a, b in combinations(everyone, 2):
        # two raters or two judges: named in sorted order, whatever the order of the input rows
        if (a in people) == (b in people):
            a, b = sorted((a, b))
        sa, sb = everyone[a], everyone[b]
        idx = np.flatnonzero(ctx.usable(sa) & ctx.usable(sb))
        if idx.size < 2:
            continue
        flat = np.bincount(
            ctx.cluster[idx] * ctx.k * ctx.k + sb.code[idx] * ctx.k + sa.code[idx],
            minlength=ctx.n_clusters * ctx.k * ctx.k,
        )
        conf = flat.reshape(ctx.n_clusters, ctx.k, ctx.k).astype(float)
        est = ctx.rs.sums(conf, ag.cohen_kappa, int(idx.size))
        ctx.add("cohen_kappa", a, b, est)
        kind = (
            f"{ref_name}~{ref_name}"
            if a in people and b in people
            else "judge~judge"
            if a not in people and b not in people
            else f"{ref_name}~judge"
        )
        kinds[kind].append(est)
        pairs.append({"a": a, "b": b, "kind": kind, "kappa": est.value, "n": int(idx.size)})
    for kind, ests in kinds.items():
        if ests:
            with warnings.catch_warnings():  # a cluster outside every pair has an all-NaN jackknife column
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = Estimate.mean(ests)
            ctx.add("mean_pairwise_kappa", kind, kind, mean)
    return {"raters": list(people), "judges": list(judges), "pairs": pairs}
