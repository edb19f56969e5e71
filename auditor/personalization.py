"""Personalization audits, one per stage of the pipeline ("Re-Centering Humans in LLM Personalization").

An audit extension (registered on import): after the core metrics it adds the rows of the audit's *stage*, taken
from ``AuditConfig.stage`` when the core has it, else from :func:`audit_stage`'s ``stage``, else from the items
table's ``stage`` column (one value).  Every estimate comes from the audit's shared cluster bootstrap
(``ctx.rs``), so differences between judges, slices and metrics are paired.

Stages and their metrics (``judge`` / ``reference`` of each row in brackets)
---------------------------------------------------------------------------
extraction (categorical, e.g. ``accept`` / ``uncertain`` / ``reject``)
    ``problematic_rate``: share of items whose label is problematic; by default ``uncertain`` and ``reject``
    count as problematic (``problematic=`` changes it; the policy is stated in ``audit.json``).  Humans: the
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

import contextlib
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

import numpy as np

from auditor.audit import AuditContext, Side, register_extension
from auditor.errors import ConfigError
from auditor.stats import agreement as ag
from auditor.stats.bootstrap import Estimate, bootstrap_p_value

STAGES = ("extraction", "relevance", "generation")
DEFAULT_PROBLEMATIC = ("uncertain", "reject")
MENTION_COLUMN = "mentions_attribute"
MAX_TABLE_RATERS = 8
MAX_TABLE_JUDGES = 12
MAX_SLICE_LEVELS = 4

Key = tuple[str, str, str]  # (metric, judge, reference)


@dataclass(frozen=True)
class StageOptions:
    """How a stage audit reads its data.

    ``stage``: one of :data:`STAGES` (None: from the config or the items' ``stage`` column);
    ``problematic``: the extraction labels that count as problematic; ``positive``: the relevance label meaning
    "relevant"; ``mention_column``: the item column saying the personalized response names the attribute;
    ``kappa_table``: add the pairwise kappa table.
    """

    stage: str | None = None
    problematic: tuple[str, ...] = DEFAULT_PROBLEMATIC
    positive: str = "1"
    mention_column: str = MENTION_COLUMN
    kappa_table: bool = True
    missing_reference: str | None = None  # set by audit_stage when the reference had no labels


_OPTIONS: ContextVar[StageOptions] = ContextVar("personalization_options", default=StageOptions())  # noqa: B039 (frozen)


@contextlib.contextmanager
def stage_options(**changes: Any) -> Iterator[StageOptions]:
    """Within the block, audits use these :class:`StageOptions` (e.g. ``problematic=("reject",)``)."""
    options = replace(_OPTIONS.get(), **changes)
    if options.stage is not None and options.stage not in STAGES:
        raise ConfigError(f"unknown stage {options.stage!r}; expected one of {', '.join(STAGES)}", column="stage")
    token = _OPTIONS.set(options)
    try:
        yield options
    finally:
        _OPTIONS.reset(token)


def audit_stage(labels: Any, items: Any = None, *, stage: str | None = None, problematic: tuple[str, ...] | None = None,
                reference_fallback: str | None = None, **audit_options: Any):
    """Audit one stage: :func:`auditor.audit` with the stage's metrics added.

    ``stage``: ``extraction``, ``relevance`` or ``generation`` (None: the items' ``stage`` column, if any);
    ``problematic``: extraction labels counted as
    problematic (default ``uncertain`` and ``reject``); ``audit_options`` go to :func:`auditor.audit` (``task``,
    ``config``, ``reference``, ``resamples``, ``slice_by``, ...).

    ``reference_fallback``: a judge to compare the others with when the reference (``human``) has no labels at
    all, e.g. stage 3 of the Re-Centering data, which holds no human ratings.  The result then says so in its
    warnings, its description and ``audit.json``'s ``comparisons`` section (what can and cannot be compared);
    without it such an audit is bad input, as in the core.

    Examples
    --------
    >>> from auditor.simulate import simulate_relevance_study
    >>> study = simulate_relevance_study(seed=1, n_users=20, with_truth=False)
    >>> result = audit_stage(study.labels, study.items, stage="relevance", task="binary", resamples=200)
    >>> row = result.metric("over_identification", "gpt-4o")
    >>> bool(row["value"] > 0)  # the simulated LLM finds more attributes relevant than the humans
    True
    """
    from auditor.audit import audit

    changes: dict[str, Any] = {"stage": stage}
    if problematic is not None:
        changes["problematic"] = tuple(problematic)
    if reference_fallback is not None:
        missing = _missing_reference(labels, audit_options)
        if missing is not None:
            changes["missing_reference"] = missing
            audit_options["reference"] = reference_fallback
    with stage_options(**changes):
        return audit(labels, items, **audit_options)


def _missing_reference(labels: Any, audit_options: dict[str, Any]) -> str | None:
    """The reference's name when ``labels`` hold none of its rows, else None."""
    from auditor.config import AuditConfig, load_config
    from auditor.io import read_labels

    config = audit_options.get("config")
    if isinstance(config, str) or hasattr(config, "__fspath__"):
        config = load_config(config)
    reference = audit_options.get("reference") or (config or AuditConfig()).reference
    frame = labels if hasattr(labels, "columns") else read_labels(labels)
    return None if (frame["judge"].astype(str) == reference).any() else reference


def stage_of(ctx: AuditContext) -> str | None:
    """The stage of an audit: the config's ``stage`` (once the core has it), the options, the items' column."""
    stage = getattr(ctx.cfg, "stage", None) or _OPTIONS.get().stage
    if stage is None and "stage" in ctx.t.items.columns:
        values = ctx.t.items["stage"].dropna().astype(str).unique()
        if len(values) == 1 and values[0] in STAGES:
            stage = values[0]
        elif len(values) > 1:
            ctx.warnings.append({"code": "mixed_stages", "message": "the items hold several stages ("
                                 + ", ".join(sorted(values)) + "); audit each stage on its own for its metrics",
                                 "count": len(values)})
    if stage is not None and stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}", column="stage")
    return stage


# ----------------------------------------------------------------------------------------------------------------
# helpers shared with auditor.probes


def add_estimates(ctx: AuditContext, found: dict[Key, Estimate], slice: str | None,
                  tested: frozenset[str] = frozenset()) -> None:
    """Add every estimate as a row; metrics in ``tested`` get a bootstrap p-value for ``value == 0``."""
    for (metric, judge, reference), est in found.items():
        p = bootstrap_p_value(est) if metric in tested and ctx.cfg.resamples else None
        ctx.add(metric, judge, reference, est, p_value=p, slice=slice)


def slice_columns(ctx: AuditContext, auto: tuple[str, ...] = ("source",)) -> list[str]:
    """The config's ``slice_by`` columns and the ``auto`` columns that hold two or more values."""
    columns = list(getattr(ctx.cfg, "slice_by", ()) or ())
    for column in auto:
        if column not in columns and column in ctx.t.items.columns and ctx.t.items[column].nunique() > 1:
            columns.append(column)
    return [c for c in columns if c in ctx.t.items.columns]


def over_slices(ctx: AuditContext, compute: Callable[[np.ndarray], dict[Key, Estimate]],
                tested: frozenset[str] = frozenset(), auto: tuple[str, ...] = ("source",)) -> None:
    """Run ``compute(item_mask)`` on all items, per value of each slice column, and add the paired difference
    between values (later minus earlier in sorted order) for up to :data:`MAX_SLICE_LEVELS` values."""
    everything = np.ones(ctx.n_items, dtype=bool)
    add_estimates(ctx, compute(everything), None, tested)
    for column in slice_columns(ctx, auto):
        raw = ctx.t.items[column]
        values = raw.astype(object).where(raw.notna(), "(missing)").astype(str).to_numpy()
        levels = sorted(set(values.tolist()))
        if len(levels) > 20:
            continue
        found = {}
        for level in levels:
            found[level] = compute(values == level)
            add_estimates(ctx, found[level], f"{column}={level}", tested)
        if len(levels) > MAX_SLICE_LEVELS:
            continue
        for earlier, later in combinations(levels, 2):
            label = f"{column}={later} - {column}={earlier}"
            for key in [k for k in found[later] if k in found[earlier]]:
                diff = paired_difference(found[later][key], found[earlier][key])
                p = bootstrap_p_value(diff) if ctx.cfg.resamples else None
                ctx.add(key[0], key[1], key[2], diff, p_value=p, slice=label)


def paired_difference(later: Estimate, earlier: Estimate) -> Estimate:
    """``later - earlier`` on the same resamples; a cluster that holds no data of one side leaves that side
    unchanged in the jackknife (its value, not NaN), so that slices over disjoint clusters (e.g. users with real
    vs synthetic conversations) keep a jackknife and their BCa acceleration."""
    diff = later - earlier
    if later.jack is None or earlier.jack is None:
        return diff
    in_later, in_earlier = np.isfinite(later.jack), np.isfinite(earlier.jack)
    jack = np.where(in_later, later.jack, later.value) - np.where(in_earlier, earlier.jack, earlier.value)
    occupied = in_later | in_earlier
    jack[~occupied] = np.nan
    return Estimate(diff.value, diff.boot, jack, diff.n, int(occupied.sum()))


def cluster_sums(ctx: AuditContext, idx: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """``(G, len(columns))`` per-cluster sums of the columns over the items ``idx``."""
    cluster = ctx.cluster[idx]
    return np.stack([np.bincount(cluster, weights=np.asarray(c, float), minlength=ctx.n_clusters)
                     for c in columns], axis=1)


def ratio(s: np.ndarray, num: int, den: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return s[..., num] / s[..., den]


def reference_has_labels(ctx: AuditContext) -> bool:
    return bool(ctx.ref.has.any())


# ----------------------------------------------------------------------------------------------------------------
# the extension


@register_extension
def personalization_extension(ctx: AuditContext) -> None:
    """Add the stage's rows (see the module docstring); nothing when the audit has no stage."""
    options = _OPTIONS.get()
    configured = getattr(ctx.cfg, "problematic", None)  # once the config carries it ([personalization] problematic)
    if configured and options.problematic == DEFAULT_PROBLEMATIC:
        options = replace(options, problematic=tuple(configured))
    if options.missing_reference:
        state_comparisons(ctx, options.missing_reference)
    stage = stage_of(ctx)
    if stage is None:
        return
    section: dict[str, Any] = {"stage": stage}
    if stage == "extraction":
        section.update(extraction_metrics(ctx, options))
    elif stage == "relevance":
        section.update(relevance_metrics(ctx, options))
    else:
        section.update(generation_metrics(ctx, options))
    if options.kappa_table:
        section["kappa_table"] = kappa_table(ctx)
    ctx.meta_extra["personalization"] = section


def state_comparisons(ctx: AuditContext, missing: str) -> None:
    """Say, in the warnings, the description and ``audit.json``'s ``comparisons``, that ``missing`` (the humans)
    left no labels and that the audit's reference is a judge: what can be compared and what cannot."""
    stand_in = ctx.cfg.reference
    possible = [f"each judge against {stand_in!r} (agreement, kappa, correlations, outcome-rate gaps)",
                "the judges' own outcome rates and mean ratings",
                "position consistency and first-position preference (both orders)",
                "persona flip rates and profile-view differences between judge variants",
                "the pairwise kappa table among the judges"]
    impossible = [f"any comparison with {missing!r}: agreement or correlation with {missing}, the {missing} "
                  "no-better rate and mean rating, gaps to them, the human ceiling, accuracy against "
                  f"{missing} in either order, length preference beyond {missing}'s"]
    message = (f"No labels from {missing!r}: nothing here is compared with {missing}. The reference in this audit "
               f"is the judge {stand_in!r}, a stand-in for judge-vs-judge comparisons, not a ground truth. "
               f"Possible: {'; '.join(possible)}. Not possible: {'; '.join(impossible)}.")
    ctx.warnings.append({"code": "no_human_reference", "message": message, "count": ctx.n_items})
    ctx.meta_extra["comparisons"] = {"missing_reference": missing, "reference": stand_in,
                                     "reference_is_a_judge": True, "possible": possible,
                                     "not_possible": impossible}
    ctx.meta_extra["description"] = ((ctx.cfg.description or "").rstrip() + "\n\n" + message).strip()


# -- stage 1 -------------------------------------------------------------------------------------------------------
def _problematic_codes(ctx: AuditContext, problematic: tuple[str, ...]) -> np.ndarray:
    if ctx.task != "categorical" or not ctx.categories:
        raise ConfigError(f"the extraction stage needs a categorical task (e.g. accept / uncertain / reject), "
                          f"not {ctx.task!r}", column="task")
    unknown = [p for p in problematic if p not in ctx.categories]
    if unknown:
        raise ConfigError(f"problematic label(s) {', '.join(map(repr, unknown))} are not among the categories "
                          f"{', '.join(ctx.categories)}", column="problematic")
    return np.array([ctx.categories.index(p) for p in problematic], dtype=np.int64)


def extraction_metrics(ctx: AuditContext, options: StageOptions) -> dict[str, Any]:
    """Stage 1 rows: problematic rates, their gaps, agreement on problematic-or-not (see the module docstring)."""
    bad = _problematic_codes(ctx, options.problematic)
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
            s = np.stack([np.bincount(cl, minlength=ctx.n_clusters).astype(float),
                          np.bincount(cl, weights=vote_bad[in_mask], minlength=ctx.n_clusters)], axis=1)
            out[("problematic_vote_rate", ref_name, ref_name)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0),
                                                                             int(in_mask.sum()))
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
                "problematic_agreement": lambda s: (s[..., 0] - s[..., 1] - s[..., 2] + 2 * s[..., 3]) / s[..., 0],
                "problematic_kappa": lambda s: ag.cohen_kappa(_two_by_two(s)),
            }
            for name, est in ctx.rs.sums_many(s, fns, both.size).items():
                out[(name, judge, ref_name)] = est
        return out

    over_slices(ctx, compute, tested=frozenset({"problematic_rate_gap"}))
    policy = (f"Stage 1 (extraction): an attribute counts as problematic when its label is "
              f"{' or '.join(repr(p) for p in options.problematic)}"
              + (" (uncertain counts as problematic, the default policy)" if "uncertain" in options.problematic
                 else " (uncertain does not count as problematic)") + ".")
    ctx.meta_extra["policy"] = ctx.cfg.policy_text() + " " + policy
    return {"problematic": list(options.problematic), "policy": policy}


def _two_by_two(s: np.ndarray) -> np.ndarray:
    n, j, r, jr = (s[..., i] for i in range(4))
    return np.stack([np.stack([n - j - r + jr, j - jr], -1), np.stack([r - jr, jr], -1)], -2)


# -- stage 2 -------------------------------------------------------------------------------------------------------
def relevance_metrics(ctx: AuditContext, options: StageOptions) -> dict[str, Any]:
    """Stage 2 rows: relevant rates, over-identification, precision / recall / F1 (see the module docstring)."""
    if ctx.task != "binary" or not ctx.categories or options.positive not in ctx.categories:
        raise ConfigError(f"the relevance stage needs a binary task with the label {options.positive!r}, not "
                          f"{ctx.task!r}", column="task")
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
    mapped = raw.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else
                     {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "yes": 1.0, "no": 0.0}.get(str(v).strip().lower()))
    bad = raw.notna() & mapped.isna()
    if bad.any():
        raise ConfigError(f"item column {column!r} must be true / false, got {raw[bad].iloc[0]!r}", column=column)
    return mapped.to_numpy(dtype=float)


def generation_metrics(ctx: AuditContext, options: StageOptions) -> dict[str, Any]:
    """Stage 3 rows: the attribute-mention effect per side and its judge-minus-human gap."""
    mention = _mention(ctx, options.mention_column)
    if mention is None:
        return {"attribute_mention_effect": f"not computed: the items have no {options.mention_column!r} column"}
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
                s = np.concatenate([cluster_sums(ctx, both, columns(side.value, both)),
                                    cluster_sums(ctx, both, columns(ctx.ref.value, both))], axis=1)
                out[("attribute_mention_effect_gap", judge, ref_name)] = ctx.rs.sums(
                    s, lambda s: effect(s[..., :4]) - effect(s[..., 4:]), both.size)
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        over_slices(ctx, compute, tested=frozenset({"attribute_mention_effect", "attribute_mention_effect_gap"}))
    return {"mention_column": options.mention_column, "items_with_mention": int(np.nansum(mention)),
            "items_without_mention": int(np.sum(mention == 0))}


# -- the pairwise kappa table ------------------------------------------------------------------------------------
def kappa_table(ctx: AuditContext) -> dict[str, Any]:
    """Cohen's kappa of every pair among the individual reference raters and the judges, with the mean per kind
    of pair; rows ``cohen_kappa`` (``judge``, ``reference`` = the pair) and ``mean_pairwise_kappa``."""
    ref_name = ctx.cfg.reference
    if not ctx.k:
        return {"note": "no kappa table for score tasks"}
    labels = ctx.t.labels
    ref_mask = labels["judge"].to_numpy() == ref_name
    raters = labels.loc[ref_mask, "rater"]
    people: dict[str, Side] = {}
    if raters.notna().any():
        names = list(dict.fromkeys(raters.fillna("unknown").astype(str).tolist()))
        if len(names) <= MAX_TABLE_RATERS:
            rater_col = labels["rater"].fillna("unknown").astype(str).to_numpy()
            for r in names:
                people[f"{ref_name}:{r}"] = ctx.side(ref_mask & (rater_col == r))
    judges = dict(list(ctx.sides.items())[:MAX_TABLE_JUDGES])
    everyone = {**people, **judges}
    kinds: dict[str, list[Estimate]] = {f"{ref_name}~{ref_name}": [], f"{ref_name}~judge": [], "judge~judge": []}
    pairs = []
    for a, b in combinations(everyone, 2):
        sa, sb = everyone[a], everyone[b]
        idx = np.flatnonzero(ctx.usable(sa) & ctx.usable(sb))
        if idx.size < 2:
            continue
        flat = np.bincount(ctx.cluster[idx] * ctx.k * ctx.k + sb.code[idx] * ctx.k + sa.code[idx],
                           minlength=ctx.n_clusters * ctx.k * ctx.k)
        conf = flat.reshape(ctx.n_clusters, ctx.k, ctx.k).astype(float)
        est = ctx.rs.sums(conf, ag.cohen_kappa, int(idx.size))
        ctx.add("cohen_kappa", a, b, est)
        kind = (f"{ref_name}~{ref_name}" if a in people and b in people else
                "judge~judge" if a not in people and b not in people else f"{ref_name}~judge")
        kinds[kind].append(est)
        pairs.append({"a": a, "b": b, "kind": kind, "kappa": est.value, "n": int(idx.size)})
    for kind, ests in kinds.items():
        if ests:
            with warnings.catch_warnings():  # a cluster outside every pair has an all-NaN jackknife column
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = Estimate.mean(ests)
            ctx.add("mean_pairwise_kappa", kind, kind, mean)
    return {"raters": list(people), "judges": list(judges), "pairs": pairs}


__all__ = ["STAGES", "DEFAULT_PROBLEMATIC", "StageOptions", "stage_options", "audit_stage", "stage_of",
           "personalization_extension", "extraction_metrics", "relevance_metrics", "generation_metrics",
           "kappa_table", "over_slices"]
