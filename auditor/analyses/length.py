"""The length probe.

Length (``response_a`` / ``response_b`` texts)
    ``length_preference``: coefficient of ``log2(len(b) / len(a))`` (characters) in a logistic regression of "the
    judge prefers b" (decisive verdicts) on that length ratio, controlling for the reference's verdict (indicators
    of reference b-better and reference tie), fitted by statsmodels with cluster-robust standard errors (clusters =
    the audit's); Wald interval and p-value.  > 0: the judge favours the longer response beyond what the reference
    does; per doubling of b's relative length, in log-odds.  The reference's own row [ref / ref] has no control.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from auditor.analyses.position import neutral_value
from auditor.config import AuditConfig
from auditor.engine.context import AuditContext, direct_row
from auditor.engine.slicing import slice_columns
from auditor.engine.step import StepOutput


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.probes.length:
        return StepOutput()
    rows: list[dict[str, Any]] = []
    section = length_probe(ctx, rows)
    return StepOutput(rows=rows, sections={"probes.length": section})


def _logit_slope(
    y: np.ndarray, x: np.ndarray, controls: list[np.ndarray], groups: np.ndarray, level: float
) -> tuple[float, float, float, float] | str:
    """Coefficient of ``x`` (after an intercept) with a cluster-robust Wald interval and p-value, or a reason."""
    # the model's own module (about 0.08 s) rather than statsmodels.api (0.3 s more: every model it exports)
    from statsmodels.discrete.discrete_model import Logit

    columns = [np.ones_like(x), x] + [c for c in controls if 0 < c.sum() < c.size]
    design = np.column_stack(columns)
    if y.size < 10 or y.min() == y.max() or np.ptp(x) == 0:
        return "too few items, or no variation in the verdict or the length ratio"
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return "the covariates are collinear"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = Logit(y, design).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    except Exception as exc:  # statsmodels raises several types (perfect separation, singular matrix)
        return f"logistic regression failed: {type(exc).__name__}: {exc}"
    lo, hi = fit.conf_int(alpha=1 - level)[1]
    return float(fit.params[1]), float(lo), float(hi), float(fit.pvalues[1])


def length_probe(ctx: AuditContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``length_preference`` rows per judge (and the reference's own), overall and per slice (no differences),
    appended to ``rows`` (model-based intervals, not the bootstrap's); returns the section."""
    items = ctx.t.items
    neutral = neutral_value(ctx)
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
            controls = (
                []
                if control is None
                else [
                    (control.value[idx] > neutral).astype(float),
                    (control.value[idx] == neutral).astype(float),
                ]
            )
            got = _logit_slope(y, x_all[idx], controls, ctx.cluster[idx], ctx.cfg.level)
            if isinstance(got, str):
                skipped[f"{judge} ({label or 'all'})"] = got
                continue
            value, lo, hi, p = got
            clusters = int(np.unique(ctx.cluster[idx]).size)
            rows.append(
                direct_row(
                    "length_preference",
                    judge,
                    reference,
                    value,
                    lo,
                    hi,
                    idx.size,
                    p,
                    label,
                    n_clusters=clusters,
                )
            )
    return {
        "definition": "log-odds of preferring b per doubling of len(b)/len(a) in characters, controlling for "
        "the reference's verdict; statsmodels Logit, cluster-robust (Wald) interval",
        "skipped": skipped,
    }
