"""Bias probes of judges, computed from the labels table (an audit extension, registered on import).

Position (pairwise and likert judges that saw pairs in both orders, label ``order`` ``ab`` / ``ba``; labels are in
the original a/b numbering)
    ``agreement_original_order`` / ``agreement_swapped_order`` [J / reference]: share of items whose verdict in that
    order equals the reference label (items with a usable verdict in that order and a reference label);
    ``agreement_both_orders`` [J / reference]: an item counts only when the verdicts in *both* orders equal the
    reference (items with both verdicts); ``position_consistency`` [J / J]: same verdict in both orders (items with
    both); ``first_position_rate`` [J / J]: share of decisive verdicts (not a tie / the neutral rating) that favour
    the response shown first (0.5 = no position preference).  Unparsed verdicts are the core's exclusions; an item
    lacking a verdict in one order leaves the metrics that need that order.
Length (``response_a`` / ``response_b`` texts)
    ``length_preference``: coefficient of ``log2(len(b) / len(a))`` (characters) in a logistic regression of "the
    judge prefers b" (decisive verdicts) on that length ratio, controlling for the reference's verdict (indicators
    of reference b-better and reference tie), fitted by statsmodels with cluster-robust standard errors (clusters =
    the audit's); Wald interval and p-value.  > 0: the judge favours the longer response beyond what the reference
    does; per doubling of b's relative length, in log-odds.  The reference's own row [ref / ref] has no control.
Self-preference (item column ``generator``, or ``generator_a`` / ``generator_b``)
    ``self_preference`` [J / reference]: with one ``generator`` per item, the judge's mean value on items its own
    model family generated minus on the others, minus the same difference of the reference (on the items both
    labelled); with ``generator_a`` / ``generator_b``, the judge's mean preference for its own family's response
    (preference of b scaled to 0-1, ``1 - that`` when a is its own) minus the reference's, on items where exactly
    one response is its family's.  Families by :func:`model_family`.
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

import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from auditor.audit import AuditContext, Side, register_extension
from auditor.errors import ConfigError
from auditor.personalization import Key, cluster_sums, over_slices, ratio, slice_columns
from auditor.stats.bootstrap import Estimate, bootstrap_p_value

VARIANT_SEPARATOR = "|"
FAMILY_ALIASES = {"chatgpt": "gpt", "o": "gpt", "openai": "gpt", "sonnet": "claude", "opus": "claude",
                  "haiku": "claude", "palm": "gemini", "bard": "gemini"}


def model_family(name: str) -> str:
    """A model's family from its name: the leading letters, lower case, after any ``provider:`` prefix and before
    any ``|variant`` suffix (``gpt-5.4`` and ``openai:gpt-4o`` -> ``gpt``; ``claude-sonnet-4-6`` -> ``claude``;
    ``ChatGPT-0301`` -> ``gpt`` through :data:`FAMILY_ALIASES`)."""
    base = name.split(VARIANT_SEPARATOR, 1)[0].rsplit(":", 1)[-1].rsplit("/", 1)[-1].strip().lower()
    match = re.match(r"[a-z]+", base)
    family = match.group(0) if match else base
    return FAMILY_ALIASES.get(family, family)


def split_variant(judge: str) -> tuple[str, str | None, str | None]:
    """``"m|persona=removed"`` -> ``("m", "persona", "removed")``; a plain name -> ``(name, None, None)``."""
    base, sep, variant = judge.partition(VARIANT_SEPARATOR)
    if not sep or "=" not in variant:
        return judge, None, None
    key, _, value = variant.partition("=")
    return base, key.strip(), value.strip()


def _neutral(ctx: AuditContext) -> float | None:
    if ctx.task == "pairwise":
        return 0.5
    if ctx.task == "likert":
        return float(ctx.cfg.scale.neutral)
    return None


def _direct_row(ctx: AuditContext, metric: str, judge: str, reference: str, value: float, lo: float, hi: float,
                n: int, p: float | None, slice: str | None) -> None:
    """A row whose interval does not come from the shared bootstrap (a model-based interval)."""
    ctx.rows.append({"metric": metric, "judge": judge, "reference": reference, "value": float(value),
                     "ci_low": float(lo), "ci_high": float(hi), "n": int(n), "p_value": p, "p_adjusted": None,
                     "slice": slice})


# ----------------------------------------------------------------------------------------------------------------
@register_extension
def probes_extension(ctx: AuditContext) -> None:
    """Add every probe the data allow (see the module docstring) and a ``probes`` section to ``audit.json``."""
    section: dict[str, Any] = {}
    section["position"] = position_probe(ctx)
    section["length"] = length_probe(ctx)
    section["self_preference"] = self_preference_probe(ctx)
    section["variants"] = variant_probe(ctx)
    section = {k: v for k, v in section.items() if v}
    if section:
        ctx.meta_extra["probes"] = section


# -- position ----------------------------------------------------------------------------------------------------
def order_sides(ctx: AuditContext) -> dict[str, tuple[Side, Side]]:
    """Per judge that has verdicts in both orders: its aggregated verdict in ``ab`` and in ``ba``."""
    labels = ctx.t.labels
    if "order" not in labels.columns or ctx.task not in ("pairwise", "likert"):
        return {}
    judge_col = labels["judge"].to_numpy()
    order_col = labels["order"].astype(object).where(labels["order"].notna(), "").astype(str).to_numpy()
    out = {}
    for judge in ctx.sides:
        mine = judge_col == judge
        if not (np.any(mine & (order_col == "ab")) and np.any(mine & (order_col == "ba"))):
            continue
        out[judge] = (ctx.side(mine & (order_col == "ab")), ctx.side(mine & (order_col == "ba")))
    return out


def position_probe(ctx: AuditContext) -> dict[str, Any]:
    """Accuracy in each order and in both, position consistency and first-position preference, per judge."""
    sides = order_sides(ctx)
    if not sides:
        return {}
    neutral = _neutral(ctx)
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
                    out[(metric, judge, reference)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), idx.size)
            idx = np.flatnonzero(decisive > 0)
            if idx.size:
                s = cluster_sums(ctx, idx, [decisive[idx], first[idx]])
                out[("first_position_rate", judge, judge)] = ctx.rs.sums(s, lambda s: ratio(s, 1, 0),
                                                                         int(decisive[idx].sum()))
        return out

    with np.errstate(divide="ignore", invalid="ignore"):
        over_slices(ctx, compute)
    note = ("first_position_rate counts decisive verdicts only (ties / the neutral rating excluded); 0.5 means no "
            "preference for the response shown first")
    return {"judges": list(sides), "note": note}


# -- length ------------------------------------------------------------------------------------------------------
def _logit_slope(y: np.ndarray, x: np.ndarray, controls: list[np.ndarray], groups: np.ndarray,
                 level: float) -> tuple[float, float, float, float] | str:
    """Coefficient of ``x`` (after an intercept) with a cluster-robust Wald interval and p-value, or a reason."""
    import statsmodels.api as sm

    columns = [np.ones_like(x), x] + [c for c in controls if 0 < c.sum() < c.size]
    design = np.column_stack(columns)
    if y.size < 10 or y.min() == y.max() or np.ptp(x) == 0:
        return "too few items, or no variation in the verdict or the length ratio"
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return "the covariates are collinear"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(y, design).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    except Exception as exc:  # statsmodels raises several types (perfect separation, singular matrix)
        return f"logistic regression failed: {type(exc).__name__}: {exc}"
    lo, hi = fit.conf_int(alpha=1 - level)[1]
    return float(fit.params[1]), float(lo), float(hi), float(fit.pvalues[1])


def length_probe(ctx: AuditContext) -> dict[str, Any]:
    """``length_preference`` per judge (and the reference's own), overall and per slice (no differences)."""
    items = ctx.t.items
    neutral = _neutral(ctx)
    if neutral is None or not {"response_a", "response_b"} <= set(items.columns):
        return {}
    len_a = items["response_a"].fillna("").astype(str).str.len().to_numpy(float)
    len_b = items["response_b"].fillna("").astype(str).str.len().to_numpy(float)
    has_len = (len_a > 0) & (len_b > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_all = np.where(has_len, np.log2(len_b / len_a), np.nan)
    ref, ref_name = ctx.ref, ctx.cfg.reference
    skipped: dict[str, str] = {}
    slices: list[tuple[str | None, np.ndarray]] = [(None, np.ones(ctx.n_items, dtype=bool))]
    for column in slice_columns(ctx):
        values = items[column].astype(str).to_numpy()
        slices += [(f"{column}={v}", values == v) for v in sorted(set(values.tolist()))]
    for label, mask in slices:
        fits = [(ref_name, ref_name, ref, None)] + [(j, ref_name, s, ref) for j, s in ctx.sides.items()]
        for judge, reference, side, control in fits:
            ok = ctx.usable(side) & has_len & mask & (side.value != neutral)
            if control is not None:
                ok &= ctx.usable(control)
                if not ok.any():  # no reference on these items: the judge's own, uncontrolled slope
                    ok = ctx.usable(side) & has_len & mask & (side.value != neutral)
                    control, reference = None, judge
            idx = np.flatnonzero(ok)
            if not idx.size:
                continue
            y = (side.value[idx] > neutral).astype(float)
            controls = [] if control is None else [(control.value[idx] > neutral).astype(float),
                                                   (control.value[idx] == neutral).astype(float)]
            got = _logit_slope(y, x_all[idx], controls, ctx.cluster[idx], ctx.cfg.level)
            if isinstance(got, str):
                skipped[f"{judge} ({label or 'all'})"] = got
                continue
            value, lo, hi, p = got
            _direct_row(ctx, "length_preference", judge, reference, value, lo, hi, idx.size, p, label)
    return {"definition": "log-odds of preferring b per doubling of len(b)/len(a) in characters, controlling for "
                          "the reference's verdict; statsmodels Logit, cluster-robust (Wald) interval",
            "skipped": skipped}


# -- self-preference ----------------------------------------------------------------------------------------------
def self_preference_probe(ctx: AuditContext) -> dict[str, Any]:
    """``self_preference`` per judge whose model family generated some of the items (see the module docstring)."""
    items = ctx.t.items
    if ctx.task not in ("pairwise", "likert", "score", "binary"):
        return {}
    ref, ref_name = ctx.ref, ctx.cfg.reference
    lo_v, hi_v = (0.0, 1.0) if ctx.task in ("pairwise", "binary") else (
        (float(ctx.cfg.scale.min), float(ctx.cfg.scale.max)) if ctx.task == "likert" else (0.0, 1.0))
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
                    s = cluster_sums(ctx, both, [np.ones(both.size), own_score(side)[both], own_score(ref)[both]])
                    out[("self_preference", judge, ref_name)] = ctx.rs.sums(
                        s, lambda s: ratio(s, 1, 0) - ratio(s, 2, 0), both.size)
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
    return {"families": families,
            "definition": ("own-family response preference minus the reference's (generator_a / generator_b)"
                           if two_sided else "judge's (own - other) mean minus the reference's (generator)")}


# -- persona and profile-view variants ---------------------------------------------------------------------------
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
            ests = ctx.rs.sums_many(s, {"persona_flip_rate": lambda s: ratio(s, 1, 0),
                                        "persona_shift": lambda s: ratio(s, 2, 0)}, int(compared.sum()))
            label = f"persona={value}"
            ctx.add("persona_flip_rate", base, base, ests["persona_flip_rate"], slice=label)
            ctx.add("persona_shift", base, base, ests["persona_shift"],
                    p_value=bootstrap_p_value(ests["persona_shift"]) if ctx.cfg.resamples else None, slice=label)
            persona[judge] = {"flip_rate": ests["persona_flip_rate"].value, "verdicts": int(compared.sum()),
                              "compared": "verdict by verdict in the same presentation order" if len(pairs) > 1
                              or pairs[0][2] else "aggregated verdict per item"}
        elif key == "profile_view":
            label = f"profile_view={value}"
            copies = [dict(row, judge=base, slice=label,
                           reference=base if row["reference"] == judge else row["reference"])
                      for row in ctx.rows if row["judge"] == judge and row["slice"] is None]
            ctx.rows.extend(copies)
            entry: dict[str, Any] = {"rows": len(copies)}
            if "prompt_tokens" in raw.columns:
                mine = raw[(raw["judge"] == judge) & pd.to_numeric(raw["prompt_tokens"], errors="coerce").notna()]
                if len(mine):
                    pos = ctx.item_pos.get_indexer(mine["item_id"])
                    tokens = pd.to_numeric(mine["prompt_tokens"]).to_numpy(float)
                    cl = ctx.cluster[pos]
                    s = np.stack([np.bincount(cl, minlength=ctx.n_clusters).astype(float),
                                  np.bincount(cl, weights=tokens, minlength=ctx.n_clusters)], axis=1)
                    est = ctx.rs.sums(s, lambda s: ratio(s, 1, 0), len(mine))
                    ctx.add("mean_prompt_tokens", base, base, est, slice=label)
                    entry.update(requests=int(len(mine)), prompt_tokens=int(tokens.sum()))
                    if "cost" in mine.columns and pd.to_numeric(mine["cost"], errors="coerce").notna().any():
                        entry["cost"] = float(pd.to_numeric(mine["cost"], errors="coerce").sum())
            views[judge] = entry
    return {k: v for k, v in {"persona": persona, "profile_views": views}.items() if v}


def _verdict_pairs(ctx: AuditContext, own_mask: np.ndarray, other_mask: np.ndarray) -> list[tuple[Side, Side, bool]]:
    """Matched verdicts of two judges: per presentation order both have (``True``), else the aggregates (always
    the aggregates when the judges' orders are combined by balanced position calibration)."""
    labels = ctx.t.labels
    if "order" in labels.columns and ctx.cfg.judge_aggregate != "mean_score":  # calibrated: compare aggregates
        order = labels["order"].astype(object).where(labels["order"].notna(), "").astype(str).to_numpy()
        shared = sorted(set(order[own_mask]) & set(order[other_mask]) - {""})
        if shared:
            return [(ctx.side(own_mask & (order == o)), ctx.side(other_mask & (order == o)), True) for o in shared]
    return [(ctx.side(own_mask, calibrate=True), ctx.side(other_mask, calibrate=True), False)]


# ----------------------------------------------------------------------------------------------------------------
# the runner: re-judge items with other profiles through any judge


class ItemJudge(Protocol):
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame: ...


JudgeFactory = Callable[[str, str], ItemJudge]
"""``make_judge(profile_view, profile_at)`` -> a judge (e.g. ``judges.llm.LLMJudge(config, profile_view=...,
profile_at=..., orders=("ab", "ba"), cache=shared_cache)``)."""


def swap_profiles(items: pd.DataFrame, seed: int = 0, column: str = "profile",
                  by: str = "user_id") -> pd.DataFrame:
    """A copy of ``items`` where every user's items carry another user's profile (a seeded derangement of the
    users: shuffle them, then give each the profile of the next one).  Without ``by``, items are the units."""
    if column not in items.columns:
        raise ConfigError(f"cannot swap profiles: the items have no {column!r} column", column=column)
    out = items.copy()
    keys = out[by].astype(str) if by in out.columns else out["item_id"].astype(str)
    units = list(dict.fromkeys(keys.tolist()))
    if len(units) < 2:
        raise ConfigError("swapping profiles needs at least two users", column=by)
    order = np.random.default_rng(seed).permutation(len(units))
    shuffled = [units[i] for i in order]
    donor = {u: shuffled[(i + 1) % len(shuffled)] for i, u in enumerate(shuffled)}
    first_profile = out.groupby(keys, sort=False)[column].first()
    out[column] = keys.map(lambda u: first_profile[donor[u]]).to_numpy()
    out["profile_donor"] = keys.map(donor).to_numpy()
    return out


def run_variants(items: pd.DataFrame, task: str, make_judge: JudgeFactory, *, name: str,
                 views: Sequence[tuple[str, str]] = (("full", "start"), ("none", "start")),
                 persona: Sequence[str] = ("removed", "swapped"), persona_view: tuple[str, str] | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """Judge ``items`` under every profile view and persona variant; one labels table for :func:`auditor.audit`.

    The judge with the users' own profiles under ``persona_view`` (default: the first view) is named ``name``;
    each view ``(view, place)`` is ``"{name}|profile_view={view}@{place}"``; ``persona="removed"`` re-judges with
    the profile view ``none`` (``"{name}|persona=removed"``), ``"swapped"`` with another user's profile
    (:func:`swap_profiles`, ``"{name}|persona=swapped"``).  Identical runs are made once and copied.  Columns
    ``profile_view``, ``profile_at`` and ``variant`` say what each row is.
    """
    persona_view = persona_view or tuple(views[0])
    runs: dict[tuple[str, str, bool], pd.DataFrame] = {}

    def run(view: str, place: str, swapped: bool = False) -> pd.DataFrame:
        key = (view, "start" if view == "none" else place, swapped and view != "none")
        if key not in runs:
            data = swap_profiles(items, seed=seed) if key[2] else items
            labels = make_judge(view, place).judge_items(data, task).copy()
            labels["profile_view"], labels["profile_at"] = view, place
            runs[key] = labels
        return runs[key].copy()

    frames = []
    base = run(*persona_view)
    frames.append(base.assign(judge=name, variant="own profile"))
    for view, place in views:
        frames.append(run(view, place).assign(judge=f"{name}|profile_view={view}@{place}",
                                              variant=f"profile_view={view}@{place}"))
    for kind in persona:
        if kind == "removed":
            labels = run("none", persona_view[1])
        elif kind == "swapped":
            labels = run(*persona_view, swapped=True)
        else:
            raise ConfigError(f"unknown persona variant {kind!r}; expected removed or swapped", column="persona")
        frames.append(labels.assign(judge=f"{name}|persona={kind}", variant=f"persona={kind}"))
    return pd.concat(frames, ignore_index=True)


__all__ = ["model_family", "split_variant", "probes_extension", "position_probe", "length_probe",
           "self_preference_probe", "variant_probe", "order_sides", "swap_profiles", "run_variants",
           "JudgeFactory", "FAMILY_ALIASES"]
