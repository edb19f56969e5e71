"""The baselines step: trivial judges computed from the data, audited beside the real ones, and each judge's
distance from the human ceiling as a z-score.

Baselines (judge ``baseline:<name>``, on every item with a reference label; their rows carry no p-value, so the
multiple-testing families of the real judges are unchanged, and gates over "every judge" leave them out, as they
do juries; a rule naming ``baseline:majority`` tests one):

* ``always-b``: always "b is better": pairwise ``b``, likert one point above the neutral point, binary ``1``
  (categorical and score tasks have no such answer: left out).
* ``majority``: always the reference's most frequent aggregated label on the audited items (ties: the first in
  the task's category order).  It peeks at the reference, as a trivial classifier does.
* ``random``: a judge that draws each verdict independently from the reference's own label shares ``q``, by its
  *expected* values, not one draw: its expected confusion matrix is ``N q q^T``, from which every agreement
  coefficient is computed (agreement ``sum q_c^2``; Cohen's, weighted and Fleiss' kappa and Scott's pi exactly 0;
  Krippendorff's alpha near 0 (its small-sample correction); Gwet's AC1 and Brennan-Prediger from
  ``sum q_c^2``), with intervals from the same cluster bootstrap of ``q``; correlations 0; its outcome rates are
  the reference's own and its gaps exactly 0.
* ``longer``: "pick the longer response" (pairwise and likert, from the items' ``response_a`` / ``response_b``
  texts in characters): ``b`` (likert: neutral + 1) when b is longer, ``a`` (neutral - 1) when shorter, ``tie``
  (neutral) when equal.  Without both text columns it is left out and the section says so.

``agreement_z_vs_ceiling`` [judge / reference]: ``(c_judge - c_ceiling) / sqrt(se_judge^2 + se_ceiling^2)``,
``c`` the task's lead coefficient (:func:`~auditor.engine.selection.lead_coefficient`: quadratic-weighted kappa for likert, Krippendorff's alpha for
scores, Cohen's kappa otherwise), ``c_ceiling`` the reference raters' leave-one-out ceiling row and each ``se`` its
95% interval's width / (2 x 1.96).  The judge's and the ceiling's estimates share items and are positively
correlated, so treating them as independent overstates the standard error: ``|z|`` is conservative.  The
standard errors come from the bootstrap intervals, so ``z`` moves slightly with the seed and the number of
resamples, as the intervals do (the row has no interval of its own).  Negative:
the judge agrees with the reference less than its raters agree with each other.

The ``baselines`` section lists the baselines, the coefficient used, and per judge (and jury) whether it beats
the best baseline: its ``agreement`` interval lies wholly above every baseline's ``agreement``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.engine import aggregation as agg
from auditor.engine.agreement import judge_metrics, wanted_rates
from auditor.engine.context import AuditContext, Side
from auditor.engine.selection import lead_coefficient
from auditor.engine.step import StepOutput
from auditor.io import json_safe
from auditor.stats import compare
from auditor.stats.bootstrap import Estimate

PREFIX = "baseline:"
Z = 1.959963984540054  # the normal quantile of a 95% interval


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.baselines.enabled or ctx.ref is None:
        return StepOutput()
    section: dict[str, Any] = {"baselines": [], "skipped": []}
    if ctx.task in ("score",) or not np.any(ctx.usable(ctx.ref)):
        section["skipped"].append({"baseline": "all", "reason": f"no baselines for a {ctx.task} task"})
    else:
        before = len(ctx.rows)
        for name in config.baselines.names:
            reason = add_baseline(ctx, name)
            if reason:
                section["skipped"].append({"baseline": f"{PREFIX}{name}", "reason": reason})
            else:
                section["baselines"].append(f"{PREFIX}{name}")
        for row in ctx.rows[before:]:  # a baseline is no hypothesis: keep it out of the judges' test families
            row["p_value"] = None
    judges = list(ctx.sides) + list(ctx.juries)
    section["lead"] = lead_coefficient(ctx.task)
    section["z_vs_ceiling"] = z_scores(ctx, judges) if ctx.wants("agreement_z_vs_ceiling") else []
    section["judges"] = beats(ctx, judges, section["baselines"])
    return StepOutput(sections={"baselines": json_safe(section)})


def _constant(ctx: AuditContext, code: int) -> Side:
    on = ctx.usable(ctx.ref)
    codes = np.where(on, code, agg.NONE).astype(np.int64)
    return Side(codes, np.where(on, ctx.values[code], np.nan), on.copy())


def _lean(ctx: AuditContext, direction: np.ndarray, on: np.ndarray) -> Side:
    """A side from a direction per item (+1 b, 0 none, -1 a): pairwise b / tie / a, likert neutral +- 1."""
    neutral = ctx.neutral_code()
    codes = np.where(on, neutral + direction, agg.NONE).astype(np.int64)
    return Side(codes, np.where(on, ctx.values[np.maximum(codes, 0)], np.nan), on.copy())


def add_baseline(ctx: AuditContext, name: str) -> str | None:
    """Audit one baseline (rows added, their intervals filled in with the other baselines' when the rows are next
    read, from one weights product); returns why it was left out, or None."""
    judge = f"{PREFIX}{name}"
    ref_ok = ctx.usable(ctx.ref)
    if name == "random":
        return _random_rows(ctx, judge)
    if name == "majority":
        counts = np.bincount(ctx.ref.code[ref_ok], minlength=ctx.k)
        side = _constant(ctx, int(np.argmax(counts)))
    elif name == "always-b":
        if ctx.task in ("pairwise", "likert"):
            side = _lean(ctx, np.ones(ctx.n_items, np.int64), ref_ok)
        elif ctx.task == "binary" and "1" in ctx.categories:
            side = _constant(ctx, list(ctx.categories).index("1"))
        else:
            return f"a {ctx.task} task has no 'b is better' answer"
    elif name == "longer":
        if ctx.task not in ("pairwise", "likert"):
            return f"'pick the longer response' needs a pairwise or likert task, not {ctx.task}"
        items = ctx.t.items
        if not {"response_a", "response_b"} <= set(items.columns):
            return "the items have no response_a / response_b texts"
        a, b = text_lengths(items["response_a"]), text_lengths(items["response_b"])
        on = ref_ok & np.isfinite(a) & np.isfinite(b)
        missing = int(np.sum(ref_ok & ~on))
        if not on.any():
            return f"no item with a reference label has both response texts ({missing} without)"
        side = _lean(ctx, np.sign(np.nan_to_num(b - a)).astype(np.int64), on)
    else:
        raise ValueError(f"unknown baseline {name!r}")
    judge_metrics(ctx, judge, ctx.ref, side)
    return None


def text_lengths(column: pd.Series) -> np.ndarray:
    """Each value's length in characters, NaN where missing: ``astype("string").str.len()``, measured on the Python
    texts directly where the column holds only texts and missing values (no copy of long texts into a string
    array); any other column as pandas measures it."""
    if column.dtype == object:
        values = column.to_numpy()
        texts = np.array([isinstance(v, str) for v in values], dtype=bool)
        if np.all(texts | pd.isna(values)):
            lengths = np.full(len(values), np.nan)
            lengths[texts] = [len(v) for v in values[texts]]
            return lengths
    return column.astype("string").str.len().to_numpy("float", na_value=np.nan)


def _zero(est: Estimate) -> Estimate:
    """An exact 0 on the same items (its replicates and jackknife values 0 too)."""
    return est - est


def _random_rows(ctx: AuditContext, judge: str) -> None:
    """The expected rows of a judge drawing from the reference's label shares (see the module docstring)."""
    idx = np.flatnonzero(ctx.usable(ctx.ref))
    cells = ctx.cluster[idx] * ctx.k + ctx.ref.code[idx]
    counts = np.bincount(cells, minlength=ctx.n_clusters * ctx.k).reshape(ctx.n_clusters, ctx.k).astype(float)
    weighted = ctx.task in ("pairwise", "likert")
    level = "ordinal" if ctx.task == "likert" else "nominal"
    fns = compare.only_named(compare.agreement_functions(weighted, level), ctx.selected(None))

    def expected_confusion(totals: np.ndarray) -> compare.ag.ConfusionTable:
        """``N q q^T`` from the reference's label counts, once for every coefficient (their shared view)."""
        n = totals.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return compare.ag.ConfusionTable(totals[..., :, None] * totals[..., None, :] / n[..., None, None])

    def exact_zeros(fn: Any) -> Any:
        def value(conf: compare.ag.ConfusionTable) -> np.ndarray:
            out = np.asarray(fn(conf), float)
            return np.where(np.abs(out) < 1e-12, 0.0, out)  # exact zeros, not rounding noise

        return value

    if fns:
        found = ctx.rs.sums_many(
            counts,
            {name: exact_zeros(fn) for name, fn in fns.items()},
            int(idx.size),
            defer=True,
            view=expected_confusion,
        )
        for name, est in found.items():
            ctx.add(name, judge, ctx.cfg.reference, est)
    correlations = ctx.selected(("pearson", "spearman", "kendall_tau_b")) if ctx.task == "likert" else ()
    rate_names = wanted_rates(ctx)
    if rate_names == () and correlations:  # the zero correlations lean on the mean score's items
        rate_names = ("mean_score",)
    if rate_names != ():
        rates = compare.rate_estimates(
            compare.only_named(ctx.indicators(ctx.ref, idx) or {}, rate_names),
            ctx.ref.value[idx],
            ctx.cluster[idx],
            ctx.n_clusters,
            ctx.rs,
        )
        for name in correlations:
            ctx.add(name, judge, ctx.cfg.reference, _zero(rates["mean_score"]))
        for name, est in rates.items():
            ctx.add(name, judge, ctx.cfg.reference, est)
            ctx.add(f"{name}_gap", judge, ctx.cfg.reference, _zero(est))
    return None


def _row(ctx: AuditContext, metric: str, judge: str, reference: str) -> dict[str, Any] | None:
    for row in ctx.rows:
        if (
            row["metric"] == metric
            and row["judge"] == judge
            and row["reference"] == reference
            and row["slice"] is None
        ):
            return row
    return None


def _se(row: dict[str, Any]) -> float:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return float("nan")
    return float(hi - lo) / (2 * Z)


def z_scores(ctx: AuditContext, judges: list[str]) -> list[dict[str, Any]]:
    """Add ``agreement_z_vs_ceiling`` per judge (see the module docstring); returns the section's entries."""
    lead, ref = lead_coefficient(ctx.task), ctx.cfg.reference
    ceiling = _row(ctx, lead, ref, ref)
    out = []
    if ceiling is None or not np.isfinite(ceiling["value"]):
        return out
    for judge in judges:
        row = _row(ctx, lead, judge, ref)
        if row is None or not np.isfinite(row["value"]):
            continue
        se = float(np.hypot(_se(row), _se(ceiling)))
        z = (row["value"] - ceiling["value"]) / se if se > 0 else float("nan")
        est = Estimate(float(z), np.zeros(0), None, int(row["n"]))
        ctx.add("agreement_z_vs_ceiling", judge, ref, est)
        out.append({"judge": judge, "metric": lead, "z": z, "difference": row["value"] - ceiling["value"]})
    return out


def beats(ctx: AuditContext, judges: list[str], baselines: list[str]) -> list[dict[str, Any]]:
    """Per judge: does its ``agreement`` interval lie above every baseline's ``agreement``?"""
    ref = ctx.cfg.reference
    scored = [(b, _row(ctx, "agreement", b, ref)) for b in baselines]
    scored = [(b, r["value"]) for b, r in scored if r is not None and np.isfinite(r["value"])]
    if not scored:
        return []
    best, best_value = max(scored, key=lambda pair: pair[1])
    out = []
    for judge in judges:
        row = _row(ctx, "agreement", judge, ref)
        if row is None or row["ci_low"] is None or not np.isfinite(row["ci_low"]):
            continue
        out.append(
            {
                "judge": judge,
                "metric": "agreement",
                "value": row["value"],
                "ci_low": row["ci_low"],
                "best_baseline": best,
                "best_baseline_value": best_value,
                "beats_baselines": bool(row["ci_low"] > best_value),
            }
        )
    return out
